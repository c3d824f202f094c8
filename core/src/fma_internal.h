#pragma once
// The engine's internal API on LibTorch tensors: FMA-1D (dense reference and blocked),
// full attention, down-sampling and conversions. Used by core and the tests, never by app/.

#include <ATen/ATen.h>

#include <vector>

#include "fma_fused_kernels.h"
#include "fmav/attend.h"
#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

// ---- conversions ----
// A copy of a float32/float64/... host tensor as a CPU at::Tensor of the same shape.
at::Tensor to_tensor(const HostTensor& host);
// A copy of a CPU tensor (float32 or float64) as a host tensor.
HostTensor to_host(const at::Tensor& tensor);

// A (B, H, N, D), (H, N, D) or (N, D) float32/float64 host tensor as a (B, H, N, D)
// tensor; `name` is used in the error message.
at::Tensor as_bhnd(const HostTensor& x, const char* name);
// (B, H, N, D) -> (B, H, n_pad, D), zeros appended.
at::Tensor pad_tokens(const at::Tensor& x, std::int64_t n_pad);

// ---- down-sampling (§2) ----
// One coarse level's parameters in the computation's dtype; undefined for average.
struct LevelWeights {
  at::Tensor k_weight, k_bias, v_weight, v_bias;
};
using FmaWeights = std::vector<LevelWeights>;  // index l - 1 for level l

// Checks names and shapes in `set` for levels 1..num_levels and converts them.
// Throws fmav::Error naming the missing or misshapen tensor.
FmaWeights to_fma_weights(const WeightSet& set, const FmaConfig& config, std::int64_t dim,
                          int num_levels, at::ScalarType dtype);

struct LevelSummaries {
  at::Tensor k, v;      // (B, H, G, p, D)
  at::Tensor log_mult;  // (G, p): log of the slot's multiplicity (0 without it), -inf masked
};
// Log multiplicity of every slot of one level, (G, p) float64: log of the real tokens it
// stands for (0 without count_multiplicity), -inf for a slot with none (§2).
at::Tensor level_log_mult(const Levels& levels, const FmaConfig& config, int level);

// Summaries of level `level` from padded k, v (B, H, N_pad, D) whose padding is zero.
LevelSummaries downsample_level(const at::Tensor& k_pad, const at::Tensor& v_pad,
                                const Levels& levels, const FmaConfig& config, int level,
                                const FmaWeights& weights);

// The coarse K/V pyramid of every level, concatenated: kc, vc (B, H, S, D) with level l's
// group g, slot j at row base_l + g p + j (base_1 = 0); log_mult per level (G_l, p) float64.
// Without autograd (and for learned/average) it is built by the fused loops; otherwise by
// downsample_level, so gradients reach k, v and the weights.
struct Pyramid {
  at::Tensor kc, vc;
  std::vector<at::Tensor> log_mult;
};
Pyramid build_pyramid(const at::Tensor& k, const at::Tensor& v, const Levels& levels,
                      const FmaConfig& config, const FmaWeights& weights);

// ---- FMA-1D (§2) ----
// q, k, v (B, H, N, D) float32/float64 on one device; returns (B, H, N, D).
// Dense reference: one masked softmax of each query over all N keys and every coarse slot.
at::Tensor fma_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const FmaConfig& config, const FmaWeights& weights);
// Blocked: gathers of the interaction lists, no N x N tensor, autograd-capable.
at::Tensor fma_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const FmaConfig& config, const FmaWeights& weights);

// Every real query block's coarse slots across all levels (the fused kernels' lists),
// skipping absent groups and slots without real tokens; log_mult per level (G_l, p) float64.
BlockSlots make_block_slots(const Levels& levels, const FmaConfig& config,
                            const std::vector<at::Tensor>& log_mult);

// Fused CPU kernels (fma_fused_kernels.cpp) inside a custom autograd function: the default
// CPU implementation. q, k, v on the CPU.
at::Tensor fma_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const FmaConfig& config, const FmaWeights& weights);

// The probabilities of every slot of every query, as the blocked path computes them:
// probs (B, H, N_pad, S) with S = near + per-level slots; segments[0] is the near field
// (near_offsets * m), segments[l] level l (far_offsets * p); and the output they give,
// out (B, H, N, D) — fma_blocked's result.
struct SlotProbabilities {
  at::Tensor probs;
  std::vector<std::int64_t> segments;
  at::Tensor out;
};
SlotProbabilities fma_slot_probabilities(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, const FmaConfig& config,
                                         const FmaWeights& weights);
// Columns of the reference's extended key set: N_pad keys plus every level's G_l p slots.
std::int64_t reference_columns(const Levels& levels, const FmaConfig& config);
// The FMA map at full resolution (§2) from the dense reference: (B, H, N, N), rows sum to 1.
// For tests and small N only (N x N memory).
at::Tensor fma_reference_map(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const FmaConfig& config, const FmaWeights& weights);

// Local (sliding-block) attention: FMA's near field alone — key blocks b-1, b, b+1 of the
// query's block b (causal: b-1 and the past of b). Fused kernels, autograd-capable.
at::Tensor local_attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 std::int64_t block_size, bool causal);
// The same from a dense masked softmax (the oracle of the fused version).
at::Tensor local_attention_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                std::int64_t block_size, bool causal);

// ---- full attention ----
// softmax(q k^T / sqrt(D) [+ causal mask]) v, written out in plain tensor ops.
at::Tensor full_attention_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               bool causal);
// LibTorch's scaled_dot_product_attention.
at::Tensor full_attention_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               bool causal);

// Throws fmav::Error unless q, k, v are (B, H, N, D) float32/float64 of one shape and dtype.
void check_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace fmav
