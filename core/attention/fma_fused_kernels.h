#pragma once
// The fused CPU kernels of FMA-1D (docs/DESIGN.md §2), on plain pointers: per query block, the
// near-field keys and then the coarse slots of every level pass through one online softmax;
// scores live only in a per-thread tile. Forward saves the row log-sum-exp; backward
// recomputes the probabilities from it (FlashAttention's scheme).

#include <cstdint>
#include <vector>

namespace fmav {

// The coarse slots one query block sees: indices into the concatenated pyramid
// (sum over levels of G_l * p rows) and each slot's log multiplicity (-inf = masked).
struct BlockSlots {
  std::vector<std::int64_t> offset;  // (num_blocks + 1) prefix sums into index / log_mult
  std::vector<std::int64_t> index;
  std::vector<double> log_mult;
};

// Shapes and pointers of one call. q, k, v, out, d_* are (BH, n, dim) contiguous; kc, vc
// and their gradients (BH, slots, dim); lse (BH, n).
template <typename T>
struct FusedArgs {
  std::int64_t bh = 0, n = 0, dim = 0, block_size = 0, slots = 0;
  bool causal = false;
  double scale = 1.0;
  const BlockSlots* block_slots = nullptr;
  const T *q = nullptr, *k = nullptr, *v = nullptr, *kc = nullptr, *vc = nullptr;
  T* out = nullptr;
  T* lse = nullptr;
};

template <typename T>
struct FusedGradArgs {
  FusedArgs<T> fwd;        // inputs, out and lse of the forward call
  const T* d_out = nullptr;
  const T* d_lse = nullptr;  // (BH, n) gradient of the lse output, or null when none
  T *d_q = nullptr, *d_k = nullptr, *d_v = nullptr, *d_kc = nullptr, *d_vc = nullptr;
  // Workspace of fused_backward_workspace() elements each: every query block's coarse-slot
  // gradients before they are summed into d_kc / d_vc.
  T *work_kc = nullptr, *work_vc = nullptr;
};

// Columns of a block's coarse tile: its slot count rounded up to whole vectors (16); the
// padding is masked.
std::int64_t fused_slot_tile(std::int64_t slot_count);

// (query, key) pairs the forward computes in the near field (causal own blocks band by band),
// for FLOP counts: what the kernels do, not what an ideal kernel would.
double fused_near_pairs(std::int64_t n, std::int64_t block_size, bool causal);

// Elements of each backward workspace buffer: bh * blocks * (most slots of a block) * dim.
std::int64_t fused_backward_workspace(std::int64_t bh, std::int64_t n, std::int64_t dim,
                                      std::int64_t block_size, const BlockSlots& slots);

// out and lse from q, k, v, kc, vc. Parallel over (bh, query block) with at::parallel_for.
template <typename T>
void fma_fused_forward_cpu(const FusedArgs<T>& args);
// d_q, d_k, d_v, d_kc, d_vc (overwritten) from d_out (and d_lse, when the row log-sum-exp
// was used as an output) and the forward's out and lse.
template <typename T>
void fma_fused_backward_cpu(const FusedGradArgs<T>& args);

}  // namespace fmav
