#pragma once
// An r x p sweep (fmav/sweep.h) as data, without LibTorch: its specification and grid points,
// each point's measured result, the JSONL results file a sweep appends to as it goes (a
// header line, then one point per line; read back strictly, a crash's cut-off last line set
// aside), the merge of shards' files, and the Pareto front of cost against error.

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/device.h"
#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

constexpr int kSweepFormatVersion = 1;
constexpr std::uint64_t kMaxSweepFileBytes = 1ull << 30;  // a results file read back
constexpr std::uint64_t kMaxSweepLineBytes = 1ull << 20;  // one point's line
// One point's per-head errors (layers x heads): under 100 bytes each, they fit in its line.
constexpr std::int64_t kMaxSweepHeadErrors = 8192;

struct SweepSpec {
  // Source: a model folder run on an input file (its text window from `offset`, or its
  // image), or the synthetic input (sample_qkv) with `heads` heads of `dim` channels.
  std::string model, input;
  std::int64_t offset = 0;
  std::int64_t heads = 4, dim = 64;  // synthetic only
  bool causal = false;               // synthetic only (a model has its own)
  // The grid; every combination is a point, in this nesting order (ns outermost).
  std::vector<std::int64_t> ns{1024};          // synthetic tokens (a model: its own, one value)
  std::vector<std::int64_t> block_sizes{32};   // r
  std::vector<std::int64_t> ranks{4};          // p
  std::vector<Downsample> downsamples{Downsample::average};
  std::vector<bool> multiplicities{true};
  std::vector<DType> dtypes{DType::f32};       // of the timed fast path: f32 or f64
  // Where the fast path is timed (innermost axis): cpu | cuda, resolved (no auto). On cuda
  // the timed call includes the copies to and from the device; the errors are the host's
  // float64 maps either way. Files without "devices" are cpu sweeps.
  std::vector<Device> devices{Device::cpu};
  int repeats = 3;                             // timed calls after a warm-up (median)
  std::uint64_t seed = 0;
  int shard = 0, shards = 1;                   // this process runs points with index % shards == shard
  // "fma", or a peer ("htransformer" | "linear" | "reformer" | "local" | "swin"; fmav/method.h)
  // whose block (Nr, chunk, window side) is r; a peer takes one p, down-sampling and
  // multiplicity (recorded, not used). A model runs with its attention replaced by it.
  std::string method = "fma";
  // A Hugging Face model folder (fmav/hf_model.h): the sweep is of one layer's q, k, v (all
  // heads, or `head`), causal, on `input` tokenized by the folder's tokenizer.json or on the
  // token ids in `ids`, from token `offset`; each point also scores the model with that layer's
  // attention swapped (loss, accuracy). layer < 0 for other sources.
  int layer = -1, head = -1;
  std::string ids;

  bool is_model() const { return !model.empty(); }
};

// One grid point's settings.
struct SweepPoint {
  std::int64_t n = 0, block_size = 0, rank = 0;
  Downsample downsample = Downsample::average;
  bool count_multiplicity = true;
  DType dtype = DType::f32;
  Device device = Device::cpu;
};
// "n=1024 r=32 p=4 average mult f32": a point's identity within its sweep (" cuda" appended
// on cuda; a cpu point's key is as before the device axis).
std::string sweep_key(const SweepPoint& point);

// One layer x head's approximation errors at a point.
struct HeadError {
  int layer = 0, head = 0;
  double output_rel_error = 0, mean_tv = 0, mean_kl = 0;
};

// A measured point, as one line of the results file.
struct SweepResult {
  std::int64_t index = 0;  // in the whole grid's order
  SweepPoint point;
  std::string status;      // ok | oom | failed
  std::string error;       // why, unless ok
  // Aggregated over every layer and head (means), and each one.
  double output_rel_error = 0, mean_tv = 0, mean_kl = 0;
  std::vector<HeadError> heads;
  // A model's loss on its input under FMA at this point (LMs: bits per byte; classifiers:
  // accuracy); NaN for the synthetic input.
  double loss = 0, bpc = 0, accuracy = 0;
  // The fused FMA forward of all heads (a model: its first layer's q, k, v), median of
  // repeats, and the tensor bytes it allocated at its peak.
  double latency_ms = 0;
  std::int64_t peak_bytes = 0;
  double seconds = 0;      // wall time of the whole point
};

// The points of `spec` in grid order (all shards); throws fmav::Error for an empty or bad
// grid (r, p < 1; a model with more than one N; shard outside [0, shards)) and for any size
// over the limits its results file is read back with (fmav/size_limits.h).
std::vector<SweepPoint> sweep_points(const SweepSpec& spec);

// The points no other point beats in both cost and error (the Pareto front), by cost
// ascending: each point whose error is below every cheaper point's (ties in cost: the lower
// error first). Indices into the two equally long lists; points with a NaN are skipped.
std::vector<std::size_t> pareto_front(const std::vector<double>& cost, const std::vector<double>& error);

// ---- results files (JSONL) ----

// The first line: {"format": "fmav-sweep", "format_version": 1, "spec": {...}}.
std::string sweep_header_json(const SweepSpec& spec);
std::string sweep_result_json(const SweepResult& result);  // one line, no newline

struct SweepFile {
  SweepSpec spec;
  std::vector<SweepResult> results;  // in file order
  bool truncated_tail = false;       // the last line was cut off (a crash mid-write); ignored
  std::uint64_t valid_bytes = 0;     // bytes up to the end of the last complete line
};
// Parses a results file's text strictly (the header, then one result per line; a last line
// without its newline is a crash's leftover and is ignored). Throws fmav::Error naming
// `name` and the line for anything else.
SweepFile parse_sweep_file(const std::string& text, const std::string& name = "sweep.jsonl");
SweepFile read_sweep_file(const std::string& path);
// Whether two specs describe the same sweep (everything but the shard).
bool same_sweep(const SweepSpec& a, const SweepSpec& b);
// What a merge joined, against the plan (the grid) recorded in the files' headers.
struct SweepMerge {
  std::int64_t points = 0;             // the whole grid's
  std::int64_t merged = 0;             // points with a result (ok, oom or failed)
  std::vector<std::int64_t> missing;   // grid indices without a result, ascending
  int shards = 1;                      // the most shards any input was run in
};
// The missing points, compactly: per shard when the inputs were sharded ("shard 1/2: all 6
// points (1, 3, ..., 11)"), indices as runs ("4-9, 12"), and the first missing point's key.
std::string describe_missing(const SweepMerge& merge, const SweepSpec& spec);
// Joins the results files of one sweep's shards (or partial runs) into `out` in grid order,
// atomically. Unless `allow_partial`, every point of the grid must have a result: a merge
// with points missing throws fmav::Error listing them and writes nothing. Throws also when
// the files are of different sweeps, or hold different results for one point.
SweepMerge merge_sweep_files(const std::vector<std::string>& inputs, const std::string& out,
                             bool allow_partial = false);

}  // namespace fmav
