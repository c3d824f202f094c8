// Inspection data of every FMA variant for one (batch, head) and a rectangle of rows x
// columns (DESIGN.md §2-§4): the FMA map at full resolution spread from the blocked path's
// slot probabilities, full attention's map, the level map, mass per level and error metrics.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "fma_internal.h"
#include "fmav/error.h"
#include "fmav/fma2d.h"
#include "fmav/inspect.h"

namespace fmav {
namespace {

// Full rows are held for TV/KL/top-k: cap rows x N so a request cannot exhaust memory.
constexpr std::int64_t kMaxRowCells = std::int64_t{1} << 26;

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

}  // namespace

Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const FmaConfig& config, const WeightSet& weights,
                   const InspectRequest& request) {
  at::Tensor tq = as_bhnd(q, "q"), tk = as_bhnd(k, "k"), tv = as_bhnd(v, "v");
  check_qkv(tq, tk, tv);
  validate(config);
  FMAV_CHECK(request.batch >= 0 && request.batch < tq.size(0), "batch ", request.batch,
             " outside [0, ", tq.size(0), ")");
  FMAV_CHECK(request.head >= 0 && request.head < tq.size(1), "head ", request.head,
             " outside [0, ", tq.size(1), ")");
  FMAV_CHECK(request.top_k >= 1, "top_k must be >= 1, got ", request.top_k);
  const auto pick = [&](const at::Tensor& t) {
    return t.narrow(0, request.batch, 1).narrow(1, request.head, 1).to(at::kDouble).contiguous();
  };
  tq = pick(tq), tk = pick(tk), tv = pick(tv);
  const std::int64_t N = tq.size(2), D = tq.size(3);
  InspectRequest r = request;
  check_range(&r.row_begin, &r.row_end, N, "row");
  check_range(&r.col_begin, &r.col_end, N, "column");
  const std::int64_t rows = r.row_end - r.row_begin, cols = r.col_end - r.col_begin;
  FMAV_CHECK(rows * N <= kMaxRowCells, "inspect: ", rows, " rows x N = ", N,
             " is too large a request; ask for at most ", kMaxRowCells / N, " rows at a time");

  const int L = num_levels(config, N);
  const FmaWeights w = to_fma_weights(weights, config, D, L, at::kDouble);
  const SlotProbabilities sp = fma_slot_probabilities(tq, tk, tv, config, w);
  const Hierarchy& h = sp.hierarchy;
  const HostLists hl = host_lists(h);
  const at::Tensor probs = sp.probs[0][0].contiguous();
  const std::int64_t slots = probs.size(1);
  std::vector<std::int64_t> position(N);
  for (std::int64_t t = 0; t < h.n_pad; ++t) {
    if (hl.token[t] >= 0) position[hl.token[t]] = t;
  }
  const bool average = config.downsample == Downsample::average;
  const Levels lv1 = make_levels(N, config.block_size);
  const Levels2d lv2 = config.is_2d() ? make_levels_2d(config.grid_height, config.grid_width, config.block_size)
                                      : Levels2d{};

  // Full attention rows over all keys, in float64.
  const at::Tensor q_rows = tq[0][0].narrow(0, r.row_begin, rows);
  at::Tensor scores = at::matmul(q_rows, tk[0][0].t()) / std::sqrt(static_cast<double>(D));
  if (config.causal) {
    const at::Tensor query = at::arange(r.row_begin, r.row_end, at::kLong).view({rows, 1});
    scores = scores.masked_fill(at::arange(N, at::kLong).view({1, N}) > query,
                                -std::numeric_limits<double>::infinity());
  }
  const at::Tensor full = at::softmax(scores, -1).contiguous();

  Inspection out;
  out.rows = rows, out.cols = cols, out.num_levels = L;
  out.fma_map.resize(rows * cols);
  out.full_map.resize(rows * cols);
  out.level_map.resize(rows * cols);
  out.level_mass.assign(rows * (L + 1), 0.0);
  out.row_tv.resize(rows);
  out.row_kl.resize(rows);
  out.row_topk.resize(rows);
  std::vector<double> fma_row(N);
  for (std::int64_t r_i = 0; r_i < rows; ++r_i) {
    const std::int64_t i = r.row_begin + r_i;
    std::fill(fma_row.begin(), fma_row.end(), 0.0);
    spread_row(probs.data_ptr<double>() + position[i] * slots, position[i], h, hl, average, sp.segments,
               fma_row.data(), out.level_mass.data() + r_i * (L + 1));
    const double* full_row = full.data_ptr<double>() + r_i * N;
    double tv = 0, kl = 0;
    for (std::int64_t t = 0; t < N; ++t) {
      tv += std::abs(fma_row[t] - full_row[t]);
      if (full_row[t] > 0) kl += full_row[t] * (std::log(full_row[t]) - std::log(std::max(fma_row[t], 1e-300)));
    }
    out.row_tv[r_i] = 0.5 * tv;
    out.row_kl[r_i] = kl;
    out.row_topk[r_i] = topk_overlap(fma_row.data(), full_row, N, request.top_k);
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t t = r.col_begin + c;
      out.fma_map[r_i * cols + c] = fma_row[t];
      out.full_map[r_i * cols + c] = full_row[t];
      const int level = config.is_2d() ? level_of_2d(lv2, i, t) : level_of(lv1, config.causal, i, t);
      out.level_map[r_i * cols + c] = static_cast<std::int8_t>(level);
    }
  }
  const at::Tensor& o_fma = sp.out;
  const at::Tensor o_full = full_attention_sdpa(tq, tk, tv, config.causal);
  out.output_rel_error = ((o_fma - o_full).norm() / o_full.norm()).item<double>();
  return out;
}

}  // namespace fmav
