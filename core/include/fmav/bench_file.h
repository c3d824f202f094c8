#pragma once
// What a scaling benchmark (`fmav bench`, fmav/bench.h) measures and how it is written and
// read without LibTorch: its configuration, its rows, the table, CSV and JSON outputs, the
// streamed JSONL results file the viewer's scaling view opens, and the rows' analysis (fitted
// exponents, crossovers).

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/device.h"
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
  // cpu: float32 or float64. cuda: float32, float16 or bfloat16 (inputs drawn on the CPU in
  // float32 from the same seed, then converted and moved, so both devices see one problem).
  DType dtype = DType::f32;
  // Where the methods run; run_bench resolves auto. On cuda, the methods without a CUDA path
  // (bench_method_help) are skipped rows, as the sdpa-* rows are on the cpu.
  Device device = Device::cpu;
  bool backward = false;  // time forward + backward instead of forward
  bool deterministic = false;  // FMA's CUDA backward bit-identical run to run (FmaConfig)
  std::uint64_t seed = 0;
};

// One measured (method, N). Times in milliseconds; NaN where not measured.
struct BenchRow {
  std::string method;
  std::int64_t n = 0;
  std::string status;           // ok | oom | over-budget | skipped | failed-check
  std::string note;             // why, for anything but ok
  int repeats = 0;              // timed runs after the warm-up
  // Of the timed runs. max_ms is NaN in files written before it was recorded (their rows
  // have min_ms and median_ms only).
  double median_ms = 0, min_ms = 0, max_ms = 0;
  double flops = 0;             // FLOPs the method computes (backward: 3x forward)
  double gflops = 0;            // flops / median
  std::int64_t peak_bytes = 0;  // tensor bytes the call allocated at its peak (outputs too);
                                // on CUDA by the caching allocator's peak statistics
  std::int64_t input_bytes = 0; // bytes of q, k, v (and weights) alive before the call (measured rows)
  std::int64_t peak_rss_bytes = 0;  // the process's, on either device
  // The fastest SDPA row's median (sdpa and the sdpa-* backends; rows measured before this
  // one at this N: SDPA runs first) / this median; NaN without an SDPA row measured.
  double speedup_vs_sdpa = 0;
  // max |out - reference| on the first N; NaN if not checked. On CUDA the reference is the
  // CPU's, in float64 from the very inputs the GPU was given, for a first N <= 4096.
  double check_error = 0;
};

// "float32" | "float64" | "float16" | "bfloat16": how --dtype and results files spell a dtype.
const char* bench_dtype_name(DType dtype);
// The inverse; throws fmav::Error naming `option` and the text.
DType parse_bench_dtype(const std::string& name, const char* option = "--dtype");
// "a,b,,c" into {"a", "b", "c"} (empty items dropped): the lists of --methods and friends.
std::vector<std::string> split_list(const std::string& text);
// "1024,4096" or a power-of-two range "1024:262144" (both ends powers of two) of integers in
// [1, kMaxTokens] (fmav/size_limits.h); throws fmav::Error naming `option` and the text.
std::vector<std::int64_t> parse_n_list(const std::string& text, const char* option = "--n");

// Least-squares slope of log(median) vs log(N) over a method's ok rows with N in [lo, hi];
// NaN with fewer than two points.
double fit_exponent(const std::vector<BenchRow>& rows, const std::string& method,
                    std::int64_t lo = 0, std::int64_t hi = INT64_MAX);
// That slope's standard error (the fit's spread: rows near timer noise widen it); NaN with
// fewer than three points.
double fit_exponent_error(const std::vector<BenchRow>& rows, const std::string& method,
                          std::int64_t lo = 0, std::int64_t hi = INT64_MAX);

// Whether a row ran out of memory or over budget (not measured because it would not fit).
bool ran_out(const BenchRow& row);

struct BenchCrossover {
  std::string other;
  std::int64_t n = 0;
  double median_ms = 0;  // `method`'s median there
};
// Whether row `a` was faster than row `b` beyond their spread: a's slowest run (max_ms) below
// b's fastest (min_ms), i.e. their min..max intervals separate. A bound a row lacks (NaN or 0,
// as in files without max_ms) is its median.
bool bench_faster(const BenchRow& a, const BenchRow& b);
// Where `method` overtakes each other method in `rows`: the first N from which it stays
// faster (bench_faster: the timing intervals separate) at every larger N both were run at
// (the other out of memory or over budget counts as slower; `method` failing there, or
// intervals that overlap, as not faster). A method it is not faster than at the largest such
// N is left out.
std::vector<BenchCrossover> bench_crossovers(const std::vector<BenchRow>& rows, const std::string& method);

// The table as text, the rows as CSV and as a JSON list of objects (atomic writes).
std::string format_bench_table(const std::vector<BenchRow>& rows);
void write_bench_csv(const std::string& path, const std::vector<BenchRow>& rows);
void write_bench_json(const std::string& path, const std::vector<BenchRow>& rows);

// ---- streamed results (JSONL): what `fmav bench --jsonl` and the GUI's scaling panel write
// and open. A header line {"format": "fmav-bench", "format_version": 1, "config": {...},
// "device_name": "..."}, then one row per line as it is measured (bench_file.cpp, no
// LibTorch). config.device ("cpu" | "cuda", resolved) and device_name are optional when
// read: files written before them were measured on the CPU. ----
constexpr int kBenchFormatVersion = 1;
// device_name: one line on the device, as describe_device gives it ("" leaves it out).
// Throws fmav::Error for config.device auto: a results file says where its rows ran.
std::string bench_header_json(const BenchConfig& config, const std::string& device_name = "");
std::string bench_row_json(const BenchRow& row);  // one line, no newline; NaN as null

struct BenchFile {
  BenchConfig config;
  std::string device_name;  // "" when the file does not say
  std::vector<BenchRow> rows;
  bool truncated_tail = false;  // a last line cut off by a crash, set aside
};
// Parses a streamed results file strictly; throws fmav::Error naming `name` and the line.
BenchFile parse_bench_file(const std::string& text, const std::string& name = "bench.jsonl");
BenchFile read_bench_file(const std::string& path);

}  // namespace fmav
