// FMA-1D from LibTorch tensor ops (DESIGN.md §2): the near field as gathered neighbour
// blocks, each coarse level as gathered summaries of the interaction list, one softmax over
// all slots. Memory O(N (m + p L)) per head; autograd-capable, so models train with it.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct Scores {
  Levels levels;
  at::Tensor scores;                  // (B, H, N_pad, S) before the softmax
  std::vector<std::int64_t> segments; // near field, then one per level
  at::Tensor v_near;                  // (B, H, nb, near * m, D)
  std::vector<at::Tensor> v_far;      // per level (B, H, G, far * p, D)
};

// Keys of the near-field blocks of every fine block: (B, H, nb, near * m, D).
at::Tensor gather_near(const at::Tensor& x_pad, const Levels& levels, bool causal) {
  const std::int64_t B = x_pad.size(0), H = x_pad.size(1), D = x_pad.size(3);
  const std::int64_t nb = levels.num_blocks, m = levels.block_size;
  // One zero block on each side, so block b + o is at b + o + 1 for o in {-1, 0, 1}.
  const at::Tensor framed = at::constant_pad_nd(x_pad.view({B, H, nb, m, D}), {0, 0, 0, 0, 1, 1});
  std::int64_t offsets[3];
  const int count = near_offsets(causal, offsets);
  std::vector<at::Tensor> parts;
  for (int o = 0; o < count; ++o) parts.push_back(framed.narrow(2, 1 + offsets[o], nb));
  return at::cat(parts, 3);
}

// Which near-field slots are hidden: (nb, m, near * m) broadcastable bool, true = masked.
at::Tensor near_hidden(const Levels& levels, bool causal) {
  const std::int64_t nb = levels.num_blocks, m = levels.block_size;
  std::int64_t offsets[3];
  const int count = near_offsets(causal, offsets);
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  const at::Tensor block = at::arange(nb, long_opts).view({nb, 1, 1});
  const at::Tensor offset = at::tensor(std::vector<std::int64_t>(offsets, offsets + count), long_opts)
                                .repeat_interleave(m).view({1, 1, count * m});
  const at::Tensor within = at::arange(m, long_opts).repeat({count}).view({1, 1, count * m});
  const at::Tensor key_block = block + offset;
  const at::Tensor key = key_block * m + within;
  at::Tensor hidden = (key_block < 0) | (key_block >= nb) | (key >= levels.n);
  if (causal) {
    // Own block (offset 0): keys after the query are the future.
    const at::Tensor query = at::arange(m, long_opts).view({1, m, 1});
    hidden = hidden | ((offset == 0) & (within > query));
  }
  return hidden;
}

// Group indices of the interaction list per group at one level, absent ones clamped to 0,
// with the matching additive mask (log multiplicity or -inf): idx (G * far), mask (G, far * p).
void far_lists(const Levels& levels, const FmaConfig& config, int level,
               const at::Tensor& log_mult, at::Tensor* idx, at::Tensor* mask) {
  const std::int64_t G = levels.groups(level), p = config.rank;
  const int far = max_far_offsets(config.causal);
  std::vector<std::int64_t> index(G * far, 0);
  std::vector<std::uint8_t> present(G * far, 0);
  for (std::int64_t g = 0; g < G; ++g) {
    std::int64_t offsets[3];
    const int count = far_offsets(g, config.causal, offsets);
    for (int f = 0; f < count; ++f) {
      const std::int64_t h = g + offsets[f];
      if (h < 0 || h >= G) continue;
      index[g * far + f] = h;
      present[g * far + f] = 1;
    }
  }
  *idx = at::tensor(index, at::TensorOptions().dtype(at::kLong));
  const at::Tensor present_t = at::tensor(present, at::TensorOptions().dtype(at::kByte))
                                   .to(at::kBool)
                                   .view({G, far, 1});
  const at::Tensor gathered = log_mult.index_select(0, *idx).view({G, far, p});
  *mask = at::where(present_t, gathered, at::full({}, kNegInf, log_mult.options())).view({G, far * p});
}

Scores blocked_scores(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                      const FmaConfig& config, const FmaWeights& weights) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
  const Levels levels = make_levels(N, config.block_size);
  const std::int64_t n_pad = levels.n_pad, nb = levels.num_blocks, m = levels.block_size;
  const at::Tensor q_pad = pad_tokens(q, n_pad) * (1.0 / std::sqrt(static_cast<double>(D)));
  const at::Tensor k_pad = pad_tokens(k, n_pad), v_pad = pad_tokens(v, n_pad);

  Scores out;
  out.levels = levels;
  const at::Tensor k_near = gather_near(k_pad, levels, config.causal);
  out.v_near = gather_near(v_pad, levels, config.causal);
  at::Tensor near = at::matmul(q_pad.view({B, H, nb, m, D}), k_near.transpose(-1, -2));
  near = near.masked_fill(near_hidden(levels, config.causal).to(q.device()), kNegInf);
  std::vector<at::Tensor> parts{near.reshape({B, H, n_pad, -1})};
  out.segments.push_back(parts[0].size(-1));

  for (int l = 1; l <= levels.num_levels; ++l) {
    const std::int64_t G = levels.groups(l), w = levels.width(l);
    const LevelSummaries sum = downsample_level(k_pad, v_pad, levels, config, l, weights);
    at::Tensor idx, mask;
    far_lists(levels, config, l, sum.log_mult, &idx, &mask);
    idx = idx.to(q.device());
    const std::int64_t slots = mask.size(1);
    const at::Tensor k_far = sum.k.index_select(2, idx).reshape({B, H, G, slots, D});
    out.v_far.push_back(sum.v.index_select(2, idx).reshape({B, H, G, slots, D}));
    const at::Tensor s = at::matmul(q_pad.view({B, H, G, w, D}), k_far.transpose(-1, -2)) +
                         mask.view({1, 1, G, 1, slots});
    parts.push_back(s.reshape({B, H, n_pad, slots}));
    out.segments.push_back(slots);
  }
  out.scores = parts.size() == 1 ? parts[0] : at::cat(parts, -1);
  return out;
}

}  // namespace

SlotProbabilities fma_slot_probabilities(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, const FmaConfig& config,
                                         const FmaWeights& weights) {
  check_qkv(q, k, v);
  validate(config);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
  const Scores sc = blocked_scores(q, k, v, config, weights);
  const Levels& levels = sc.levels;
  SlotProbabilities out{at::softmax(sc.scores, -1), sc.segments, at::Tensor()};
  const std::vector<at::Tensor> parts = out.probs.split_with_sizes(sc.segments, -1);
  const std::int64_t nb = levels.num_blocks, m = levels.block_size, n_pad = levels.n_pad;
  at::Tensor o = at::matmul(parts[0].reshape({B, H, nb, m, -1}), sc.v_near).reshape({B, H, n_pad, D});
  for (int l = 1; l <= levels.num_levels; ++l) {
    const std::int64_t G = levels.groups(l), w = levels.width(l);
    o = o + at::matmul(parts[l].reshape({B, H, G, w, -1}), sc.v_far[l - 1]).reshape({B, H, n_pad, D});
  }
  out.out = o.narrow(2, 0, N);
  return out;
}

at::Tensor fma_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const FmaConfig& config, const FmaWeights& weights) {
  return fma_slot_probabilities(q, k, v, config, weights).out;
}

}  // namespace fmav
