// The CUDA backend (fmav/device.h, core/src/cuda_backend.h, kernels/). Device choice and its
// errors run everywhere; the FmaCuda suites compare the fused CUDA kernels with the float64
// reference and skip themselves where no GPU is visible. A GPU result must be within twice
// the CPU float32 path's error against the oracle (docs/DESIGN.md §5.5); float16/bfloat16 have their
// own tolerances. Every kernel output is filled with NaN before each launch, so an element
// a kernel never wrote fails the comparison.

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "attention/cuda_backend.h"
#include "fma_geometry.h"
#include "fmav/attend.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "test_util.h"

namespace {

using namespace fmav_test;

// ---- device choice (every machine) ----

TEST(Device, NamesRoundTripAndBadNamesAreNamed) {
  for (fmav::Device d : {fmav::Device::cpu, fmav::Device::cuda, fmav::Device::automatic}) {
    EXPECT_EQ(fmav::parse_device(fmav::to_string(d)), d);
  }
  EXPECT_STREQ(fmav::to_string(fmav::Device::automatic), "auto");
  try {
    fmav::parse_device("gpu");
    FAIL() << "no throw";
  } catch (const fmav::Error& e) {
    EXPECT_STREQ(e.what(), "device must be cpu, cuda or auto, got 'gpu'");
  }
}

TEST(Device, BuildAndDeviceCountAgree) {
#if FMAV_WITH_CUDA
  EXPECT_TRUE(fmav::cuda_kernels_built());
#else
  EXPECT_FALSE(fmav::cuda_kernels_built());
  EXPECT_EQ(fmav::cuda_device_count(), 0);
  EXPECT_NE(fmav::cuda_unavailable_reason().find("no CUDA kernels"), std::string::npos);
#endif
  EXPECT_EQ(fmav::cuda_unavailable_reason().empty(), fmav::cuda_device_count() > 0);
  EXPECT_EQ(fmav::resolve_device(fmav::Device::cpu), fmav::Device::cpu);
  EXPECT_EQ(fmav::resolve_device(fmav::Device::automatic),
            fmav::cuda_device_count() > 0 ? fmav::Device::cuda : fmav::Device::cpu);
  EXPECT_EQ(fmav::describe_device(fmav::Device::cpu).rfind("cpu (", 0), 0u);
}

TEST(Device, CudaWithoutADeviceIsAClearError) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  const std::string why = fmav::cuda_unavailable_reason();
  try {
    fmav::resolve_device(fmav::Device::cuda);
    FAIL() << "no throw";
  } catch (const fmav::Error& e) {
    EXPECT_EQ(std::string(e.what()), "device cuda: " + why + "; use --device cpu or auto");
  }
  // attend() asks before it reads a byte onto a device.
  fmav::HostTensor x = fmav::make_host_tensor(fmav::DType::f32, {1, 1, 8, 32});
  fmav::AttendOptions options;
  options.device = fmav::Device::cuda;
  options.fma.downsample = fmav::Downsample::average, options.fma.rank = 1, options.fma.block_size = 4;
  EXPECT_THROW(fmav::attend(x, x, x, options, {}), fmav::Error);
  // auto falls back to the CPU and computes.
  options.device = fmav::Device::automatic;
  EXPECT_EQ(fmav::attend(x, x, x, options, {}).shape, x.shape);
}

// ---- the kernels' index arithmetic (host; kernels/fma_geometry.h) ----

// Every near-field pair (level_of == 0) is streamed by its query's tile and by its key's
// tile, and every pair streamed and not masked as the future is a near-field pair: the
// forward, dQ and dK dV passes all see exactly the near field.
TEST(KernelGeometry, TilesCoverExactlyTheNearField) {
  for (std::int64_t n : {1, 5, 63, 97, 300}) {
    for (std::int64_t m : {1, 5, 16, 64}) {
      for (bool causal : {false, true}) {
        const fmav::Levels lv = fmav::make_levels(n, m);
        const std::string what = "n=" + std::to_string(n) + " m=" + std::to_string(m) + (causal ? " causal" : "");
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t b = i / m;
          // The query's own row as a tile, and the whole (real part of its) block as one.
          const fmav::IndexRange one = fmav::near_keys(b, i, 1, m, n, causal);
          const fmav::IndexRange all = fmav::near_keys(b, b * m, std::min(m, n - b * m), m, n, causal);
          for (std::int64_t t = 0; t < n; ++t) {
            const bool near = fmav::level_of(lv, causal, i, t) == 0;
            const bool visible = !causal || t <= i;
            ASSERT_EQ(near, t >= one.lo && t < one.hi && visible) << what << " i=" << i << " t=" << t;
            ASSERT_EQ(near, t >= all.lo && t < all.hi && visible) << what << " i=" << i << " t=" << t;
            const fmav::IndexRange q = fmav::near_queries(t / m, t, m, n, causal);
            const fmav::IndexRange q_block = fmav::near_queries(t / m, (t / m) * m, m, n, causal);
            ASSERT_EQ(near, i >= q.lo && i < q.hi && visible) << what << " i=" << i << " t=" << t;
            ASSERT_EQ(near, i >= q_block.lo && i < q_block.hi && visible) << what << " i=" << i << " t=" << t;
          }
        }
      }
    }
  }
}

// ---- the fused CUDA kernels (a GPU only) ----

class FmaCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (fmav::cuda_device_count() == 0) GTEST_SKIP() << fmav::cuda_unavailable_reason();
    fmav::set_cuda_poison_outputs(true);
  }
  void TearDown() override { fmav::set_cuda_poison_outputs(false); }
};

struct Case {
  std::int64_t n, m, d;
  bool causal;
  const char* kind;
};

std::string describe(const Case& c) {
  return "N=" + std::to_string(c.n) + " m=" + std::to_string(c.m) + " D=" + std::to_string(c.d) + " " + c.kind +
         (c.causal ? " causal" : " bidirectional");
}

// Awkward lengths (1, 97, 1025 and one below a block), every head dimension, both masks.
std::vector<Case> cases() {
  std::vector<Case> out;
  for (std::int64_t d : {32, 64, 128}) {
    for (std::int64_t n : {1, 63, 97, 1025}) {
      for (bool causal : {false, true}) {
        out.push_back({n, 64, d, causal, "learned"});
        out.push_back({n, 16, d, causal, "average"});
      }
    }
  }
  return out;
}

VariantInputs inputs_for(const Case& c, at::ScalarType dtype, std::uint64_t seed = 5) {
  return make_variant_inputs(to_config(NaiveConfig{c.m, 4, c.causal, c.kind, true}), 1, 3, c.n, c.d, seed, dtype);
}

fmav::FmaWeights weights_as(const VariantInputs& in, at::ScalarType dtype, const at::Device& device) {
  const int levels = fmav::num_levels(in.config, in.q.size(2));
  fmav::FmaWeights w = fmav::to_fma_weights(in.set, in.config, in.q.size(3), levels, dtype);
  for (fmav::LevelWeights& lw : w) {
    for (fmav::Stream s : {fmav::Stream::q, fmav::Stream::k, fmav::Stream::v}) {
      for (at::Tensor* t : {&lw.of(s).weight, &lw.of(s).col_weight, &lw.of(s).bias}) {
        if (t->defined()) *t = t->to(device);
      }
    }
  }
  return w;
}

at::Tensor on_cuda(const at::Tensor& t, at::ScalarType dtype) { return t.to(dtype).cuda(); }

// FMA-1D's routes on CUDA tensors: the fused kernels, the composed library calls (§8.6),
// and the automatic choice between them.
using RouteFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, const fmav::FmaConfig&,
                               const fmav::FmaWeights&);
const std::vector<std::pair<const char*, RouteFn>> kRoutes = {
    {"fused", fmav::fma_fused}, {"composed", fmav::fma_composed}, {"auto", fmav::fma_auto}};

double max_err(const at::Tensor& got, const at::Tensor& oracle) { return max_abs_diff(got.cpu(), oracle); }

TEST_F(FmaCuda, Float32IsWithinTwiceTheCpuErrorOfTheOracle) {
  for (const Case& c : cases()) {
    const VariantInputs in = inputs_for(c, at::kDouble);
    const at::Tensor oracle = fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights);
    const fmav::FmaWeights w32 = weights_as(in, at::kFloat, at::kCPU);
    const at::Tensor cpu = fmav::fma_fused(in.q.to(at::kFloat), in.k.to(at::kFloat), in.v.to(at::kFloat), in.config, w32);
    for (const auto& [route, fn] : kRoutes) {
      const at::Tensor gpu = fn(on_cuda(in.q, at::kFloat), on_cuda(in.k, at::kFloat), on_cuda(in.v, at::kFloat),
                                in.config, weights_as(in, at::kFloat, at::kCUDA));
      ASSERT_TRUE(at::isfinite(gpu).all().item<bool>()) << "unwritten or non-finite output, " << route << " "
                                                         << describe(c);
      EXPECT_LE(max_err(gpu, oracle), 2 * max_err(cpu, oracle) + 1e-6) << route << " " << describe(c);
    }
  }
}

TEST_F(FmaCuda, HalfPrecisionsAreNearTheOracle) {
  const std::vector<std::pair<at::ScalarType, double>> tolerances = {{at::kHalf, 1e-2}, {at::kBFloat16, 5e-2}};
  for (const Case& c : cases()) {
    const VariantInputs in = inputs_for(c, at::kDouble);
    const at::Tensor oracle = fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights);
    for (const auto& [dtype, tolerance] : tolerances) {
      for (const auto& [route, fn] : kRoutes) {
        const at::Tensor gpu = fn(on_cuda(in.q, dtype), on_cuda(in.k, dtype), on_cuda(in.v, dtype), in.config,
                                  weights_as(in, dtype, at::kCUDA));
        EXPECT_EQ(gpu.scalar_type(), dtype);
        ASSERT_TRUE(at::isfinite(gpu).all().item<bool>()) << route << " " << describe(c);
        EXPECT_LT(max_err(gpu, oracle), tolerance) << route << " " << fmav::scalar_type_name(dtype) << " "
                                                   << describe(c);
      }
    }
  }
}

// The composed route takes head dimensions the fused kernels do not, and the automatic
// choice goes there for them; for the others it records a route once per shape.
TEST_F(FmaCuda, TheAutomaticChoiceRunsEveryHeadDimension) {
  fmav::clear_tuned_routes();
  for (std::int64_t d : {48, 64}) {
    const Case c{700, 16, d, true, "learned"};
    const VariantInputs in = inputs_for(c, at::kDouble);
    const at::Tensor oracle = fmav::fma_reference(in.q, in.k, in.v, in.config, in.weights);
    const at::Tensor q = on_cuda(in.q, at::kFloat), k = on_cuda(in.k, at::kFloat), v = on_cuda(in.v, at::kFloat);
    const fmav::FmaWeights w = weights_as(in, at::kFloat, at::kCUDA);
    at::AutoGradMode no_grad(false);
    const fmav::FmaRoute route = fmav::choose_route(q, k, v, in.config, w);
    if (d == 48) {
      EXPECT_EQ(route, fmav::FmaRoute::composed) << "the fused kernels take D = 32, 64, 128";
    }
    EXPECT_EQ(fmav::choose_route(q, k, v, in.config, w), route) << "recorded once";
    EXPECT_LT(max_err(fmav::fma_auto(q, k, v, in.config, w), oracle), 1e-4) << fmav::to_string(route) << " D=" << d;
  }
  fmav::clear_tuned_routes();
}

// Gradients of q, k, v and the down-sampling weights through the autograd pyramid.
std::vector<at::Tensor> gradients(const VariantInputs& in, at::ScalarType dtype, const at::Device& device,
                                  const at::Tensor& upstream, bool reference) {
  std::vector<at::Tensor> leaves;
  for (const at::Tensor* x : {&in.q, &in.k, &in.v}) {
    leaves.push_back(x->to(dtype).to(device).detach().set_requires_grad(true));
  }
  fmav::FmaWeights w = weights_as(in, dtype, device);
  for (fmav::LevelWeights& lw : w) {
    for (at::Tensor* t : {&lw.k.weight, &lw.k.bias, &lw.v.weight, &lw.v.bias}) {
      if (!t->defined()) continue;
      *t = t->detach().set_requires_grad(true);
      leaves.push_back(*t);
    }
  }
  const auto fn = reference ? fmav::fma_reference : fmav::fma_fused;
  const at::Tensor out = fn(leaves[0], leaves[1], leaves[2], in.config, w);
  (out * upstream.to(dtype).to(device)).sum().backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& t : leaves) grads.push_back(t.grad().cpu());
  return grads;
}

TEST_F(FmaCuda, GradientsAreWithinTwiceTheCpuErrorOfTheOracle) {
  for (const Case& c : cases()) {
    if (c.n > 97) continue;  // the float64 reference's backward is O(N^2) per leaf
    const VariantInputs in = inputs_for(c, at::kDouble);
    const at::Tensor upstream = random_bhnd(1, 3, c.n, c.d, 77);
    const std::vector<at::Tensor> oracle = gradients(in, at::kDouble, at::kCPU, upstream, true);
    const std::vector<at::Tensor> cpu = gradients(in, at::kFloat, at::kCPU, upstream, false);
    const std::vector<at::Tensor> gpu = gradients(in, at::kFloat, at::kCUDA, upstream, false);
    ASSERT_EQ(gpu.size(), oracle.size());
    for (std::size_t i = 0; i < oracle.size(); ++i) {
      ASSERT_TRUE(at::isfinite(gpu[i]).all().item<bool>()) << describe(c) << " leaf " << i;
      EXPECT_LE(max_abs_diff(gpu[i], oracle[i]), 2 * max_abs_diff(cpu[i], oracle[i]) + 1e-5)
          << describe(c) << " leaf " << i;
    }
  }
}

// FmaConfig::deterministic: the gradients of q, k and v (the slots' gradients included, which
// reach k and v through the pyramid) are the same bits twice, and within the dtype's rounding
// of the default's, whose slot gradients go by atomics. bfloat16 and float16 at D = 128, 64
// run the FlashAttention-2-class backward, float32 the WMMA pair; both use the workspace.
TEST_F(FmaCuda, DeterministicBackwardIsBitIdenticalRunToRun) {
  // N = 97 at m = 64 has no coarse level, so no slot and no workspace.
  for (const auto& [n, d, dtype] : {std::tuple<std::int64_t, std::int64_t, at::ScalarType>{2049, 128, at::kBFloat16},
                                    {2049, 64, at::kHalf}, {2049, 32, at::kFloat}, {97, 128, at::kBFloat16}}) {
    const Case c{n, 64, d, true, "learned"};
    VariantInputs in = inputs_for(c, at::kFloat);
    const at::Tensor upstream = random_bhnd(1, 3, c.n, c.d, 78);
    in.config.deterministic = true;
    const std::vector<at::Tensor> first = gradients(in, dtype, at::kCUDA, upstream, false);
    const std::vector<at::Tensor> second = gradients(in, dtype, at::kCUDA, upstream, false);
    in.config.deterministic = false;
    const std::vector<at::Tensor> atomics = gradients(in, dtype, at::kCUDA, upstream, false);
    const double tol = dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 1e-2 : 5e-2;
    for (int i = 0; i < 3; ++i) {
      const std::string what = "leaf " + std::to_string(i) + " " + fmav::scalar_type_name(dtype) + " " + describe(c);
      EXPECT_TRUE(at::equal(first[i], second[i])) << what;
      const double scale = std::max(1.0, first[i].abs().max().item<double>());
      EXPECT_LE(max_abs_diff(first[i].to(at::kFloat), atomics[i].to(at::kFloat)), tol * scale) << what;
    }
  }
}

TEST_F(FmaCuda, CausalOutputsIgnoreTheFutureBitForBit) {
  // float32 runs the WMMA kernel; bfloat16 at D = 128 the FlashAttention-2-class one.
  for (const auto& [d, dtype] : {std::pair<std::int64_t, at::ScalarType>{32, at::kFloat}, {128, at::kFloat},
                                 {128, at::kBFloat16}}) {
    const Case c{1025, 64, d, true, "learned"};
    VariantInputs in = inputs_for(c, at::kFloat);
    const fmav::FmaWeights w = weights_as(in, dtype, at::kCUDA);
    const auto on = [&](const at::Tensor& x) { return on_cuda(x, dtype); };
    const at::Tensor before = fmav::fma_fused(on(in.q), on(in.k), on(in.v), in.config, w).cpu();
    const std::int64_t t = 600;
    for (at::Tensor* x : {&in.q, &in.k, &in.v}) x->narrow(2, t, c.n - t).normal_();
    const at::Tensor after = fmav::fma_fused(on(in.q), on(in.k), on(in.v), in.config, w).cpu();
    EXPECT_TRUE(at::equal(before.narrow(2, 0, t), after.narrow(2, 0, t)))
        << "D=" << d << " " << fmav::scalar_type_name(dtype);
    EXPECT_FALSE(at::equal(before.narrow(2, t, c.n - t), after.narrow(2, t, c.n - t)));
  }
}

TEST_F(FmaCuda, InferencePyramidMatchesTheAutogradOne) {
  // Without gradients the pyramid comes from the down-sampling kernel; with them from
  // LibTorch ops: the outputs must agree.
  const Case c{1025, 16, 64, false, "learned"};
  const VariantInputs in = inputs_for(c, at::kFloat);
  const fmav::FmaWeights w = weights_as(in, at::kFloat, at::kCUDA);
  at::Tensor inference;
  {
    at::AutoGradMode no_grad(false);
    inference = fmav::fma_fused(in.q.cuda(), in.k.cuda(), in.v.cuda(), in.config, w).cpu();
  }
  const at::Tensor k = in.k.cuda().set_requires_grad(true);
  const at::Tensor trained = fmav::fma_fused(in.q.cuda(), k, in.v.cuda(), in.config, w).detach().cpu();
  EXPECT_LT(max_abs_diff(inference, trained), 1e-5);
}

// Every other path on CUDA tensors (blocked, reference, FMA-linear; gradients to k and not
// v, and none): the pyramid on the device (the kernel, or LibTorch ops), never host loops over
// device memory, and the CPU's result.
TEST_F(FmaCuda, EveryPathRunsOnTheDeviceWithOrWithoutGradients) {
  using Fn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, const fmav::FmaConfig&,
                            const fmav::FmaWeights&);
  const std::vector<std::pair<const char*, Fn>> paths = {
      {"fused", fmav::fma_fused}, {"blocked", fmav::fma_blocked}, {"reference", fmav::fma_reference}};
  for (const char* kind : {"learned", "average", "dense"}) {
    for (bool linear : {false, true}) {
      const Case c{300, 16, 32, false, kind};
      VariantInputs in = inputs_for(c, at::kFloat);
      in.config.linear = linear;
      in.set = fmav::random_downsample_weights(in.config, 32, fmav::num_levels(in.config, 300), 9);
      in.weights = fmav::to_fma_weights(in.set, in.config, 32, fmav::num_levels(in.config, 300), at::kFloat);
      const fmav::FmaWeights w = weights_as(in, at::kFloat, at::kCUDA);
      for (const auto& [name, fn] : paths) {
        if (linear && std::string(name) == "fused") continue;  // FMA-linear runs blocked on CUDA
        const at::Tensor cpu = fn(in.q, in.k, in.v, in.config, in.weights);
        for (bool k_grad : {false, true}) {
          const at::Tensor k = in.k.cuda().set_requires_grad(k_grad);
          const at::Tensor gpu = fn(in.q.cuda(), k, in.v.cuda(), in.config, w);
          EXPECT_LT(max_abs_diff(gpu.detach().cpu(), cpu), 1e-4)
              << name << " " << kind << (linear ? " linear" : "") << " k_grad " << k_grad;
          if (k_grad) {
            gpu.sum().backward();
            EXPECT_TRUE(k.grad().defined() && k.grad().is_cuda()) << name << " " << kind;
          }
        }
      }
    }
  }
}

// The down-sampling kernel at a length where the launcher's chunk is wider than a block
// (pass 2 then sums several chunks per group at every level): the CPU's pyramid.
TEST_F(FmaCuda, ThePyramidKernelMatchesTheCpuAtLength) {
  for (const char* kind : {"learned", "average"}) {
    const Case c{70000, 64, 64, false, kind};
    const fmav::FmaConfig config = to_config(NaiveConfig{c.m, 4, false, kind, true});
    const VariantInputs in = make_variant_inputs(config, 1, 16, c.n, c.d, 21, at::kFloat);
    const fmav::Levels lv = fmav::make_levels(c.n, c.m);
    const at::Tensor cpu = fmav::pyramid_stream(in.k, lv, config, in.weights, fmav::Stream::k);
    const at::Tensor gpu = fmav::pyramid_stream(in.k.cuda(), lv, config, weights_as(in, at::kFloat, at::kCUDA),
                                                fmav::Stream::k);
    EXPECT_LT(max_abs_diff(gpu.cpu(), cpu) / std::max(1.0, cpu.abs().max().item<double>()), 1e-5) << kind;
  }
}

TEST_F(FmaCuda, LocalAttentionAndItsLogSumExpMatchTheCpu) {
  for (bool causal : {false, true}) {
    const at::Tensor q = random_bhnd(2, 2, 300, 64, 1, at::kFloat), k = random_bhnd(2, 2, 300, 64, 2, at::kFloat);
    const at::Tensor v = random_bhnd(2, 2, 300, 64, 3, at::kFloat);
    const std::vector<at::Tensor> cpu = fmav::local_attention_fused_lse(q, k, v, 32, causal);
    const std::vector<at::Tensor> gpu = fmav::local_attention_fused_lse(q.cuda(), k.cuda(), v.cuda(), 32, causal);
    EXPECT_LT(max_abs_diff(gpu[0].cpu(), cpu[0]), 1e-5);
    EXPECT_LT(max_abs_diff(gpu[1].cpu(), cpu[1]), 1e-5);
  }
}

TEST_F(FmaCuda, UnsupportedInputsAreNamed) {
  const Case c{64, 16, 48, false, "average"};
  const VariantInputs in = inputs_for(c, at::kFloat);
  try {
    fmav::fma_fused(in.q.cuda(), in.k.cuda(), in.v.cuda(), in.config, in.weights);
    FAIL() << "no throw";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("head dimension D = 32, 64 or 128, got float32 with D = 48"), std::string::npos)
        << e.what();
  }
  const VariantInputs in64 = inputs_for(Case{64, 16, 64, false, "average"}, at::kDouble);
  EXPECT_THROW(fmav::fma_fused(in64.q.cuda(), in64.k.cuda(), in64.v.cuda(), in64.config, in64.weights), fmav::Error);
}

}  // namespace
