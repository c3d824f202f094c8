// `fmav bench`: the scaling benchmark (fmav/bench.h) from the command line: rows stream as
// they are measured, then the table, each method's fitted exponent, and CSV/JSON files.
// --device cuda benchmarks the GPU: FMA's fused CUDA kernels against each SDPA backend.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "commands.h"
#include "fmav/bench.h"
#include "fmav/device.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/size_limits.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

// --methods when not given: the CPU's comparison, or on CUDA FMA against every SDPA backend.
constexpr const char* kCpuMethods = "fma,fma-blocked,reference,full,sdpa,local,fma-average";
constexpr const char* kCudaMethods = "fma,sdpa,sdpa-flash,sdpa-efficient,sdpa-cudnn,sdpa-math,local,fma-average";

struct BenchArgs {
  std::string methods, n = "1024:16384", dtype = "float32", device = "cpu", csv, json, jsonl;
  BenchConfig config;
};

void add_bench_options(CLI::App& app, BenchArgs& a) {
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time attention methods against N (docs/DESIGN.md §6): each is checked against its reference on\n"
               "the first N, warmed up, then timed; a method over --budget-s is skipped at larger N.\n"
               "Methods:\n" + bench_method_help());
  cmd->add_option("--methods", a.methods,
                  std::string("comma-separated methods; default on the cpu: ") + kCpuMethods + ",\non cuda: " +
                      kCudaMethods);
  cmd->add_option("--n", a.n, "sequence lengths: a list 1024,4096 or a power-of-two range 1024:262144")
      ->capture_default_str();
  // The limits its results file reads back (fmav/size_limits.h), checked as the options are parsed.
  const auto in = [](std::int64_t lo, std::int64_t hi) { return CLI::Range(lo, hi); };
  cmd->add_option("--batch", a.config.batch, "batch B")->check(in(1, kMaxBatch))->capture_default_str();
  cmd->add_option("--heads", a.config.heads, "heads H")->check(in(1, kMaxHeads))->capture_default_str();
  cmd->add_option("--dim", a.config.dim, "head dimension D")->check(in(1, kMaxDim))->capture_default_str();
  cmd->add_flag("--causal", a.config.causal, "causal attention");
  cmd->add_option("--block", a.config.block_size,
                  "FMA block size m; the 1D peers' block (htransformer Nr, reformer chunk)")
      ->check(in(1, kMaxTokens))->capture_default_str();
  cmd->add_option("--rank", a.config.rank, "FMA rank p")->check(in(1, kMaxTokens))->capture_default_str();
  cmd->add_option("--cell", a.config.cell, "cell side r of fma2d and fma2d-linear; swin's window side")
      ->check(in(1, kMaxTokens))->capture_default_str();
  cmd->add_option("--hash-rounds", a.config.hash_rounds, "reformer: hashing rounds (1..8)")
      ->check(in(1, 8))->capture_default_str();
  cmd->add_option("--repeats", a.config.repeats, "timed runs after the warm-up")
      ->check(in(1, kMaxRepeats))->capture_default_str();
  cmd->add_option("--budget-s", a.config.budget_s, "seconds per (method, N) before a method is given up")
      ->capture_default_str();
  cmd->add_option("--threads", a.config.threads, "LibTorch intra-op threads (0: all cores)")
      ->check(in(0, kMaxThreads))->capture_default_str();
  cmd->add_option("--dtype", a.dtype, "float32 | float64 (CPU) | float16 | bfloat16 (CUDA)")
      ->check(CLI::IsMember({"float32", "float64", "float16", "bfloat16"}))
      ->capture_default_str();
  add_device_option(cmd, &a.device);
  cmd->add_flag("--backward", a.config.backward, "time forward + backward");
  cmd->add_flag("--deterministic", a.config.deterministic,
                "FMA's CUDA backward the same bits run to run (coarse-slot gradients summed in a fixed order "
                "through a workspace, not by atomics)");
  cmd->add_option("--seed", a.config.seed, "seed of the inputs and weights")->capture_default_str();
  cmd->add_option("--csv", a.csv, "write the rows as CSV (a new file: an existing one is refused)");
  cmd->add_option("--json", a.json, "write the rows as a JSON list (a new file)");
  cmd->add_option("--jsonl", a.jsonl, "stream the rows to a new JSONL file as they are measured (fma-viewer's "
                  "scaling panel opens it)");
}

std::string row_line(const BenchRow& r) {
  char line[512];  // notes can be long: SDPA's reasons for a backend it cannot run
  std::snprintf(line, sizeof line, "  %-18s N=%-8lld %-12s median %10.3f ms  %7.1f GFLOP/s  peak %8.1f MiB%s%s",
                r.method.c_str(), static_cast<long long>(r.n), r.status.c_str(), r.median_ms, r.gflops,
                r.peak_bytes / 1048576.0, r.note.empty() ? "" : "  ", r.note.c_str());
  return line;
}

// Where the rows run, for the console and the results header: describe_device's line for a
// GPU; for the CPU the threads bench will set (--threads) and the fused kernels' instruction set.
std::string device_line(const BenchConfig& c) {
  if (c.device == Device::cuda) return describe_device(c.device);
  const DeviceInfo info = device_info();
  return "cpu (" + std::to_string(c.threads > 0 ? c.threads : info.threads) + " threads, kernels " + info.cpu_kernels +
         ")";
}

int run_bench_command(BenchArgs& a) {
  // Resolved before anything is written: --device cuda without one fails here, naming why.
  a.config.device = resolve_device(parse_device(a.device));
  const bool cuda = a.config.device == Device::cuda;
  a.config.methods = split_list(a.methods.empty() ? (cuda ? kCudaMethods : kCpuMethods) : a.methods);
  a.config.ns = parse_n_list(a.n);
  for (const auto& [flag, file] : {std::pair<const char*, const std::string&>{"--csv", a.csv}, {"--json", a.json}}) {
    FMAV_CHECK(file.empty() || !std::filesystem::exists(file), flag, " ", file, ": it exists already; bench ",
               "does not overwrite results (as --jsonl): remove it or name another file");
  }
  a.config.dtype = parse_bench_dtype(a.dtype);
  const std::string device_name = device_line(a.config);
  std::printf("fmav bench: B=%lld H=%lld D=%lld %s m=%lld p=%lld r(2D)=%lld %s%s on %s\n",
              static_cast<long long>(a.config.batch), static_cast<long long>(a.config.heads),
              static_cast<long long>(a.config.dim), a.config.causal ? "causal" : "bidirectional",
              static_cast<long long>(a.config.block_size), static_cast<long long>(a.config.rank),
              static_cast<long long>(a.config.cell), a.dtype.c_str(),
              a.config.backward ? " forward+backward" : " forward", device_name.c_str());
  std::fflush(stdout);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(nullptr, &std::fclose);
  std::error_code ec;
  FMAV_CHECK(a.jsonl.empty() || !std::filesystem::exists(a.jsonl, ec), "--jsonl ", a.jsonl,
             ": cannot create it (it must not exist yet)");
  const std::vector<BenchRow> rows = run_bench(a.config, [&](const BenchRow& r) {
    std::printf("%s\n", row_line(r).c_str());
    std::fflush(stdout);
    if (!a.jsonl.empty() && !stream) {  // created at the first row: a run refused before it writes nothing
      stream.reset(std::fopen(a.jsonl.c_str(), "wbx"));
      FMAV_CHECK(stream != nullptr, "--jsonl ", a.jsonl, ": cannot create it (it must not exist yet)");
      append_line_synced(stream.get(), bench_header_json(a.config, device_name), a.jsonl);
    }
    if (stream) append_line_synced(stream.get(), bench_row_json(r), a.jsonl);
  });
  std::printf("\n%s\nfitted exponent of time vs N (ok rows; ± its standard error: rows near timer noise "
              "widen it):\n", format_bench_table(rows).c_str());
  for (const std::string& m : a.config.methods) {
    const double e = fit_exponent(rows, m), se = fit_exponent_error(rows, m);
    if (std::isnan(e)) std::printf("  %-18s -\n", m.c_str());
    else if (std::isnan(se)) std::printf("  %-18s %.2f (two rows: no spread)\n", m.c_str(), e);
    else std::printf("  %-18s %.2f ± %.2f\n", m.c_str(), e, se);
  }
  for (const std::string& m : {std::string("fma"), std::string("fma-linear")}) {
    for (const BenchCrossover& c : bench_crossovers(rows, m)) {
      std::printf("%s faster than %s from N = %lld on\n", m.c_str(), c.other.c_str(), static_cast<long long>(c.n));
    }
  }
  if (!a.csv.empty()) write_bench_csv(a.csv, rows);
  if (!a.json.empty()) write_bench_json(a.json, rows);
  return 0;
}

}  // namespace

std::function<int()> add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  add_bench_options(app, *args);
  return [args] { return run_bench_command(*args); };
}

}  // namespace fmav::cli
