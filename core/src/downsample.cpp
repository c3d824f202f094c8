// Down-sampling of K and V into p summary tokens per group and level (DESIGN.md §2):
// learned depth-wise Conv1d, fixed averages, or dense channel-mixing Conv1d.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
namespace {

std::vector<std::int64_t> expected_weight_shape(const FmaConfig& config, std::int64_t dim,
                                                std::int64_t width) {
  const std::int64_t in = config.downsample == Downsample::dense ? dim : 1;
  return {config.rank * dim, in, width};
}

at::Tensor take_weight(const WeightSet& set, const std::string& name,
                       const std::vector<std::int64_t>& shape, const FmaConfig& config,
                       int num_levels, at::ScalarType dtype) {
  const auto it = set.find(name);
  FMAV_CHECK(it != set.end(), "weights lack '", name, "': ", to_string(config.downsample),
             " down-sampling with this N and block size needs levels 1..", num_levels);
  const HostTensor& host = it->second;
  FMAV_CHECK(host.dtype == DType::f32 || host.dtype == DType::f64, "weights: ", name,
             " must be float32 or float64, got ", dtype_name(host.dtype));
  FMAV_CHECK(host.shape == shape, "weights: ", name, " must be ", shape_str(shape), " for ",
             to_string(config.downsample), " down-sampling with p = ", config.rank,
             ", got ", shape_str(host.shape));
  return to_tensor(host).to(dtype);
}

// x (B, H, N_pad, D) -> (B, H, G, p, D) for one level.
at::Tensor summarize(const at::Tensor& x, const Levels& levels, const FmaConfig& config,
                     int level, const at::Tensor& weight, const at::Tensor& bias,
                     const at::Tensor& counts) {
  const std::int64_t B = x.size(0), H = x.size(1), D = x.size(3);
  const std::int64_t w = levels.width(level), G = levels.groups(level), p = config.rank;
  switch (config.downsample) {
    case Downsample::average: {
      // Mean over the real members of each sub-window; padding is zero, so sum / count.
      const at::Tensor sums = x.reshape({B, H, G, p, w / p, D}).sum(4);
      return sums / counts.clamp_min(1).view({1, 1, G, p, 1});
    }
    case Downsample::learned: {
      // K~[g, j, c] = sum_t W[c, j, t] K[g w + t, c] + b[c, j]
      const at::Tensor xg = x.reshape({B, H, G, w, D});
      const at::Tensor out = at::einsum("bhgtc,cjt->bhgjc", {xg, weight.view({D, p, w})});
      return out + bias.view({D, p}).t();
    }
    case Downsample::dense: {
      // K~[g, j, c] = sum_{c', t} W[c p + j, c', t] K[g w + t, c'] + b[c p + j]
      const at::Tensor flat_w = weight.view({D * p, D, w}).permute({0, 2, 1}).reshape({D * p, w * D});
      const at::Tensor out = at::matmul(x.reshape({B, H, G, w * D}), flat_w.t());
      return out.view({B, H, G, D, p}).transpose(3, 4) + bias.view({D, p}).t();
    }
  }
  throw Error("unknown down-sampling kind");
}

}  // namespace

FmaWeights to_fma_weights(const WeightSet& set, const FmaConfig& config, std::int64_t dim,
                          int num_levels, at::ScalarType dtype) {
  FmaWeights out;
  if (config.downsample == Downsample::average) return out;
  const Levels geometry = make_levels(1, config.block_size);  // width() needs only m
  for (int l = 1; l <= num_levels; ++l) {
    const std::vector<std::int64_t> w_shape = expected_weight_shape(config, dim, geometry.width(l));
    const std::vector<std::int64_t> b_shape = {config.rank * dim};
    const std::string prefix = "level" + std::to_string(l) + ".";
    LevelWeights lw;
    lw.k_weight = take_weight(set, prefix + "k.weight", w_shape, config, num_levels, dtype);
    lw.k_bias = take_weight(set, prefix + "k.bias", b_shape, config, num_levels, dtype);
    lw.v_weight = take_weight(set, prefix + "v.weight", w_shape, config, num_levels, dtype);
    lw.v_bias = take_weight(set, prefix + "v.bias", b_shape, config, num_levels, dtype);
    out.push_back(lw);
  }
  return out;
}

at::Tensor level_log_mult(const Levels& levels, const FmaConfig& config, int level) {
  const std::int64_t G = levels.groups(level), p = config.rank;
  std::vector<double> log_mult(G * p);
  for (std::int64_t g = 0; g < G; ++g) {
    for (std::int64_t j = 0; j < p; ++j) {
      const double mult = slot_multiplicity(levels, config, level, g, j);
      log_mult[g * p + j] = mult <= 0 ? -std::numeric_limits<double>::infinity()
                            : config.count_multiplicity ? std::log(mult) : 0.0;
    }
  }
  return at::tensor(log_mult, at::TensorOptions().dtype(at::kDouble)).view({G, p});
}

LevelSummaries downsample_level(const at::Tensor& k_pad, const at::Tensor& v_pad,
                                const Levels& levels, const FmaConfig& config, int level,
                                const FmaWeights& weights) {
  const std::int64_t G = levels.groups(level), p = config.rank;
  // Real tokens per slot (§2 padding): averages divide by them.
  std::vector<double> counts(G * p);
  for (std::int64_t g = 0; g < G; ++g) {
    for (std::int64_t j = 0; j < p; ++j) {
      std::int64_t begin = 0, end = 0;
      slot_span(levels, config, level, g, j, &begin, &end);
      counts[g * p + j] = static_cast<double>(end - begin);
    }
  }
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor count_t = at::tensor(counts, opts).view({G, p}).to(k_pad.options());
  LevelSummaries out;
  out.log_mult = level_log_mult(levels, config, level).to(k_pad.options());
  at::Tensor kw, kb, vw, vb;
  if (config.downsample != Downsample::average) {
    FMAV_ASSERT(static_cast<int>(weights.size()) >= level, "no weights for level ", level);
    const LevelWeights& lw = weights[level - 1];
    kw = lw.k_weight, kb = lw.k_bias, vw = lw.v_weight, vb = lw.v_bias;
  }
  out.k = summarize(k_pad, levels, config, level, kw, kb, count_t);
  out.v = summarize(v_pad, levels, config, level, vw, vb, count_t);
  return out;
}

}  // namespace fmav
