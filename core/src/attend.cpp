// The public attention entry point on host tensors (fmav/attend.h): shape handling,
// option checks, and the choice between the FMA and full-attention implementations.

#include <cmath>

#include "fma_internal.h"
#include "fmav/error.h"
#include "random.h"

namespace fmav {
namespace {

// Dense paths build (B, H, N, N)-sized tensors; refuse sizes this machine cannot hold.
constexpr double kDenseLimitBytes = 8.0 * (1ull << 30);

void check_dense_size(const at::Tensor& q, std::int64_t columns, const char* what) {
  // Scores and probabilities are both alive at the softmax.
  const double bytes = 2.0 * static_cast<double>(q.size(0)) * q.size(1) * q.size(2) * columns *
                       q.element_size();
  FMAV_CHECK(bytes <= kDenseLimitBytes, what, " builds dense (B, H, N, N) scores: q ",
             shape_str(q.sizes().vec()), " needs ", std::ceil(bytes / (1 << 30)),
             " GiB, over the 8 GiB limit; use the blocked FMA or SDPA");
}

}  // namespace

at::Tensor as_bhnd(const HostTensor& x, const char* name) {
  FMAV_CHECK(x.shape.size() >= 2 && x.shape.size() <= 4, name,
             " must be (B, H, N, D), (H, N, D) or (N, D), got ", shape_str(x.shape));
  FMAV_CHECK(x.dtype == DType::f32 || x.dtype == DType::f64, name,
             " must be float32 or float64, got ", dtype_name(x.dtype));
  at::Tensor t = to_tensor(x);
  while (t.dim() < 4) t = t.unsqueeze(0);
  return t;
}

const char* to_string(Method method) { return method == Method::fma ? "fma" : "full"; }

const char* to_string(Impl impl) {
  switch (impl) {
    case Impl::automatic: return "auto";
    case Impl::reference: return "reference";
    case Impl::blocked: return "blocked";
    case Impl::fused: return "fused";
    case Impl::math: return "math";
    case Impl::sdpa: return "sdpa";
  }
  return "?";
}

Method parse_method(const std::string& name) {
  if (name == "fma") return Method::fma;
  if (name == "full") return Method::full;
  throw Error("method must be fma or full, got '" + name + "'");
}

Impl parse_impl(const std::string& name) {
  for (Impl impl : {Impl::automatic, Impl::reference, Impl::blocked, Impl::fused, Impl::math, Impl::sdpa}) {
    if (name == to_string(impl)) return impl;
  }
  throw Error("impl must be auto, reference, blocked, fused, math or sdpa, got '" + name + "'");
}

WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed) {
  validate(config);
  FMAV_CHECK(dim >= 1, "head dimension D must be >= 1, got ", dim);
  WeightSet set;
  if (config.downsample == Downsample::average) return set;
  SplitMix64 rng(seed);
  const std::int64_t in = config.downsample == Downsample::dense ? dim : 1;
  for (int l = 1; l <= num_levels; ++l) {
    const std::int64_t width = config.block_size << (l - 1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in * width));
    const std::string prefix = "level" + std::to_string(l) + ".";
    for (const char* which : {"k", "v"}) {
      HostTensor weight = make_host_tensor(DType::f32, {config.rank * dim, in, width});
      HostTensor bias = make_host_tensor(DType::f32, {config.rank * dim});
      for (std::int64_t e = 0; e < weight.numel(); ++e) weight.f32()[e] = rng.uniform(-bound, bound);
      for (std::int64_t e = 0; e < bias.numel(); ++e) bias.f32()[e] = rng.uniform(-bound, bound);
      set[prefix + which + ".weight"] = std::move(weight);
      set[prefix + which + ".bias"] = std::move(bias);
    }
  }
  return set;
}

HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights) {
  const at::Tensor tq = as_bhnd(q, "q"), tk = as_bhnd(k, "k"), tv = as_bhnd(v, "v");
  FMAV_CHECK(q.shape == k.shape && q.shape == v.shape, "q, k and v must have the same shape, got q ",
             shape_str(q.shape), ", k ", shape_str(k.shape), ", v ", shape_str(v.shape));
  check_qkv(tq, tk, tv);
  at::Tensor out;
  if (options.method == Method::fma) {
    const FmaConfig& config = options.fma;
    validate(config);
    const Impl impl = options.impl == Impl::automatic ? Impl::fused : options.impl;
    FMAV_CHECK(impl == Impl::reference || impl == Impl::blocked || impl == Impl::fused,
               "impl for fma must be reference, blocked or fused, got ", to_string(impl));
    const Levels levels = make_levels(tq.size(2), config.block_size);
    const FmaWeights w = to_fma_weights(weights, config, tq.size(3), levels.num_levels, tq.scalar_type());
    if (impl == Impl::reference) {
      check_dense_size(tq, reference_columns(levels, config), "the reference FMA");
      out = fma_reference(tq, tk, tv, config, w);
    } else if (impl == Impl::blocked) {
      out = fma_blocked(tq, tk, tv, config, w);
    } else {
      out = fma_fused(tq, tk, tv, config, w);
    }
  } else {
    const Impl impl = options.impl == Impl::automatic ? Impl::sdpa : options.impl;
    FMAV_CHECK(impl == Impl::math || impl == Impl::sdpa,
               "impl for full attention must be math or sdpa, got ", to_string(impl));
    if (impl == Impl::math) {
      check_dense_size(tq, tq.size(2), "full attention (math)");
      out = full_attention_math(tq, tk, tv, options.fma.causal);
    } else {
      out = full_attention_sdpa(tq, tk, tv, options.fma.causal);
    }
  }
  return to_host(out.reshape(q.shape));
}

}  // namespace fmav
