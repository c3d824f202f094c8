#pragma once
// The paper's peers on LibTorch tensors (docs/METHODS.md has each definition): fast paths
// from tensor ops (autograd-capable, no N x N tensor) and, per head, the rows of each
// method's attention map at full resolution in float64 — the dense reference the fast
// paths are tested against and what the inspector shows.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "fmav/attend.h"

namespace fmav {

// ---- fast paths: q, k, v (B, H, N, D) float32/float64 on the CPU (htransformer, linear and
// local also on CUDA) -> (B, H, N, D) ----
at::Tensor htransformer_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  std::int64_t block_size, bool causal);
at::Tensor linear_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal);
// k is not read: Reformer shares QK (its keys are the queries scaled to unit length).
at::Tensor reformer_attention(const at::Tensor& q, const at::Tensor& v, const AttendOptions& options);
at::Tensor swin_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          std::int64_t grid_height, std::int64_t grid_width, std::int64_t window,
                          bool shifted);
// The peer `options.method` by its fast path (local: the fused kernels). Validates options.
at::Tensor peer_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttendOptions& options);

// ---- Reformer's hashing, shared by the fast path and the map ----
// Bucket of every token in every round: (B, H, rounds, N) int64 from the argmax of
// [x R, -x R] with R (D, buckets / 2) drawn from options.peer.hash_seed per round.
at::Tensor reformer_hash(const at::Tensor& q, const AttendOptions& options);
// Every round's tokens sorted by (bucket, position): (..., rounds, N).
at::Tensor reformer_order(const at::Tensor& buckets);
// Chunk of every token in every round, from that round's sorted order (reformer_order):
// (..., rounds, N).
at::Tensor reformer_chunks(const at::Tensor& order, std::int64_t chunk);
// Keys of Reformer's shared QK: x / |x| (zero rows stay zero).
at::Tensor reformer_keys(const at::Tensor& q);
// Reformer's score of a token with itself: it attends to itself only when nothing else is
// in its window (Kitaev et al. 2020, section 2).
constexpr double kReformerSelfScore = -1e5;

// ---- one head's map rows (the dense reference) ----
struct PeerHead {
  AttendOptions options;
  std::int64_t n = 0, dim = 0;
  int levels = 0;                        // coarse levels (htransformer), else 0
  at::Tensor q, k, v;                    // (N, D) float64
  at::Tensor full_k;                     // keys of the full attention it approximates
  bool full_self_penalty = false;        // reformer: self scored kReformerSelfScore there too
  std::vector<at::Tensor> coarse_q, coarse_k;  // htransformer: level l at l (l >= 1), (N_l, D)
  std::vector<std::vector<std::int64_t>> chunk;  // reformer: rounds x N chunk of each token
  std::int64_t chunks = 0;               // reformer: chunks per round
};

// q, k, v (N, D) float64 of one head; options valid for N (validate_peer, by the caller).
PeerHead prepare_peer_head(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const AttendOptions& options);
// Query i's row of the method's attention map over all N keys (probabilities, summing to 1)
// and each key's level: 0 exact, l a coarse level (htransformer), -1 not attended.
void peer_row(const PeerHead& head, std::int64_t i, double* row, std::int8_t* level);
// The dense reference: every row of every (batch, head) times v. (B, H, N, D) in q's dtype.
at::Tensor peer_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttendOptions& options);

}  // namespace fmav
