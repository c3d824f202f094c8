#pragma once
// Helpers shared by the engine suites: random inputs, conversions to the naive oracle's
// flat vectors, and a check that a call throws fmav::Error with a given message.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fma_internal.h"
#include "fmav/error.h"
#include "naive_fma.h"

namespace fmav_test {

// (B, H, N, D) standard normal in the given dtype, from a fixed seed.
inline at::Tensor random_bhnd(std::int64_t b, std::int64_t h, std::int64_t n, std::int64_t d,
                              std::uint64_t seed, at::ScalarType dtype = at::kDouble) {
  at::manual_seed(seed);
  return at::randn({b, h, n, d}, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

inline std::vector<double> flat(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

inline NaiveWeights naive_weights(const fmav::WeightSet& set) {
  NaiveWeights out;
  for (const auto& [name, host] : set) out[name] = flat(fmav::to_tensor(host));
  return out;
}

inline fmav::Downsample parse_kind(const std::string& kind) { return fmav::parse_downsample(kind); }

inline fmav::FmaConfig to_config(const NaiveConfig& c) {
  fmav::FmaConfig config;
  config.block_size = c.m;
  config.rank = c.p;
  config.causal = c.causal;
  config.downsample = parse_kind(c.kind);
  config.count_multiplicity = c.multiplicity;
  return config;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.numel() == 0) return 0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// Runs fn and checks it throws fmav::Error whose message contains `expected`.
template <typename Fn>
void expect_error(Fn&& fn, const std::string& expected) {
  try {
    fn();
    ADD_FAILURE() << "expected fmav::Error containing '" << expected << "', nothing thrown";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message '" << e.what() << "' lacks '" << expected << "'";
  }
}

}  // namespace fmav_test
