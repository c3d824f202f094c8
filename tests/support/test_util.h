#pragma once
// Helpers shared by the engine suites (LibTorch): random inputs, conversions to the naive
// oracle's flat vectors, gradients; test_helpers.h for the checks every suite shares.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "attention/fma_internal.h"
#include "fmav/error.h"
#include "naive_fma.h"
#include "test_helpers.h"

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

// Random q, k, v and down-sampling weights for any FMA variant (config says which).
struct VariantInputs {
  at::Tensor q, k, v;
  fmav::WeightSet set;
  fmav::FmaWeights weights;
  fmav::FmaConfig config;
};

inline VariantInputs make_variant_inputs(const fmav::FmaConfig& config, std::int64_t b, std::int64_t h,
                                         std::int64_t n, std::int64_t d, std::uint64_t seed,
                                         at::ScalarType dtype = at::kDouble) {
  VariantInputs in;
  in.config = config;
  in.q = random_bhnd(b, h, n, d, seed, dtype);
  in.k = random_bhnd(b, h, n, d, seed + 1, dtype);
  in.v = random_bhnd(b, h, n, d, seed + 2, dtype);
  const int levels = fmav::num_levels(config, n);
  in.set = fmav::random_downsample_weights(config, d, levels, seed + 3);
  in.weights = fmav::to_fma_weights(in.set, config, d, levels, dtype);
  return in;
}

using VariantFn = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const fmav::FmaConfig&, const fmav::FmaWeights&)>;

// Gradients of sum(fn(...) * upstream) with respect to q, k, v and every weight tensor.
inline std::vector<at::Tensor> all_gradients(const VariantFn& fn, const VariantInputs& in,
                                             const at::Tensor& upstream) {
  std::vector<at::Tensor> leaves = {in.q.clone().set_requires_grad(true), in.k.clone().set_requires_grad(true),
                                    in.v.clone().set_requires_grad(true)};
  fmav::FmaWeights w = in.weights;
  for (fmav::LevelWeights& lw : w) {
    for (fmav::Summarizer* s : {&lw.k, &lw.v, &lw.q}) {
      for (at::Tensor* t : {&s->weight, &s->col_weight, &s->bias}) {
        if (!t->defined()) continue;
        *t = t->clone().set_requires_grad(true);
        leaves.push_back(*t);
      }
    }
  }
  (fn(leaves[0], leaves[1], leaves[2], in.config, w) * upstream).sum().backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& t : leaves) {
    EXPECT_TRUE(t.grad().defined()) << "no gradient reached leaf " << grads.size();
    grads.push_back(t.grad().defined() ? t.grad() : at::zeros_like(t));
  }
  return grads;
}

// A fixture with a fresh folder per test under the temporary directory, removed after it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = std::filesystem::temp_directory_path() /
            ("fmav_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(m_dir);
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::string path(const std::string& name = "") const { return (m_dir / name).string(); }

  std::filesystem::path m_dir;
};

}  // namespace fmav_test
