// Training and evaluation on a device and in bf16: a bf16 run on the CPU trains with float32
// master weights, records its precision and resumes in it; --device cuda without a GPU is an
// error before any work; auto equals cpu here. The TrainCuda suite checks the CUDA runs
// against the CPU and skips itself without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "fmav/train.h"
#include "test_util.h"
#include "models/model_internal.h"

namespace {

using namespace fmav;
using fmav_test::expect_error;
namespace fs = std::filesystem;

class TrainDevice : public fmav_test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::ofstream text(path("text.txt"));
    for (int i = 0; i < 400; ++i) text << "the cat sat on the mat " << (i % 7) << ". ";
  }

  TrainOptions options(const std::string& out, const std::string& attention = "fma") const {
    TrainOptions o;
    o.data = path("text.txt"), o.out = path(out);
    o.model.d_model = 32, o.model.layers = 1, o.model.heads = 2, o.model.d_mlp = 64, o.model.context = 64;
    o.model.attention.block_size = 8, o.model.attention.rank = 2;
    parse_attention(attention, &o.model.attention);
    o.steps = 4, o.batch = 4, o.warmup = 2, o.lr = 3e-3, o.eval_every = 0, o.save_every = 0, o.eval_tokens = 512;
    return o;
  }

  std::vector<double> losses(const TrainOptions& o) const {
    std::vector<double> out;
    train(o, [&](const TrainStatus& s) { out.push_back(s.loss); });
    return out;
  }
};

void expect_same_tensors(const Model& a, const Model& b, double tolerance) {
  const auto x = a.tensors(), y = b.tensors();
  for (const auto& [name, t] : x) {
    const float* p = t.f32();
    const float* q = y.at(name).f32();
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_NEAR(p[i], q[i], tolerance) << name << "[" << i << "]";
  }
}

TEST(Precision, NamesRoundTripAndBadOnesAreClearErrors) {
  for (Precision p : {Precision::fp32, Precision::bf16}) EXPECT_EQ(parse_precision(to_string(p)), p);
  expect_error([] { parse_precision("fp16"); }, "precision must be fp32 or bf16, got 'fp16'");
}

// bf16 autocast on the CPU: the loss falls, the run differs from fp32 (autocast was on), the
// parameters and the checkpoint's moments stay float32, and the precision is recorded.
TEST_F(TrainDevice, Bf16TrainsWithFloat32MasterWeights) {
  TrainOptions o = options("bf16");
  o.steps = 40, o.precision = Precision::bf16;
  const std::vector<double> bf16 = losses(o);
  ASSERT_EQ(bf16.size(), 40u);
  EXPECT_LT(bf16.back(), bf16.front() - 1.0);
  TrainOptions f = options("fp32");
  f.steps = 40;
  const std::vector<double> fp32 = losses(f);
  EXPECT_NE(bf16[1], fp32[1]) << "the bf16 run computed exactly as fp32: autocast was not on";
  EXPECT_NEAR(bf16.back(), fp32.back(), 0.25);  // but it learns the same thing
  const Model m = Model::load(o.out);
  for (const auto& [name, p] : m.state().params) EXPECT_EQ(p.scalar_type(), at::kFloat) << name;
  std::map<std::string, std::string> meta;
  const TensorMap checkpoint = read_safetensors(path("bf16/checkpoint.safetensors"), &meta);
  for (const auto& [name, t] : checkpoint) EXPECT_EQ(t.dtype, DType::f32) << name;
  EXPECT_NE(meta.at("options").find("\"precision\":\"bf16\""), std::string::npos) << meta.at("options");
  EXPECT_NE(m.config().training_json.find("\"precision\":\"bf16\""), std::string::npos);
}

// Every attention the long-context experiment trains runs under bf16 autocast on the CPU.
TEST_F(TrainDevice, Bf16TrainsEveryLongContextMethod) {
  for (const char* attention : {"full", "fma", "fma-linear", "local", "htransformer", "linear"}) {
    TrainOptions o = options(std::string("m-") + attention, attention);
    o.precision = Precision::bf16;
    const std::vector<double> l = losses(o);
    ASSERT_EQ(l.size(), 4u) << attention;
    for (double x : l) EXPECT_TRUE(std::isfinite(x)) << attention;
    EXPECT_LT(l.back(), l.front()) << attention;
  }
}

// A resumed bf16 run stays bf16 (the checkpoint's precision, not the default) and equals the
// uninterrupted one.
TEST_F(TrainDevice, ResumeKeepsThePrecision) {
  TrainOptions whole = options("whole");
  whole.precision = Precision::bf16;
  train(whole);
  TrainOptions part = options("part");
  part.precision = Precision::bf16, part.steps = 2;
  train(part);
  TrainOptions again = options("part");
  again.resume = true, again.data = "", again.given = {"steps"};  // precision left at its default, fp32
  EXPECT_EQ(resumed_options(again).precision, Precision::bf16);
  EXPECT_EQ(train(again).steps_done, 4);
  expect_same_tensors(Model::load(whole.out), Model::load(part.out), 1e-6);
  // Given anew, it is the one that runs.
  TrainOptions to_fp32 = again;
  to_fp32.steps = 6, to_fp32.given = {"steps", "precision"};
  EXPECT_EQ(resumed_options(to_fp32).precision, Precision::fp32);
}

TEST_F(TrainDevice, CudaWithoutADeviceIsAnErrorBeforeAnyWork) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  TrainOptions o = options("never");
  o.device = Device::cuda;
  expect_error([&] { train(o); }, "device cuda: " + cuda_unavailable_reason());
  EXPECT_FALSE(fs::exists(o.out)) << "the output folder was touched";
  train(options("m"));
  EvalOptions e;
  e.data = path("text.txt"), e.device = Device::cuda;
  expect_error([&] { evaluate(Model::load(path("m")), e); }, "device cuda: ");
}

TEST_F(TrainDevice, AutoWithoutADeviceEqualsCpu) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  TrainOptions cpu = options("cpu"), automatic = options("auto");
  automatic.device = Device::automatic;
  EXPECT_EQ(losses(cpu), losses(automatic));
  expect_same_tensors(Model::load(cpu.out), Model::load(automatic.out), 0.0);
  EvalOptions e;
  e.data = path("text.txt"), e.max_tokens = 512;
  const EvalResult a = evaluate(Model::load(cpu.out), e);
  e.device = Device::automatic;
  const EvalResult b = evaluate(Model::load(cpu.out), e);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
}

// ---- on the GPU: the same runs against the CPU ----

class TrainCuda : public TrainDevice {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << cuda_unavailable_reason();
    TrainDevice::SetUp();
  }
};

// Evaluation of one model: the CUDA forward matches the CPU's for every attention kind.
TEST_F(TrainCuda, EvaluationMatchesTheCpu) {
  for (const char* attention : {"full", "fma", "fma-linear", "local", "htransformer", "linear", "reformer"}) {
    TrainOptions o = options(std::string("m-") + attention, attention);
    train(o);
    EvalOptions e;
    e.data = path("text.txt"), e.max_tokens = 1024;
    const EvalResult cpu = evaluate(Model::load(o.out), e);
    e.device = Device::cuda;
    const EvalResult cuda = evaluate(Model::load(o.out), e);
    EXPECT_NEAR(cuda.loss, cpu.loss, 1e-3 * cpu.loss) << attention;
    EXPECT_EQ(cuda.count, cpu.count) << attention;
  }
}

// Training on CUDA follows the CPU's run (the same batches and initial weights) and saves a
// host model; bf16 on CUDA trains.
TEST_F(TrainCuda, TrainingFollowsTheCpu) {
  for (const char* attention : {"full", "fma", "fma-linear", "local", "htransformer", "linear"}) {
    TrainOptions cpu = options(std::string("cpu-") + attention, attention);
    TrainOptions cuda = options(std::string("cuda-") + attention, attention);
    cuda.device = Device::cuda;
    const std::vector<double> a = losses(cpu), b = losses(cuda);
    ASSERT_EQ(a.size(), b.size()) << attention;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-3 * a[i]) << attention << " step " << i;
    expect_same_tensors(Model::load(cpu.out), Model::load(cuda.out), 2e-3);
    TrainOptions bf16 = options(std::string("bf16-") + attention, attention);
    bf16.device = Device::cuda, bf16.precision = Precision::bf16, bf16.steps = 20;
    const std::vector<double> l = losses(bf16);
    EXPECT_LT(l.back(), l.front()) << attention;
  }
}

}  // namespace
