// The public attention entry point on host tensors (fmav/attend.h): shape handling,
// option checks, and the choice between the FMA and full-attention implementations.

#include <cmath>
#include <vector>

#include "base/random.h"
#include "fma_internal.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "peers.h"

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

WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed) {
  validate(config);
  FMAV_CHECK(dim >= 1, "head dimension D must be >= 1, got ", dim);
  WeightSet set;
  if (config.downsample == Downsample::average) return set;
  SplitMix64 rng(seed);
  const std::int64_t in = config.downsample == Downsample::dense ? dim : 1;
  const auto draw = [&](std::vector<std::int64_t> shape, double bound) {
    HostTensor t = make_host_tensor(DType::f32, std::move(shape));
    for (std::int64_t e = 0; e < t.numel(); ++e) t.f32()[e] = rng.uniform(-bound, bound);
    return t;
  };
  // K and V of every level first, then Q: FMA and FMA-linear draw the same K, V weights.
  for (const bool queries : {false, true}) {
    for (int l = 1; l <= num_levels && (!queries || config.linear); ++l) {
      const std::int64_t width = config.block_size << (l - 1);
      for (const char* which : queries ? std::vector<const char*>{"q"} : std::vector<const char*>{"k", "v"}) {
        const std::string name = "level" + std::to_string(l) + "." + which + ".";
        if (config.is_2d()) {
          // A cell's kernel is the product of the two: fan-in c^2, like a c x c convolution.
          const double bound = 1.0 / std::sqrt(static_cast<double>(width));
          set[name + "row.weight"] = draw({config.rank * dim, 1, width}, bound);
          set[name + "col.weight"] = draw({config.rank * dim, 1, width}, bound);
          set[name + "bias"] = draw({config.rank * dim}, bound * bound);
        } else {
          const double bound = 1.0 / std::sqrt(static_cast<double>(in * width));
          set[name + "weight"] = draw({config.rank * dim, in, width}, bound);
          set[name + "bias"] = draw({config.rank * dim}, bound);
        }
      }
    }
  }
  return set;
}

namespace {

// attend() on tensors already on their device (B, H, N, D).
at::Tensor attend_on(const at::Tensor& tq, const at::Tensor& tk, const at::Tensor& tv, const AttendOptions& options,
                     const WeightSet& weights, bool cuda) {
  at::Tensor out;
  if (options.method == Method::fma) {
    const FmaConfig& config = options.fma;
    validate(config);
    // The fused kernels: FMA-1D and FMA-linear on the CPU; FMA-1D on CUDA.
    const bool fusable = !config.is_2d() && !(cuda && config.linear);
    const Impl impl = options.impl != Impl::automatic ? options.impl : fusable ? Impl::fused : Impl::blocked;
    FMAV_CHECK(impl == Impl::reference || impl == Impl::blocked || impl == Impl::fused || impl == Impl::composed,
               "impl for ", variant_name(config), " must be reference, blocked, fused or composed, got ",
               to_string(impl));
    FMAV_CHECK(impl != Impl::fused || fusable, cuda ? "on CUDA the fused kernels are FMA-1D's; "
                                                         : "the fused kernels are 1D (fma, fma-linear); ",
               variant_name(config), " runs blocked or reference");
    FMAV_CHECK(impl != Impl::composed || (!config.is_2d() && !config.linear),
               "the composed implementation is FMA-1D's (fma); ", variant_name(config),
               " runs fused, blocked or reference");
    const int L = num_levels(config, tq.size(2));
    const FmaWeights w = to_fma_weights(weights, config, tq.size(3), L, tq.scalar_type());
    if (impl == Impl::reference) {
      check_dense_size(tq, reference_columns(config, tq.size(2)), "the reference FMA");
      out = fma_reference(tq, tk, tv, config, w);
    } else if (impl == Impl::blocked) {
      out = fma_blocked(tq, tk, tv, config, w);
    } else if (impl == Impl::composed) {
      out = fma_composed(tq, tk, tv, config, w);
    } else if (config.linear) {
      out = fma_linear_fused(tq, tk, tv, config, w);
    } else {
      // auto: on CUDA the faster of the fused kernels and the composed calls for this shape.
      out = options.impl == Impl::automatic ? fma_auto(tq, tk, tv, config, w) : fma_fused(tq, tk, tv, config, w);
    }
  } else if (is_peer(options.method)) {
    validate_peer(options, tq.size(2));
    const bool local = options.method == Method::local;
    const Impl impl = options.impl == Impl::automatic ? (local ? Impl::fused : Impl::blocked) : options.impl;
    FMAV_CHECK(impl == Impl::reference || impl == (local ? Impl::fused : Impl::blocked), "impl for ",
               to_string(options.method), " must be reference or ", local ? "fused" : "blocked", ", got ",
               to_string(impl));
    if (impl == Impl::reference) {
      check_dense_size(tq, tq.size(2), "the peers' dense reference");
      out = peer_reference(tq, tk, tv, options);
    } else {
      out = peer_attention(tq, tk, tv, options);
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
  return out;
}

}  // namespace

HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights) {
  const at::Tensor tq = as_bhnd(q, "q"), tk = as_bhnd(k, "k"), tv = as_bhnd(v, "v");
  FMAV_CHECK(q.shape == k.shape && q.shape == v.shape, "q, k and v must have the same shape, got q ",
             shape_str(q.shape), ", k ", shape_str(k.shape), ", v ", shape_str(v.shape));
  check_qkv(tq, tk, tv);
  const Device device = resolve_device(options.device);
  if (device == Device::cuda) {
    FMAV_CHECK(q.dtype == DType::f32, "on CUDA, q, k and v must be float32 (float64 is the CPU's reference), got ",
               dtype_name(q.dtype));
    FMAV_CHECK(!is_peer(options.method), to_string(options.method), " runs on the CPU only; use --device cpu");
    return to_host(attend_on(tq.cuda(), tk.cuda(), tv.cuda(), options, weights, true).reshape(q.shape));
  }
  return to_host(attend_on(tq, tk, tv, options, weights, false).reshape(q.shape));
}

at::Tensor one_head(const at::Tensor& bhnd, std::int64_t batch, std::int64_t head, at::ScalarType dtype) {
  FMAV_CHECK(batch >= 0 && batch < bhnd.size(0), "batch ", batch, " outside [0, ", bhnd.size(0), ")");
  FMAV_CHECK(head >= 0 && head < bhnd.size(1), "head ", head, " outside [0, ", bhnd.size(1), ")");
  return bhnd.narrow(0, batch, 1).narrow(1, head, 1).to(dtype).contiguous();
}

HostTensor head_of(const HostTensor& x, std::int64_t batch, std::int64_t head, DType dtype) {
  const at::Tensor t = as_bhnd(x, "x");
  FMAV_CHECK(dtype == DType::f32 || dtype == DType::f64, "head_of: dtype must be F32 or F64, got ",
             dtype_name(dtype));
  return to_host(one_head(t, batch, head, dtype == DType::f64 ? at::kDouble : at::kFloat));
}

}  // namespace fmav
