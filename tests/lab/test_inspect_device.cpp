// The Inspector on a device (fmav/inspect.h, InspectRequest::device): full attention's band
// rows, now tensor ops on the device, against a plain float64 softmax (causal, reformer's self
// score, a row range over several bands); the device choice without a GPU; and the
// InspectCuda suite, every field of a GPU inspection against the CPU's (skipped without one).

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attention/peers.h"
#include "fmav/engine.h"
#include "fmav/inspect.h"
#include "test_util.h"

namespace {

using namespace fmav_test;
using fmav::Method;

struct Head {
  fmav::HostTensor q, k, v;
};

Head random_head(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  return {fmav::to_host(random_bhnd(1, 1, n, d, seed)), fmav::to_host(random_bhnd(1, 1, n, d, seed + 1)),
          fmav::to_host(random_bhnd(1, 1, n, d, seed + 2))};
}

fmav::AttendOptions options_of(Method method, std::int64_t block, bool causal) {
  fmav::AttendOptions o;
  o.method = method;
  o.fma.block_size = block, o.fma.rank = 2, o.fma.causal = causal;
  o.fma.downsample = fmav::Downsample::average;
  return o;
}

// Full attention's rows [r0, r1) over all keys: softmax(q keys^T / sqrt(D)), the diagonal at
// self_score when asked, later keys hidden when causal.
at::Tensor plain_full_rows(const at::Tensor& q, const at::Tensor& keys, bool causal, bool self_penalty,
                           std::int64_t r0, std::int64_t r1) {
  const std::int64_t n = q.size(0);
  at::Tensor s = at::matmul(q, keys.t()) / std::sqrt(static_cast<double>(q.size(1)));
  if (self_penalty) s.diagonal().fill_(fmav::kReformerSelfScore);
  if (causal) s.masked_fill_(at::ones({n, n}, at::kBool).triu(1), -INFINITY);
  return at::softmax(s, 1).narrow(0, r0, r1 - r0);
}

// n = 3000 makes bands of 1398 rows: rows 1000..2600 take two, the first starting off the
// diagonal's origin (row 1000's self score sits in column 1000).
TEST(InspectDevice, FullRowsOverSeveralBandsMatchAPlainSoftmax) {
  const std::int64_t n = 3000, d = 8, r0 = 1000, r1 = 2600;
  const Head x = random_head(n, d, 11);
  const at::Tensor q = fmav::to_tensor(x.q)[0][0], k = fmav::to_tensor(x.k)[0][0];
  for (bool causal : {false, true}) {
    for (Method method : {Method::fma, Method::reformer}) {
      fmav::InspectRequest req;
      req.row_begin = r0, req.row_end = r1, req.col_begin = 0, req.col_end = n;
      const fmav::Inspection ins = fmav::inspect(x.q, x.k, x.v, options_of(method, 32, causal), {}, req);
      const bool reformer = method == Method::reformer;
      const at::Tensor want = plain_full_rows(q, reformer ? fmav::reformer_keys(q) : k, causal, reformer, r0, r1);
      const at::Tensor got = at::tensor(ins.full_map, at::kDouble).view({r1 - r0, n});
      EXPECT_LT(max_abs_diff(got, want), 1e-12) << fmav::to_string(method) << " causal=" << causal;
      if (causal) {
        EXPECT_EQ(got[0][r0 + 1].item<double>(), 0.0);  // the first hidden key
      }
    }
  }
}

TEST(InspectDevice, CpuIsTheDefaultAndAutoFallsBackWithoutAGpu) {
  const Head x = random_head(97, 8, 21);
  const fmav::AttendOptions o = options_of(Method::fma, 8, true);
  fmav::InspectRequest cpu, automatic;
  automatic.device = fmav::Device::automatic;
  EXPECT_EQ(cpu.device, fmav::Device::cpu);
  const fmav::Inspector on_cpu(x.q, x.k, x.v, o, {}, cpu);
  EXPECT_EQ(on_cpu.device(), fmav::Device::cpu);
  const fmav::Inspector on_auto(x.q, x.k, x.v, o, {}, automatic);
  EXPECT_EQ(on_auto.device(), fmav::resolve_device(fmav::Device::automatic));
  if (on_auto.device() == fmav::Device::cpu) {  // the same code, so the same numbers
    EXPECT_EQ(on_auto.map(cpu).fma_map, on_cpu.map(cpu).fma_map);
    EXPECT_EQ(on_auto.map(cpu).full_map, on_cpu.map(cpu).full_map);
    EXPECT_EQ(on_auto.output_rel_error(), on_cpu.output_rel_error());
  }
  EXPECT_EQ(fmav::Inspector().device(), fmav::Device::cpu);
}

TEST(InspectDevice, CudaWithoutAGpuIsAClearError) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  const Head x = random_head(64, 8, 31);
  fmav::InspectRequest req;
  req.device = fmav::Device::cuda;
  for (Method method : {Method::fma, Method::local}) {
    try {
      fmav::Inspector(x.q, x.k, x.v, options_of(method, 8, false), {}, req);
      FAIL() << "no throw for " << fmav::to_string(method);
    } catch (const fmav::Error& e) {
      EXPECT_EQ(std::string(e.what()),
                "device cuda: " + fmav::cuda_unavailable_reason() + "; use --device cpu or auto");
    }
  }
}

// ---- on a GPU: the same inspection as the CPU's ----

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-12 * (1 + std::abs(want[i]))) << what << " at " << i;
  }
}

void expect_same_inspection(const fmav::Inspector& gpu, const fmav::Inspector& cpu,
                            const fmav::InspectRequest& req, const std::string& what) {
  const fmav::Inspection g = gpu.map(req), c = cpu.map(req);
  expect_close(g.fma_map, c.fma_map, what + " fma_map");
  expect_close(g.full_map, c.full_map, what + " full_map");
  EXPECT_EQ(g.level_map, c.level_map) << what;
  expect_close(g.level_mass, c.level_mass, what + " level_mass");
  expect_close(g.full_level_mass, c.full_level_mass, what + " full_level_mass");
  expect_close(g.row_tv, c.row_tv, what + " row_tv");
  expect_close(g.row_kl, c.row_kl, what + " row_kl");
  EXPECT_EQ(g.row_topk, c.row_topk) << what;
  EXPECT_NEAR(g.output_rel_error, c.output_rel_error, 1e-12 * c.output_rel_error) << what;
}

TEST(InspectCuda, MapsMatchTheCpu) {
  if (fmav::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << fmav::cuda_unavailable_reason();
  std::vector<fmav::AttendOptions> cases;
  for (bool causal : {false, true}) {
    for (Method m : {Method::fma, Method::htransformer, Method::reformer, Method::local}) {
      cases.push_back(options_of(m, 16, causal));
    }
    fmav::AttendOptions learned = options_of(Method::fma, 16, causal), linear = learned;
    learned.fma.downsample = fmav::Downsample::learned;
    linear.fma.linear = true;
    cases.push_back(learned), cases.push_back(linear);
  }
  fmav::AttendOptions grid = options_of(Method::fma, 4, false);
  grid.fma.grid_height = 31, grid.fma.grid_width = 33, grid.fma.rank = 4;  // average: p = s^2, s | r
  cases.push_back(grid);
  for (std::int64_t n : {97, 1025}) {
    for (const fmav::AttendOptions& o : cases) {
      const std::int64_t tokens = o.fma.is_2d() ? o.fma.grid_height * o.fma.grid_width : n;
      const Head x = random_head(tokens, 16, 41);
      const fmav::WeightSet weights =
          o.fma.downsample == fmav::Downsample::learned
              ? fmav::random_downsample_weights(o.fma, 16, fmav::num_levels(o.fma, tokens), 7)
              : fmav::WeightSet{};
      fmav::InspectRequest on_gpu, on_cpu;
      on_gpu.device = fmav::Device::cuda;
      const fmav::Inspector gpu(x.q, x.k, x.v, o, weights, on_gpu), cpu(x.q, x.k, x.v, o, weights, on_cpu);
      ASSERT_EQ(gpu.device(), fmav::Device::cuda);
      const std::string what = std::string(fmav::method_name(o)) + " n=" + std::to_string(tokens) +
                               " causal=" + std::to_string(o.fma.causal);
      fmav::InspectRequest whole, pooled, tile;
      pooled.pool = 7;
      tile.row_begin = tokens / 3, tile.row_end = tokens - 1, tile.col_begin = 1, tile.col_end = tokens / 2 + 1;
      expect_same_inspection(gpu, cpu, whole, what);
      expect_same_inspection(gpu, cpu, pooled, what + " pooled");
      expect_same_inspection(gpu, cpu, tile, what + " tile");
      EXPECT_LT(max_abs_diff(fmav::to_tensor(gpu.fma_output()), fmav::to_tensor(cpu.fma_output())), 1e-12) << what;
    }
  }
}

}  // namespace
