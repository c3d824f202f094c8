// Inspection data of every FMA variant for one (batch, head) and a rectangle of rows x
// columns (docs/DESIGN.md §2-§4): the FMA map at full resolution spread from the blocked path's
// slot probabilities, full attention's map, the level map, mass per level and error metrics.
// The dense float64 work runs on the request's device (fmav/device.h); each band of full
// attention's rows is then copied to the host for the per-row and per-cell loops.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <ATen/Parallel.h>

#include "attention/fma_internal.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/fma2d.h"
#include "fmav/inspect.h"
#include "attention/peers.h"

namespace fmav {
namespace {

// Full attention is computed a band of rows at a time, about this many float64 cells each.
constexpr std::int64_t kBandCells = std::int64_t{1} << 22;

// The tensors of a hierarchy that spread_row reads, on the CPU.
struct HostLists {
  std::vector<std::int64_t> token;  // (n_pad): the token at each position, -1 for padding
  std::vector<const std::int64_t*> index;
  std::vector<const bool*> present;
  std::vector<const std::int64_t*> sub_window;
  std::vector<at::Tensor> keep;     // owners of the pointers
};

HostLists host_lists(const Hierarchy& h) {
  HostLists out;
  out.token.assign(h.n_pad, -1);
  const at::Tensor position = h.position.defined() ? h.position.contiguous() : at::Tensor();
  const std::int64_t* pos = position.defined() ? position.data_ptr<std::int64_t>() : nullptr;
  for (std::int64_t i = 0; i < h.n; ++i) out.token[pos ? pos[i] : i] = i;
  const auto add = [&](const GroupLists& g, const at::Tensor& sub) {
    out.keep.push_back(g.index.contiguous());
    out.index.push_back(out.keep.back().data_ptr<std::int64_t>());
    out.keep.push_back(g.present.contiguous());
    out.present.push_back(out.keep.back().data_ptr<bool>());
    out.keep.push_back(sub.defined() ? sub.contiguous() : at::Tensor());
    out.sub_window.push_back(sub.defined() ? out.keep.back().data_ptr<std::int64_t>() : nullptr);
  };
  add(h.near, at::Tensor());
  for (std::size_t l = 0; l < h.far.size(); ++l) add(h.far[l], h.sub_window[l]);
  return out;
}

// Row `pos` (a hierarchy position) of the FMA map over all N keys, from its slot
// probabilities (§2): a near key keeps its probability, a coarse slot's is spread evenly over
// the real tokens it stands for (its group, or for average its sub-window).
void spread_row(const double* probs, std::int64_t pos, const Hierarchy& h, const HostLists& hl,
                bool average, const std::vector<std::int64_t>& segments, double* row, double* mass) {
  const std::int64_t w0 = h.near.width, g0 = pos / w0;
  for (int f = 0; f < h.near.fanout; ++f) {
    for (std::int64_t u = 0; u < w0; ++u) {
      const double pr = probs[f * w0 + u];
      mass[0] += pr;
      if (!hl.present[0][g0 * h.near.fanout + f]) continue;
      const std::int64_t t = hl.token[hl.index[0][g0 * h.near.fanout + f] * w0 + u];
      if (t >= 0) row[t] += pr;
    }
  }
  std::int64_t base = segments[0];
  const std::int64_t p = h.rank;
  std::vector<double> count(p);
  for (std::size_t l = 1; l <= h.far.size(); ++l) {
    const GroupLists& fl = h.far[l - 1];
    const std::int64_t g = pos / fl.width;
    for (int f = 0; f < fl.fanout; ++f) {
      const double* pr = probs + base + f * p;
      for (std::int64_t j = 0; j < p; ++j) mass[l] += pr[j];
      if (!hl.present[l][g * fl.fanout + f]) continue;
      const std::int64_t first = hl.index[l][g * fl.fanout + f] * fl.width;
      const auto slot = [&](std::int64_t u) { return average ? hl.sub_window[l][u] : 0; };
      std::fill(count.begin(), count.end(), 0.0);
      for (std::int64_t u = 0; u < fl.width; ++u) count[slot(u)] += hl.token[first + u] >= 0;
      double learned_total = 0;  // a learned group spreads all p slots over its real tokens
      for (std::int64_t j = 0; j < p && !average; ++j) learned_total += pr[j];
      for (std::int64_t u = 0; u < fl.width; ++u) {
        const std::int64_t t = hl.token[first + u];
        if (t < 0) continue;
        row[t] += (average ? pr[slot(u)] : learned_total) / count[slot(u)];
      }
    }
    base += segments[l];
  }
}

double topk_overlap(const double* a, const double* b, std::int64_t n, int k) {
  const std::int64_t kk = std::min<std::int64_t>(k, n);
  std::vector<std::int64_t> ia(n), ib(n);
  std::iota(ia.begin(), ia.end(), 0);
  std::iota(ib.begin(), ib.end(), 0);
  const auto by = [](const double* x) {
    return [x](std::int64_t l, std::int64_t r) { return x[l] > x[r] || (x[l] == x[r] && l < r); };
  };
  std::partial_sort(ia.begin(), ia.begin() + kk, ia.end(), by(a));
  std::partial_sort(ib.begin(), ib.begin() + kk, ib.end(), by(b));
  std::sort(ia.begin(), ia.begin() + kk);
  std::sort(ib.begin(), ib.begin() + kk);
  std::vector<std::int64_t> common;
  std::set_intersection(ia.begin(), ia.begin() + kk, ib.begin(), ib.begin() + kk,
                        std::back_inserter(common));
  return static_cast<double>(common.size()) / static_cast<double>(kk);
}

void check_range(std::int64_t* begin, std::int64_t* end, std::int64_t n, const char* what) {
  if (*end < 0) *end = n;
  FMAV_CHECK(*begin >= 0 && *begin < *end && *end <= n, what, " range [", *begin, ", ", *end,
             ") must be non-empty and inside [0, ", n, ")");
}

// Full attention's probabilities (into `full`) and their logs (into `log_full`) of query
// rows [r0, r0 + count) over all N keys; both (count, N) views of reused buffers (fresh ones
// cost more in page faults than the arithmetic at N = 16384) on q and k's device, in tensor
// ops only, so the same code runs on the CPU and the GPU. A causally hidden key gets
// probability 0, log -inf.
// Reformer's full counterpart scores a token with itself kReformerSelfScore (self_penalty).
void full_rows(const at::Tensor& q, const at::Tensor& k, bool causal, bool self_penalty, std::int64_t r0,
               at::Tensor& full, at::Tensor& log_full) {
  const std::int64_t count = full.size(0), n = k.size(0);
  at::matmul_out(full, q.narrow(0, r0, count), k.t());
  full.mul_(1.0 / std::sqrt(static_cast<double>(q.size(1))));
  if (self_penalty) full.diagonal(r0).fill_(kReformerSelfScore);  // entries (j, r0 + j)
  if (causal) {
    const auto longs = at::TensorOptions().dtype(at::kLong).device(full.device());
    const at::Tensor hidden = at::arange(n, longs).view({1, n}) > at::arange(r0, r0 + count, longs).view({count, 1});
    full.masked_fill_(hidden, -std::numeric_limits<double>::infinity());
  }
  at::_log_softmax_out(log_full, full, 1, false);
  at::exp_out(full, log_full);
}

// `band` (rows, N) on the host: itself when it is there, else copied into the first rows of
// `host_buffer` (a blocking copy, so the host loops may read it at once).
at::Tensor band_on_host(const at::Tensor& band, const at::Tensor& host_buffer) {
  if (band.device().is_cpu()) return band;
  return host_buffer.narrow(0, 0, band.size(0)).copy_(band);
}

// A float64 buffer of `rows` x `n` on the host, unless `device` is the host (no copy needed).
at::Tensor host_buffer_for(const at::Device& device, std::int64_t rows, std::int64_t n) {
  return device.is_cpu() ? at::Tensor() : at::empty({rows, n}, at::kDouble);
}

std::int64_t band_rows(std::int64_t n, std::int64_t multiple) {
  return multiple * std::max<std::int64_t>(1, kBandCells / (n * multiple));
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

struct Inspector::State {
  Device device = Device::cpu;  // resolved: where q, k and the dense work live
  at::Tensor q, k;  // (N, D) float64 on the device, the head's (reformer: k is its shared-QK keys)
  FmaConfig config;
  Method method = Method::fma;
  std::shared_ptr<const PeerHead> peer;  // a peer method's head, else null
  at::Tensor out;                        // a peer's output (1, 1, N, D) float64, on the host
  std::int64_t n = 0;
  int levels = 0;
  SlotProbabilities sp;                // on the device
  at::Tensor probs;                    // (positions, slots) contiguous, on the host
  HostLists lists;
  std::vector<std::int64_t> position;  // token -> hierarchy position
  Levels lv1;
  Levels2d lv2;
  double output_rel_error = 0;

  // Query row i's key levels, [t0, t1) of them. In 1D a key's level depends on its fine
  // block only (every level's groups are unions of blocks), so it is looked up once a block.
  void row_levels(std::int64_t i, std::int64_t t0, std::int64_t t1, std::int8_t* out) const {
    if (config.is_2d()) {
      for (std::int64_t t = t0; t < t1; ++t) out[t - t0] = static_cast<std::int8_t>(level_of_2d(lv2, i, t));
      return;
    }
    const std::int64_t m = config.block_size;
    for (std::int64_t b0 = t0; b0 < t1;) {
      const std::int64_t b1 = std::min(t1, (b0 / m + 1) * m);
      const auto level = static_cast<std::int8_t>(level_of(lv1, config.causal, i, (b0 / m) * m));
      for (std::int64_t t = b0; t < b1; ++t) out[t - t0] = config.causal && t > i ? std::int8_t{-1} : level;
      b0 = b1;
    }
  }
};

namespace {

// ||O - O_full|| / ||O_full|| of a head's output o (N, D), full attention a band of rows at a
// time (an N x N matrix would not fit at large N); all on q's device, the sums kept there.
double output_error(const at::Tensor& o, const at::Tensor& q, const at::Tensor& k, const at::Tensor& values,
                    bool causal, bool self_penalty) {
  const std::int64_t n = q.size(0);
  const auto f64 = q.options().dtype(at::kDouble);
  at::Tensor diff2 = at::zeros({}, f64), full2 = at::zeros({}, f64);
  const std::int64_t band = std::min(band_rows(n, 1), n);
  const at::Tensor full_buffer = at::empty({band, n}, f64), log_buffer = at::empty_like(full_buffer);
  const at::Tensor o_buffer = at::empty({band, values.size(1)}, f64);
  for (std::int64_t r0 = 0; r0 < n; r0 += band) {
    const std::int64_t count = std::min(band, n - r0);
    at::Tensor full = full_buffer.narrow(0, 0, count), log_full = log_buffer.narrow(0, 0, count);
    at::Tensor o_full = o_buffer.narrow(0, 0, count);
    full_rows(q, k, causal, self_penalty, r0, full, log_full);
    at::matmul_out(o_full, full, values);
    diff2 += (o.narrow(0, r0, count) - o_full).pow(2).sum();
    full2 += o_full.pow(2).sum();
  }
  return std::sqrt(diff2.item<double>() / full2.item<double>());
}

// A peer's output from its map rows (the dense reference), a band of rows at a time.
at::Tensor peer_output(const PeerHead& h) {
  const std::int64_t n = h.n;
  at::Tensor out = at::empty({n, h.dim}, at::kDouble);
  const std::int64_t band = std::min(band_rows(n, 1), n);
  const at::Tensor rows = at::empty({band, n}, at::kDouble);
  for (std::int64_t r0 = 0; r0 < n; r0 += band) {
    const std::int64_t count = std::min(band, n - r0);
    at::parallel_for(0, count, 16, [&](std::int64_t a, std::int64_t e) {
      std::vector<std::int8_t> levels(n);
      for (std::int64_t j = a; j < e; ++j) peer_row(h, r0 + j, rows.data_ptr<double>() + j * n, levels.data());
    });
    out.narrow(0, r0, count).copy_(at::matmul(rows.narrow(0, 0, count), h.v));
  }
  return out;
}

}  // namespace

Inspector::Inspector(const HostTensor& q, const HostTensor& k, const HostTensor& v, const FmaConfig& config,
                     const WeightSet& weights, const InspectRequest& which)
    : Inspector(q, k, v, AttendOptions{Method::fma, Impl::automatic, config, {}}, weights, which) {}

Inspector::Inspector(const HostTensor& q, const HostTensor& k, const HostTensor& v, const AttendOptions& options,
                     const WeightSet& weights, const InspectRequest& which) {
  at::Tensor tq = as_bhnd(q, "q"), tk = as_bhnd(k, "k"), tv = as_bhnd(v, "v");
  check_qkv(tq, tk, tv);
  FMAV_CHECK(options.method != Method::full, "inspect compares a method with full attention; full itself has "
             "nothing to compare");
  tq = one_head(tq, which.batch, which.head, at::kDouble);
  tk = one_head(tk, which.batch, which.head, at::kDouble);
  tv = one_head(tv, which.batch, which.head, at::kDouble);
  auto s = std::make_shared<State>();
  s->device = resolve_device(which.device);  // cuda without a GPU: the error says why
  const at::Device where = s->device == Device::cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  s->method = options.method;
  s->config = options.fma;
  s->n = tq.size(2);
  const at::Tensor values = tv[0][0];
  if (is_peer(options.method)) {
    validate_peer(options, s->n);
    // The peer's rows come from its host definition (peer_row); full attention's on the device.
    auto peer = std::make_shared<PeerHead>(prepare_peer_head(tq[0][0], tk[0][0], values, options));
    s->levels = peer->levels;
    s->q = peer->q.to(where), s->k = peer->full_k.to(where);
    s->out = peer_output(*peer);
    s->output_rel_error = output_error(s->out.to(where), s->q, s->k, values.to(where), options.fma.causal,
                                       peer->full_self_penalty);
    s->out = s->out.view({1, 1, s->n, -1});
    s->peer = std::move(peer);
    m_state = std::move(s);
    return;
  }
  const FmaConfig& config = options.fma;
  validate(config);
  const std::int64_t D = tq.size(3);
  s->levels = fmav::num_levels(config, s->n);
  const FmaWeights w = weights_to(to_fma_weights(weights, config, D, s->levels, at::kDouble),
                                  at::TensorOptions().device(where));
  tq = tq.to(where), tk = tk.to(where), tv = tv.to(where);
  s->sp = fma_slot_probabilities(tq, tk, tv, config, w);
  s->lists = host_lists(s->sp.hierarchy);
  s->probs = s->sp.probs[0][0].to(at::kCPU).contiguous();
  s->position.assign(s->n, 0);
  for (std::int64_t t = 0; t < s->sp.hierarchy.n_pad; ++t) {
    if (s->lists.token[t] >= 0) s->position[s->lists.token[t]] = t;
  }
  s->lv1 = make_levels(s->n, config.block_size);
  if (config.is_2d()) s->lv2 = make_levels_2d(config.grid_height, config.grid_width, config.block_size);
  s->q = tq[0][0], s->k = tk[0][0];
  s->output_rel_error = output_error(s->sp.out[0][0], s->q, s->k, tv[0][0], config.causal, false);
  m_state = std::move(s);
}

std::int64_t Inspector::tokens() const { return m_state ? m_state->n : 0; }
int Inspector::num_levels() const { return m_state ? m_state->levels : 0; }
double Inspector::output_rel_error() const { return m_state ? m_state->output_rel_error : 0.0; }
HostTensor Inspector::fma_output() const {
  FMAV_CHECK(m_state, "inspect: the inspector is empty");
  return to_host((m_state->peer ? m_state->out : m_state->sp.out).contiguous());
}
Method Inspector::method() const { return m_state ? m_state->method : Method::fma; }
Device Inspector::device() const { return m_state ? m_state->device : Device::cpu; }

Inspection Inspector::map(const InspectRequest& request) const {
  FMAV_CHECK(m_state, "inspect: the inspector is empty");
  const State& s = *m_state;
  const std::int64_t N = s.n;
  InspectRequest r = request;
  check_range(&r.row_begin, &r.row_end, N, "row");
  check_range(&r.col_begin, &r.col_end, N, "column");
  FMAV_CHECK(r.top_k >= 1, "top_k must be >= 1, got ", r.top_k);
  FMAV_CHECK(r.pool >= 1, "pool must be >= 1, got ", r.pool);
  const std::int64_t rows = r.row_end - r.row_begin, cols = r.col_end - r.col_begin, pool = r.pool;
  const std::int64_t out_rows = ceil_div(rows, pool), out_cols = ceil_div(cols, pool);
  FMAV_CHECK(out_rows <= kMaxInspectCells / out_cols, "inspect: a ", out_rows, " x ", out_cols,
             " map is too large; ask for at most ", kMaxInspectCells,
             " cells (a smaller rectangle or a larger pool)");
  const int L = s.levels;
  const std::int64_t L1 = L + 1, slots = s.peer ? 0 : s.probs.size(1);
  const bool average = s.config.downsample == Downsample::average;

  Inspection out;
  out.rows = out_rows, out.cols = out_cols, out.pool = pool, out.num_levels = L;
  out.fma_map.assign(out_rows * out_cols, 0.0);
  out.full_map.assign(out_rows * out_cols, 0.0);
  out.level_map.assign(out_rows * out_cols, -1);
  out.level_mass.assign(out_rows * L1, 0.0);
  out.full_level_mass.assign(out_rows * L1, 0.0);
  out.row_tv.assign(out_rows, 0.0);
  out.row_kl.assign(out_rows, 0.0);
  out.row_topk.assign(out_rows, 0.0);
  out.output_rel_error = s.output_rel_error;

  // Bands of whole pooled rows: full attention's log-probabilities for the band (ATen,
  // vectorised), then per query row the FMA row spread from its slot probabilities, the
  // metrics over all N keys and the row's part of the cells.
  const std::int64_t band = std::min(band_rows(N, pool), ceil_div(rows, pool) * pool);
  const auto f64 = s.q.options().dtype(at::kDouble);
  const at::Tensor log_buffer = at::empty({band, N}, f64), full_buffer = at::empty({band, N}, f64);
  const at::Tensor log_host = host_buffer_for(s.q.device(), band, N), full_host = host_buffer_for(s.q.device(), band, N);
  for (std::int64_t b0 = 0; b0 < rows; b0 += band) {
    const std::int64_t bn = std::min(band, rows - b0), first = r.row_begin + b0;
    at::Tensor log_full = log_buffer.narrow(0, 0, bn), full = full_buffer.narrow(0, 0, bn);
    full_rows(s.q, s.k, s.config.causal, s.peer && s.peer->full_self_penalty, first, full, log_full);
    const at::Tensor full_band = band_on_host(full, full_host), log_band = band_on_host(log_full, log_host);
    const double* full_data = full_band.data_ptr<double>();
    const double* log_data = log_band.data_ptr<double>();

    at::parallel_for(0, ceil_div(bn, pool), 1, [&](std::int64_t a, std::int64_t e) {
      std::vector<double> fma(N), fma_sum(out_cols), full_sum(out_cols), mass(L1);
      std::vector<std::int8_t> levels(cols), key_levels(N);
      for (std::int64_t pr = a; pr < e; ++pr) {
        const std::int64_t j0 = pr * pool, j1 = std::min(j0 + pool, bn), o = (b0 + j0) / pool;
        const double row_count = static_cast<double>(j1 - j0);
        std::fill(fma_sum.begin(), fma_sum.end(), 0.0);
        std::fill(full_sum.begin(), full_sum.end(), 0.0);
        std::int8_t* level_out = out.level_map.data() + o * out_cols;
        for (std::int64_t j = j0; j < j1; ++j) {
          const std::int64_t i = first + j, pos = s.peer ? 0 : s.position[i];
          const double* full_row = full_data + j * N;
          const double* log_row = log_data + j * N;
          std::fill(fma.begin(), fma.end(), 0.0);
          std::fill(mass.begin(), mass.end(), 0.0);
          if (s.peer) {
            peer_row(*s.peer, i, fma.data(), key_levels.data());
            for (std::int64_t t = 0; t < N; ++t) {
              if (key_levels[t] >= 0) mass[key_levels[t]] += fma[t];
            }
          } else {
            spread_row(s.probs.data_ptr<double>() + pos * slots, pos, s.sp.hierarchy, s.lists, average,
                       s.sp.segments, fma.data(), mass.data());
            s.row_levels(i, 0, N, key_levels.data());
          }
          std::copy(key_levels.begin() + r.col_begin, key_levels.begin() + r.col_end, levels.begin());
          // Full attention's mass on the keys each level covers (issue 21: both maps' mass).
          for (std::int64_t t = 0; t < N; ++t) {
            if (key_levels[t] >= 0) out.full_level_mass[o * L1 + key_levels[t]] += full_row[t] / row_count;
          }
          double tv = 0, kl = 0;
          bool finite = true;
          for (std::int64_t t = 0; t < N; ++t) {
            finite = finite && std::isfinite(fma[t]) && std::isfinite(full_row[t]);
            tv += std::abs(fma[t] - full_row[t]);
            if (full_row[t] > 0) kl += full_row[t] * (log_row[t] - std::log(std::max(fma[t], 1e-300)));
          }
          // A row that met NaN or Inf has no metrics (NaN), never the 0 / 1 a comparison of
          // NaN with NaN would give: KL skips NaN, and top-k ranks NaN rows alike.
          const double nan = std::numeric_limits<double>::quiet_NaN();
          out.row_tv[o] += (finite ? 0.5 * tv : nan) / row_count;
          out.row_kl[o] += (finite ? kl : nan) / row_count;
          out.row_topk[o] += (finite ? topk_overlap(fma.data(), full_row, N, r.top_k) : nan) / row_count;
          for (std::int64_t l = 0; l < L1; ++l) out.level_mass[o * L1 + l] += mass[l] / row_count;
          for (std::int64_t c = 0; c < cols; ++c) {
            const std::int64_t t = r.col_begin + c, cell = c / pool;
            fma_sum[cell] += fma[t];
            full_sum[cell] += full_row[t];
            const std::int8_t level = levels[c];
            if (level >= 0 && (level_out[cell] < 0 || level < level_out[cell])) level_out[cell] = level;
          }
        }
        for (std::int64_t cell = 0; cell < out_cols; ++cell) {
          const std::int64_t width = std::min(pool, cols - cell * pool);
          const double cells = row_count * static_cast<double>(width);
          out.fma_map[o * out_cols + cell] = fma_sum[cell] / cells;
          out.full_map[o * out_cols + cell] = full_sum[cell] / cells;
        }
      }
    });
    if (r.progress && !r.progress(b0 + bn, rows)) throw Cancelled("inspect: cancelled");
  }
  return out;
}

Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const FmaConfig& config, const WeightSet& weights,
                   const InspectRequest& request) {
  return Inspector(q, k, v, config, weights, request).map(request);
}

Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const AttendOptions& options, const WeightSet& weights,
                   const InspectRequest& request) {
  return Inspector(q, k, v, options, weights, request).map(request);
}

}  // namespace fmav
