// Inspection data of FMA-1D for one (batch, head) and a rectangle of rows x columns
// (DESIGN.md §2): the FMA map at full resolution spread from the blocked path's slot
// probabilities, full attention's map, the level map, mass per level and error metrics.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "fma_internal.h"
#include "fmav/error.h"
#include "fmav/inspect.h"

namespace fmav {
namespace {

// Full rows are held for TV/KL/top-k: cap rows x N so a request cannot exhaust memory.
constexpr std::int64_t kMaxRowCells = std::int64_t{1} << 26;

// Row i of the FMA map over all N keys, from that query's slot probabilities (§2): a near
// key keeps its probability, a coarse slot's is spread over the real tokens it stands for.
void spread_row(const double* probs, std::int64_t i, const Levels& lv, const FmaConfig& config,
                const std::vector<std::int64_t>& segments, double* row, double* mass) {
  const std::int64_t m = lv.block_size, p = config.rank;
  std::int64_t offsets[3];
  const int near = near_offsets(config.causal, offsets);
  for (int o = 0; o < near; ++o) {
    for (std::int64_t j = 0; j < m; ++j) {
      const std::int64_t t = (i / m + offsets[o]) * m + j;
      const double pr = probs[o * m + j];
      if (t >= 0 && t < lv.n) row[t] += pr;
      mass[0] += pr;
    }
  }
  std::int64_t base = segments[0];
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t g = i / lv.width(l);
    const int far = far_offsets(g, config.causal, offsets);
    for (int f = 0; f < far; ++f) {
      const std::int64_t h = g + offsets[f];
      if (h < 0 || h >= lv.groups(l)) continue;
      for (std::int64_t j = 0; j < p; ++j) {
        const double pr = probs[base + f * p + j];
        mass[l] += pr;
        std::int64_t begin = 0, end = 0;
        slot_span(lv, config, l, h, j, &begin, &end);
        if (end <= begin) continue;
        const double share = pr / static_cast<double>(end - begin);
        for (std::int64_t t = begin; t < end; ++t) row[t] += share;
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

  const Levels lv = make_levels(N, config.block_size);
  const FmaWeights w = to_fma_weights(weights, config, D, lv.num_levels, at::kDouble);
  const SlotProbabilities sp = fma_slot_probabilities(tq, tk, tv, config, w);
  const at::Tensor probs = sp.probs[0][0].narrow(0, r.row_begin, rows).contiguous();
  const std::int64_t slots = probs.size(1);

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
  out.rows = rows, out.cols = cols, out.num_levels = lv.num_levels;
  out.fma_map.resize(rows * cols);
  out.full_map.resize(rows * cols);
  out.level_map.resize(rows * cols);
  out.level_mass.assign(rows * (lv.num_levels + 1), 0.0);
  out.row_tv.resize(rows);
  out.row_kl.resize(rows);
  out.row_topk.resize(rows);
  std::vector<double> fma_row(N);
  for (std::int64_t r_i = 0; r_i < rows; ++r_i) {
    const std::int64_t i = r.row_begin + r_i;
    std::fill(fma_row.begin(), fma_row.end(), 0.0);
    spread_row(probs.data_ptr<double>() + r_i * slots, i, lv, config, sp.segments, fma_row.data(),
               out.level_mass.data() + r_i * (lv.num_levels + 1));
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
      out.level_map[r_i * cols + c] = static_cast<std::int8_t>(level_of(lv, config.causal, i, t));
    }
  }
  const at::Tensor& o_fma = sp.out;
  const at::Tensor o_full = full_attention_sdpa(tq, tk, tv, config.causal);
  out.output_rel_error = ((o_fma - o_full).norm() / o_full.norm()).item<double>();
  return out;
}

}  // namespace fmav
