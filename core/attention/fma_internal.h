#pragma once
// The engine's internal API on LibTorch tensors: FMA-1D (dense reference and blocked),
// full attention, down-sampling and conversions. Used by core and the tests, never by app/.
//
// Checked once, at the boundary (docs/DESIGN.md §5): the public entry points (attend(), the
// Inspector, the models, the benchmark) check q, k, v (check_qkv), the configuration
// (validate, num_levels) and the weights (to_fma_weights) and pass them in; the functions
// below assert what they rely on (assert_qkv, FMAV_ASSERT) and do not check again.

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fma_fused_kernels.h"
#include "hierarchy.h"
#include "fmav/attend.h"
#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

// ---- conversions ----
// A copy of a float32/float64/... host tensor as a CPU at::Tensor of the same shape.
at::Tensor to_tensor(const HostTensor& host);
// The LibTorch dtype of a host dtype.
at::ScalarType scalar_type(DType dtype);
// The name the CLI and the files use for a LibTorch dtype: "float32", "bfloat16", "int64", ...
// (c10::toString says "Float", "BFloat16", "Long"); every error message that names a dtype uses it.
const char* scalar_type_name(at::ScalarType dtype);
// A copy of a CPU tensor (float32 or float64) as a host tensor.
HostTensor to_host(const at::Tensor& tensor);

// A (B, H, N, D), (H, N, D) or (N, D) float32/float64 host tensor as a (B, H, N, D)
// tensor; `name` is used in the error message.
at::Tensor as_bhnd(const HostTensor& x, const char* name);
// One (batch, head) of a (B, H, N, D) tensor as a contiguous (1, 1, N, D) copy in `dtype`;
// throws fmav::Error naming a batch or head outside the tensor.
at::Tensor one_head(const at::Tensor& bhnd, std::int64_t batch, std::int64_t head, at::ScalarType dtype);
// (B, H, N, D) -> (B, H, n_pad, D), zeros appended.
at::Tensor pad_tokens(const at::Tensor& x, std::int64_t n_pad);

// ---- down-sampling (§2, §4) ----
// One summarized stream's parameters in the computation's dtype; undefined for average.
// 1D: weight (p D, 1 or D, w_l). 2D: weight is the row kernel, col_weight the column
// kernel, both (p D, 1, c_l). bias (p D).
struct Summarizer {
  at::Tensor weight, col_weight, bias;
};
enum class Stream { k, v, q };
// One coarse level's parameters: K, V and, for the linear variants, Q.
struct LevelWeights {
  Summarizer k, v, q;
  Summarizer& of(Stream s) { return s == Stream::k ? k : s == Stream::v ? v : q; }
  const Summarizer& of(Stream s) const { return s == Stream::k ? k : s == Stream::v ? v : q; }
};
using FmaWeights = std::vector<LevelWeights>;  // index l - 1 for level l

// Every weight of `weights` converted to `options` (dtype and/or device; what options leave
// unset stays): onto the GPU for CUDA runs, to float64 for an oracle.
FmaWeights weights_to(FmaWeights weights, const at::TensorOptions& options);
// Checks names and shapes in `set` for levels 1..num_levels and converts them.
// Throws fmav::Error naming the missing or misshapen tensor.
FmaWeights to_fma_weights(const WeightSet& set, const FmaConfig& config, std::int64_t dim,
                          int num_levels, at::ScalarType dtype);

// Every level's p summaries of x (B, H, N, D) — the K, V or Q stream — computed from the real
// tokens (padding is zero; averages divide by real members): level l at index l - 1,
// (B, H, G_l, p, D); in 2D G_l = cells(l)^2, cells row-major. Autograd-capable.
std::vector<at::Tensor> summarize_levels(const at::Tensor& x, const FmaConfig& config,
                                         const FmaWeights& weights, Stream stream);
// Log multiplicity of every slot of one level, (G_l, p) float64 in the same order: log of the
// real tokens it stands for (0 without count_multiplicity), -inf for a slot with none (§2).
at::Tensor level_log_mult(const FmaConfig& config, std::int64_t n, int level);

// The coarse K/V pyramid of every level, concatenated: kc, vc (B, H, S, D) with level l's
// group g, slot j at row base_l + g p + j (base_1 = 0); log_mult per level (G_l, p) float64.
// Without autograd (and for learned/average) it is built by pyramid_stream, on the tensors'
// device; otherwise by summarize_levels's LibTorch ops, so gradients reach k, v and the
// weights. FMA-1D only.
struct Pyramid {
  at::Tensor kc, vc;
  std::vector<at::Tensor> log_mult;
};
Pyramid build_pyramid(const at::Tensor& k, const at::Tensor& v, const Levels& levels,
                      const FmaConfig& config, const FmaWeights& weights);
// One stream's pyramid (B, H, S, D), laid out as Pyramid::kc, without autograd: the fused
// loops for a CPU tensor, the down-sampling kernel for a CUDA one. Only where
// fused_pyramid_takes(x, config).
at::Tensor pyramid_stream(const at::Tensor& x, const Levels& levels, const FmaConfig& config,
                          const FmaWeights& weights, Stream stream);
// Whether pyramid_stream takes x: FMA-1D learned or average, and x a CPU float32/float64
// tensor or a CUDA tensor the kernels take (cuda_kernels_take). Anything else (another
// device, dtype or head dimension) takes summarize_levels's LibTorch ops, which run wherever
// x is: no host code ever reads device memory.
bool fused_pyramid_takes(const at::Tensor& x, const FmaConfig& config);
// Whether gradients must reach x or that stream's weights (then the pyramid takes tensor ops).
bool stream_needs_autograd(const at::Tensor& x, const FmaWeights& weights, Stream stream);

// ---- FMA (§2-§4): FMA-1D, FMA-linear, FMA2D, FMA2D-linear, chosen by the config ----
// q, k, v (B, H, N, D) float32/float64 on one device (2D: N = grid_height * grid_width,
// row-major); returns (B, H, N, D).
// Dense reference: one masked softmax of each query over all N keys and every coarse slot.
at::Tensor fma_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const FmaConfig& config, const FmaWeights& weights);
// Blocked: gathers of the hierarchy's lists, no N x N tensor, autograd-capable; the linear
// variants push numerators and denominators down the levels, O(N).
at::Tensor fma_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const FmaConfig& config, const FmaWeights& weights);

// Where the linear variants' summary queries come from. `identity` is for tests only: every
// position is its own summary, which turns FMA-linear into FMA (§3, the limit p = w_l).
enum class QuerySource { summaries, identity };
at::Tensor fma_reference_with_queries(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const FmaConfig& config, const FmaWeights& weights,
                                      QuerySource source);
at::Tensor fma_linear_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const FmaConfig& config, const FmaWeights& weights,
                              QuerySource source);
// FMA-linear in 1D with the near field from the fused kernels (its output and log-sum-exp)
// and the coarse levels' push-down from tensor ops: the default CPU implementation.
at::Tensor fma_linear_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const FmaConfig& config, const FmaWeights& weights);

// Every real query block's coarse slots across all levels (the fused kernels' lists),
// skipping absent groups and slots without real tokens; log_mult per level (G_l, p) float64.
BlockSlots make_block_slots(const Levels& levels, const FmaConfig& config,
                            const std::vector<at::Tensor>& log_mult);

// Fused CPU kernels (fma_fused_kernels.cpp) inside a custom autograd function: the default
// CPU implementation. q, k, v on the CPU.
at::Tensor fma_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const FmaConfig& config, const FmaWeights& weights);

// ---- FMA-1D composed of library calls, and the automatic choice (docs/DESIGN.md §8.6) ----
// Attention of q (B, H, Lq, D) over k, v (B, H, S, D) scaled by 1/sqrt(D), with the
// log-sum-exp of every row's scores: {out (B, H, Lq, D), lse (B, H, Lq) float32 or float64},
// by LibTorch's fastest kernel that returns it for the device and dtype (CUDA: flash or
// memory-efficient; CPU: its flash kernel), else tensor ops. causal needs Lq = S (the lower
// triangle). Forward only: the kernels give no gradient through lse.
std::pair<at::Tensor, at::Tensor> attention_lse(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                bool causal);
// FMA-1D (not linear) on any device from attention_lse calls over the near field's key
// blocks and small matrix products over each level's interaction lists, merged exactly by
// log-sum-exp (one softmax). Forward only: throws fmav::Error when gradients are needed.
at::Tensor fma_composed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                        const FmaWeights& weights);

// Whether autograd is on and gradients must reach q, k, v or the K and V weights.
bool needs_gradients(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaWeights& weights);

enum class FmaRoute { fused, composed };
const char* to_string(FmaRoute route);
// The route FMA-1D's automatic choice takes for inputs like q under config: on the CPU, or
// when gradients are needed, fused; on CUDA forward, the faster of the two for this shape,
// dtype and configuration (timed once per process by tuned_route); composed where the fused
// kernels do not take the head dimension.
FmaRoute choose_route(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                      const FmaWeights& weights);
// The autotune cache: the route recorded for `key`, or, the first time, the faster of the
// two by time_ms(route) (milliseconds of one warm call), recorded. Thread-safe; time_ms runs
// outside the lock.
FmaRoute tuned_route(const std::string& key, const std::function<double(FmaRoute)>& time_ms);
// Forgets every recorded route (tests).
void clear_tuned_routes();
// FMA-1D by the route choose_route picks.
at::Tensor fma_auto(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                    const FmaWeights& weights);

// The probabilities of every slot of every query, as the blocked path computes them (for
// the linear variants with the summary queries' coarse scores): probs (B, H, n_pad, S) in
// the hierarchy's order (hierarchy.h), S = near + per-level slots; segments[0] is the near
// field (fanout * width), segments[l] level l (fanout * p); the output they give, out
// (B, H, N, D); and the hierarchy, to map positions and slots back to tokens.
struct SlotProbabilities {
  at::Tensor probs;
  std::vector<std::int64_t> segments;
  at::Tensor out;
  Hierarchy hierarchy;
};
SlotProbabilities fma_slot_probabilities(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, const FmaConfig& config,
                                         const FmaWeights& weights,
                                         QuerySource source = QuerySource::summaries);
// Columns of the reference's extended key set: N keys plus every level's slots.
std::int64_t reference_columns(const FmaConfig& config, std::int64_t n);
// The FMA map at full resolution (§2) from the dense reference: (B, H, N, N), rows sum to 1.
// For tests and small N only (N x N memory).
at::Tensor fma_reference_map(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const FmaConfig& config, const FmaWeights& weights,
                             QuerySource source = QuerySource::summaries);

// Local (sliding-block) attention: FMA's near field alone — key blocks b-1, b, b+1 of the
// query's block b (causal: b-1 and the past of b). Fused kernels, autograd-capable.
at::Tensor local_attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 std::int64_t block_size, bool causal);
// The same and each row's log-sum-exp of scores (B, H, N): {out, lse}, both differentiable.
std::vector<at::Tensor> local_attention_fused_lse(const at::Tensor& q, const at::Tensor& k,
                                                  const at::Tensor& v, std::int64_t block_size,
                                                  bool causal);
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

// Throws fmav::Error unless q, k, v are (B, H, N, D) float32/float64 of one shape and dtype
// (on CUDA also float16/bfloat16), on one device, with B, H, N, D >= 1: the boundary's check.
void check_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
// The internal functions' assertion of what check_qkv established: (B, H, N, D) of one shape,
// dtype and device. A failure is a caller's bug (FMAV_ASSERT), not bad input.
void assert_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace fmav
