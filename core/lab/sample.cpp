// The shipped synthetic input (fmav/sample.h): sinusoidal positions make attention mostly
// local, and a few landmark keys that every query likes make long-range structure visible.

#include <cmath>

#include "fmav/error.h"
#include "fmav/sample.h"
#include "base/random.h"

namespace fmav {

SampleQkv sample_qkv(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  FMAV_CHECK(n >= 1, "sample length n must be >= 1, got ", n);
  FMAV_CHECK(d >= 2, "sample head dimension d must be >= 2, got ", d);
  SampleQkv out{make_host_tensor(DType::f32, {1, 1, n, d}), make_host_tensor(DType::f32, {1, 1, n, d}),
                make_host_tensor(DType::f32, {1, 1, n, d})};
  SplitMix64 rng(seed);
  const std::int64_t pairs = d / 2;
  // q_i . k_j = a^2 sum_f cos(w_f (i - j)): peak logit ~ 8 after the 1/sqrt(d) scaling.
  const double amplitude = std::sqrt(16.0 / std::sqrt(static_cast<double>(d)));
  const std::int64_t landmark_every = n >= 16 ? n / 8 : n + 1;
  float* q = out.q.f32();
  float* k = out.k.f32();
  float* v = out.v.f32();
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t f = 0; f < pairs; ++f) {
      const double omega = std::pow(static_cast<double>(n), -static_cast<double>(f) / pairs);
      const double c = amplitude * std::cos(omega * i), s = amplitude * std::sin(omega * i);
      q[i * d + 2 * f] = static_cast<float>(c + 0.3 * rng.normal());
      q[i * d + 2 * f + 1] = static_cast<float>(s + 0.3 * rng.normal());
      k[i * d + 2 * f] = static_cast<float>(c + 0.3 * rng.normal());
      k[i * d + 2 * f + 1] = static_cast<float>(s + 0.3 * rng.normal());
    }
    if (d % 2) q[i * d + d - 1] = k[i * d + d - 1] = 0.0f;
    // Landmarks: a strong key on the last channel that every query weakly points at.
    const bool landmark = landmark_every <= n && i % landmark_every == landmark_every / 2;
    q[i * d + d - 1] += 1.5f;
    k[i * d + d - 1] += landmark ? 6.0f : 0.0f;
    for (std::int64_t c = 0; c < d; ++c) v[i * d + c] = static_cast<float>(rng.normal());
  }
  return out;
}

}  // namespace fmav
