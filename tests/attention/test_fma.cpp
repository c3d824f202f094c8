// FMA-1D (docs/DESIGN.md §2): blocked vs the dense reference, both vs the plain-loop oracle, the
// three exactness checks, causal leakage, gradients, and every input check.

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fmav/attend.h"
#include "test_util.h"

namespace {

using namespace fmav_test;

struct Inputs {
  at::Tensor q, k, v;
  fmav::WeightSet set;
  fmav::FmaWeights weights;
  fmav::FmaConfig config;
};

Inputs make_inputs(const NaiveConfig& c, std::int64_t b, std::int64_t h, std::int64_t n,
                   std::int64_t d, std::uint64_t seed, at::ScalarType dtype = at::kDouble) {
  Inputs in;
  in.config = to_config(c);
  in.q = random_bhnd(b, h, n, d, seed, dtype);
  in.k = random_bhnd(b, h, n, d, seed + 1, dtype);
  in.v = random_bhnd(b, h, n, d, seed + 2, dtype);
  const int levels = fmav::make_levels(n, c.m).num_levels;
  in.set = fmav::random_downsample_weights(in.config, d, levels, seed + 3);
  in.weights = fmav::to_fma_weights(in.set, in.config, d, levels, dtype);
  return in;
}

// The fast implementations, each checked against the dense reference.
using FmaFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, const fmav::FmaConfig&,
                             const fmav::FmaWeights&);
const std::vector<std::pair<std::string, FmaFn>> kFastPaths = {{"blocked", fmav::fma_blocked},
                                                               {"fused", fmav::fma_fused}};
const std::vector<std::pair<std::string, FmaFn>> kAllPaths = {
    {"reference", fmav::fma_reference}, {"blocked", fmav::fma_blocked}, {"fused", fmav::fma_fused}};
// With the composed route (§8.6), which computes the forward only.
const std::vector<std::pair<std::string, FmaFn>> kFastForward = {
    {"blocked", fmav::fma_blocked}, {"fused", fmav::fma_fused}, {"composed", fmav::fma_composed}};
const std::vector<std::pair<std::string, FmaFn>> kEveryForward = {{"reference", fmav::fma_reference},
                                                                  {"blocked", fmav::fma_blocked},
                                                                  {"fused", fmav::fma_fused},
                                                                  {"composed", fmav::fma_composed}};

std::string describe(const NaiveConfig& c, std::int64_t n) {
  return "N=" + std::to_string(n) + " m=" + std::to_string(c.m) + " p=" + std::to_string(c.p) +
         " " + c.kind + (c.causal ? " causal" : " bidirectional") +
         (c.multiplicity ? " multiplicity" : " no-multiplicity");
}

// ---- fast paths vs reference ----

TEST(Fma, FastPathsMatchReferenceFloat64) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> mp = {{16, 4}, {8, 2}, {4, 1}};
  for (std::int64_t n : {1, 7, 64, 97, 1000, 1024, 4096}) {
    for (const auto& [m, p] : mp) {
      if (n == 4096 && m != 16) continue;  // the dense reference is O(N^2): one shape suffices
      for (bool causal : {false, true}) {
        for (const char* kind : {"learned", "average", "dense"}) {
          for (bool mult : {true, false}) {
            NaiveConfig c{m, p, causal, kind, mult};
            const Inputs in = make_inputs(c, 1, 2, n, 8, 100 + n);
            const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights);
            for (const auto& [name, fn] : kFastForward) {
              const at::Tensor out = fn(in.q, in.k, in.v, in.config, in.weights);
              ASSERT_EQ(out.sizes(), in.q.sizes());
              ASSERT_LT(max_abs_diff(ref, out), 1e-12) << name << " " << describe(c, n);
            }
          }
        }
      }
    }
  }
}

TEST(Fma, FastPathsMatchReferenceFloat32) {
  for (std::int64_t n : {97, 1000}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        NaiveConfig c{16, 4, causal, kind, true};
        const Inputs in = make_inputs(c, 2, 2, n, 16, 7, at::kFloat);
        const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights);
        for (const auto& [name, fn] : kFastForward) {
          const at::Tensor out = fn(in.q, in.k, in.v, in.config, in.weights);
          EXPECT_EQ(out.scalar_type(), at::kFloat);
          EXPECT_LT(max_abs_diff(ref, out), 2e-5) << name << " " << describe(c, n);
        }
      }
    }
  }
}

// ---- against the independent plain-loop oracle ----

TEST(Fma, EveryPathMatchesTheOracle) {
  for (std::int64_t n : {1, 7, 97, 300, 1024}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        for (bool mult : {true, false}) {
          NaiveConfig c{8, 2, causal, kind, mult};
          const std::int64_t d = 6;
          const Inputs in = make_inputs(c, 1, 1, n, d, 40 + n);
          const std::vector<double> oracle = naive_fma(flat(in.q), flat(in.k), flat(in.v), n, d, c,
                                                       naive_weights(in.set));
          const at::Tensor expect = at::tensor(oracle, at::kDouble).view({1, 1, n, d});
          const double norm = expect.norm().item<double>();
          for (const auto& [name, fn] : kEveryForward) {
            const at::Tensor out = fn(in.q, in.k, in.v, in.config, in.weights);
            EXPECT_LT((out - expect).norm().item<double>() / norm, 1e-12) << name << " " << describe(c, n);
          }
        }
      }
    }
  }
}

// ---- exactness checks of §2 ----

TEST(Fma, ExactWhenTheNearFieldCoversEverything) {
  for (std::int64_t n : {1, 5, 16, 31, 32}) {  // N <= 2m with m = 16
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        NaiveConfig c{16, 4, causal, kind, true};
        const Inputs in = make_inputs(c, 2, 3, n, 8, 9);
        const at::Tensor full = fmav::full_attention_math(in.q, in.k, in.v, causal);
        for (const auto& [name, fn] : kEveryForward) {
          EXPECT_LT(max_abs_diff(fn(in.q, in.k, in.v, in.config, in.weights), full), 1e-12)
              << name << " " << describe(c, n);
        }
      }
    }
  }
}

TEST(Fma, AverageRankOneEqualsGroupExpandedAttention) {
  for (std::int64_t n : {100, 256, 1000}) {
    for (bool causal : {false, true}) {
      NaiveConfig c{8, 1, causal, "average", true};
      const std::int64_t d = 5;
      const Inputs in = make_inputs(c, 1, 1, n, d, 77);
      const std::vector<double> expanded = group_expanded_attention(flat(in.q), flat(in.k), flat(in.v), n, d, c);
      const at::Tensor expect = at::tensor(expanded, at::kDouble).view({1, 1, n, d});
      for (const auto& [name, fn] : kEveryForward) {
        EXPECT_LT(max_abs_diff(fn(in.q, in.k, in.v, in.config, in.weights), expect), 1e-12)
            << name << " " << describe(c, n);
      }
    }
  }
}

TEST(Fma, CausalOutputsIgnoreTheFutureBitForBit) {
  for (const char* kind : {"learned", "average", "dense"}) {
    for (std::int64_t n : {97, 1000}) {
      NaiveConfig c{8, 2, true, kind, true};
      const Inputs in = make_inputs(c, 1, 2, n, 8, 5, at::kFloat);
      for (std::int64_t cut : {std::int64_t{1}, n / 3, n - 1}) {
        at::Tensor q2 = in.q.clone(), k2 = in.k.clone(), v2 = in.v.clone();
        for (at::Tensor* t : {&q2, &k2, &v2}) {
          t->narrow(2, cut, n - cut).normal_(0.0, 10.0);
        }
        for (const auto& [name, fn] : kEveryForward) {
          const at::Tensor a = fn(in.q, in.k, in.v, in.config, in.weights).narrow(2, 0, cut);
          const at::Tensor b = fn(q2, k2, v2, in.config, in.weights).narrow(2, 0, cut);
          EXPECT_TRUE(at::equal(a, b)) << name << " " << describe(c, n) << " cut=" << cut;
        }
      }
    }
  }
}

// ---- gradients ----

std::vector<at::Tensor> gradients(FmaFn fn, const Inputs& in, const at::Tensor& upstream) {
  std::vector<at::Tensor> leaves = {in.q.clone().set_requires_grad(true), in.k.clone().set_requires_grad(true),
                                    in.v.clone().set_requires_grad(true)};
  fmav::FmaWeights w = in.weights;
  for (fmav::LevelWeights& lw : w) {
    for (at::Tensor* t : {&lw.k.weight, &lw.k.bias, &lw.v.weight, &lw.v.bias}) {
      *t = t->clone().set_requires_grad(true);
      leaves.push_back(*t);
    }
  }
  const at::Tensor out = fn(leaves[0], leaves[1], leaves[2], in.config, w);
  (out * upstream).sum().backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& t : leaves) grads.push_back(t.grad());
  return grads;
}

// Gradients of q, k, v and every weight: each fast path against the reference.
void expect_gradients_match(at::ScalarType dtype, double tolerance) {
  for (std::int64_t n : {7, 97, 200}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        for (bool mult : {true, false}) {
          NaiveConfig c{8, 2, causal, kind, mult};
          const Inputs in = make_inputs(c, 1, 2, n, 4, 11, dtype);
          const at::Tensor upstream = random_bhnd(1, 2, n, 4, 12, dtype);
          const std::vector<at::Tensor> ref = gradients(fmav::fma_reference, in, upstream);
          for (const auto& [name, fn] : kFastPaths) {
            const std::vector<at::Tensor> got = gradients(fn, in, upstream);
            ASSERT_EQ(ref.size(), got.size());
            for (std::size_t i = 0; i < ref.size(); ++i) {
              ASSERT_TRUE(ref[i].defined() && got[i].defined()) << name << " leaf " << i;
              EXPECT_LT(max_abs_diff(ref[i], got[i]), tolerance) << name << " " << describe(c, n) << " leaf " << i;
            }
          }
        }
      }
    }
  }
}

TEST(Fma, GradientsMatchReferenceFloat64) { expect_gradients_match(at::kDouble, 1e-11); }

TEST(Fma, GradientsMatchReferenceFloat32) { expect_gradients_match(at::kFloat, 1e-4); }

TEST(Fma, GradientsMatchFiniteDifferences) {
  for (bool causal : {false, true}) {
    NaiveConfig c{4, 2, causal, "learned", true};
    const Inputs in = make_inputs(c, 1, 1, 37, 3, 21);
    const at::Tensor upstream = random_bhnd(1, 1, 37, 3, 22);
    for (const auto& [name, fn] : kAllPaths) {
      const std::vector<at::Tensor> grads = gradients(fn, in, upstream);
      const auto loss = [&](const at::Tensor& k) {
        return (fn(in.q, k, in.v, in.config, in.weights) * upstream).sum().item<double>();
      };
      const double h = 1e-6;
      for (std::int64_t idx : {0, 10, 55, 110}) {
        at::Tensor plus = in.k.clone(), minus = in.k.clone();
        plus.view({-1})[idx] += h;
        minus.view({-1})[idx] -= h;
        const double numeric = (loss(plus) - loss(minus)) / (2 * h);
        EXPECT_NEAR(grads[1].view({-1})[idx].item<double>(), numeric, 1e-7) << name << " k element " << idx;
      }
    }
  }
}

// ---- local attention and the fused pyramid ----

TEST(Fma, LocalAttentionFusedMatchesMath) {
  for (std::int64_t n : {1, 7, 97, 300}) {
    for (std::int64_t m : {4, 16}) {
      for (bool causal : {false, true}) {
        const at::Tensor q = random_bhnd(1, 2, n, 8, 1), k = random_bhnd(1, 2, n, 8, 2), v = random_bhnd(1, 2, n, 8, 3);
        const at::Tensor upstream = random_bhnd(1, 2, n, 8, 4);
        std::vector<at::Tensor> grads[2];
        for (int fused = 0; fused < 2; ++fused) {
          std::vector<at::Tensor> leaves = {q.clone().set_requires_grad(true), k.clone().set_requires_grad(true),
                                            v.clone().set_requires_grad(true)};
          const at::Tensor out = fused ? fmav::local_attention_fused(leaves[0], leaves[1], leaves[2], m, causal)
                                       : fmav::local_attention_math(leaves[0], leaves[1], leaves[2], m, causal);
          (out * upstream).sum().backward();
          for (const at::Tensor& t : leaves) grads[fused].push_back(t.grad());
          grads[fused].push_back(out.detach());
        }
        for (std::size_t i = 0; i < grads[0].size(); ++i) {
          EXPECT_LT(max_abs_diff(grads[0][i], grads[1][i]), 1e-12) << "n=" << n << " m=" << m << " causal=" << causal
                                                                   << (i == 3 ? " output" : " gradient");
        }
      }
    }
  }
}

TEST(Fma, FusedPyramidMatchesTheAutogradPyramid) {
  for (const char* kind : {"learned", "average"}) {
    for (std::int64_t n : {7, 97, 1000}) {
      for (at::ScalarType dtype : {at::kDouble, at::kFloat}) {
        NaiveConfig c{8, 4, false, kind, true};
        const Inputs in = make_inputs(c, 2, 3, n, 16, 31, dtype);
        const fmav::Levels lv = fmav::make_levels(n, c.m);
        const fmav::Pyramid fast = fmav::build_pyramid(in.k, in.v, lv, in.config, in.weights);
        const fmav::Pyramid slow = fmav::build_pyramid(in.k.clone().set_requires_grad(true), in.v, lv, in.config,
                                                       in.weights);
        const double tol = dtype == at::kDouble ? 1e-12 : dtype == at::kFloat ? 1e-5 : 2e-2;
        EXPECT_LT(max_abs_diff(fast.kc, slow.kc.detach()), tol) << kind << " n=" << n;
        EXPECT_LT(max_abs_diff(fast.vc, slow.vc.detach()), tol) << kind << " n=" << n;
        ASSERT_EQ(fast.log_mult.size(), slow.log_mult.size());
        for (std::size_t l = 0; l < fast.log_mult.size(); ++l) EXPECT_TRUE(at::equal(fast.log_mult[l], slow.log_mult[l]));
      }
    }
  }
}

// ---- input checks through the public API ----

fmav::HostTensor host(std::vector<std::int64_t> shape, fmav::DType dtype = fmav::DType::f32) {
  return fmav::make_host_tensor(dtype, std::move(shape));
}

TEST(Fma, AttendInputChecks) {
  fmav::AttendOptions opt;
  opt.fma.downsample = fmav::Downsample::average;
  const fmav::HostTensor ok = host({1, 2, 8, 4});
  expect_error([&] { fmav::attend(host({8}), host({8}), host({8}), opt, {}); },
               "q must be (B, H, N, D), (H, N, D) or (N, D), got [8]");
  expect_error([&] { fmav::attend(ok, host({1, 2, 9, 4}), ok, opt, {}); },
               "q, k and v must have the same shape, got q [1, 2, 8, 4], k [1, 2, 9, 4]");
  expect_error([&] { fmav::attend(host({8, 4}, fmav::DType::i64), host({8, 4}), host({8, 4}), opt, {}); },
               "q must be float32 or float64, got I64");
  expect_error([&] { fmav::attend(host({0, 4}), host({0, 4}), host({0, 4}), opt, {}); },
               "sequence length N must be >= 1, got 0");
  expect_error([&] { fmav::attend(host({8, 0}), host({8, 0}), host({8, 0}), opt, {}); },
               "head dimension D must be >= 1, got 0");
  opt.fma.block_size = 0;
  expect_error([&] { fmav::attend(ok, ok, ok, opt, {}); }, "block size m must be >= 1, got 0");
  opt.fma.block_size = 2;
  opt.fma.rank = 2;
  opt.impl = fmav::Impl::sdpa;
  expect_error([&] { fmav::attend(ok, ok, ok, opt, {}); }, "impl for fma must be reference, blocked, fused or composed, got sdpa");
  opt.method = fmav::Method::full;
  opt.impl = fmav::Impl::blocked;
  expect_error([&] { fmav::attend(ok, ok, ok, opt, {}); }, "impl for full attention must be math or sdpa, got blocked");
  expect_error([] { fmav::parse_impl("fast"); }, "impl must be auto, reference, blocked, fused, composed, math or sdpa, got 'fast'");
  fmav::AttendOptions named;
  expect_error([&] { fmav::parse_method("flash", "", &named); }, "method must be fma, fma-linear, fma2d, fma2d-linear, full, htransformer, linear, reformer, local or swin, got 'flash'");
}

TEST(Fma, DensePathsRefuseHugeInputs) {
  fmav::AttendOptions opt;
  opt.fma.downsample = fmav::Downsample::average;
  opt.impl = fmav::Impl::reference;
  const fmav::HostTensor x = host({1, 64, 8192, 1});  // 2 x 64 x 8192^2 floats = 32 GiB
  expect_error([&] { fmav::attend(x, x, x, opt, {}); },
               "the reference FMA builds dense (B, H, N, N) scores: q [1, 64, 8192, 1] needs 36 GiB, "
               "over the 8 GiB limit");
  opt.method = fmav::Method::full;
  opt.impl = fmav::Impl::math;
  expect_error([&] { fmav::attend(x, x, x, opt, {}); },
               "full attention (math) builds dense (B, H, N, N) scores: q [1, 64, 8192, 1] needs 32 GiB");
}

TEST(Fma, WeightChecks) {
  fmav::AttendOptions opt;
  opt.fma.block_size = 2;
  opt.fma.rank = 1;
  const fmav::HostTensor x = host({1, 1, 16, 4});  // n_pad 16 = 2 * 2^3: levels 1, 2
  fmav::WeightSet set = fmav::random_downsample_weights(opt.fma, 4, 1, 0);
  expect_error([&] { fmav::attend(x, x, x, opt, set); },
               "weights lack 'level2.k.weight': fma with learned down-sampling at this N and block size needs levels 1..2");
  set = fmav::random_downsample_weights(opt.fma, 4, 2, 0);
  set["level2.v.weight"] = host({4, 1, 2});
  expect_error([&] { fmav::attend(x, x, x, opt, set); },
               "weights: level2.v.weight must be [4, 1, 4] for learned down-sampling with p = 1, got [4, 1, 2]");
  set["level2.v.weight"] = host({4, 1, 4}, fmav::DType::i32);
  expect_error([&] { fmav::attend(x, x, x, opt, set); }, "weights: level2.v.weight must be float32 or float64, got I32");
  set = fmav::random_downsample_weights(opt.fma, 4, 3, 0);  // extra levels are ignored
  EXPECT_EQ(fmav::attend(x, x, x, opt, set).shape, x.shape);
}

TEST(Fma, AttendKeepsShapeAndDtype) {
  fmav::AttendOptions opt;
  opt.fma.block_size = 4;
  opt.fma.rank = 2;
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{50, 8},
                                                 std::vector<std::int64_t>{3, 50, 8},
                                                 std::vector<std::int64_t>{2, 3, 50, 8}}) {
    for (fmav::DType dtype : {fmav::DType::f32, fmav::DType::f64}) {
      const fmav::HostTensor x = fmav::to_host(at::randn(shape).to(dtype == fmav::DType::f32 ? at::kFloat : at::kDouble));
      const fmav::WeightSet set = fmav::random_downsample_weights(opt.fma, 8, 3, 1);
      for (fmav::Impl impl : {fmav::Impl::reference, fmav::Impl::blocked, fmav::Impl::fused}) {
        opt.impl = impl;
        const fmav::HostTensor out = fmav::attend(x, x, x, opt, set);
        EXPECT_EQ(out.shape, shape);
        EXPECT_EQ(out.dtype, dtype);
      }
    }
  }
}

TEST(Fma, FullAttentionMathMatchesSdpa) {
  for (bool causal : {false, true}) {
    const at::Tensor q = random_bhnd(2, 2, 97, 16, 1), k = random_bhnd(2, 2, 97, 16, 2),
                     v = random_bhnd(2, 2, 97, 16, 3);
    EXPECT_LT(max_abs_diff(fmav::full_attention_math(q, k, v, causal), fmav::full_attention_sdpa(q, k, v, causal)),
              1e-12);
  }
}

TEST(Fma, RandomWeightsAreDeterministicAndBounded) {
  fmav::FmaConfig config;
  config.block_size = 4;
  config.rank = 2;
  const fmav::WeightSet a = fmav::random_downsample_weights(config, 8, 2, 42);
  const fmav::WeightSet b = fmav::random_downsample_weights(config, 8, 2, 42);
  const fmav::WeightSet c = fmav::random_downsample_weights(config, 8, 2, 43);
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a.at("level2.k.weight").data, b.at("level2.k.weight").data);
  EXPECT_NE(a.at("level2.k.weight").data, c.at("level2.k.weight").data);
  const at::Tensor w = fmav::to_tensor(a.at("level2.k.weight"));
  EXPECT_LE(w.abs().max().item<double>(), 1.0 / std::sqrt(8.0));  // fan_in = width 8
  EXPECT_EQ(w.sizes(), (at::IntArrayRef{16, 1, 8}));
}

}  // namespace

// A tensor that is not in host memory never reaches the pyramid's host loops (a CUDA tensor
// did, on the GPU: a segfault in pyramid_stream when k needed gradients and v did not). The
// meta device has shapes and no memory at all, so a host loop over it would crash here too;
// every path must take LibTorch ops there and produce the right shapes.
TEST(Fma, PyramidOfATensorNotInHostMemoryTakesTensorOps) {
  NaiveConfig c;
  c.m = 16, c.p = 2, c.kind = "learned";
  Inputs in = make_inputs(c, 1, 2, 100, 8, 71, at::kFloat);
  const fmav::FmaConfig& config = in.config;
  EXPECT_TRUE(fmav::fused_pyramid_takes(in.k, config));
  EXPECT_TRUE(fmav::fused_pyramid_takes(in.k.to(at::kDouble), config));
  EXPECT_FALSE(fmav::fused_pyramid_takes(in.k.to(at::kHalf), config)) << "the CPU loops are float32/float64";
  const at::Tensor meta_k = at::empty(in.k.sizes(), in.k.options().device(at::kMeta));
  EXPECT_FALSE(fmav::fused_pyramid_takes(meta_k, config));
  fmav::FmaConfig dense = config;
  dense.downsample = fmav::Downsample::dense;
  EXPECT_FALSE(fmav::fused_pyramid_takes(in.k, dense));

  fmav::FmaWeights meta_w = in.weights;
  for (fmav::LevelWeights& lw : meta_w)
    for (fmav::Stream s : {fmav::Stream::q, fmav::Stream::k, fmav::Stream::v})
      for (at::Tensor* t : {&lw.of(s).weight, &lw.of(s).col_weight, &lw.of(s).bias})
        if (t->defined()) *t = at::empty(t->sizes(), t->options().device(at::kMeta));
  const fmav::Levels lv = fmav::make_levels(100, c.m);
  for (bool k_grad : {false, true}) {
    const at::Tensor k = at::empty(in.k.sizes(), in.k.options().device(at::kMeta)).requires_grad_(k_grad);
    const fmav::Pyramid pyramid = fmav::build_pyramid(k, meta_k, lv, config, meta_w);
    std::int64_t slots = 0;
    for (int l = 1; l <= lv.num_levels; ++l) slots += lv.groups(l) * c.p;
    EXPECT_EQ(pyramid.kc.sizes().vec(), (std::vector<std::int64_t>{1, 2, slots, 8})) << "k_grad " << k_grad;
    EXPECT_TRUE(pyramid.vc.is_meta()) << "k_grad " << k_grad;
    const std::vector<at::Tensor> levels = fmav::summarize_levels(meta_k, config, meta_w, fmav::Stream::v);
    ASSERT_EQ(static_cast<int>(levels.size()), lv.num_levels);
    EXPECT_EQ(levels[0].sizes().vec(), (std::vector<std::int64_t>{1, 2, lv.groups(1), c.p, 8}));
  }
}

TEST(Fma, ErrorsSpellDtypesAsTheCliDoes) {
  EXPECT_STREQ(fmav::scalar_type_name(at::kFloat), "float32");
  EXPECT_STREQ(fmav::scalar_type_name(at::kDouble), "float64");
  EXPECT_STREQ(fmav::scalar_type_name(at::kHalf), "float16");
  EXPECT_STREQ(fmav::scalar_type_name(at::kBFloat16), "bfloat16");
  const at::Tensor x = at::zeros({1, 1, 4, 8}, at::kLong);
  expect_error([&] { fmav::check_qkv(x, x, x); }, "got int64");
  const at::Tensor f = at::zeros({1, 1, 4, 8}, at::kFloat), d = at::zeros({1, 1, 4, 8}, at::kDouble);
  expect_error([&] { fmav::check_qkv(f, d, f); }, "same dtype, got float32, float64, float32");
}

// ---- the composed route and the automatic choice (§8.6) ----

TEST(Fma, AttentionWithLogSumExpMatchesTensorOps) {
  // float32 and float64 take LibTorch's CPU flash kernel; bfloat16 the tensor-op fallback.
  for (at::ScalarType dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
    for (bool causal : {false, true}) {
      const at::Tensor q = random_bhnd(2, 3, 40, 16, 1, dtype);
      const at::Tensor k = random_bhnd(2, 3, causal ? 40 : 25, 16, 2, dtype);
      const at::Tensor v = random_bhnd(2, 3, causal ? 40 : 25, 16, 3, dtype);
      at::Tensor scores = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) / 4.0;  // sqrt(16)
      if (causal) scores = scores.masked_fill(at::ones({40, 40}, at::kBool).triu(1), -INFINITY);
      const at::Tensor lse = at::logsumexp(scores, -1);
      const at::Tensor out = at::matmul(at::softmax(scores, -1), v.to(at::kDouble));
      const auto [got, got_lse] = fmav::attention_lse(q, k, v, causal);
      const double tol = dtype == at::kDouble ? 1e-12 : dtype == at::kFloat ? 1e-5 : 2e-2;
      EXPECT_LT(max_abs_diff(got.to(at::kDouble), out), tol) << c10::toString(dtype) << " causal " << causal;
      EXPECT_LT(max_abs_diff(got_lse.to(at::kDouble), lse), tol) << c10::toString(dtype) << " causal " << causal;
    }
  }
}

TEST(Fma, ComposedRouteRefusesGradients) {
  NaiveConfig c{8, 2, false, "learned", true};
  Inputs in = make_inputs(c, 1, 1, 50, 4, 3);
  const at::Tensor k = in.k.clone().requires_grad_(true);
  expect_error([&] { fmav::fma_composed(in.q, k, in.v, in.config, in.weights); }, "forward only");
  at::AutoGradMode no_grad(false);  // inference: the same inputs are fine
  EXPECT_LT(max_abs_diff(fmav::fma_composed(in.q, k, in.v, in.config, in.weights),
                         fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights)),
            1e-12);
}

TEST(Fma, AutotuneRecordsTheFasterRouteOnce) {
  fmav::clear_tuned_routes();
  int timed = 0;
  const auto composed_faster = [&](fmav::FmaRoute r) { return ++timed, r == fmav::FmaRoute::composed ? 1.0 : 2.0; };
  const auto fused_faster = [&](fmav::FmaRoute r) { return ++timed, r == fmav::FmaRoute::fused ? 1.0 : 2.0; };
  EXPECT_EQ(fmav::tuned_route("shape a", composed_faster), fmav::FmaRoute::composed);
  EXPECT_EQ(timed, 2);
  EXPECT_EQ(fmav::tuned_route("shape a", fused_faster), fmav::FmaRoute::composed) << "recorded, not timed again";
  EXPECT_EQ(timed, 2);
  EXPECT_EQ(fmav::tuned_route("shape b", fused_faster), fmav::FmaRoute::fused);
  EXPECT_EQ(timed, 4);
  fmav::clear_tuned_routes();
  EXPECT_EQ(fmav::tuned_route("shape a", fused_faster), fmav::FmaRoute::fused);
  fmav::clear_tuned_routes();

  // On the CPU the automatic choice is the fused kernels, and is not timed.
  NaiveConfig c{8, 2, true, "learned", true};
  const Inputs in = make_inputs(c, 1, 2, 100, 8, 4, at::kFloat);
  EXPECT_EQ(fmav::choose_route(in.q, in.k, in.v, in.config, in.weights), fmav::FmaRoute::fused);
  EXPECT_TRUE(at::equal(fmav::fma_auto(in.q, in.k, in.v, in.config, in.weights),
                        fmav::fma_fused(in.q, in.k, in.v, in.config, in.weights)));
}

TEST(Fma, AttendTakesTheComposedImplementation) {
  fmav::AttendOptions opt;
  opt.fma.block_size = 8, opt.fma.rank = 2, opt.fma.causal = true;
  const std::int64_t n = 70, d = 4;
  const fmav::WeightSet w = fmav::random_downsample_weights(opt.fma, d, fmav::num_levels(opt.fma, n), 5);
  const fmav::HostTensor q = fmav::to_host(random_bhnd(1, 1, n, d, 6, at::kDouble));
  const fmav::HostTensor k = fmav::to_host(random_bhnd(1, 1, n, d, 7, at::kDouble));
  const fmav::HostTensor v = fmav::to_host(random_bhnd(1, 1, n, d, 8, at::kDouble));
  opt.impl = fmav::Impl::reference;
  const at::Tensor ref = fmav::to_tensor(fmav::attend(q, k, v, opt, w));
  opt.impl = fmav::parse_impl("composed");
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::attend(q, k, v, opt, w)), ref), 1e-12);
  opt.fma.linear = true;
  expect_error([&] { fmav::attend(q, k, v, opt, w); }, "the composed implementation is FMA-1D's (fma); fma-linear");
}
