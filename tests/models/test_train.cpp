// Training and evaluation: the loss falls, a resumed run equals an uninterrupted one, a
// cancelled run leaves a loadable checkpoint, evaluation's numbers agree with each other,
// and unusable data or options are clear errors.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "fmav/train.h"
#include "test_util.h"
#include "models/train_internal.h"

namespace {

using namespace fmav;
using fmav_test::expect_error;
namespace fs = std::filesystem;

class Train : public fmav_test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    // A text with structure a small model learns in a few steps.
    std::ofstream text(path("text.txt"));
    for (int i = 0; i < 400; ++i) text << "the cat sat on the mat " << (i % 7) << ". ";
  }

  TrainOptions options(const std::string& out) const {
    TrainOptions o;
    o.data = path("text.txt"), o.out = path(out);
    o.model.d_model = 32, o.model.layers = 1, o.model.heads = 2, o.model.d_mlp = 64, o.model.context = 64;
    o.model.attention.block_size = 8, o.model.attention.rank = 2;
    o.steps = 4, o.batch = 4, o.warmup = 2, o.lr = 3e-3, o.eval_every = 0, o.save_every = 0, o.eval_tokens = 512;
    return o;
  }
};

TEST_F(Train, LossFallsAndTheModelIsSaved) {
  TrainOptions o = options("m");
  o.steps = 40, o.eval_every = 20;
  std::vector<double> losses;
  int evaluations = 0;
  const TrainResult r = train(o, [&](const TrainStatus& s) {
    losses.push_back(s.loss);
    evaluations += s.evaluated;
    EXPECT_GT(s.items_per_s, 0);
  });
  ASSERT_EQ(losses.size(), 40u);
  EXPECT_EQ(evaluations, 2);
  EXPECT_LT(losses.back(), losses.front() - 1.0);
  EXPECT_FALSE(r.cancelled);
  // The saved model evaluates to what training reported, and records how it was trained.
  const Model m = Model::load(o.out);
  EvalOptions e;
  e.data = o.data, e.max_tokens = o.eval_tokens;
  const EvalResult back = evaluate(m, e);
  EXPECT_NEAR(back.bpc, r.eval.bpc, 1e-6);
  EXPECT_NEAR(back.bpc, back.loss / std::log(2.0), 1e-12);
  EXPECT_NEAR(back.perplexity, std::exp(back.loss), 1e-9);
  EXPECT_NE(m.config().training_json.find("\"steps_done\":40"), std::string::npos) << m.config().training_json;
}

TEST_F(Train, ResumedRunEqualsUninterruptedRun) {
  TrainOptions whole = options("whole");
  train(whole);
  TrainOptions part = options("part");
  part.steps = 2;
  train(part);
  part.steps = 4, part.resume = true, part.data = "";  // the checkpoint remembers the data
  part.given = {"steps"};                              // and every option but those given
  const TrainResult r = train(part);
  EXPECT_EQ(r.steps_done, 4);
  const auto a = Model::load(whole.out).tensors(), b = Model::load(part.out).tensors();
  for (const auto& [name, t] : a) {
    const float* x = t.f32();
    const float* y = b.at(name).f32();
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_NEAR(x[i], y[i], 1e-6) << name << "[" << i << "]";
  }
  part.steps = 4;
  expect_error([&] { train(part); }, "has already run 4 of 4 steps");
}

TEST_F(Train, CancelSavesACheckpointThatResumes) {
  TrainOptions o = options("c");
  o.steps = 10;
  std::atomic<bool> cancel{false};
  const TrainResult r = train(o, [&](const TrainStatus& s) { cancel = s.step >= 3; }, &cancel);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.steps_done, 3);
  EXPECT_TRUE(fs::exists(path("c/checkpoint.safetensors")));
  EXPECT_NO_THROW(Model::load(o.out));
  o.resume = true;
  EXPECT_EQ(train(o).steps_done, 10);
}

TEST_F(Train, MaskedLanguageModelTrains) {
  TrainOptions o = options("mlm");
  o.model.architecture = Architecture::masked_lm;
  o.steps = 30;
  std::vector<double> losses;
  train(o, [&](const TrainStatus& s) { losses.push_back(s.loss); });
  EXPECT_LT(losses.back(), losses.front() - 0.5);
  EvalOptions e;
  e.data = o.data, e.split = Split::test;
  const EvalResult r = evaluate(Model::load(o.out), e);
  EXPECT_GT(r.count, 0);
  EXPECT_LT(r.count, 0.5 * 0.05 * 400 * 26);  // only the masked ~15% of the test split is scored
}

TEST_F(Train, AnswerMaskScoresOnlyAnswers) {
  TrainOptions o = options("a");
  train(o);
  const std::int64_t n = static_cast<std::int64_t>(fs::file_size(o.data));
  HostTensor mask = make_host_tensor(DType::u8, {n});
  for (std::int64_t i = 0; i < n; i += 10) mask.data[i] = 1;
  write_npy(path("answers.npy"), mask);
  EvalOptions e;
  e.data = o.data, e.split = Split::all, e.answers = path("answers.npy");
  const EvalResult r = evaluate(Model::load(o.out), e);
  EXPECT_NEAR(static_cast<double>(r.answer_count), static_cast<double>(n) / 10, 1.0);
  EXPECT_EQ(r.count, n - 1);  // every byte after the first is predicted once
  write_npy(path("short.npy"), make_host_tensor(DType::u8, {n - 1}));
  e.answers = path("short.npy");
  expect_error([&] { evaluate(Model::load(o.out), e); }, "the answer mask must be uint8 of shape");
}

TEST_F(Train, TextSplitsAre90_5_5) {
  // 10^8 bytes (enwik8) would give 90M / 5M / 5M; the same fractions on 2000 bytes.
  std::ofstream(path("t.txt")) << std::string(2000, 'x');
  ModelConfig c;
  const Dataset d = load_dataset(path("t.txt"), c, "", 1, {});
  EXPECT_EQ(d.begin[0], 0);
  EXPECT_EQ(d.end[0], 1800);
  EXPECT_EQ(d.begin[1], 1800);
  EXPECT_EQ(d.end[1], 1900);
  EXPECT_EQ(d.begin[2], 1900);
  EXPECT_EQ(d.end[2], 2000);
  EXPECT_EQ(d.end[static_cast<int>(Split::all)], 2000);
  // With an answer mask the cuts fall on record boundaries (multiples of align).
  write_npy(path("a.npy"), make_host_tensor(DType::u8, {2000}));
  const Dataset r = load_dataset(path("t.txt"), c, path("a.npy"), 256, {});
  EXPECT_EQ(r.end[0], 1792);
  EXPECT_EQ(r.end[1], 1792);
}

TEST_F(Train, UnusableDataAndOptionsAreClearErrors) {
  TrainOptions o = options("bad");
  o.data = path("nothing.txt");
  expect_error([&] { train(o); }, "nothing.txt");
  EXPECT_FALSE(fs::exists(o.out));  // nothing is written before the data is read
  std::ofstream(path("tiny.txt")) << "too short";
  o.data = path("tiny.txt");
  expect_error([&] { train(o); }, "needs >= 64 bytes");
  o.data = m_dir.string();
  expect_error([&] { train(o); }, "is a folder; a causal-lm trains on a text file");
  o = options("bad");
  o.lr = 5;
  expect_error([&] { train(o); }, "lr must be in (0, 1)");
  o = options("bad");
  o.resume = true;
  expect_error([&] { train(o); }, "cannot resume");
  expect_error([] { parse_split("dev"); }, "split must be train, valid, test or all");
}

}  // namespace
