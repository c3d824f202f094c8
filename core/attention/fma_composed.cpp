// FMA-1D composed of library attention calls (docs/DESIGN.md §8.6): the near field as a few
// batched calls of LibTorch's fastest attention with its row log-sum-exp (query blocks as the
// batch, key blocks b - 1, b, b + 1 as separate calls), the coarse slots of every level as
// small batched matrix products over each group's interaction list, and all of them merged
// exactly by log-sum-exp: one softmax, as §2.6 defines it. No hand-written kernel, so the
// same code runs wherever LibTorch runs; forward only.

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// A partial softmax: the output of attention over some keys and the log-sum-exp of its
// scores, per query row. out float32 (..., rows, D), lse float32 (..., rows).
struct Partial {
  at::Tensor out, lse;
};

// a and b over disjoint key sets -> attention over their union, written through a's tensors
// (views of the accumulators: a is taken by value). Rows where both are empty stay empty
// (lse -inf, out 0).
void merge_into(Partial a, const Partial& b) {
  const at::Tensor lse = at::logaddexp(a.lse, b.lse);
  const at::Tensor safe = at::where(at::isinf(lse), at::zeros_like(lse), lse);
  const at::Tensor wa = (a.lse - safe).exp().unsqueeze(-1), wb = (b.lse - safe).exp().unsqueeze(-1);
  a.out.mul_(wa).add_(b.out * wb);
  a.lse.copy_(lse);
}

// Attention of q (..., Lq, D) over k, v (..., S, D) with its log-sum-exp, by plain tensor
// ops in float32: the fallback for shapes and devices LibTorch's fused kernels do not take.
Partial attention_lse_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                           double scale) {
  const at::ScalarType acc = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor scores = at::matmul(q.to(acc), k.to(acc).transpose(-1, -2)) * scale;
  if (causal) {
    const at::Tensor mask = at::ones({q.size(-2), k.size(-2)}, q.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(mask, kMinusInf);
  }
  const at::Tensor lse = at::logsumexp(scores, -1);
  return {at::matmul((scores - lse.unsqueeze(-1)).exp(), v.to(acc)), lse};
}

}  // namespace

std::pair<at::Tensor, at::Tensor> attention_lse(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                bool causal) {
  FMAV_ASSERT(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention_lse takes (B, H, L, D) tensors");
  FMAV_ASSERT(!causal || q.size(2) == k.size(2), "causal attention_lse takes square blocks");
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const at::ScalarType dtype = q.scalar_type();
  Partial p;
  if (q.is_cuda() && (dtype == at::kHalf || dtype == at::kBFloat16) && q.size(3) % 8 == 0 && q.size(3) <= 256) {
    // FlashAttention-2 in LibTorch: lse (B, H, L) float32.
    const auto r = at::_scaled_dot_product_flash_attention(q, k, v, 0.0, causal, false, scale);
    p = {std::get<0>(r), std::get<1>(r)};
  } else if (q.is_cuda() && dtype == at::kFloat && q.size(3) % 4 == 0) {
    // The memory-efficient kernel: lse (B, H, L rounded up to 32) float32.
    const auto r = at::_scaled_dot_product_efficient_attention(q, k, v, {}, true, 0.0, causal, scale);
    p = {std::get<0>(r), std::get<1>(r).narrow(2, 0, q.size(2))};
  } else if (q.is_cpu() && (dtype == at::kFloat || dtype == at::kDouble)) {
    // LibTorch's CPU flash attention: lse (B, H, L).
    const auto r = at::_scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal, {}, scale);
    p = {std::get<0>(r), std::get<1>(r)};
  } else {
    p = attention_lse_math(q, k, v, causal, scale);
  }
  return {p.out, p.lse};
}

at::Tensor fma_composed(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                        const FmaConfig& config, const FmaWeights& weights) {
  assert_qkv(q_in, k_in, v_in);
  FMAV_ASSERT(!config.is_2d() && !config.linear, "the composed FMA is FMA-1D, got ", variant_name(config));
  FMAV_CHECK(!needs_gradients(q_in, k_in, v_in, weights),
             "the composed FMA computes forward only (LibTorch's attention kernels give no gradient of their "
             "log-sum-exp); use the fused implementation for gradients");
  const std::int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3);
  const std::int64_t m = config.block_size, BH = B * H;
  const Levels lv = make_levels(N, m);
  const at::ScalarType acc = q_in.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto acc_options = q_in.options().dtype(acc);

  // Padded to the hierarchy's n_pad (zeros): groups of every level are then whole views.
  const at::Tensor q = pad_tokens(q_in, lv.n_pad).reshape({BH, lv.n_pad, D});
  const at::Tensor k = pad_tokens(k_in, lv.n_pad).reshape({BH, lv.n_pad, D});
  const at::Tensor v = pad_tokens(v_in, lv.n_pad).reshape({BH, lv.n_pad, D});
  const std::int64_t nb = (N + m - 1) / m;  // blocks holding real tokens
  const std::int64_t tail = N - (nb - 1) * m;  // real tokens of the last one
  // Block views (BH, blocks, m, D): the blocks are the heads of the batched calls.
  const auto blocks = [&](const at::Tensor& x, std::int64_t first, std::int64_t count) {
    return x.narrow(1, first * m, count * m).view({BH, count, m, D});
  };
  const auto call = [&](const at::Tensor& qs, const at::Tensor& ks, const at::Tensor& vs, bool causal) {
    auto [out, lse] = attention_lse(qs, ks, vs, causal);
    return Partial{out.to(acc), lse.to(acc)};
  };

  // ---- the near field: key blocks b (causal: its lower triangle), b - 1 and, bidirectional, b + 1 ----
  // Every call keeps to real keys: the diagonal call takes the complete blocks (causal: all,
  // since a padded key is in every real query's future), the ragged last block has its own.
  const bool ragged = tail < m && !config.causal;
  const std::int64_t whole = ragged ? nb - 1 : nb;  // blocks whose diagonal call is a plain one
  Partial acc_near{at::zeros({BH, nb * m, D}, acc_options), at::full({BH, nb * m}, kMinusInf, acc_options)};
  const auto near_rows = [&](std::int64_t first, std::int64_t count) {
    return Partial{acc_near.out.narrow(1, first * m, count * m).view({BH, count, m, D}),
                   acc_near.lse.narrow(1, first * m, count * m).view({BH, count, m})};
  };
  if (whole > 0) {
    merge_into(near_rows(0, whole), call(blocks(q, 0, whole), blocks(k, 0, whole), blocks(v, 0, whole), config.causal));
  }
  if (nb > 1) {  // key block b - 1, for blocks 1 .. whole - 1 (the ragged block's is below)
    const std::int64_t count = whole - 1;
    if (count > 0) {
      merge_into(near_rows(1, count), call(blocks(q, 1, count), blocks(k, 0, count), blocks(v, 0, count), false));
    }
  }
  if (!config.causal && nb > 1) {  // key block b + 1, for blocks 0 .. nb - 2 whose next block is whole
    const std::int64_t count = ragged ? nb - 2 : nb - 1;
    if (count > 0) {
      merge_into(near_rows(0, count), call(blocks(q, 0, count), blocks(k, 1, count), blocks(v, 1, count), false));
    }
  }
  if (ragged) {
    // The last block's real queries over block nb - 2 and its own real keys; block nb - 2's
    // queries over those real keys.
    const std::int64_t last = (nb - 1) * m, prev = nb > 1 ? m : 0;
    const auto rows = [&](const at::Tensor& x, std::int64_t begin, std::int64_t count) {
      return x.narrow(1, begin, count).unsqueeze(1);  // (BH, 1, count, D)
    };
    Partial last_rows{acc_near.out.narrow(1, last, tail).unsqueeze(1), acc_near.lse.narrow(1, last, tail).unsqueeze(1)};
    merge_into(last_rows, call(rows(q, last, tail), rows(k, last - prev, prev + tail), rows(v, last - prev, prev + tail),
                               false));
    if (nb > 1) {
      Partial before{acc_near.out.narrow(1, last - m, m).unsqueeze(1), acc_near.lse.narrow(1, last - m, m).unsqueeze(1)};
      merge_into(before, call(rows(q, last - m, m), rows(k, last, tail), rows(v, last, tail), false));
    }
  }

  // ---- the coarse slots of every level, one softmax over all of them ----
  if (lv.num_levels > 0) {
    const Pyramid pyramid = build_pyramid(k_in, v_in, lv, config, weights);
    const at::Tensor kc = pyramid.kc.reshape({BH, -1, D}), vc = pyramid.vc.reshape({BH, -1, D});
    const int F = max_far_offsets(config.causal);
    const std::int64_t p = config.rank, per_level = F * p;
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    // Scores of every query over its lists, level by level side by side: (BH, n_pad, L F p).
    std::vector<at::Tensor> scores, kv_index;
    std::int64_t base = 0;
    for (int l = 1; l <= lv.num_levels; ++l) {
      const std::int64_t G = lv.groups(l), w = lv.width(l);
      // Each group's interaction list as rows of the pyramid, and their log multiplicities
      // (-inf for an absent group or an empty slot): small, built on the host.
      const at::Tensor log_mult = pyramid.log_mult[l - 1].to(at::kCPU, at::kDouble).contiguous();
      const double* lm = log_mult.data_ptr<double>();
      std::vector<std::int64_t> index(G * per_level, base);
      std::vector<double> bias(G * per_level, kMinusInf);
      for (std::int64_t g = 0; g < G; ++g) {
        std::int64_t offsets[3];
        const int far = far_offsets(g, config.causal, offsets);
        for (int f = 0; f < far; ++f) {
          const std::int64_t h = g + offsets[f];
          if (h < 0 || h >= G) continue;
          for (std::int64_t j = 0; j < p; ++j) {
            index[g * per_level + f * p + j] = base + h * p + j;
            bias[g * per_level + f * p + j] = lm[h * p + j];
          }
        }
      }
      const at::Tensor idx = at::tensor(index, at::kLong).to(q.device());
      const at::Tensor keys = kc.index_select(1, idx).view({BH, G, per_level, D});
      const at::Tensor qg = q.view({BH, G, w, D});
      const at::Tensor s = at::matmul(qg, keys.transpose(-1, -2)).to(acc) * scale +
                           at::tensor(bias, at::kDouble).to(acc_options).view({1, G, 1, per_level});
      scores.push_back(s.view({BH, lv.n_pad, per_level}));
      kv_index.push_back(idx);
      base += G * p;
    }
    const at::Tensor all = at::cat(scores, 2);
    const at::Tensor lse = at::logsumexp(all, 2);
    const at::Tensor safe = at::where(at::isinf(lse), at::zeros_like(lse), lse);
    const at::Tensor probs = (all - safe.unsqueeze(-1)).exp();
    at::Tensor out = at::zeros({BH, lv.n_pad, D}, acc_options);
    for (int l = 1; l <= lv.num_levels; ++l) {
      const std::int64_t G = lv.groups(l), w = lv.width(l);
      const at::Tensor values = vc.index_select(1, kv_index[l - 1]).to(acc).view({BH * G, per_level, D});
      const at::Tensor pl = probs.narrow(2, (l - 1) * per_level, per_level).reshape({BH * G, w, per_level});
      out.view({BH * G, w, D}).baddbmm_(pl, values);
    }
    Partial far{out.narrow(1, 0, nb * m), lse.narrow(1, 0, nb * m)};
    merge_into(acc_near, far);
  }
  return acc_near.out.narrow(1, 0, N).view({B, H, N, D}).to(q_in.scalar_type());
}

}  // namespace fmav
