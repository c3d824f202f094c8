// `fmav bench` (fmav/bench.h): inputs per N, a correctness check per method on the first N,
// then warm-up + timed repeats with exact tensor-memory accounting and peak RSS.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include "fma_internal.h"
#include "fmav/bench.h"
#include "fmav/error.h"
#include "hierarchy.h"
#include "memory_tracker.h"
#include "peers.h"

namespace fmav {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct MethodInfo {
  const char* name;
  const char* help;
};
const MethodInfo kMethods[] = {
    {"fma", "FMA-1D, fused CPU kernels, learned down-sampling (the default implementation)"},
    {"fma-blocked", "FMA-1D from LibTorch tensor ops (gathers; autograd), learned"},
    {"reference", "FMA-1D dense reference (O(N^2) memory), learned"},
    {"full", "full softmax attention in plain tensor ops (O(N^2) memory)"},
    {"sdpa", "LibTorch's scaled_dot_product_attention (flash kernel on CPU)"},
    {"local", "FMA's near field alone (blocks b-1, b, b+1), fused kernels"},
    {"fma-average", "FMA-1D, fused kernels, average down-sampling (no weights)"},
    {"fma-linear", "FMA-linear (§3): fused near field + O(N) push-down in tensor ops, learned"},
    {"fma-linear-average", "FMA-linear (§3) as fma-linear, average down-sampling"},
    {"fma2d", "FMA2D (§4) on the most square H x W = N grid, cells --cell, blocked, learned"},
    {"fma2d-linear", "FMA2D with query down-sampling, O(N), blocked, learned"},
    {"htransformer", "H-Transformer-1D, blocks of --block, tensor ops"},
    {"linear", "Linear Transformer (elu + 1 features), O(N D^2), tensor ops"},
    {"reformer", "Reformer LSH, chunks of --block, --hash-rounds rounds, tensor ops"},
    {"swin", "Swin windows of --cell x --cell (shifted) on the most square H x W = N grid"},
};

bool is_2d_method(const std::string& m) { return m == "fma2d" || m == "fma2d-linear" || m == "swin"; }

// The peers' rows, by their attend() names (`local` has its own row: FMA's fused near field).
bool peer_method(const std::string& m) {
  return m == "htransformer" || m == "linear" || m == "reformer" || m == "swin";
}

// The inputs of one N and every method's FMA configuration and weights.
struct Problem {
  at::Tensor q, k, v, upstream;
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
  const at::ScalarType dtype = c.dtype == DType::f64 ? at::kDouble : at::kFloat;
  at::manual_seed(c.seed + n);
  const auto opts = at::TensorOptions().dtype(dtype);
  p.q = at::randn({c.batch, c.heads, n, c.dim}, opts);
  p.k = at::randn({c.batch, c.heads, n, c.dim}, opts);
  p.v = at::randn({c.batch, c.heads, n, c.dim}, opts);
  if (c.backward) p.upstream = at::randn({c.batch, c.heads, n, c.dim}, opts);
  p.learned.block_size = p.average.block_size = c.block_size;
  p.learned.rank = p.average.rank = c.rank;
  p.learned.causal = p.average.causal = c.causal;
  p.average.downsample = Downsample::average;
  const int levels = make_levels(n, c.block_size).num_levels;
  p.weights = to_fma_weights(random_downsample_weights(p.learned, c.dim, levels, c.seed), p.learned, c.dim,
                             levels, dtype);
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
  if (method == "fma") return fma_fused(q, k, v, p.learned, p.weights);
  if (method == "fma-blocked") return fma_blocked(q, k, v, p.learned, p.weights);
  if (method == "reference") return fma_reference(q, k, v, p.learned, p.weights);
  if (method == "full") return full_attention_math(q, k, v, causal);
  if (method == "sdpa") return full_attention_sdpa(q, k, v, causal);
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

// One timed call: forward, or forward + backward through every input.
double time_call(const std::string& method, const Problem& p, bool backward) {
  const auto start = std::chrono::steady_clock::now();
  if (!backward) {
    at::AutoGradMode no_grad(false);
    run_method(method, p, p.q, p.k, p.v);
  } else {
    const at::Tensor q = p.q.detach().requires_grad_(true), k = p.k.detach().requires_grad_(true),
                     v = p.v.detach().requires_grad_(true);
    (run_method(method, p, q, k, v) * p.upstream).sum().backward();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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
  if (method == "sdpa") pairs = c.causal ? n_d * (n_d + 1) / 2 : n_d * n_d;
  if (method == "full") pairs = n_d * n_d;
  if (method == "reference") pairs = n_d * reference_columns(p.learned, n), extra = pyramid_flops(c, p.learned, lv);
  if (method == "fma") pairs = fused_pairs(lv, p.learned, true), extra = pyramid_flops(c, p.learned, lv);
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

double available_bytes() {
  std::ifstream info("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (info >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    info.ignore(1 << 10, '\n');
  }
  return 8.0 * (1ull << 30);
}

// max |method - its reference| on this problem; NaN for the references themselves.
double check_error(const std::string& method, const Problem& p, std::int64_t n) {
  at::AutoGradMode no_grad(false);
  const at::Tensor out = run_method(method, p, p.q, p.k, p.v);
  const bool small = n <= 8192;
  at::Tensor ref;
  if (method == "fma" || method == "fma-blocked")
    ref = small ? fma_reference(p.q, p.k, p.v, p.learned, p.weights) : fma_blocked(p.q, p.k, p.v, p.learned, p.weights);
  if (method == "fma-average")
    ref = small ? fma_reference(p.q, p.k, p.v, p.average, {}) : fma_blocked(p.q, p.k, p.v, p.average, {});
  if (p.variant.count(method) && n <= 4096) ref = fma_reference(p.q, p.k, p.v, p.variant.at(method), p.variant_weights.at(method));
  if (method == "sdpa" && small) ref = full_attention_math(p.q, p.k, p.v, p.learned.causal);
  if (method == "local" && small) ref = local_attention_math(p.q, p.k, p.v, p.learned.block_size, p.learned.causal);
  if (p.peer.count(method) && n <= 4096) ref = peer_reference(p.q, p.k, p.v, p.peer.at(method));
  if (!ref.defined()) return kNaN;
  return (out - ref).abs().max().item<double>();
}

void validate_bench(const BenchConfig& c) {
  FMAV_CHECK(!c.methods.empty(), "bench: --methods is empty");
  for (const std::string& m : c.methods) {
    const auto& known = bench_methods();
    FMAV_CHECK(std::find(known.begin(), known.end(), m) != known.end(), "bench: unknown method '", m,
               "'; known: fma, fma-blocked, reference, full, sdpa, local, fma-average, fma-linear, ",
               "fma-linear-average, fma2d, fma2d-linear, htransformer, linear, reformer, swin");
    FMAV_CHECK(!is_2d_method(m) || !c.causal, "bench: ", m, " is bidirectional; run it without --causal");
  }
  FMAV_CHECK(!c.ns.empty(), "bench: --n is empty");
  for (std::int64_t n : c.ns) FMAV_CHECK(n >= 1, "bench: every N must be >= 1, got ", n);
  FMAV_CHECK(c.batch >= 1 && c.heads >= 1 && c.dim >= 1, "bench: batch, heads and dim must be >= 1, got ", c.batch,
             ", ", c.heads, ", ", c.dim);
  FMAV_CHECK(c.repeats >= 1, "bench: --repeats must be >= 1, got ", c.repeats);
  FMAV_CHECK(c.budget_s > 0, "bench: --budget-s must be > 0, got ", c.budget_s);
  FMAV_CHECK(c.dtype == DType::f32 || c.dtype == DType::f64, "bench: --dtype must be float32 or float64");
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
  reset_tracked_peak();
  reset_peak_rss();
  const std::int64_t before = tracked_live_bytes();
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
  row.peak_bytes = tracked_peak_bytes() - before;
  row.peak_rss_bytes = peak_rss_bytes();
  row.gflops = row.flops / (row.median_ms * 1e-3) * 1e-9;
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
  for (const MethodInfo& m : kMethods) out += std::string("  ") + m.name + ": " + m.help + "\n";
  return out;
}

std::vector<BenchRow> run_bench(const BenchConfig& config, const std::function<void(const BenchRow&)>& on_row) {
  validate_bench(config);
  install_memory_tracker();
  if (config.threads > 0) at::set_num_threads(config.threads);
  // SDPA first at each N, so every later row can report its speed-up over it.
  std::vector<std::string> order = config.methods;
  std::stable_partition(order.begin(), order.end(), [](const std::string& m) { return m == "sdpa"; });
  std::vector<BenchRow> rows;
  std::map<std::string, std::string> given_up;  // method -> why it is skipped from now on
  for (std::size_t ni = 0; ni < config.ns.size(); ++ni) {
    const std::int64_t n = config.ns[ni];
    const Problem problem = make_problem(config, n);
    double sdpa_ms = kNaN;
    for (const std::string& method : order) {
      BenchRow row;
      row.method = method, row.n = n, row.median_ms = row.min_ms = kNaN;
      row.speedup_vs_sdpa = kNaN, row.check_error = kNaN;
      row.flops = method_flops(method, config, problem, n);
      row.input_bytes = tracked_live_bytes();
      const double need = dense_bytes(method, config, problem, n);
      try {
        if (given_up.count(method)) {
          row.status = "skipped", row.note = given_up[method];
        } else if (need > 0.5 * available_bytes()) {  // leave room: an OOM kill loses the run
          row.status = "oom";
          row.note = "predicted: needs " + std::to_string(static_cast<long long>(need / (1 << 20))) + " MiB";
          given_up[method] = "out of memory at a smaller N";
        } else {
          if (ni == 0) row.check_error = check_error(method, problem, n);
          const double tolerance = config.dtype == DType::f64 ? 1e-9 : 1e-4;
          if (row.check_error > tolerance) {
            row.status = "failed-check";
            row.note = "max error " + std::to_string(row.check_error) + " against its reference";
            given_up[method] = "failed its check";
          } else {
            measure(row, config, problem);
            if (row.status == "over-budget") given_up[method] = "over budget at N = " + std::to_string(n);
          }
        }
      } catch (const std::exception& e) {
        if (!is_out_of_memory(e)) throw;
        const std::string what = e.what();
        row.status = "oom", row.note = what.substr(0, what.find('\n'));
        given_up[method] = "out of memory at a smaller N";
      }
      // An over-budget SDPA row still holds one real measurement: speed-ups use it too.
      if (method == "sdpa" && (row.status == "ok" || row.status == "over-budget")) sdpa_ms = row.median_ms;
      if (row.status == "ok" || row.status == "over-budget") row.speedup_vs_sdpa = sdpa_ms / row.median_ms;
      rows.push_back(row);
      if (on_row) on_row(row);
    }
  }
  return rows;
}

}  // namespace fmav
