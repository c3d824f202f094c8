// FMA from LibTorch tensor ops on the hierarchy lists of hierarchy.h, the same code for
// FMA-1D (§2) and FMA2D (§4): near fields and interaction lists as gathered groups, one
// softmax over all slots; and the linear variants (§3), whose summary queries accumulate
// numerators and denominators per window and push them down the levels. No N x N tensor;
// autograd-capable, so models train with it.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"
#include "hierarchy.h"

namespace fmav {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Rows of x5 (B, H, G, w, D) for every entry of each group's list: (B, H, G, F w, D).
at::Tensor gather_lists(const at::Tensor& x5, const GroupLists& lists) {
  const at::Tensor g = x5.index_select(2, lists.index.to(x5.device()));
  return g.view({x5.size(0), x5.size(1), lists.groups, lists.fanout * x5.size(3), x5.size(4)});
}

// Which near-field entries a position cannot see: (G, w or 1, F w) bool, true = hidden.
// Absent groups, padded keys, and (causal) later keys; a padded query keeps its own zero key
// so that no row is empty and no NaN reaches the gradients.
at::Tensor near_hidden(const Hierarchy& h) {
  const GroupLists& nl = h.near;
  const std::int64_t G = nl.groups, w = nl.width, F = nl.fanout;
  const auto opts = at::TensorOptions().dtype(at::kLong);
  const at::Tensor key_pos = (nl.index.view({G, F, 1}) * w + at::arange(w, opts).view({1, 1, w})).view({G, 1, F * w});
  const at::Tensor present = nl.present.view({G, F, 1}).expand({G, F, w}).reshape({G, 1, F * w});
  at::Tensor hidden = present.logical_not() | h.key_real.index_select(0, key_pos.flatten()).view({G, 1, F * w}).logical_not();
  const bool padded = h.n < h.n_pad;
  if (!h.causal && !padded) return hidden;
  const at::Tensor q_pos = (at::arange(G, opts) * w).view({G, 1, 1}) + at::arange(w, opts).view({1, w, 1});
  if (h.causal) hidden = hidden | (key_pos > q_pos);
  if (padded) {
    const at::Tensor q_pad = h.key_real.view({G, w, 1}).logical_not();
    hidden = hidden & (q_pad & present & (key_pos == q_pos)).logical_not();
  }
  return hidden;
}

// Additive mask of one level's gathered slots: log multiplicity, -inf when absent: (G, F p).
at::Tensor far_mask(const Hierarchy& h, int level, const at::TensorOptions& opts) {
  const GroupLists& fl = h.far[level - 1];
  const at::Tensor log_mult = h.log_mult[level - 1].to(opts);
  const at::Tensor gathered = log_mult.index_select(0, fl.index.to(opts.device())).view({fl.groups, fl.fanout, h.rank});
  const at::Tensor present = fl.present.to(opts.device()).view({fl.groups, fl.fanout, 1});
  return at::where(present, gathered, at::full({}, kNegInf, opts)).view({fl.groups, fl.fanout * h.rank});
}

// The queries each position uses for one coarse level's scores (§3): sel (B, H, G, P, D)
// summary queries and window (w) long, the row of sel of each position in its group.
struct LevelQueries {
  at::Tensor sel, window;
};

std::vector<LevelQueries> level_queries(const at::Tensor& q, const at::Tensor& qh, const FmaConfig& config,
                                        const FmaWeights& weights, const Hierarchy& h, QuerySource source) {
  std::vector<LevelQueries> out(h.far.size());
  if (!config.linear) return out;
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  std::vector<at::Tensor> sums;
  if (source == QuerySource::summaries) sums = summarize_levels(q, config, weights, Stream::q);
  for (std::size_t i = 0; i < h.far.size(); ++i) {
    const GroupLists& fl = h.far[i];
    LevelQueries& lq = out[i];
    if (source == QuerySource::identity) {
      lq.sel = qh.view({qh.size(0), qh.size(1), fl.groups, fl.width, qh.size(3)});
      lq.window = at::arange(fl.width, at::TensorOptions().dtype(at::kLong));
      continue;
    }
    at::Tensor sel = groups_to_hierarchy_order(sums[i], h, static_cast<int>(i) + 1) * scale;
    if (h.causal) {
      // A causal query uses its previous group's summary: every token of it is in the past.
      sel = at::constant_pad_nd(sel, {0, 0, 0, 0, 1, 0}).narrow(2, 0, fl.groups);
    }
    FMAV_ASSERT(h.sub_window[i].defined(), "level ", i + 1, " has no query windows");
    lq.sel = sel;
    lq.window = h.sub_window[i];
  }
  return out;
}

// What every level contributes, shared by the one-softmax and the linear paths.
struct Blocked {
  Hierarchy h;
  at::Tensor qh;                       // (B, H, n_pad, D), scaled by 1 / sqrt(D); unset when unused
  at::Tensor near_scores, near_values; // (B, H, G0, w0, F0 w0), (B, H, G0, F0 w0, D)
  std::vector<at::Tensor> far_keys, far_values, far_mask;  // (B, H, G, F p, D); (G, F p)
  std::vector<LevelQueries> queries;
};

// with_near = false leaves the near field out (the fused linear path computes it).
Blocked blocked_parts(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                      const FmaWeights& weights, QuerySource source, bool with_near = true) {
  assert_qkv(q, k, v);
  const std::int64_t B = q.size(0), H = q.size(1), D = q.size(3);
  Blocked b;
  b.h = make_hierarchy(config, q.size(2));
  const Hierarchy& h = b.h;
  // Positions score with their own queries in the near field, at the coarse levels of FMA,
  // and with identity summaries; only the fused linear path needs none of these.
  if (with_near || !config.linear || source == QuerySource::identity) {
    b.qh = to_hierarchy_order(q, h) * (1.0 / std::sqrt(static_cast<double>(D)));
  }
  if (with_near) {
    const at::Tensor kh = to_hierarchy_order(k, h), vh = to_hierarchy_order(v, h);
    const std::int64_t G0 = h.near.groups, w0 = h.near.width;
    const at::Tensor k_near = gather_lists(kh.view({B, H, G0, w0, D}), h.near);
    b.near_values = gather_lists(vh.view({B, H, G0, w0, D}), h.near);
    b.near_scores = at::matmul(b.qh.view({B, H, G0, w0, D}), k_near.transpose(-1, -2))
                        .masked_fill(near_hidden(h).to(q.device()), kNegInf);
  }
  const std::vector<at::Tensor> ks = summarize_levels(k, config, weights, Stream::k);
  const std::vector<at::Tensor> vs = summarize_levels(v, config, weights, Stream::v);
  for (int l = 1; l <= static_cast<int>(h.far.size()); ++l) {
    b.far_keys.push_back(gather_lists(groups_to_hierarchy_order(ks[l - 1], h, l), h.far[l - 1]));
    b.far_values.push_back(gather_lists(groups_to_hierarchy_order(vs[l - 1], h, l), h.far[l - 1]));
    b.far_mask.push_back(far_mask(h, l, q.options()));
  }
  b.queries = level_queries(q, b.qh, config, weights, h, source);
  return b;
}

// Running softmax state: maximum M, denominator A, numerator Y (§3).
struct Partial {
  at::Tensor m, a, y;  // (..., ), (..., ), (..., D)
};

// Softmax state of the rows of scores (..., R, S) over values (..., S, D); M is detached (the
// result does not depend on it) and 0 for a row with every slot masked, whose A, Y are 0.
Partial partial_of(const at::Tensor& scores, const at::Tensor& values) {
  at::Tensor m = std::get<0>(scores.detach().max(-1));
  m = at::where(at::isfinite(m), m, at::zeros_like(m));
  const at::Tensor e = at::exp(scores - m.unsqueeze(-1));
  return {m, e.sum(-1), at::matmul(e, values)};
}

// The state of both sets of slots; M is detached, as the result does not depend on it.
Partial combine(const Partial& x, const Partial& y) {
  const at::Tensor m = at::maximum(x.m, y.m).detach();
  const at::Tensor fx = at::exp(x.m - m), fy = at::exp(y.m - m);
  return {m, x.a * fx + y.a * fy, x.y * fx.unsqueeze(-1) + y.y * fy.unsqueeze(-1)};
}

Partial select(const Partial& x, const at::Tensor& index) {
  const int axis = static_cast<int>(x.m.dim()) - 1;
  return {x.m.index_select(axis, index), x.a.index_select(axis, index), x.y.index_select(axis, index)};
}

// For each window (g, j) of level l, flattened g P + j, the window of level l + 1 holding it.
at::Tensor parent_windows(const Hierarchy& h, const std::vector<LevelQueries>& lq, int level) {
  const GroupLists& fl = h.far[level - 1];
  const at::Tensor win = lq[level - 1].window.contiguous(), up = lq[level].window.contiguous();
  const std::int64_t P = lq[level - 1].sel.size(3), P_up = lq[level].sel.size(3);
  std::vector<std::int64_t> first(P, -1);  // a position of each window in its group
  for (std::int64_t u = fl.width - 1; u >= 0; --u) first[win.data_ptr<std::int64_t>()[u]] = u;
  std::vector<std::int64_t> parent(fl.groups * P);
  for (std::int64_t g = 0; g < fl.groups; ++g) {
    for (std::int64_t j = 0; j < P; ++j) {
      FMAV_ASSERT(first[j] >= 0, "window ", j, " of level ", level, " holds no position");
      const std::int64_t u = (g % h.branch) * fl.width + first[j];
      parent[g * P + j] = (g / h.branch) * P_up + up.data_ptr<std::int64_t>()[u];
    }
  }
  return at::tensor(parent, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

SlotProbabilities fma_slot_probabilities(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         const FmaConfig& config, const FmaWeights& weights,
                                         QuerySource source) {
  const Blocked b = blocked_parts(q, k, v, config, weights, source);
  const Hierarchy& h = b.h;
  const std::int64_t B = q.size(0), H = q.size(1), D = q.size(3), n_pad = h.n_pad;
  std::vector<at::Tensor> parts{b.near_scores.reshape({B, H, n_pad, -1})};
  SlotProbabilities out;
  out.segments.push_back(parts[0].size(-1));
  for (std::size_t i = 0; i < h.far.size(); ++i) {
    const GroupLists& fl = h.far[i];
    at::Tensor queries = b.qh.view({B, H, fl.groups, fl.width, D});
    const LevelQueries& lq = b.queries[i];
    if (lq.sel.defined()) queries = lq.sel.index_select(3, lq.window.to(q.device()));
    const at::Tensor s = at::matmul(queries, b.far_keys[i].transpose(-1, -2)) +
                         b.far_mask[i].view({1, 1, fl.groups, 1, -1});
    parts.push_back(s.reshape({B, H, n_pad, -1}));
    out.segments.push_back(parts.back().size(-1));
  }
  out.probs = at::softmax(parts.size() == 1 ? parts[0] : at::cat(parts, -1), -1);
  const std::vector<at::Tensor> p = out.probs.split_with_sizes(out.segments, -1);
  const std::int64_t G0 = h.near.groups, w0 = h.near.width;
  at::Tensor o = at::matmul(p[0].reshape({B, H, G0, w0, -1}), b.near_values).reshape({B, H, n_pad, D});
  for (std::size_t i = 0; i < h.far.size(); ++i) {
    const GroupLists& fl = h.far[i];
    o = o + at::matmul(p[i + 1].reshape({B, H, fl.groups, fl.width, -1}), b.far_values[i]).reshape({B, H, n_pad, D});
  }
  out.out = from_hierarchy_order(o, h);
  out.hierarchy = h;
  return out;
}

namespace {

// The coarse levels' softmax state of every position, O(N) (§3): each window's own slots,
// coarsest level first, each combined with its parent window's state; then read by the
// positions [0, count) of the hierarchy order. Undefined m when there are no coarse levels.
Partial coarse_state(const Blocked& b, std::int64_t count) {
  const Hierarchy& h = b.h;
  const int L = static_cast<int>(h.far.size());
  if (L == 0) return {};
  const at::Tensor& like = b.far_keys[0];  // (B, H, G, F p, D)
  const std::int64_t B = like.size(0), H = like.size(1), D = like.size(4);
  Partial acc;
  for (int l = L; l >= 1; --l) {
    const LevelQueries& lq = b.queries[l - 1];
    const std::int64_t G = h.far[l - 1].groups, P = lq.sel.size(3);
    const at::Tensor s = at::matmul(lq.sel, b.far_keys[l - 1].transpose(-1, -2)) +
                         b.far_mask[l - 1].view({1, 1, G, 1, -1});
    Partial own = partial_of(s, b.far_values[l - 1]);
    own = {own.m.reshape({B, H, G * P}), own.a.reshape({B, H, G * P}), own.y.reshape({B, H, G * P, D})};
    acc = l == L ? own : combine(own, select(acc, parent_windows(h, b.queries, l).to(like.device())));
  }
  // Position t of group g at level 1 reads window g P + window[t mod w].
  const GroupLists& fl = h.far[0];
  const std::int64_t P = b.queries[0].sel.size(3);
  const at::Tensor window =
      (at::arange(fl.groups, at::kLong).view({-1, 1}) * P + b.queries[0].window.view({1, -1})).flatten();
  return select(acc, window.narrow(0, 0, count).to(like.device()));
}

}  // namespace

at::Tensor fma_linear_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const FmaConfig& config, const FmaWeights& weights, QuerySource source) {
  FMAV_ASSERT(config.linear, "fma_linear_blocked needs a linear configuration");
  const Blocked b = blocked_parts(q, k, v, config, weights, source);
  const std::int64_t B = q.size(0), H = q.size(1), D = q.size(3), n_pad = b.h.n_pad;
  Partial total = partial_of(b.near_scores, b.near_values);
  total = {total.m.reshape({B, H, n_pad}), total.a.reshape({B, H, n_pad}), total.y.reshape({B, H, n_pad, D})};
  const Partial far = coarse_state(b, n_pad);
  if (far.m.defined()) total = combine(total, far);
  return from_hierarchy_order(total.y / total.a.unsqueeze(-1), b.h);
}

at::Tensor fma_linear_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const FmaConfig& config, const FmaWeights& weights) {
  FMAV_ASSERT(config.linear && !config.is_2d(), "fma_linear_fused needs a 1D linear configuration");
  const Blocked b = blocked_parts(q, k, v, config, weights, QuerySource::summaries, false);
  // The near field's normalized output and log-sum-exp are its state with A = 1.
  const std::vector<at::Tensor> near = local_attention_fused_lse(q, k, v, config.block_size, config.causal);
  Partial total{near[1], at::ones_like(near[1]), near[0]};
  const Partial far = coarse_state(b, q.size(2));
  if (far.m.defined()) total = combine(total, far);
  return total.y / total.a.unsqueeze(-1);
}

at::Tensor fma_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const FmaConfig& config, const FmaWeights& weights) {
  // (The linear variant's O(N) form; fma_linear_fused is the same with the fused near field.)
  if (config.linear) return fma_linear_blocked(q, k, v, config, weights, QuerySource::summaries);
  return fma_slot_probabilities(q, k, v, config, weights, QuerySource::summaries).out;
}

}  // namespace fmav
