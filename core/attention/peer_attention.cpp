// The peers' fast paths from LibTorch tensor ops (docs/METHODS.md): each part of a method
// (a level, a hashing round, a window) is a masked softmax giving an output and its
// log-sum-exp, and the parts are merged as one softmax. Autograd-capable; no N x N tensor.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"
#include "peers.h"
#include "base/random.h"

namespace fmav {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One softmax part: out = softmax(scores) @ values and lse = log sum exp(scores) over the
// last axis of scores (..., Q, K) with -inf for masked keys; values (..., K, D). A row with
// every key masked gives out 0 and lse -inf, with finite gradients.
struct Part {
  at::Tensor out, lse;
};

Part softmax_part(const at::Tensor& scores, const at::Tensor& values) {
  const at::Tensor max = std::get<0>(scores.max(-1, true)).detach();
  const at::Tensor finite = at::isfinite(max);
  const at::Tensor shift = at::where(finite, max, at::zeros_like(max));
  const at::Tensor weights = at::exp(scores - shift);
  const at::Tensor sum = weights.sum(-1, true).clamp_min(1e-30);
  Part part;
  part.out = at::matmul(weights, values) / sum;
  part.lse = at::where(finite, at::log(sum) + shift, at::full_like(sum, -kInf)).squeeze(-1);
  return part;
}

// Parts (out (B, H, N, D), lse (B, H, N)) merged as they come into one softmax over all
// their keys: a running shift, weighted sum of outputs and total weight, so a method with
// many parts (levels, rounds) holds one output's worth of memory, not one per part. Weights
// are normalized by their own total, which stays exact where every lse is large (a reformer
// query seeing only itself has lse -1e5, where float32 has steps of 1/128).
class SoftmaxMerge {
 public:
  void add(const Part& part) {
    const at::Tensor lse = part.lse.detach();
    const at::Tensor top = m_shift.defined() ? at::maximum(m_shift, lse) : lse;
    const at::Tensor shift = at::where(at::isfinite(top), top, at::zeros_like(top));
    const at::Tensor weight = at::exp(part.lse - shift).unsqueeze(-1);
    if (!m_sum.defined()) {
      m_sum = weight * part.out, m_total = weight;
    } else {
      const at::Tensor decay = at::exp(m_shift - shift).unsqueeze(-1);
      m_sum = m_sum * decay + weight * part.out, m_total = m_total * decay + weight;
    }
    m_shift = shift;
  }
  // Rows no part saw (padding only) come out 0.
  at::Tensor result() const { return m_sum / m_total.clamp_min(1e-30); }

 private:
  at::Tensor m_shift, m_sum, m_total;
};

double scale_of(const at::Tensor& q) { return 1.0 / std::sqrt(static_cast<double>(q.size(-1))); }

// (B, H, n, D) -> the sibling of every block of `width` rows: blocks 2j and 2j + 1 swapped.
at::Tensor siblings(const at::Tensor& x, std::int64_t width) {
  const std::int64_t blocks = x.size(-2) / width;
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape.pop_back(), shape.pop_back();
  std::vector<std::int64_t> pairs = shape;
  pairs.insert(pairs.end(), {blocks / 2, 2, width, x.size(-1)});
  shape.insert(shape.end(), {blocks, width, x.size(-1)});
  return x.reshape(pairs).flip(-3).reshape(shape);
}

}  // namespace

// ---- H-Transformer-1D ----

namespace {

// Level 0 of H-Transformer-1D on padded q, k, v (B, H, n_pad, D), as two parts: each block
// of nr queries sees its own block (causal: keys <= the query) and, when there is one, its
// sibling block, exact; keys >= n are padding. Two parts, not one concatenated key set,
// keep the largest tensor at (B, H, n_pad, nr).
void htransformer_near(const at::Tensor& qp, const at::Tensor& kp, const at::Tensor& vp, std::int64_t nr,
                       std::int64_t n, bool causal, SoftmaxMerge* merged) {
  const std::int64_t B = qp.size(0), H = qp.size(1), n_pad = qp.size(2), D = qp.size(3), nb = n_pad / nr;
  const at::Tensor pos = at::arange(n_pad, at::TensorOptions().dtype(at::kLong).device(qp.device())).view({nb, nr});
  const at::Tensor q_blocks = qp.view({B, H, nb, nr, D});
  const auto part = [&](const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_pos) {
    at::Tensor hidden = (key_pos >= n).view({nb, 1, nr});
    if (causal) hidden = hidden | (key_pos.view({nb, 1, nr}) > pos.view({nb, nr, 1}));
    at::Tensor scores = at::matmul(q_blocks, k.view({B, H, nb, nr, D}).transpose(-1, -2)) * scale_of(qp);
    const Part p = softmax_part(scores.masked_fill_(hidden, -kInf), v.view({B, H, nb, nr, D}));
    merged->add({p.out.reshape({B, H, n_pad, D}), p.lse.reshape({B, H, n_pad})});
  };
  part(kp, vp, pos);
  if (nb >= 2) part(siblings(kp, nr), siblings(vp, nr), siblings(pos.view({1, 1, n_pad, 1}), nr).view({nb, nr}));
}

// Coarse level l: tokens of 2^l (sums q_sum, k_sum, v_sum (B, H, nc, D) of `count` real
// members, nc = n_pad >> l) in blocks of nr; each block sees its sibling's coarse keys
// (means) and values (means, weighted by the member count through the log in the score).
// Bidirectional, the queries are coarse too; causal, fine queries of right children only
// (a coarse query would mix in later tokens' queries; a left child's sibling is the future).
Part htransformer_level(const at::Tensor& qp, const at::Tensor& q_sum, const at::Tensor& k_sum,
                        const at::Tensor& v_sum, const at::Tensor& count, std::int64_t nr, int l, bool causal) {
  const std::int64_t B = qp.size(0), H = qp.size(1), n_pad = qp.size(2), D = qp.size(3);
  const std::int64_t nc = n_pad >> l, blocks = nc / nr;
  const at::Tensor denom = count.clamp_min(1).view({nc, 1});
  const double s = scale_of(qp);
  if (causal) {
    const std::int64_t pairs = blocks / 2, width = nr << l;
    const at::Tensor q_right = qp.view({B, H, pairs, 2, width, D}).select(3, 1);
    const at::Tensor k_left = (k_sum / denom).view({B, H, pairs, 2, nr, D}).select(3, 0);
    const at::Tensor v_left = (v_sum / denom).view({B, H, pairs, 2, nr, D}).select(3, 0);
    const at::Tensor log_left = count.view({pairs, 2, 1, nr}).select(1, 0).log();
    const Part p = softmax_part(at::matmul(q_right, k_left.transpose(-1, -2)) * s + log_left, v_left);
    // Left children see nothing at this level: output 0, log-sum-exp -inf.
    return {at::stack({at::zeros_like(p.out), p.out}, 3).reshape({B, H, n_pad, D}),
            at::stack({at::full_like(p.lse, -kInf), p.lse}, 3).reshape({B, H, n_pad})};
  }
  const at::Tensor k_sib = siblings(k_sum / denom, nr).view({B, H, blocks, nr, D});
  const at::Tensor v_sib = siblings(v_sum / denom, nr).view({B, H, blocks, nr, D});
  const at::Tensor log_count = siblings(count.view({1, 1, nc, 1}), nr).view({blocks, 1, nr}).log();
  const at::Tensor q_mean = (q_sum / denom).view({B, H, blocks, nr, D});
  const Part p = softmax_part(at::matmul(q_mean, k_sib.transpose(-1, -2)) * s + log_count, v_sib);
  return {p.out.reshape({B, H, nc, D}).repeat_interleave(std::int64_t{1} << l, 2),
          p.lse.reshape({B, H, nc}).repeat_interleave(std::int64_t{1} << l, 2)};
}

}  // namespace

at::Tensor htransformer_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  std::int64_t block_size, bool causal) {
  assert_qkv(q, k, v);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
  const Levels lv = make_levels(N, block_size);
  const at::Tensor qp = pad_tokens(q, lv.n_pad), kp = pad_tokens(k, lv.n_pad), vp = pad_tokens(v, lv.n_pad);
  SoftmaxMerge merged;
  htransformer_near(qp, kp, vp, block_size, N, causal, &merged);
  // Each level's coarse tokens pair up the previous level's (sums and real-member counts).
  at::Tensor q_sum = qp, k_sum = kp, v_sum = vp;
  at::Tensor count = (at::arange(lv.n_pad, at::TensorOptions().dtype(at::kLong).device(q.device())) < N).to(q.scalar_type());
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t nc = lv.n_pad >> l;
    const auto pair_sum = [&](const at::Tensor& x) { return x.reshape({B, H, nc, 2, D}).sum(3); };
    if (!causal) q_sum = pair_sum(q_sum);  // causal queries stay fine
    k_sum = pair_sum(k_sum), v_sum = pair_sum(v_sum);
    count = count.view({nc, 2}).sum(1);
    merged.add(htransformer_level(qp, q_sum, k_sum, v_sum, count, block_size, l, causal));
  }
  return merged.result().narrow(2, 0, N).contiguous();
}

// ---- Linear Transformer ----

at::Tensor linear_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal) {
  assert_qkv(q, k, v);
  const at::Tensor fq = at::elu(q) + 1, fk = at::elu(k) + 1;
  if (!causal) {
    const at::Tensor kv = at::matmul(fk.transpose(-1, -2), v);      // (B, H, D, D)
    const at::Tensor z = fk.sum(2).unsqueeze(-1);                     // (B, H, D, 1)
    return at::matmul(fq, kv) / at::matmul(fq, z);
  }
  // Causal by prefix sums, a chunk at a time: within a chunk the masked products, across
  // chunks the running sums of phi(k) v^T and phi(k) before it.
  constexpr std::int64_t kChunk = 64;
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
  const std::int64_t chunks = (N + kChunk - 1) / kChunk, n_pad = chunks * kChunk;
  // Padded queries get features 1, not 0, so that their denominators (thrown away) are not 0.
  const at::Tensor qc = at::constant_pad_nd(fq, {0, 0, 0, n_pad - N}, 1.0).view({B, H, chunks, kChunk, D});
  const at::Tensor kc = pad_tokens(fk, n_pad).view({B, H, chunks, kChunk, D});
  const at::Tensor vc = pad_tokens(v, n_pad).view({B, H, chunks, kChunk, D});
  const at::Tensor past = at::ones({kChunk, kChunk}, q.options().dtype(at::kBool)).tril();
  const at::Tensor inner = at::matmul(qc, kc.transpose(-1, -2)).masked_fill(past.logical_not(), 0.0);
  // Sums over earlier chunks only (a shifted cumsum: subtracting a chunk from an inclusive
  // sum would let later tokens change earlier outputs through rounding).
  const auto before = [&](const at::Tensor& x) {
    std::vector<std::int64_t> pad(2 * (x.dim() - 3), 0);  // dims after the chunk axis
    pad.push_back(1), pad.push_back(0);
    return at::constant_pad_nd(x.cumsum(2).narrow(2, 0, chunks - 1), pad);
  };
  const at::Tensor state_before = before(at::matmul(kc.transpose(-1, -2), vc));  // (B, H, C, D, D)
  const at::Tensor z_before = before(kc.sum(3)).unsqueeze(-1);                     // (B, H, C, D, 1)
  const at::Tensor num = at::matmul(inner, vc) + at::matmul(qc, state_before);
  const at::Tensor den = inner.sum(-1, true) + at::matmul(qc, z_before);
  return (num / den).reshape({B, H, n_pad, D}).narrow(2, 0, N).contiguous();
}

// ---- Reformer ----

at::Tensor reformer_keys(const at::Tensor& q) {
  return q / q.norm(2, -1, true).clamp_min(1e-30);
}

at::Tensor reformer_hash(const at::Tensor& q, const AttendOptions& options) {
  const std::int64_t N = q.size(-2), D = q.size(-1), half = reformer_buckets(options, N) / 2;
  const int rounds = options.peer.hash_rounds;
  // Rotations from the project's own generator, in float64: the same buckets for float32
  // and float64 inputs of the same values (barring ties), on every platform.
  SplitMix64 rng(options.peer.hash_seed);
  at::Tensor rotations = at::empty({rounds, D, half}, at::kDouble);
  double* r = rotations.data_ptr<double>();
  for (std::int64_t e = 0; e < rotations.numel(); ++e) r[e] = rng.normal();
  const at::Tensor x = q.detach().to(at::kDouble);
  std::vector<std::int64_t> shape = q.sizes().vec();
  shape.insert(shape.end() - 2, rounds);
  shape.pop_back();
  at::Tensor buckets = at::empty(shape, at::kLong);  // (..., R, N)
  // argmax of [x R, -x R] is the largest |x R_j|: j where it is positive, j + b/2 where
  // negative. Tokens a block at a time keep the projections small (N b/2 doubles at once
  // would be gigabytes at N = 65536).
  constexpr std::int64_t kTokens = 4096;
  for (int round = 0; round < rounds; ++round) {
    for (std::int64_t t0 = 0; t0 < N; t0 += kTokens) {
      const std::int64_t len = std::min(kTokens, N - t0);
      const at::Tensor projected = at::matmul(x.narrow(-2, t0, len), rotations[round]);  // (..., len, b/2)
      const at::Tensor index = std::get<1>(projected.abs().max(-1, true));
      const at::Tensor negative = projected.gather(-1, index) < 0;
      buckets.select(-2, round).narrow(-1, t0, len).copy_((index + negative.to(at::kLong) * half).squeeze(-1));
    }
  }
  return buckets;
}

at::Tensor reformer_order(const at::Tensor& buckets) {
  const std::int64_t N = buckets.size(-1);
  return (buckets * N + at::arange(N, at::kLong)).argsort(-1, false);
}

at::Tensor reformer_chunks(const at::Tensor& order, std::int64_t chunk) {
  const at::Tensor chunk_of_slot = at::arange(order.size(-1), at::kLong).div(chunk, "floor").expand_as(order);
  return at::empty_like(order).scatter_(-1, order, chunk_of_slot.contiguous());
}

at::Tensor reformer_attention(const at::Tensor& q, const at::Tensor& v, const AttendOptions& options) {
  assert_qkv(q, q, v);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
  const std::int64_t c = options.fma.block_size, chunks = (N + c - 1) / c, slots = chunks * c;
  const int rounds = options.peer.hash_rounds;
  const bool causal = options.fma.causal;
  const double s = scale_of(q);
  const at::Tensor orders = reformer_order(reformer_hash(q, options));  // (B, H, R, N)
  const at::Tensor chunk = reformer_chunks(orders, c);
  // A dummy token N pads every round's sorted order to whole chunks; it is never attended.
  const auto with_dummy = [&](const at::Tensor& x) { return at::cat({x, at::zeros({B, H, 1, D}, x.options())}, 2); };
  const at::Tensor qd = with_dummy(q), kd = with_dummy(reformer_keys(q)), vd = with_dummy(v);
  const at::Tensor chunk_d = at::cat({chunk, at::full({B, H, rounds, 1}, -2, chunk.options())}, 3);
  const at::Tensor dummy = at::full({B, H, slots - N}, N, at::kLong);
  const auto window = [&](const at::Tensor& x) {  // (B, H, chunks, c, ...) -> own and previous chunk
    return chunks > 1 ? at::cat({x, x.roll(1, 2)}, 3) : x;
  };
  SoftmaxMerge merged;
  for (int r = 0; r < rounds; ++r) {
    const at::Tensor order = at::cat({orders.select(2, r), dummy}, 2);       // (B, H, slots)
    const auto gather = [&](const at::Tensor& x) {
      return x.gather(2, order.unsqueeze(-1).expand({B, H, slots, D})).view({B, H, chunks, c, D});
    };
    const at::Tensor qs = gather(qd), ks = window(gather(kd)), vs = window(gather(vd));
    const at::Tensor q_pos = order.view({B, H, chunks, c, 1});
    const at::Tensor k_pos = window(order.view({B, H, chunks, c})).unsqueeze(3);  // (B, H, chunks, 1, W)
    at::Tensor scores = at::matmul(qs, ks.transpose(-1, -2)) * s;
    scores = at::where(k_pos == q_pos, at::full_like(scores, kReformerSelfScore), scores);
    // Each key counts once however many rounds put it in the window: its score in each
    // round less log(the rounds that do), so the merged rounds are one softmax over the union.
    at::Tensor times = at::zeros_like(scores);
    for (int o = 0; o < rounds; ++o) {
      // Round o's chunk of every slot of this round's sorted order.
      const at::Tensor of = chunk_d.select(2, o).gather(2, order).view({B, H, chunks, c});
      const at::Tensor qc = of.unsqueeze(-1), kc = window(of).unsqueeze(3);
      times = times + ((kc == qc) | (kc == (qc + chunks - 1) % chunks)).to(scores.scalar_type());
    }
    scores = scores - times.clamp_min(1).log();
    at::Tensor hidden = k_pos == N;
    if (causal) hidden = hidden | (k_pos > q_pos);
    Part p = softmax_part(scores.masked_fill(hidden, -kInf), vs);
    // Back to token order: the first N sorted slots are the real tokens.
    const at::Tensor inverse = orders.select(2, r).argsort(-1, false);
    const at::Tensor out = p.out.reshape({B, H, slots, D}).narrow(2, 0, N);
    const at::Tensor lse = p.lse.reshape({B, H, slots}).narrow(2, 0, N);
    merged.add({out.gather(2, inverse.unsqueeze(-1).expand({B, H, N, D})), lse.gather(2, inverse)});
  }
  return merged.result();
}

// ---- Swin windows ----

at::Tensor swin_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          std::int64_t grid_height, std::int64_t grid_width, std::int64_t window,
                          bool shifted) {
  assert_qkv(q, k, v);
  const std::int64_t B = q.size(0), H = q.size(1), D = q.size(3), w = window;
  FMAV_ASSERT(grid_height * grid_width == q.size(2), "swin: the grid ", grid_height, "x", grid_width,
              " does not hold ", q.size(2), " tokens");
  // Window boundaries at shift + j w (shift = w / 2 when shifted): the grid is padded by
  // w - shift rows and columns before, to whole windows after; padding is never attended.
  const std::int64_t before = shifted ? w - w / 2 : 0;
  const std::int64_t rows = (grid_height + before + w - 1) / w * w, cols = (grid_width + before + w - 1) / w * w;
  const std::vector<std::int64_t> pad = {0, 0, before, cols - grid_width - before, before, rows - grid_height - before};
  const std::int64_t wy = rows / w, wx = cols / w;
  const auto windows = [&](const at::Tensor& x) {
    const at::Tensor grid = at::constant_pad_nd(x.reshape({B, H, grid_height, grid_width, D}), pad);
    return grid.view({B, H, wy, w, wx, w, D}).permute({0, 1, 2, 4, 3, 5, 6}).reshape({B, H, wy * wx, w * w, D});
  };
  const at::Tensor real = at::constant_pad_nd(at::ones({grid_height, grid_width, 1}, at::kFloat), pad) > 0.5;
  const at::Tensor real_w = real.view({wy, w, wx, w}).permute({0, 2, 1, 3}).reshape({wy * wx, 1, w * w});
  const at::Tensor scores = at::matmul(windows(q), windows(k).transpose(-1, -2)) * scale_of(q);
  const Part p = softmax_part(scores.masked_fill(real_w.logical_not(), -kInf), windows(v));
  const at::Tensor grid = p.out.view({B, H, wy, wx, w, w, D}).permute({0, 1, 2, 4, 3, 5, 6}).reshape({B, H, rows, cols, D});
  return grid.narrow(2, before, grid_height).narrow(3, before, grid_width).reshape({B, H, grid_height * grid_width, D});
}

// ---- dispatch ----

at::Tensor peer_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttendOptions& options) {
  assert_qkv(q, k, v);
  // htransformer and linear are tensor ops on q's device; local has CUDA kernels; the rest is host code.
  const bool anywhere = options.method == Method::htransformer || options.method == Method::linear ||
                        options.method == Method::local;
  FMAV_ASSERT(q.device().is_cpu() || anywhere, to_string(options.method), " runs on the CPU, got a tensor on ",
              q.device().str());
  const FmaConfig& f = options.fma;
  switch (options.method) {
    case Method::htransformer: return htransformer_attention(q, k, v, f.block_size, f.causal);
    case Method::linear: return linear_attention(q, k, v, f.causal);
    case Method::reformer: return reformer_attention(q, v, options);
    case Method::local: return local_attention_fused(q, k, v, f.block_size, f.causal);
    case Method::swin:
      return swin_attention(q, k, v, f.grid_height, f.grid_width, f.block_size, options.peer.shifted);
    case Method::fma:
    case Method::full: break;
  }
  throw Error(std::string("peer_attention: ") + to_string(options.method) + " is not a peer method");
}

}  // namespace fmav
