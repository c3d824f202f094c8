// The peers' attention maps at full resolution, a query row at a time, in float64 straight
// from each definition (docs/METHODS.md): which keys a query sees, each key's score, one
// softmax. The dense reference of every fast path and what the inspector shows.

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/Parallel.h>

#include "fma_internal.h"
#include "fmav/error.h"
#include "peers.h"

namespace fmav {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double dot(const double* a, const double* b, std::int64_t d) {
  double sum = 0;
  for (std::int64_t c = 0; c < d; ++c) sum += a[c] * b[c];
  return sum;
}

const double* row_of(const at::Tensor& x, std::int64_t i) { return x.data_ptr<double>() + i * x.size(1); }

// H-Transformer-1D's level of the pair (i, t) (docs/METHODS.md): 0 when t is in i's block
// or its sibling block, else the level l whose blocks of nr 2^l tokens are siblings.
int htransformer_level(std::int64_t i, std::int64_t t, std::int64_t nr) {
  if (i / nr == t / nr) return 0;
  for (int l = 0;; ++l) {
    const std::int64_t width = nr << l;
    if (((i / width) ^ 1) == t / width) return l;
  }
}

// Means of the real tokens of every coarse token of 2^l at l = 1..levels, (n_pad >> l, D).
std::vector<at::Tensor> coarse_means(const at::Tensor& x, std::int64_t n_pad, int levels) {
  std::vector<at::Tensor> out(levels + 1);
  const std::int64_t n = x.size(0);
  at::Tensor sum = at::constant_pad_nd(x, {0, 0, 0, n_pad - n});
  at::Tensor count = (at::arange(n_pad, at::kLong) < n).to(at::kDouble);
  for (int l = 1; l <= levels; ++l) {
    sum = sum.view({-1, 2, x.size(1)}).sum(1);
    count = count.view({-1, 2}).sum(1);
    out[l] = (sum / count.clamp_min(1).unsqueeze(1)).contiguous();
  }
  return out;
}

// Scores of query i's keys: -inf for keys it does not see. Linear attention's weights are
// positive, so their logs are its scores.
void row_scores(const PeerHead& h, std::int64_t i, double* score, std::int8_t* level) {
  const FmaConfig& f = h.options.fma;
  const std::int64_t n = h.n, d = h.dim, m = f.block_size;
  const bool causal = f.causal;
  const std::int64_t last = causal ? i : n - 1;  // the last key a query may see
  const double s = 1.0 / std::sqrt(static_cast<double>(d));
  const double* qi = row_of(h.q, i);
  const auto see = [&](std::int64_t t, double value, int lvl) { score[t] = value, level[t] = static_cast<std::int8_t>(lvl); };
  switch (h.options.method) {
    case Method::local: {
      const std::int64_t b = i / m;
      const std::int64_t t0 = std::max<std::int64_t>(0, (b - 1) * m);
      const std::int64_t t1 = std::min(last, causal ? i : (b + 2) * m - 1);
      for (std::int64_t t = t0; t <= t1; ++t) see(t, s * dot(qi, row_of(h.k, t), d), 0);
      break;
    }
    case Method::swin: {
      const std::int64_t w = m, before = h.options.peer.shifted ? w - w / 2 : 0, width = f.grid_width;
      const auto window = [&](std::int64_t t) { return std::make_pair((t / width + before) / w, (t % width + before) / w); };
      const auto own = window(i);
      for (std::int64_t t = 0; t < n; ++t) {
        if (window(t) == own) see(t, s * dot(qi, row_of(h.k, t), d), 0);
      }
      break;
    }
    case Method::linear: {
      std::vector<double> fq(d), fk(d);
      const auto phi = [](double x) { return x > 0 ? x + 1 : std::exp(x); };  // elu(x) + 1
      for (std::int64_t c = 0; c < d; ++c) fq[c] = phi(qi[c]);
      for (std::int64_t t = 0; t <= last; ++t) {
        const double* kt = row_of(h.k, t);
        for (std::int64_t c = 0; c < d; ++c) fk[c] = phi(kt[c]);
        see(t, std::log(dot(fq.data(), fk.data(), d)), 0);
      }
      break;
    }
    case Method::htransformer: {
      for (std::int64_t t = 0; t <= last; ++t) {
        const int l = htransformer_level(i, t, m);
        if (l == 0) {
          see(t, s * dot(qi, row_of(h.k, t), d), 0);
        } else {
          // A coarse key's score is shared by its 2^l tokens: compute it at its first.
          const std::int64_t coarse = t >> l;
          const double* query = causal ? qi : row_of(h.coarse_q[l], i >> l);
          const bool first = t == 0 || (t - 1) >> l != coarse || htransformer_level(i, t - 1, m) != l;
          see(t, first ? s * dot(query, row_of(h.coarse_k[l], coarse), d) : score[t - 1], l);
        }
      }
      break;
    }
    case Method::reformer: {
      // The union over rounds of the own and previous chunk of the sorted order.
      for (std::int64_t t = 0; t <= last; ++t) {
        bool seen = false;
        for (std::size_t r = 0; r < h.chunk.size() && !seen; ++r) {
          const std::int64_t ci = h.chunk[r][i], ct = h.chunk[r][t];
          seen = ct == ci || ct == (ci + h.chunks - 1) % h.chunks;
        }
        if (seen) see(t, t == i ? kReformerSelfScore : s * dot(qi, row_of(h.full_k, t), d), 0);
      }
      break;
    }
    case Method::fma:
    case Method::full: FMAV_ASSERT(false, "peer_row: not a peer method");
  }
}

}  // namespace

PeerHead prepare_peer_head(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const AttendOptions& options) {
  FMAV_ASSERT(q.dim() == 2 && q.scalar_type() == at::kDouble, "prepare_peer_head: q must be (N, D) float64");
  PeerHead h;
  h.options = options;
  h.n = q.size(0), h.dim = q.size(1);
  h.q = q.contiguous(), h.k = k.contiguous(), h.v = v.contiguous();
  h.full_k = h.k;
  if (options.method == Method::htransformer) {
    const Levels lv = make_levels(h.n, options.fma.block_size);
    h.levels = lv.num_levels;
    h.coarse_q = coarse_means(h.q, lv.n_pad, h.levels);
    h.coarse_k = coarse_means(h.k, lv.n_pad, h.levels);
  }
  if (options.method == Method::reformer) {
    h.full_k = reformer_keys(h.q).contiguous();
    h.full_self_penalty = true;
    const at::Tensor chunk = reformer_chunks(reformer_order(reformer_hash(h.q, options)), options.fma.block_size).contiguous();
    h.chunks = (h.n + options.fma.block_size - 1) / options.fma.block_size;
    for (int r = 0; r < options.peer.hash_rounds; ++r) {
      const std::int64_t* c = chunk.data_ptr<std::int64_t>() + r * h.n;
      h.chunk.emplace_back(c, c + h.n);
    }
  }
  return h;
}

void peer_row(const PeerHead& head, std::int64_t i, double* row, std::int8_t* level) {
  const std::int64_t n = head.n;
  std::fill(row, row + n, -kInf);
  std::fill(level, level + n, std::int8_t{-1});
  row_scores(head, i, row, level);
  double max = -kInf, sum = 0;
  for (std::int64_t t = 0; t < n; ++t) max = std::max(max, row[t]);
  FMAV_ASSERT(max > -kInf, "peer_row: query ", i, " sees no key");
  for (std::int64_t t = 0; t < n; ++t) sum += row[t] = std::exp(row[t] - max);
  for (std::int64_t t = 0; t < n; ++t) row[t] /= sum;
}

at::Tensor peer_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttendOptions& options) {
  assert_qkv(q, k, v);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2);
  at::Tensor out = at::empty_like(q);
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t hh = 0; hh < H; ++hh) {
      const auto head = [&](const at::Tensor& x) { return x[b][hh].to(at::kDouble).contiguous(); };
      const PeerHead h = prepare_peer_head(head(q), head(k), head(v), options);
      at::Tensor map = at::empty({N, N}, at::kDouble);
      at::parallel_for(0, N, 16, [&](std::int64_t i0, std::int64_t i1) {
        std::vector<std::int8_t> levels(N);
        for (std::int64_t i = i0; i < i1; ++i) peer_row(h, i, map.data_ptr<double>() + i * N, levels.data());
      });
      out[b][hh].copy_(at::matmul(map, h.v));
    }
  }
  return out;
}

}  // namespace fmav
