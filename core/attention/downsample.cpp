// Down-sampling of K, V (and, for the linear variants, Q) into p summary tokens per group
// and level: docs/DESIGN.md §2 in 1D (learned depth-wise Conv1d, fixed averages, dense Conv1d)
// and §4 in 2D (learned separable rows-then-columns kernels, fixed averages).

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"
#include "fmav/fma2d.h"

namespace fmav {
namespace {

const char* stream_name(Stream stream) {
  switch (stream) {
    case Stream::k: return "k";
    case Stream::v: return "v";
    case Stream::q: return "q";
  }
  return "?";
}

at::Tensor take_weight(const WeightSet& set, const std::string& name,
                       const std::vector<std::int64_t>& shape, const FmaConfig& config,
                       int num_levels, at::ScalarType dtype) {
  const auto it = set.find(name);
  FMAV_CHECK(it != set.end(), "weights lack '", name, "': ", variant_name(config), " with ",
             to_string(config.downsample),
             " down-sampling at this N and block size needs levels 1..", num_levels);
  const HostTensor& host = it->second;
  FMAV_CHECK(host.dtype == DType::f32 || host.dtype == DType::f64, "weights: ", name,
             " must be float32 or float64, got ", dtype_name(host.dtype));
  FMAV_CHECK(host.shape == shape, "weights: ", name, " must be ", shape_str(shape), " for ",
             to_string(config.downsample), " down-sampling with p = ", config.rank,
             ", got ", shape_str(host.shape));
  return to_tensor(host).to(dtype);
}

// x (B, H, N_pad, D) -> (B, H, G, p, D) for one level of FMA-1D.
at::Tensor summarize_1d(const at::Tensor& x, std::int64_t w, const FmaConfig& config,
                        const Summarizer& s, const at::Tensor& counts) {
  const std::int64_t B = x.size(0), H = x.size(1), D = x.size(3);
  const std::int64_t G = x.size(2) / w, p = config.rank;
  switch (config.downsample) {
    case Downsample::average: {
      // Mean over the real members of each sub-window; padding is zero, so sum / count.
      const at::Tensor sums = x.reshape({B, H, G, p, w / p, D}).sum(4);
      return sums / counts.clamp_min(1).view({1, 1, G, p, 1});
    }
    case Downsample::learned: {
      // K~[g, j, c] = sum_t W[c, j, t] K[g w + t, c] + b[c, j]
      const at::Tensor xg = x.reshape({B, H, G, w, D});
      const at::Tensor out = at::einsum("bhgtc,cjt->bhgjc", {xg, s.weight.view({D, p, w})});
      return out + s.bias.view({D, p}).t();
    }
    case Downsample::dense: {
      // K~[g, j, c] = sum_{c', t} W[c p + j, c', t] K[g w + t, c'] + b[c p + j]
      const at::Tensor flat_w = s.weight.view({D * p, D, w}).permute({0, 2, 1}).reshape({D * p, w * D});
      const at::Tensor out = at::matmul(x.reshape({B, H, G, w * D}), flat_w.t());
      return out.view({B, H, G, D, p}).transpose(3, 4) + s.bias.view({D, p}).t();
    }
  }
  throw Error("unknown down-sampling kind");
}

// x (B, H, S, S, D), the zero-padded grid -> (B, H, n * n, p, D) with cells row-major, for
// one level of FMA2D with cell side c (§4).
at::Tensor summarize_2d(const at::Tensor& x, std::int64_t c, const FmaConfig& config,
                        const Summarizer& s, const at::Tensor& counts) {
  const std::int64_t B = x.size(0), H = x.size(1), S = x.size(2), D = x.size(4);
  const std::int64_t n = S / c, p = config.rank;
  if (config.downsample == Downsample::average) {
    const std::int64_t r = rank_side(p), sub = c / r;
    // (B, H, n, r, sub, n, r, sub, D): sum each sub-window, order (cy, cx, sy, sx).
    const at::Tensor sums = x.reshape({B, H, n, r, sub, n, r, sub, D}).sum({4, 7});
    const at::Tensor cells = sums.permute({0, 1, 2, 4, 3, 5, 6}).reshape({B, H, n * n, p, D});
    return cells / counts.clamp_min(1).view({1, 1, n * n, p, 1});
  }
  // Rows first: contract x inside each cell row with the row kernel, then y with the column
  // kernel: K~[cell, j, ch] = sum_y Wc[ch, j, y] sum_x Wr[ch, j, x] K[y, x, ch] + b[ch, j].
  const at::Tensor xg = x.reshape({B, H, n, c, n, c, D});
  const at::Tensor rows = at::einsum("zhaybxd,djx->zhaybjd", {xg, s.weight.view({D, p, c})});
  const at::Tensor cells = at::einsum("zhaybjd,djy->zhabjd", {rows, s.col_weight.view({D, p, c})});
  return cells.reshape({B, H, n * n, p, D}) + s.bias.view({D, p}).t();
}

// Real tokens per slot of one level, (G, p) in the natural group order.
at::Tensor slot_counts(const FmaConfig& config, std::int64_t n, int level) {
  std::vector<double> counts;
  if (config.is_2d()) {
    const Levels2d lv = make_levels_2d(config.grid_height, config.grid_width, config.block_size);
    const std::int64_t cells = lv.cells(level);
    for (std::int64_t cy = 0; cy < cells; ++cy) {
      for (std::int64_t cx = 0; cx < cells; ++cx) {
        for (std::int64_t j = 0; j < config.rank; ++j) {
          counts.push_back(static_cast<double>(slot_rect_2d(lv, config, level, cy, cx, j).count()));
        }
      }
    }
  } else {
    const Levels lv = make_levels(n, config.block_size);
    for (std::int64_t g = 0; g < lv.groups(level); ++g) {
      for (std::int64_t j = 0; j < config.rank; ++j) {
        std::int64_t begin = 0, end = 0;
        slot_span(lv, config, level, g, j, &begin, &end);
        counts.push_back(static_cast<double>(end - begin));
      }
    }
  }
  const std::int64_t G = static_cast<std::int64_t>(counts.size()) / config.rank;
  return at::tensor(counts, at::TensorOptions().dtype(at::kDouble)).view({G, config.rank});
}

}  // namespace

FmaWeights weights_to(FmaWeights weights, const at::TensorOptions& options) {
  for (LevelWeights& level : weights) {
    for (Stream s : {Stream::k, Stream::v, Stream::q}) {
      for (at::Tensor* t : {&level.of(s).weight, &level.of(s).col_weight, &level.of(s).bias}) {
        if (t->defined()) *t = t->to(options);
      }
    }
  }
  return weights;
}

FmaWeights to_fma_weights(const WeightSet& set, const FmaConfig& config, std::int64_t dim,
                          int num_levels, at::ScalarType dtype) {
  FmaWeights out;
  if (config.downsample == Downsample::average) return out;
  const std::int64_t in = config.downsample == Downsample::dense ? dim : 1;
  const std::vector<std::int64_t> b_shape = {config.rank * dim};
  for (int l = 1; l <= num_levels; ++l) {
    const std::int64_t width = config.block_size << (l - 1);  // w_l in 1D, cell side in 2D
    const std::vector<std::int64_t> w_shape = {config.rank * dim, in, width};
    const std::string prefix = "level" + std::to_string(l) + ".";
    LevelWeights lw;
    for (Stream stream : {Stream::k, Stream::v, Stream::q}) {
      if (stream == Stream::q && !config.linear) continue;
      const std::string name = prefix + stream_name(stream) + ".";
      Summarizer s;
      if (config.is_2d()) {
        s.weight = take_weight(set, name + "row.weight", w_shape, config, num_levels, dtype);
        s.col_weight = take_weight(set, name + "col.weight", w_shape, config, num_levels, dtype);
      } else {
        s.weight = take_weight(set, name + "weight", w_shape, config, num_levels, dtype);
      }
      s.bias = take_weight(set, name + "bias", b_shape, config, num_levels, dtype);
      lw.of(stream) = s;
    }
    out.push_back(lw);
  }
  return out;
}

at::Tensor level_log_mult(const FmaConfig& config, std::int64_t n, int level) {
  const at::Tensor counts = slot_counts(config, n, level);
  // A learned or dense slot's span is its whole group: its real tokens, shared by p slots.
  const at::Tensor mult = config.downsample == Downsample::average
                              ? counts
                              : counts / static_cast<double>(config.rank);
  const at::Tensor logs = config.count_multiplicity ? mult.log() : at::zeros_like(mult);
  return at::where(counts > 0, logs, at::full({}, -std::numeric_limits<double>::infinity(), logs.options()));
}

std::vector<at::Tensor> summarize_levels(const at::Tensor& x, const FmaConfig& config,
                                         const FmaWeights& weights, Stream stream) {
  const std::int64_t B = x.size(0), H = x.size(1), N = x.size(2), D = x.size(3);
  const int L = num_levels(config, N);
  std::vector<at::Tensor> out;
  if (L == 0) return out;
  if (fused_pyramid_takes(x, config) && !stream_needs_autograd(x, weights, stream)) {
    // Inference in 1D: the fused loops (or the CUDA kernel), a pass over the tokens per level
    // without the copies einsum makes (they grew as N log N and dominated FMA-linear's time).
    const Levels lv = make_levels(N, config.block_size);
    const at::Tensor flat = pyramid_stream(x, lv, config, weights, stream);
    std::int64_t base = 0;
    for (int l = 1; l <= L; ++l) {
      out.push_back(flat.narrow(2, base, lv.groups(l) * config.rank).view({B, H, lv.groups(l), config.rank, D}));
      base += lv.groups(l) * config.rank;
    }
    return out;
  }
  at::Tensor padded;
  if (config.is_2d()) {
    const Levels2d lv = make_levels_2d(config.grid_height, config.grid_width, config.block_size);
    const at::Tensor grid = x.reshape({B, H, lv.height, lv.width, D});
    padded = at::constant_pad_nd(grid, {0, 0, 0, lv.side - lv.width, 0, lv.side - lv.height});
  } else {
    padded = pad_tokens(x, make_levels(N, config.block_size).n_pad);
  }
  for (int l = 1; l <= L; ++l) {
    Summarizer s;
    if (config.downsample != Downsample::average) {
      FMAV_ASSERT(static_cast<int>(weights.size()) >= l, "no weights for level ", l);
      s = weights[l - 1].of(stream);
      FMAV_ASSERT(s.weight.defined(), "no ", stream_name(stream), " weights for level ", l);
    }
    const at::Tensor counts = slot_counts(config, N, l).to(x.options());
    const std::int64_t width = config.block_size << (l - 1);
    out.push_back(config.is_2d() ? summarize_2d(padded, width, config, s, counts)
                                 : summarize_1d(padded, width, config, s, counts));
  }
  return out;
}

}  // namespace fmav
