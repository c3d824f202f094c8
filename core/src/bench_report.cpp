// The benchmark's text forms (fmav/bench.h): the --n list, the fitted exponent, the table,
// CSV and JSON. No LibTorch, so the GUI and fuzzers can use them.

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fmav/bench.h"
#include "fmav/error.h"
#include "fmav/tensor_io.h"

namespace fmav {
namespace {

std::int64_t parse_count(const std::string& text, const std::string& whole, const char* option) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  FMAV_CHECK(used == text.size() && !text.empty() && value >= 1, option,
             " must be a list like 1024,4096 or a power-of-two range like 1024:262144, got '", whole, "'");
  return value;
}

std::string number(double x, const char* format = "%.4g") {
  if (std::isnan(x)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

}  // namespace

std::vector<std::int64_t> parse_n_list(const std::string& text, const char* option) {
  std::vector<std::int64_t> out;
  const std::size_t colon = text.find(':');
  if (colon != std::string::npos) {
    const std::int64_t lo = parse_count(text.substr(0, colon), text, option),
                       hi = parse_count(text.substr(colon + 1), text, option);
    FMAV_CHECK(lo <= hi, option, " range must run from small to large, got '", text, "'");
    FMAV_CHECK(hi <= (std::int64_t{1} << 40), option, " range end is absurdly large: '", text, "'");
    for (std::int64_t n = lo; n <= hi; n *= 2) out.push_back(n);
    return out;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(parse_count(item, text, option));
  FMAV_CHECK(!out.empty(), option, " is empty");
  return out;
}

double fit_exponent(const std::vector<BenchRow>& rows, const std::string& method, std::int64_t lo, std::int64_t hi) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int count = 0;
  for (const BenchRow& r : rows) {
    if (r.method != method || r.status != "ok" || r.n < lo || r.n > hi) continue;
    const double x = std::log(static_cast<double>(r.n)), y = std::log(r.median_ms);
    sx += x, sy += y, sxx += x * x, sxy += x * y, ++count;
  }
  if (count < 2) return std::nan("");
  return (count * sxy - sx * sy) / (count * sxx - sx * sx);
}

std::string format_bench_table(const std::vector<BenchRow>& rows) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-18s %8s %-12s %11s %11s %9s %11s %11s %9s %10s\n", "method", "N", "status",
                "median ms", "min ms", "GFLOP/s", "peak MiB", "RSS MiB", "vs SDPA", "check");
  out << line;
  for (const BenchRow& r : rows) {
    std::snprintf(line, sizeof line, "%-18s %8lld %-12s %11s %11s %9s %11s %11s %9s %10s\n", r.method.c_str(),
                  static_cast<long long>(r.n), r.status.c_str(), number(r.median_ms, "%.3f").c_str(),
                  number(r.min_ms, "%.3f").c_str(), number(r.gflops, "%.1f").c_str(),
                  number(r.peak_bytes / 1048576.0, "%.1f").c_str(), number(r.peak_rss_bytes / 1048576.0, "%.0f").c_str(),
                  number(r.speedup_vs_sdpa, "%.2fx").c_str(), number(r.check_error, "%.1e").c_str());
    out << line;
  }
  return out.str();
}

void write_bench_csv(const std::string& path, const std::vector<BenchRow>& rows) {
  std::ostringstream out;
  out << "method,n,status,repeats,median_ms,min_ms,flops,gflops,peak_bytes,input_bytes,peak_rss_bytes,"
         "speedup_vs_sdpa,check_error,note\n";
  const auto csv = [](double x) { return std::isnan(x) ? std::string() : number(x, "%.17g"); };
  for (const BenchRow& r : rows) {
    std::string note = r.note;
    for (char& ch : note) ch = (ch == '"' || ch == '\n') ? '\'' : ch;
    out << r.method << ',' << r.n << ',' << r.status << ',' << r.repeats << ',' << csv(r.median_ms) << ','
        << csv(r.min_ms) << ',' << csv(r.flops) << ',' << csv(r.gflops) << ',' << r.peak_bytes << ','
        << r.input_bytes << ',' << r.peak_rss_bytes << ',' << csv(r.speedup_vs_sdpa) << ',' << csv(r.check_error)
        << ",\"" << note << "\"\n";
  }
  write_file_atomic(path, out.str());
}

void write_bench_json(const std::string& path, const std::vector<BenchRow>& rows) {
  nlohmann::json list = nlohmann::json::array();
  const auto num = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
  for (const BenchRow& r : rows) {
    list.push_back({{"method", r.method}, {"n", r.n}, {"status", r.status}, {"note", r.note},
                    {"repeats", r.repeats}, {"median_ms", num(r.median_ms)}, {"min_ms", num(r.min_ms)},
                    {"flops", num(r.flops)}, {"gflops", num(r.gflops)}, {"peak_bytes", r.peak_bytes},
                    {"input_bytes", r.input_bytes}, {"peak_rss_bytes", r.peak_rss_bytes},
                    {"speedup_vs_sdpa", num(r.speedup_vs_sdpa)}, {"check_error", num(r.check_error)}});
  }
  write_file_atomic(path, list.dump(2) + "\n");
}

}  // namespace fmav
