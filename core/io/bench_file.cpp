// The benchmark's text forms (fmav/bench.h): the --n list, the fitted exponent, the table,
// CSV and JSON. No LibTorch, so the GUI and fuzzers can use them.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

#include "fmav/bench_file.h"
#include "fmav/error.h"
#include "fmav/size_limits.h"
#include "fmav/tensor_io.h"
#include "json_util.h"

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
  FMAV_CHECK(value <= kMaxTokens, option, " values must be integers in [1, ", kMaxTokens, "], got ", value,
             " in '", whole, "'");
  return value;
}

std::string number(double x, const char* format = "%.4g") {
  if (std::isnan(x)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

// The dtypes bench knows, in --dtype's spelling.
constexpr std::pair<DType, const char*> kBenchDtypes[] = {
    {DType::f32, "float32"}, {DType::f64, "float64"}, {DType::f16, "float16"}, {DType::bf16, "bfloat16"}};

// A results file records the device its rows ran on: cpu or cuda, never auto.
const char* bench_device_name(Device device) {
  if (device == Device::automatic) {
    throw Error("bench results: the device must be resolved (cpu or cuda) before the header is written, got auto");
  }
  return to_string(device);
}

Device parse_bench_device(const std::string& name, const std::string& where) {
  if (name == to_string(Device::cpu)) return Device::cpu;
  if (name == to_string(Device::cuda)) return Device::cuda;
  throw Error(where + ": \"device\" must be cpu or cuda, got '" + name + "'");
}

}  // namespace

const char* bench_dtype_name(DType dtype) {
  for (const auto& [d, name] : kBenchDtypes) {
    if (d == dtype) return name;
  }
  return dtype_name(dtype);  // not one bench takes; validation names it
}

DType parse_bench_dtype(const std::string& name, const char* option) {
  for (const auto& [d, known] : kBenchDtypes) {
    if (name == known) return d;
  }
  throw Error(std::string(option) + " must be float32, float64, float16 or bfloat16, got '" + name + "'");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<std::int64_t> parse_n_list(const std::string& text, const char* option) {
  std::vector<std::int64_t> out;
  const std::size_t colon = text.find(':');
  if (colon != std::string::npos) {
    const std::int64_t lo = parse_count(text.substr(0, colon), text, option),
                       hi = parse_count(text.substr(colon + 1), text, option);
    const auto power_of_two = [](std::int64_t x) { return (x & (x - 1)) == 0; };
    FMAV_CHECK(power_of_two(lo) && power_of_two(hi), option, " range a:b runs over powers of two, so both ends "
               "must be powers of two (like 1024:16384), got '", text, "'; give a list (1000,2000) for other values");
    FMAV_CHECK(lo <= hi, option, " range must run from small to large, got '", text, "'");
    for (std::int64_t n = lo; n <= hi; n *= 2) out.push_back(n);
    return out;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(parse_count(item, text, option));
  FMAV_CHECK(!out.empty(), option, " is empty");
  return out;
}

namespace {

// Least squares of log(median) on log(N) over a method's ok rows with N in [lo, hi].
struct LogFit {
  int count = 0;
  double slope = std::nan(""), slope_error = std::nan("");
};

LogFit fit_log(const std::vector<BenchRow>& rows, const std::string& method, std::int64_t lo, std::int64_t hi) {
  std::vector<double> xs, ys;
  for (const BenchRow& r : rows) {
    if (r.method != method || r.status != "ok" || r.n < lo || r.n > hi) continue;
    xs.push_back(std::log(static_cast<double>(r.n))), ys.push_back(std::log(r.median_ms));
  }
  LogFit f;
  f.count = static_cast<int>(xs.size());
  if (f.count < 2) return f;
  double mx = 0, my = 0;
  for (int i = 0; i < f.count; ++i) mx += xs[i] / f.count, my += ys[i] / f.count;
  double sxx = 0, sxy = 0;
  for (int i = 0; i < f.count; ++i) sxx += (xs[i] - mx) * (xs[i] - mx), sxy += (xs[i] - mx) * (ys[i] - my);
  f.slope = sxy / sxx;
  if (f.count >= 3) {
    double sse = 0;
    for (int i = 0; i < f.count; ++i) {
      const double e = ys[i] - my - f.slope * (xs[i] - mx);
      sse += e * e;
    }
    f.slope_error = std::sqrt(sse / (f.count - 2) / sxx);
  }
  return f;
}

}  // namespace

double fit_exponent(const std::vector<BenchRow>& rows, const std::string& method, std::int64_t lo, std::int64_t hi) {
  return fit_log(rows, method, lo, hi).slope;
}

double fit_exponent_error(const std::vector<BenchRow>& rows, const std::string& method, std::int64_t lo,
                          std::int64_t hi) {
  return fit_log(rows, method, lo, hi).slope_error;
}

std::string format_bench_table(const std::vector<BenchRow>& rows) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-18s %8s %-12s %11s %11s %11s %9s %11s %11s %9s %10s\n", "method", "N",
                "status", "median ms", "min ms", "max ms", "GFLOP/s", "peak MiB", "RSS MiB", "vs SDPA", "check");
  out << line;
  for (const BenchRow& r : rows) {
    std::snprintf(line, sizeof line, "%-18s %8lld %-12s %11s %11s %11s %9s %11s %11s %9s %10s\n", r.method.c_str(),
                  static_cast<long long>(r.n), r.status.c_str(), number(r.median_ms, "%.3f").c_str(),
                  number(r.min_ms, "%.3f").c_str(), number(r.max_ms, "%.3f").c_str(), number(r.gflops, "%.1f").c_str(),
                  number(r.peak_bytes / 1048576.0, "%.1f").c_str(), number(r.peak_rss_bytes / 1048576.0, "%.0f").c_str(),
                  number(r.speedup_vs_sdpa, "%.2fx").c_str(), number(r.check_error, "%.1e").c_str());
    out << line;
  }
  return out.str();
}

void write_bench_csv(const std::string& path, const std::vector<BenchRow>& rows) {
  std::ostringstream out;
  out << "method,n,status,repeats,median_ms,min_ms,max_ms,flops,gflops,peak_bytes,input_bytes,peak_rss_bytes,"
         "speedup_vs_sdpa,check_error,note\n";
  const auto csv = [](double x) { return std::isnan(x) ? std::string() : number(x, "%.17g"); };
  for (const BenchRow& r : rows) {
    std::string note = r.note;
    for (char& ch : note) ch = (ch == '"' || ch == '\n') ? '\'' : ch;
    out << r.method << ',' << r.n << ',' << r.status << ',' << r.repeats << ',' << csv(r.median_ms) << ','
        << csv(r.min_ms) << ',' << csv(r.max_ms) << ',' << csv(r.flops) << ',' << csv(r.gflops) << ',' << r.peak_bytes << ','
        << r.input_bytes << ',' << r.peak_rss_bytes << ',' << csv(r.speedup_vs_sdpa) << ',' << csv(r.check_error)
        << ",\"" << note << "\"\n";
  }
  write_file_atomic(path, out.str());
}

namespace {

constexpr const char* kBenchFormat = "fmav-bench";
constexpr std::uint64_t kMaxBenchFileBytes = 1ull << 28;
constexpr std::uint64_t kMaxBenchLineBytes = 1ull << 20;
constexpr int kBenchDepth = 3;  // the header: {"config": {"methods": [...]}}

Json row_object(const BenchRow& r) {
  const auto num = [](double x) { return std::isnan(x) ? Json(nullptr) : Json(x); };
  return {{"method", r.method}, {"n", r.n}, {"status", r.status}, {"note", r.note},
          {"repeats", r.repeats}, {"median_ms", num(r.median_ms)}, {"min_ms", num(r.min_ms)},
          {"max_ms", num(r.max_ms)},
          {"flops", num(r.flops)}, {"gflops", num(r.gflops)}, {"peak_bytes", r.peak_bytes},
          {"input_bytes", r.input_bytes}, {"peak_rss_bytes", r.peak_rss_bytes},
          {"speedup_vs_sdpa", num(r.speedup_vs_sdpa)}, {"check_error", num(r.check_error)}};
}

// Counts and sizes in rows and configs: non-negative integers.
constexpr std::int64_t kMaxCount = std::int64_t{1} << 62;

BenchRow parse_row(const Json& j, const std::string& where) {
  FMAV_CHECK(j.is_object(), where, ": a row must be a JSON object");
  json_check_keys(j, {"method", "n", "status", "note", "repeats", "median_ms", "min_ms", "max_ms", "flops", "gflops",
                      "peak_bytes", "input_bytes", "peak_rss_bytes", "speedup_vs_sdpa", "check_error"}, where);
  BenchRow r;
  r.method = json_string(j, "method", where), r.n = json_int(j, "n", 0, kMaxCount, where);
  r.status = json_string(j, "status", where), r.note = json_string(j, "note", where);
  r.repeats = static_cast<int>(json_int(j, "repeats", 0, 1 << 30, where));
  r.median_ms = json_number(j, "median_ms", where), r.min_ms = json_number(j, "min_ms", where);
  // Optional: files written before it was recorded have no max_ms.
  r.max_ms = j.contains("max_ms") ? json_number(j, "max_ms", where) : std::nan("");
  r.flops = json_number(j, "flops", where), r.gflops = json_number(j, "gflops", where);
  r.peak_bytes = json_int(j, "peak_bytes", 0, kMaxCount, where);
  r.input_bytes = json_int(j, "input_bytes", 0, kMaxCount, where);
  r.peak_rss_bytes = json_int(j, "peak_rss_bytes", 0, kMaxCount, where);
  r.speedup_vs_sdpa = json_number(j, "speedup_vs_sdpa", where), r.check_error = json_number(j, "check_error", where);
  return r;
}

BenchConfig parse_config(const Json& j, const std::string& where) {
  FMAV_CHECK(j.is_object(), where, ": \"config\" must be a JSON object");
  json_check_keys(j, {"methods", "ns", "batch", "heads", "dim", "causal", "block_size", "rank", "cell", "repeats",
                      "budget_s", "threads", "dtype", "backward", "seed", "hash_rounds", "device"}, where);
  BenchConfig c;
  const Json& methods = json_key(j, "methods", where);
  FMAV_CHECK(methods.is_array(), where, ": \"methods\" must be a list of names");
  for (const Json& m : methods) {
    FMAV_CHECK(m.is_string(), where, ": \"methods\" must be a list of names");
    c.methods.push_back(m.get<std::string>());
  }
  const Json& ns = json_key(j, "ns", where);
  FMAV_CHECK(ns.is_array(), where, ": \"ns\" must be a list of integers");
  for (const Json& n : ns) {
    FMAV_CHECK(n.is_number_integer() && n.get<std::int64_t>() >= 1 && n.get<std::int64_t>() <= kMaxTokens, where,
               ": \"ns\" must be a list of integers in [1, ", kMaxTokens, "]");
    c.ns.push_back(n.get<std::int64_t>());
  }
  // The limits bench takes its options with (fmav/size_limits.h), so what it writes reads back.
  c.batch = json_int(j, "batch", 1, kMaxBatch, where), c.heads = json_int(j, "heads", 1, kMaxHeads, where);
  c.dim = json_int(j, "dim", 1, kMaxDim, where);
  c.causal = json_bool(j, "causal", where), c.backward = json_bool(j, "backward", where);
  c.block_size = json_int(j, "block_size", 1, kMaxTokens, where), c.rank = json_int(j, "rank", 1, kMaxTokens, where);
  c.cell = json_int(j, "cell", 1, kMaxTokens, where);
  if (j.contains("hash_rounds")) c.hash_rounds = static_cast<int>(json_int(j, "hash_rounds", 1, 8, where));  // optional: older files lack it
  c.repeats = static_cast<int>(json_int(j, "repeats", 1, kMaxRepeats, where));
  c.budget_s = json_number(j, "budget_s", where);
  c.threads = static_cast<int>(json_int(j, "threads", 0, kMaxThreads, where));
  c.dtype = parse_bench_dtype(json_string(j, "dtype", where), (where + ": \"dtype\"").c_str());
  // Optional: files written before the CUDA benchmark were measured on the CPU.
  if (j.contains("device")) c.device = parse_bench_device(json_string(j, "device", where), where);
  const Json& seed = json_key(j, "seed", where);  // any unsigned 64-bit value, as --seed takes it
  FMAV_CHECK(seed.is_number_unsigned() || (seed.is_number_integer() && seed.get<std::int64_t>() >= 0), where,
             ": \"seed\" must be an integer >= 0");
  c.seed = seed.get<std::uint64_t>();
  return c;
}

}  // namespace

bool ran_out(const BenchRow& row) { return row.status == "oom" || row.status == "over-budget"; }

bool bench_faster(const BenchRow& a, const BenchRow& b) {
  const auto bound = [](double v, double median) { return std::isfinite(v) && v > 0 ? v : median; };
  return bound(a.max_ms, a.median_ms) < bound(b.min_ms, b.median_ms);
}

std::vector<BenchCrossover> bench_crossovers(const std::vector<BenchRow>& rows, const std::string& method) {
  std::map<std::int64_t, const BenchRow*> fast;
  std::vector<std::string> others;
  for (const BenchRow& r : rows) {
    if (r.method == method) fast[r.n] = &r;
    else if (std::find(others.begin(), others.end(), r.method) == others.end()) others.push_back(r.method);
  }
  std::vector<BenchCrossover> out;
  if (fast.empty()) return out;
  for (const std::string& other : others) {
    std::map<std::int64_t, bool> faster;  // at each N both have a row
    for (const BenchRow& r : rows) {
      const auto f = fast.find(r.n);
      if (r.method != other || f == fast.end()) continue;
      const BenchRow& a = *f->second;
      const bool ok = a.status == "ok" && std::isfinite(a.median_ms);
      const bool other_ok = r.status == "ok" && std::isfinite(r.median_ms);
      if (!ok && !ran_out(r)) faster[r.n] = false;
      else if (ok) faster[r.n] = !other_ok ? ran_out(r) : bench_faster(a, r);
    }
    std::int64_t from = -1;
    for (auto it = faster.rbegin(); it != faster.rend() && it->second; ++it) from = it->first;
    if (from >= 0) out.push_back({other, from, fast.at(from)->median_ms});
  }
  return out;
}

void write_bench_json(const std::string& path, const std::vector<BenchRow>& rows) {
  Json list = Json::array();
  for (const BenchRow& r : rows) list.push_back(row_object(r));
  write_file_atomic(path, list.dump(2) + "\n");
}

std::string bench_row_json(const BenchRow& row) { return row_object(row).dump(); }

std::string bench_header_json(const BenchConfig& c, const std::string& device_name) {
  const Json config = {{"methods", c.methods}, {"ns", c.ns}, {"batch", c.batch}, {"heads", c.heads},
                       {"dim", c.dim}, {"causal", c.causal}, {"block_size", c.block_size}, {"rank", c.rank},
                       {"cell", c.cell}, {"repeats", c.repeats}, {"budget_s", c.budget_s},
                       {"threads", c.threads}, {"dtype", bench_dtype_name(c.dtype)},
                       {"backward", c.backward}, {"seed", c.seed}, {"hash_rounds", c.hash_rounds},
                       {"device", bench_device_name(c.device)}};
  Json header = {{"format", kBenchFormat}, {"format_version", kBenchFormatVersion}, {"config", config}};
  if (!device_name.empty()) header["device_name"] = device_name;
  return header.dump();
}

BenchFile parse_bench_file(const std::string& text, const std::string& name) {
  BenchFile file;
  const JsonLines lines = parse_json_lines(
      text, name, kBenchFormat, kBenchFormatVersion, kMaxBenchFileBytes, kMaxBenchLineBytes, kBenchDepth,
      [&](const Json& header, const std::string& where) {
        json_check_keys(header, {"format", "format_version", "config", "device_name"}, where);
        file.config = parse_config(json_key(header, "config", where), where);
        if (header.contains("device_name")) file.device_name = json_string(header, "device_name", where);
      },
      [&](const Json& line, const std::string& where) { file.rows.push_back(parse_row(line, where)); });
  file.truncated_tail = lines.truncated_tail;
  return file;
}

BenchFile read_bench_file(const std::string& path) {
  return parse_bench_file(read_file_bytes(path, kMaxBenchFileBytes), path);
}

}  // namespace fmav
