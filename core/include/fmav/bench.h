#pragma once
// The scaling benchmark behind `fmav bench` (DESIGN.md §6): each attention method at each
// sequence length, checked against its reference first, then timed (median of repeats after
// a warm-up) with FLOPs, peak tensor memory, peak RSS and the speed-up over SDPA.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmav/tensor.h"

namespace fmav {

struct BenchConfig {
  std::vector<std::string> methods;  // names from bench_methods()
  std::vector<std::int64_t> ns;      // sequence lengths, ascending
  std::int64_t batch = 1, heads = 8, dim = 64;
  bool causal = false;
  std::int64_t block_size = 64, rank = 4;
  std::int64_t cell = 8;  // r of the 2D methods (fma2d*, swin's window side), which run on the
                          // most square H x W = N grid
  int hash_rounds = 2;    // reformer (its chunk is block_size)
  int repeats = 5;
  double budget_s = 60;   // per (method, N): a method over it is skipped at larger N
  int threads = 0;        // 0: leave LibTorch's setting
  DType dtype = DType::f32;
  bool backward = false;  // time forward + backward instead of forward
  std::uint64_t seed = 0;
};

// One measured (method, N). Times in milliseconds; NaN where not measured.
struct BenchRow {
  std::string method;
  std::int64_t n = 0;
  std::string status;           // ok | oom | over-budget | skipped | failed-check
  std::string note;             // why, for anything but ok
  int repeats = 0;              // timed runs after the warm-up
  double median_ms = 0, min_ms = 0;
  double flops = 0;             // FLOPs the method computes (backward: 3x forward)
  double gflops = 0;            // flops / median
  std::int64_t peak_bytes = 0;  // tensor bytes the call allocated at its peak (outputs too)
  std::int64_t input_bytes = 0; // bytes of q, k, v (and weights) alive before the call
  std::int64_t peak_rss_bytes = 0;
  double speedup_vs_sdpa = 0;   // SDPA's median / this median at this N; NaN without SDPA
  double check_error = 0;       // max |out - reference| on the first N; NaN if not checked
};

// "fma", "fma-blocked", "reference", "full", "sdpa", "local", "fma-average", "fma-linear",
// "fma-linear-average", "fma2d", "fma2d-linear", and the peers "htransformer", "linear",
// "reformer", "swin".
const std::vector<std::string>& bench_methods();
// What each method is, for --help.
std::string bench_method_help();
// "a,b,,c" into {"a", "b", "c"} (empty items dropped): the lists of --methods and friends.
std::vector<std::string> split_list(const std::string& text);
// "1024,4096" or a power-of-two range "1024:262144" of positive integers; throws
// fmav::Error naming `option` and the text.
std::vector<std::int64_t> parse_n_list(const std::string& text, const char* option = "--n");

// Runs the benchmark; on_row is called as each row is measured (progress, streaming).
// Throws fmav::Error for a bad configuration (unknown method, sizes).
std::vector<BenchRow> run_bench(const BenchConfig& config,
                                const std::function<void(const BenchRow&)>& on_row);

// Least-squares slope of log(median) vs log(N) over a method's ok rows with N in [lo, hi];
// NaN with fewer than two points.
double fit_exponent(const std::vector<BenchRow>& rows, const std::string& method,
                    std::int64_t lo = 0, std::int64_t hi = INT64_MAX);

// Where `method` overtakes each other method in `rows`: the first N from which its median
// stays below the other's at every larger N both were run at (the other out of memory or
// over budget counts as slower; `method` failing there, as not faster). A method it is not
// faster than at the largest such N is left out.
// Whether a row ran out of memory or over budget (not measured because it would not fit).
bool ran_out(const BenchRow& row);

struct BenchCrossover {
  std::string other;
  std::int64_t n = 0;
  double median_ms = 0;  // `method`'s median there
};
std::vector<BenchCrossover> bench_crossovers(const std::vector<BenchRow>& rows, const std::string& method);

// The table as text, the rows as CSV and as a JSON list of objects (atomic writes).
std::string format_bench_table(const std::vector<BenchRow>& rows);
void write_bench_csv(const std::string& path, const std::vector<BenchRow>& rows);
void write_bench_json(const std::string& path, const std::vector<BenchRow>& rows);

// ---- streamed results (JSONL): what `fmav bench --jsonl` and the GUI's scaling panel write
// and open. A header line {"format": "fmav-bench", "format_version": 1, "config": {...}},
// then one row per line as it is measured (bench_report.cpp, no LibTorch). ----
constexpr int kBenchFormatVersion = 1;
std::string bench_header_json(const BenchConfig& config);
std::string bench_row_json(const BenchRow& row);  // one line, no newline; NaN as null

struct BenchFile {
  BenchConfig config;
  std::vector<BenchRow> rows;
  bool truncated_tail = false;  // a last line cut off by a crash, set aside
};
// Parses a streamed results file strictly; throws fmav::Error naming `name` and the line.
BenchFile parse_bench_file(const std::string& text, const std::string& name = "bench.jsonl");
BenchFile read_bench_file(const std::string& path);

}  // namespace fmav
