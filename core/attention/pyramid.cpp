// The coarse K/V pyramid of the fused FMA (docs/DESIGN.md §2): every level's summaries in one
// (B, H, S, D) tensor. Inference takes the fused loops below — one pass over the tokens of a
// group per level, weights pre-transposed so each token adds a (p x D) panel — and training
// takes summarize_levels, whose LibTorch ops carry the gradients.

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include "cuda_backend.h"
#include "fma_internal.h"
#include "fmav/error.h"
#include "fused_tiles.h"

namespace fmav {
namespace {

Pyramid pyramid_autograd(const at::Tensor& k, const at::Tensor& v, const Levels& lv, const FmaConfig& config,
                         const FmaWeights& weights) {
  const std::vector<at::Tensor> ks = summarize_levels(k, config, weights, Stream::k);
  const std::vector<at::Tensor> vs = summarize_levels(v, config, weights, Stream::v);
  std::vector<at::Tensor> kc{at::zeros({k.size(0), k.size(1), 0, k.size(3)}, k.options())}, vc{kc[0]};
  Pyramid out;
  for (int l = 1; l <= lv.num_levels; ++l) {
    kc.push_back(ks[l - 1].flatten(2, 3));
    vc.push_back(vs[l - 1].flatten(2, 3));
    out.log_mult.push_back(level_log_mult(config, lv.n, l));
  }
  out.kc = at::cat(kc, 2), out.vc = at::cat(vc, 2);
  return out;
}

// One group's p summaries of x (BH, N, D) into out rows [row, row + p) of every head.
template <typename T>
void summarize_group(const T* x, T* out, std::int64_t bh, std::int64_t n, std::int64_t d, std::int64_t slots,
                     std::int64_t row, std::int64_t t0, std::int64_t width, const FmaConfig& config, const T* wt,
                     const T* bias) {
  const std::int64_t p = config.rank, t_end = std::min(t0 + width, n);
  constexpr std::int64_t kChunk = 16;  // tokens whose weight panels (16 p D) stay in L1 across heads
  for (std::int64_t h = 0; h < bh; ++h) {
    T* acc = out + (h * slots + row) * d;
    if (config.downsample == Downsample::learned) {
      std::copy(bias, bias + p * d, acc);
    } else {
      std::fill(acc, acc + p * d, T(0));
    }
  }
  if (config.downsample == Downsample::average) {
    const std::int64_t sub = width / p;
    for (std::int64_t h = 0; h < bh; ++h) {
      for (std::int64_t j = 0; j < p; ++j) {
        T* acc = out + (h * slots + row + j) * d;
        const std::int64_t lo = t0 + j * sub, hi = std::min(lo + sub, n);
        for (std::int64_t t = lo; t < hi; ++t) {
          for (std::int64_t c = 0; c < d; ++c) acc[c] += x[(h * n + t) * d + c];
        }
        for (std::int64_t c = 0; c < d && hi > lo; ++c) acc[c] /= static_cast<T>(hi - lo);
      }
    }
    return;
  }
  for (std::int64_t c0 = t0; c0 < t_end; c0 += kChunk) {
    const std::int64_t count = std::min(c0 + kChunk, t_end) - c0;
    for (std::int64_t h = 0; h < bh; ++h) {
      summary_accumulate(out + (h * slots + row) * d, wt + (c0 - t0) * p * d, x + (h * n + c0) * d, d, count, p, d);
    }
  }
}

// Learned weights (p D, 1, w) with row c p + j, to (w, p, D): token t's (p x D) panel
// contiguous. Parallel over tokens; reads run along t, the fast axis of the source.
template <typename T>
at::Tensor token_panels(const at::Tensor& weight, std::int64_t d, std::int64_t p, std::int64_t width) {
  at::Tensor out = at::empty({width, p, d}, weight.options());
  const at::Tensor w = weight.contiguous();
  const T* src = w.data_ptr<T>();
  T* dst = out.data_ptr<T>();
  at::parallel_for(0, width, 64, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t c = 0; c < d; ++c) {
      for (std::int64_t j = 0; j < p; ++j) {
        const T* row = src + (c * p + j) * width;
        for (std::int64_t t = t0; t < t1; ++t) dst[(t * p + j) * d + c] = row[t];
      }
    }
  });
  return out;
}

// Every level's summaries of one stream x (BH, n, D) into out (BH, S, D) rows base_l + g p + j.
template <typename T>
void pyramid_fused(const at::Tensor& x, const Levels& lv, const FmaConfig& config, const FmaWeights& weights,
                   Stream stream, at::Tensor& out) {
  const std::int64_t bh = x.size(0) * x.size(1), n = x.size(2), d = x.size(3), p = config.rank;
  const std::int64_t slots = out.size(2);
  std::int64_t base = 0;
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t width = lv.width(l), groups = lv.groups(l);
    // Weights (p D, 1, w) -> (w, p, D): token t's panel is contiguous; bias (p D) -> (p, D).
    at::Tensor xw, xb;
    if (config.downsample == Downsample::learned) {
      const Summarizer& s = weights[l - 1].of(stream);
      xw = token_panels<T>(s.weight, d, p, width);
      xb = s.bias.view({d, p}).t().contiguous();
    }
    const auto ptr = [](const at::Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; };
    at::parallel_for(0, groups, 1, [&](std::int64_t g0, std::int64_t g1) {
      for (std::int64_t g = g0; g < g1; ++g) {
        summarize_group(x.data_ptr<T>(), out.data_ptr<T>(), bh, n, d, slots, base + g * p, g * width, width,
                        config, ptr(xw), ptr(xb));
      }
    });
    base += groups * p;
  }
}

}  // namespace

bool stream_needs_autograd(const at::Tensor& x, const FmaWeights& weights, Stream stream) {
  if (!at::GradMode::is_enabled()) return false;
  bool any = x.requires_grad();
  for (const LevelWeights& w : weights) {
    const Summarizer& s = w.of(stream);
    for (const at::Tensor* t : {&s.weight, &s.col_weight, &s.bias}) any = any || (t->defined() && t->requires_grad());
  }
  return any;
}

bool fused_pyramid_takes(const at::Tensor& x, const FmaConfig& config) {
  if (config.is_2d() || config.downsample == Downsample::dense) return false;
  if (x.is_cpu()) return x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble;
  return x.is_cuda() && cuda_kernels_take(x.scalar_type(), x.size(3));
}

at::Tensor pyramid_stream(const at::Tensor& x, const Levels& lv, const FmaConfig& config, const FmaWeights& weights,
                          Stream stream) {
  FMAV_ASSERT(fused_pyramid_takes(x, config), "no fused pyramid for ", variant_name(config), " of a ",
              scalar_type_name(x.scalar_type()), " tensor on ", x.device().str());
  if (x.is_cuda()) return pyramid_stream_cuda(x, lv, config, weights, stream);
  std::int64_t slots = 0;
  for (int l = 1; l <= lv.num_levels; ++l) slots += lv.groups(l) * config.rank;
  const at::Tensor xc = x.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(1), slots, x.size(3)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pyramid_stream", [&] {
    pyramid_fused<scalar_t>(xc, lv, config, weights, stream, out);
  });
  return out;
}

Pyramid build_pyramid(const at::Tensor& k, const at::Tensor& v, const Levels& lv, const FmaConfig& config,
                      const FmaWeights& weights) {
  if (!fused_pyramid_takes(k, config) || stream_needs_autograd(k, weights, Stream::k) ||
      stream_needs_autograd(v, weights, Stream::v)) {
    return pyramid_autograd(k, v, lv, config, weights);
  }
  Pyramid out;
  out.kc = pyramid_stream(k, lv, config, weights, Stream::k);
  out.vc = pyramid_stream(v, lv, config, weights, Stream::v);
  for (int l = 1; l <= lv.num_levels; ++l) out.log_mult.push_back(level_log_mult(config, lv.n, l));
  return out;
}

}  // namespace fmav
