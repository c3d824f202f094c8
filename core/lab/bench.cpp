// `fmav bench` (fmav/bench.h): inputs per N, a correctness check per method on the first N,
// then warm-up + timed repeats with exact tensor-memory accounting and peak RSS. On CUDA:
// CUDA events, the caching allocator's peak, and SDPA forced onto each of its backends.

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include "attention/cuda_backend.h"
#include "attention/fma_internal.h"
#include "attention/hierarchy.h"
#include "attention/memory_tracker.h"
#include "attention/peers.h"
#include "fmav/bench.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/memory_budget.h"
#include "fmav/size_limits.h"
#include "sdpa_backends.h"

namespace fmav {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Where a method has a row. On CUDA bench runs the fused kernels and SDPA; the rest are the
// CPU's (their tensor ops would run on a GPU, but unchecked there: they are skipped rows).
enum class Runs { both, cpu_only, cuda_only };

struct MethodInfo {
  const char* name;
  Runs runs;
  const char* help;
};
const MethodInfo kMethods[] = {
    {"fma", Runs::both,
     "FMA-1D, learned down-sampling (the default): fused kernels; CUDA forward takes the faster of fma-fused and "
     "fma-composed, timed once per shape"},
    {"fma-fused", Runs::both, "FMA-1D, fused kernels (CPU or CUDA) always, learned"},
    {"fma-composed", Runs::both,
     "FMA-1D forward from LibTorch's attention kernels merged by log-sum-exp (docs/DESIGN.md §8.6), learned"},
    {"fma-blocked", Runs::cpu_only, "FMA-1D from LibTorch tensor ops (gathers; autograd), learned"},
    {"reference", Runs::cpu_only, "FMA-1D dense reference (O(N^2) memory), learned"},
    {"full", Runs::cpu_only, "full softmax attention in plain tensor ops (O(N^2) memory; on CUDA: sdpa-math)"},
    {"sdpa", Runs::both, "LibTorch's scaled_dot_product_attention, its own backend choice (CPU: flash)"},
    {"sdpa-flash", Runs::cuda_only, "SDPA forced onto its flash-attention backend (float16, bfloat16)"},
    {"sdpa-efficient", Runs::cuda_only, "SDPA forced onto its memory-efficient backend"},
    {"sdpa-cudnn", Runs::cuda_only, "SDPA forced onto its cuDNN backend (float16, bfloat16)"},
    {"sdpa-math", Runs::cuda_only, "SDPA forced onto its math backend (plain ops, O(N^2) memory)"},
    {"local", Runs::both, "FMA's near field alone (blocks b-1, b, b+1), fused kernels"},
    {"fma-average", Runs::both, "FMA-1D, fused kernels, average down-sampling (no weights)"},
    {"fma-linear", Runs::cpu_only, "FMA-linear (§3): fused near field + O(N) push-down in tensor ops, learned"},
    {"fma-linear-average", Runs::cpu_only, "FMA-linear (§3) as fma-linear, average down-sampling"},
    {"fma2d", Runs::cpu_only, "FMA2D (§4) on the most square H x W = N grid, cells --cell, blocked, learned"},
    {"fma2d-linear", Runs::cpu_only, "FMA2D with query down-sampling, O(N), blocked, learned"},
    {"htransformer", Runs::cpu_only, "H-Transformer-1D, blocks of --block, tensor ops"},
    {"linear", Runs::cpu_only, "Linear Transformer (elu + 1 features), O(N D^2), tensor ops"},
    {"reformer", Runs::cpu_only, "Reformer LSH, chunks of --block, --hash-rounds rounds, tensor ops"},
    {"swin", Runs::cpu_only, "Swin windows of --cell x --cell (shifted) on the most square H x W = N grid"},
};

const MethodInfo* find_method(const std::string& name) {
  for (const MethodInfo& m : kMethods) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

// SDPA's rows: LibTorch's own choice and the forced backends.
bool is_sdpa(const std::string& m) { return m == "sdpa" || m.rfind("sdpa-", 0) == 0; }
// The backend an sdpa-* row forces: "flash", "efficient", "cudnn", "math"; "" for sdpa.
std::string sdpa_backend(const std::string& m) { return m.rfind("sdpa-", 0) == 0 ? m.substr(5) : ""; }
// The rows that run the fused kernels, on CUDA only for the head dimensions they take.
bool is_fused(const std::string& m) { return m == "fma" || m == "fma-fused" || m == "fma-average" || m == "local"; }
// The rows of FMA-1D with learned down-sampling, however computed.
bool is_fma_learned(const std::string& m) { return m == "fma" || m == "fma-fused" || m == "fma-composed"; }

bool is_2d_method(const std::string& m) { return m == "fma2d" || m == "fma2d-linear" || m == "swin"; }

// The peers' rows, by their attend() names (`local` has its own row: FMA's fused near field).
bool peer_method(const std::string& m) {
  return m == "htransformer" || m == "linear" || m == "reformer" || m == "swin";
}

// ---- rows that cannot run here ----

// Thrown where a row cannot run here, with why.
struct RowSkipped {
  std::string why;
};

// ---- the problem of one N ----

// The inputs of one N and every method's FMA configuration and weights.
struct Problem {
  bool cuda = false;               // q, k, v, upstream and weights are on the GPU
  at::Tensor q, k, v, upstream;    // in the bench's dtype
  FmaConfig learned, average;
  FmaWeights weights;
  std::map<std::string, FmaConfig> variant;       // fma-linear*, fma2d*
  std::map<std::string, FmaWeights> variant_weights;
  std::map<std::string, AttendOptions> peer;       // htransformer, linear, reformer, swin
};

FmaConfig variant_config(const BenchConfig& c, const std::string& method, std::int64_t n) {
  FmaConfig f;
  f.block_size = c.block_size, f.rank = c.rank, f.causal = c.causal;
  f.linear = method.find("linear") != std::string::npos;
  if (method == "fma-linear-average") f.downsample = Downsample::average;
  if (is_2d_method(method)) {
    f.block_size = c.cell, f.causal = false;
    square_grid(n, &f.grid_height, &f.grid_width);
  }
  return f;
}

AttendOptions peer_options(const BenchConfig& c, const std::string& method, std::int64_t n) {
  AttendOptions o;
  o.method = parse_fma_or_peer(method);
  o.fma = variant_config(c, method, n);
  o.fma.linear = false;
  o.peer.hash_rounds = c.hash_rounds;
  o.peer.hash_seed = c.seed + 1;
  o.peer.shifted = true;
  return o;
}

Problem make_problem(const BenchConfig& c, std::int64_t n) {
  Problem p;
  p.cuda = c.device == Device::cuda;
  const at::ScalarType dtype = scalar_type(c.dtype);
  // Drawn on the CPU (float32; float64 for a float64 run) from the seed, then converted and
  // moved: every device and dtype benchmarks the same numbers, as rounded.
  const auto drawn = at::TensorOptions().dtype(c.dtype == DType::f64 ? at::kDouble : at::kFloat);
  const auto used = at::TensorOptions().dtype(dtype).device(p.cuda ? at::kCUDA : at::kCPU);
  at::manual_seed(c.seed + n);
  const auto draw = [&] { return at::randn({c.batch, c.heads, n, c.dim}, drawn).to(used); };
  p.q = draw();
  p.k = draw();
  p.v = draw();
  if (c.backward) p.upstream = draw();
  p.learned.block_size = p.average.block_size = c.block_size;
  p.learned.rank = p.average.rank = c.rank;
  p.learned.causal = p.average.causal = c.causal;
  p.learned.deterministic = p.average.deterministic = c.deterministic;
  p.average.downsample = Downsample::average;
  const int levels = make_levels(n, c.block_size).num_levels;
  p.weights = weights_to(to_fma_weights(random_downsample_weights(p.learned, c.dim, levels, c.seed), p.learned,
                                        c.dim, levels, dtype),
                         used);
  for (const std::string& m : c.methods) {
    if (peer_method(m)) {
      p.peer[m] = peer_options(c, m, n);
      continue;
    }
    if (m.rfind("fma-linear", 0) != 0 && !is_2d_method(m)) continue;
    const FmaConfig f = variant_config(c, m, n);
    const int L = num_levels(f, n);
    p.variant[m] = f;
    p.variant_weights[m] = to_fma_weights(random_downsample_weights(f, c.dim, L, c.seed), f, c.dim, L, dtype);
  }
  return p;
}

at::Tensor run_method(const std::string& method, const Problem& p, const at::Tensor& q, const at::Tensor& k,
                      const at::Tensor& v) {
  const bool causal = p.learned.causal;
  if (method == "fma") return fma_auto(q, k, v, p.learned, p.weights);
  if (method == "fma-fused") return fma_fused(q, k, v, p.learned, p.weights);
  if (method == "fma-composed") return fma_composed(q, k, v, p.learned, p.weights);
  if (method == "fma-blocked") return fma_blocked(q, k, v, p.learned, p.weights);
  if (method == "reference") return fma_reference(q, k, v, p.learned, p.weights);
  if (method == "full") return full_attention_math(q, k, v, causal);
  if (is_sdpa(method)) {
    try {
      return sdpa_on(sdpa_backend(method), q, k, v, causal);
    } catch (const SdpaBackendUnavailable& e) {
      throw RowSkipped{e.what()};
    }
  }
  if (method == "local") return local_attention_fused(q, k, v, p.learned.block_size, causal);
  if (method == "fma-average") return fma_fused(q, k, v, p.average, {});
  if (p.peer.count(method)) return peer_attention(q, k, v, p.peer.at(method));
  if (p.variant.count(method)) {
    const FmaConfig& f = p.variant.at(method);
    return f.is_2d() ? fma_blocked(q, k, v, f, p.variant_weights.at(method))
                     : fma_linear_fused(q, k, v, f, p.variant_weights.at(method));
  }
  throw Error("unknown bench method '" + method + "'");
}

// One call: forward, or forward + backward through every input.
void call(const std::string& method, const Problem& p, bool backward) {
  if (!backward) {
    at::AutoGradMode no_grad(false);
    run_method(method, p, p.q, p.k, p.v);
  } else {
    const at::Tensor q = p.q.detach().requires_grad_(true), k = p.k.detach().requires_grad_(true),
                     v = p.v.detach().requires_grad_(true);
    (run_method(method, p, q, k, v) * p.upstream).sum().backward();
  }
}

// Seconds one call takes: by the wall clock on the CPU; on CUDA by events on the current
// stream around it (the launches return at once; the stop event waits for the last kernel).
double time_call(const std::string& method, const Problem& p, bool backward) {
  if (p.cuda) {
    CudaTimer timer;
    timer.start();
    call(method, p, backward);
    return 1e-3 * timer.stop_ms();
  }
  const auto start = std::chrono::steady_clock::now();
  call(method, p, backward);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Starts a new peak of memory and returns what is allocated now: LibTorch's CPU tensors by
// the tracker; on CUDA the caching allocator's statistics, after a synchronize so nothing
// earlier is in flight (its peak restarts at what is allocated).
std::int64_t reset_peak_memory(bool cuda) {
  reset_peak_rss();
  if (!cuda) {
    reset_tracked_peak();
    return tracked_live_bytes();
  }
  cuda_synchronize();
  cuda_reset_peak_memory();
  return cuda_peak_memory_bytes();
}

std::int64_t peak_memory(bool cuda) { return cuda ? cuda_peak_memory_bytes() : tracked_peak_bytes(); }

// ---- FLOPs: 4 D per (query, key-slot) pair, plus the pyramid ----

double pyramid_flops(const BenchConfig& c, const FmaConfig& f, const Levels& lv) {
  const double per_level = f.downsample == Downsample::average ? lv.n_pad * c.dim
                           : 2.0 * lv.n_pad * c.rank * c.dim * (f.downsample == Downsample::dense ? c.dim : 1);
  return 2.0 * per_level * lv.num_levels;  // K and V
}

// Pairs the fused kernels compute: their near field, plus every block's coarse tile
// (its slots padded to whole vectors) for each of its rows.
double fused_pairs(const Levels& lv, const FmaConfig& f, bool with_levels) {
  double pairs = fused_near_pairs(lv.n, lv.block_size, f.causal);
  if (!with_levels) return pairs;
  std::vector<at::Tensor> log_mult;
  for (int l = 1; l <= lv.num_levels; ++l) log_mult.push_back(level_log_mult(f, lv.n, l));
  const BlockSlots slots = make_block_slots(lv, f, log_mult);
  for (std::size_t b = 0; b + 1 < slots.offset.size(); ++b) {
    const std::int64_t rows = std::min(lv.block_size, lv.n - static_cast<std::int64_t>(b) * lv.block_size);
    pairs += static_cast<double>(rows) * fused_slot_tile(slots.offset[b + 1] - slots.offset[b]);
  }
  return pairs;
}

// (query, key-slot) pairs the blocked variants score: whole near-field lists per position,
// and per level either every position's list (one softmax) or every summary query's (linear).
double variant_pairs(const FmaConfig& f, std::int64_t n) {
  const Hierarchy h = make_hierarchy(f, n);
  double pairs = static_cast<double>(h.n_pad) * h.near.fanout * h.near.width;
  for (const GroupLists& fl : h.far) {
    const double rows = f.linear ? static_cast<double>(fl.groups) * f.rank : static_cast<double>(h.n_pad);
    pairs += rows * fl.fanout * f.rank;
  }
  return pairs;
}

// Summaries of K, V (and Q for linear): about 2 p D FLOPs per padded token and level for
// learned (the 2D column pass adds 1 / c of that), D for average.
double variant_pyramid_flops(const BenchConfig& c, const FmaConfig& f, std::int64_t n) {
  const Hierarchy h = make_hierarchy(f, n);
  const double per_level = f.downsample == Downsample::average ? h.n_pad * c.dim : 2.0 * h.n_pad * f.rank * c.dim;
  return per_level * static_cast<double>(h.far.size()) * (f.linear ? 3 : 2);
}

// FLOPs of a peer's fast path as computed (masked pairs included): 4 D per scored pair,
// plus linear attention's D x D products and Reformer's hashing.
double peer_flops(const BenchConfig& c, const AttendOptions& o, std::int64_t n) {
  const double d = static_cast<double>(c.dim), m = static_cast<double>(o.fma.block_size);
  const Levels lv = make_levels(n, o.fma.block_size);
  double pairs = 0, extra = 0;
  switch (o.method) {
    case Method::htransformer:
      pairs = static_cast<double>(lv.n_pad) * 2 * m;
      // Causal: the fine queries of right children only; else one coarse query per 2^l tokens.
      for (int l = 1; l <= lv.num_levels; ++l) pairs += static_cast<double>(c.causal ? lv.n_pad / 2 : lv.n_pad >> l) * m;
      break;
    case Method::linear:
      extra = c.causal ? 4.0 * n * 64 * d + 4.0 * n * d * d : 4.0 * n * d * d;
      break;
    case Method::reformer: {
      const double chunks = std::ceil(static_cast<double>(n) / m);
      pairs = o.peer.hash_rounds * chunks * m * (chunks > 1 ? 2 * m : m);
      extra = 2.0 * o.peer.hash_rounds * n * d * (static_cast<double>(reformer_buckets(o, n)) / 2);
      break;
    }
    case Method::swin: {
      const std::int64_t w = o.fma.block_size, before = w - w / 2;
      const double rows = static_cast<double>((o.fma.grid_height + before + w - 1) / w * w);
      const double cols = static_cast<double>((o.fma.grid_width + before + w - 1) / w * w);
      pairs = rows * cols * static_cast<double>(w * w);
      break;
    }
    default: break;
  }
  return 4.0 * d * pairs + extra;
}

double method_flops(const std::string& method, const BenchConfig& c, const Problem& p, std::int64_t n) {
  if (p.peer.count(method)) {
    const double forward = c.batch * c.heads * peer_flops(c, p.peer.at(method), n);
    return c.backward ? 3 * forward : forward;
  }
  const Levels lv = make_levels(n, c.block_size);
  const double n_d = static_cast<double>(n);
  double pairs = 0, extra = 0;
  if (is_sdpa(method)) pairs = c.causal ? n_d * (n_d + 1) / 2 : n_d * n_d;
  if (method == "full") pairs = n_d * n_d;
  if (method == "reference") pairs = n_d * reference_columns(p.learned, n), extra = pyramid_flops(c, p.learned, lv);
  if (is_fma_learned(method)) pairs = fused_pairs(lv, p.learned, true), extra = pyramid_flops(c, p.learned, lv);
  if (method == "fma-average") pairs = fused_pairs(lv, p.average, true), extra = pyramid_flops(c, p.average, lv);
  if (method == "local") pairs = fused_pairs(lv, p.learned, false);
  if (method == "fma-blocked") {
    pairs = lv.n_pad * ((c.causal ? 2.0 : 3.0) * c.block_size + (c.causal ? 2.0 : 3.0) * c.rank * lv.num_levels);
    extra = pyramid_flops(c, p.learned, lv);
  }
  if (p.variant.count(method)) pairs = variant_pairs(p.variant.at(method), n), extra = variant_pyramid_flops(c, p.variant.at(method), n);
  const double forward = c.batch * c.heads * (4.0 * c.dim * pairs + extra);
  return c.backward ? 3 * forward : forward;
}

// Dense methods hold (B, H, N, N)-sized scores and probabilities (four with backward).
double dense_bytes(const std::string& method, const BenchConfig& c, const Problem& p, std::int64_t n) {
  if (method != "full" && method != "reference") return 0;
  const double cols = method == "full" ? n : reference_columns(p.learned, n);
  return (c.backward ? 4.0 : 2.0) * c.batch * c.heads * n * cols * dtype_size(c.dtype);
}

// Host bytes of a Problem at n: q, k, v (and the upstream gradient) on the CPU, and the one
// float32/float64 tensor drawn before its conversion.
double problem_bytes(const BenchConfig& c, std::int64_t n) {
  const double elements = static_cast<double>(c.batch) * c.heads * n * c.dim;
  const double drawn = elements * (c.dtype == DType::f64 ? 8 : 4);
  if (c.device == Device::cuda) return drawn;
  return (c.backward ? 4 : 3) * elements * dtype_size(c.dtype) + drawn;
}

// The predicted host peak of a row (fmav/memory_budget.h): the problem, the output (and the
// gradients), and twice a dense method's scores and probabilities for LibTorch's temporaries.
// On CUDA only the dense part is predicted; a GPU's allocation failure is caught and recorded.
double row_bytes(const std::string& method, const BenchConfig& c, const Problem& p, std::int64_t n) {
  const double dense = 2 * dense_bytes(method, c, p, n);
  if (p.cuda) return dense;
  const double output = (c.backward ? 4 : 1) * static_cast<double>(c.batch) * c.heads * n * c.dim * dtype_size(c.dtype);
  return problem_bytes(c, n) + output + dense;
}

// ---- checks ----

// The largest first N a CUDA row is checked at: its oracle is dense, float64, on the CPU.
constexpr std::int64_t kCudaCheckMaxN = 4096;

// The largest check error a row may have: the CPU's float64 and float32 bounds; on CUDA
// twice the CPU's float32 one (docs/DESIGN.md §5.5: a GPU result within twice the CPU fp32 error), and
// for the half types their rounding of outputs of order 1 (an ulp: 2^-10, 2^-7) with room
// for the kernels' sums in that precision.
double check_tolerance(DType dtype, bool cuda) {
  switch (dtype) {
    case DType::f64: return 1e-9;
    case DType::f16: return 1e-2;
    case DType::bf16: return 5e-2;
    default: return cuda ? 2e-4 : 1e-4;
  }
}

// A CUDA problem's inputs and weights on the CPU in float64: the oracle checks the GPU
// against the very numbers it was given.
Problem oracle_of(const Problem& p) {
  Problem o = p;
  const auto cpu64 = at::TensorOptions().dtype(at::kDouble).device(at::kCPU);
  o.cuda = false;
  o.q = p.q.to(cpu64), o.k = p.k.to(cpu64), o.v = p.v.to(cpu64), o.upstream = at::Tensor();
  o.weights = weights_to(p.weights, cpu64);
  return o;
}

// The output `method` is checked against on p's inputs; undefined where no reference is
// affordable (the dense ones at small N; the blocked FMA beyond).
at::Tensor reference_output(const std::string& method, const Problem& p, std::int64_t n) {
  const bool small = n <= 8192;
  at::Tensor ref;
  if (is_fma_learned(method) || method == "fma-blocked")
    ref = small ? fma_reference(p.q, p.k, p.v, p.learned, p.weights) : fma_blocked(p.q, p.k, p.v, p.learned, p.weights);
  if (method == "fma-average")
    ref = small ? fma_reference(p.q, p.k, p.v, p.average, {}) : fma_blocked(p.q, p.k, p.v, p.average, {});
  if (p.variant.count(method) && n <= 4096) ref = fma_reference(p.q, p.k, p.v, p.variant.at(method), p.variant_weights.at(method));
  if (is_sdpa(method) && small) ref = full_attention_math(p.q, p.k, p.v, p.learned.causal);
  if (method == "local" && small) ref = local_attention_math(p.q, p.k, p.v, p.learned.block_size, p.learned.causal);
  if (p.peer.count(method) && n <= 4096) ref = peer_reference(p.q, p.k, p.v, p.peer.at(method));
  return ref;
}

// max |method - its reference| on this problem; NaN for the references themselves and for
// a CUDA row whose N is over kCudaCheckMaxN.
double check_error(const std::string& method, const Problem& p, std::int64_t n) {
  if (p.cuda && n > kCudaCheckMaxN) return kNaN;
  at::AutoGradMode no_grad(false);
  const at::Tensor out = run_method(method, p, p.q, p.k, p.v);
  const at::Tensor ref = reference_output(method, p.cuda ? oracle_of(p) : p, n);
  if (!ref.defined()) return kNaN;
  return (out.to(ref.options()) - ref).abs().max().item<double>();
}

// The device's dtypes: the CPU path's float32 and float64; the CUDA kernels' float32,
// float16 and bfloat16. `c.device` is resolved.
void validate_dtype(const BenchConfig& c) {
  if (c.device == Device::cuda) {
    FMAV_CHECK(c.dtype == DType::f32 || c.dtype == DType::f16 || c.dtype == DType::bf16,
               "bench: on cuda --dtype must be float32, float16 or bfloat16, got ", bench_dtype_name(c.dtype));
  } else {
    FMAV_CHECK(c.dtype == DType::f32 || c.dtype == DType::f64, "bench: on the cpu --dtype must be float32 or ",
               "float64, got ", bench_dtype_name(c.dtype), " (float16 and bfloat16 run with --device cuda)");
  }
}

void validate_bench(const BenchConfig& c) {
  FMAV_CHECK(!c.methods.empty(), "bench: --methods is empty");
  std::string known;
  for (const MethodInfo& info : kMethods) known += (known.empty() ? "" : ", ") + std::string(info.name);
  for (const std::string& m : c.methods) {
    FMAV_CHECK(find_method(m) != nullptr, "bench: unknown method '", m, "'; known: ", known);
    FMAV_CHECK(!is_2d_method(m) || !c.causal, "bench: ", m, " is bidirectional; run it without --causal");
  }
  FMAV_CHECK(!c.ns.empty(), "bench: --n is empty");
  // The limits its results file is read back with (fmav/size_limits.h).
  for (std::int64_t n : c.ns) check_limit("bench: each --n value", n, 1, kMaxTokens);
  check_limit("bench: --batch", c.batch, 1, kMaxBatch);
  check_limit("bench: --heads", c.heads, 1, kMaxHeads);
  check_limit("bench: --dim", c.dim, 1, kMaxDim);
  check_limit("bench: --block", c.block_size, 1, kMaxTokens);
  check_limit("bench: --rank", c.rank, 1, kMaxTokens);
  check_limit("bench: --cell", c.cell, 1, kMaxTokens);
  check_limit("bench: --hash-rounds", c.hash_rounds, 1, 8);
  check_limit("bench: --repeats", c.repeats, 1, kMaxRepeats);
  check_limit("bench: --threads", c.threads, 0, kMaxThreads);
  FMAV_CHECK(c.budget_s > 0, "bench: --budget-s must be > 0, got ", c.budget_s);
  validate_dtype(c);
  FmaConfig f;
  f.block_size = c.block_size, f.rank = c.rank;
  validate(f);
  if (std::find(c.methods.begin(), c.methods.end(), "fma-average") != c.methods.end()) {
    f.downsample = Downsample::average;
    validate(f);
  }
  for (const std::string& m : c.methods) {
    if (peer_method(m)) {
      validate_peer(peer_options(c, m, c.ns.front()), c.ns.front());
    } else if (m.rfind("fma-linear", 0) == 0 || is_2d_method(m)) {
      validate(variant_config(c, m, c.ns.front()));
    }
  }
}

// Warm-up, then as many repeats as the budget allows (at most c.repeats).
void measure(BenchRow& row, const BenchConfig& c, const Problem& p) {
  const std::int64_t before = reset_peak_memory(p.cuda);
  const double warm = time_call(row.method, p, c.backward);
  std::vector<double> times;
  if (warm > c.budget_s) {
    row.status = "over-budget";
    row.note = "one call took " + std::to_string(warm) + " s > budget";
    times.push_back(warm);
  } else {
    const int affordable = static_cast<int>(std::max(1.0, std::floor((c.budget_s - warm) / std::max(warm, 1e-9))));
    for (int r = 0; r < std::min(c.repeats, affordable); ++r) times.push_back(time_call(row.method, p, c.backward));
    row.status = "ok";
  }
  std::sort(times.begin(), times.end());
  row.repeats = static_cast<int>(times.size());
  row.median_ms = 1e3 * (times.size() % 2 ? times[times.size() / 2]
                                           : 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]));
  row.min_ms = 1e3 * times.front();
  row.max_ms = 1e3 * times.back();
  row.input_bytes = before;
  row.peak_bytes = peak_memory(p.cuda) - before;
  row.peak_rss_bytes = peak_rss_bytes();
  row.gflops = row.flops / (row.median_ms * 1e-3) * 1e-9;
}

// Why `method` has no row on this device, or "": the sdpa-* rows force CUDA backends; on
// CUDA the fused rows need a head dimension the kernels take; kMethods says the rest.
std::string device_skip(const std::string& method, const BenchConfig& c, bool cuda) {
  const Runs runs = find_method(method)->runs;
  if (method == "fma-composed" && c.backward) {
    return "forward only: LibTorch's attention kernels give no gradient of their log-sum-exp";
  }
  if (!cuda) {
    return runs == Runs::cuda_only ? "CUDA only: it forces one of SDPA's CUDA backends; run with --device cuda" : "";
  }
  if (runs == Runs::cpu_only) return "CPU only: bench runs " + method + " on the CPU alone; run it with --device cpu";
  if (is_fused(method) && !cuda_kernels_take(scalar_type(c.dtype), c.dim)) {
    return "the CUDA kernels take head dimension D = 32, 64 or 128, got D = " + std::to_string(c.dim);
  }
  return "";
}

// One row: skipped (device, given up, a backend that cannot run), predicted out of memory,
// failed its check (on the first N), or measured. `given_up`: methods skipped from now on.
void run_row(BenchRow& row, const BenchConfig& c, const Problem& p, bool first_n,
             std::map<std::string, std::string>& given_up) {
  const std::string& method = row.method;
  const std::string elsewhere = device_skip(method, c, p.cuda);
  const std::string no_room = memory_shortfall(row_bytes(method, c, p, row.n));  // an OOM kill loses the run
  if (!elsewhere.empty() || given_up.count(method)) {
    row.status = "skipped", row.note = !elsewhere.empty() ? elsewhere : given_up[method];
  } else if (!no_room.empty()) {
    row.status = "oom", row.note = no_room;  // "predicted to need ..."
    given_up[method] = "out of memory at a smaller N";
  } else {
    try {
      if (first_n) row.check_error = check_error(method, p, row.n);
      if (row.check_error > check_tolerance(c.dtype, p.cuda)) {
        row.status = "failed-check";
        row.note = "max error " + std::to_string(row.check_error) + " against its reference";
        given_up[method] = "failed its check";
        return;
      }
      measure(row, c, p);
      if (row.status == "over-budget") given_up[method] = "over budget at N = " + std::to_string(row.n);
    } catch (const RowSkipped& skipped) {
      row.status = "skipped", row.note = skipped.why;
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e)) throw;
      const std::string what = e.what();
      row.status = "oom", row.note = what.substr(0, what.find('\n'));
      given_up[method] = "out of memory at a smaller N";
    }
  }
}

// A row at an N whose inputs are predicted not to fit: skipped as run_row would skip it, else
// oom with `why`; the method is given up from here on.
BenchRow unmeasured_row(const std::string& method, std::int64_t n, const std::string& why, const BenchConfig& c,
                        std::map<std::string, std::string>& given_up) {
  BenchRow row;
  row.method = method, row.n = n;
  row.median_ms = row.min_ms = row.flops = row.gflops = row.speedup_vs_sdpa = row.check_error = kNaN;
  const std::string elsewhere = device_skip(method, c, c.device == Device::cuda);
  if (!elsewhere.empty() || given_up.count(method)) {
    row.status = "skipped", row.note = !elsewhere.empty() ? elsewhere : given_up[method];
  } else {
    row.status = "oom", row.note = why;
    given_up[method] = "out of memory at a smaller N";
  }
  return row;
}

}  // namespace

const std::vector<std::string>& bench_methods() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const MethodInfo& m : kMethods) out.push_back(m.name);
    return out;
  }();
  return names;
}

std::string bench_method_help() {
  std::string out;
  for (const MethodInfo& m : kMethods) {
    const char* where = m.runs == Runs::cpu_only ? " [CPU only]" : m.runs == Runs::cuda_only ? " [CUDA only]" : "";
    out += std::string("  ") + m.name + ": " + m.help + where + "\n";
  }
  return out;
}

std::vector<BenchRow> run_bench(const BenchConfig& requested, const std::function<void(const BenchRow&)>& on_row) {
  BenchConfig config = requested;
  config.device = resolve_device(config.device);
  validate_bench(config);
  install_memory_tracker();
  if (config.threads > 0) at::set_num_threads(config.threads);
  // SDPA's rows first at each N, so every later row can report its speed-up over them.
  std::vector<std::string> order = config.methods;
  std::stable_partition(order.begin(), order.end(), is_sdpa);
  std::vector<BenchRow> rows;
  std::map<std::string, std::string> given_up;  // method -> why it is skipped from now on
  for (std::size_t ni = 0; ni < config.ns.size(); ++ni) {
    const std::int64_t n = config.ns[ni];
    if (const std::string no_room = memory_shortfall(problem_bytes(config, n)); !no_room.empty()) {
      for (const std::string& method : order) {  // not even q, k, v fit: every row is oom
        rows.push_back(unmeasured_row(method, n, "q, k, v " + no_room, config, given_up));
        if (on_row) on_row(rows.back());
      }
      continue;
    }
    const Problem problem = make_problem(config, n);
    double sdpa_ms = kNaN;  // the fastest SDPA row's median at this N so far
    for (const std::string& method : order) {
      BenchRow row;
      row.method = method, row.n = n, row.median_ms = row.min_ms = row.max_ms = kNaN;
      row.speedup_vs_sdpa = kNaN, row.check_error = kNaN;
      row.flops = method_flops(method, config, problem, n);
      run_row(row, config, problem, ni == 0, given_up);
      // An over-budget SDPA row still holds one real measurement: speed-ups use it too.
      const bool measured = row.status == "ok" || row.status == "over-budget";
      if (measured && is_sdpa(method) && (std::isnan(sdpa_ms) || row.median_ms < sdpa_ms)) sdpa_ms = row.median_ms;
      if (measured) row.speedup_vs_sdpa = sdpa_ms / row.median_ms;
      rows.push_back(row);
      if (on_row) on_row(row);
    }
  }
  return rows;
}

}  // namespace fmav
