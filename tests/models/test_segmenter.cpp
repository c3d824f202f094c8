// The segmenter (docs/DESIGN.md "Segmentation"): every stage's tokens and heads, logits at
// the input's size for each 2D attention, a tiny model that learns a tiny generated set (loss
// falls, mIoU far above chance), checkpoints that resume exactly and reload, config.json's
// checks, and data that does not fit the architecture.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "fmav/error.h"
#include "fmav/memory_estimate.h"
#include "fmav/segments.h"
#include "fmav/train.h"
#include "models/model_internal.h"
#include "test_util.h"

namespace {

using namespace fmav;
using fmav_test::expect_error;
namespace fs = std::filesystem;

ModelConfig tiny_segmenter(std::int64_t size = 32) {
  ModelConfig c = segmenter_preset("seg-b0");
  c.image_size = size;
  c.stage_widths = {16, 16, 32, 32};
  c.stage_depths = {1, 1, 1, 1};
  c.stage_heads = {1, 2, 2, 4};
  c.layers = 4;
  c.d_model = 32;
  c.mlp_ratio = 2;
  c.classes = segment_classes();
  return c;
}

TEST(Segmenter, EveryStageHasItsGridAndTheLogitsTheInputsSize) {
  for (const char* kind : {"fma", "fma-linear", "fma-average", "full", "swin", "linear"}) {
    ModelConfig c = tiny_segmenter(64);
    parse_attention(kind, &c.attention);
    c.attention.block_size = 2;
    const Model m = Model::create(c, 3);
    LayerTap tap;
    tap.all = true;
    const at::Tensor logits = segmenter_logits(m, at::rand({2, 64, 64, 3}), &tap);
    EXPECT_EQ(logits.sizes().vec(), (std::vector<std::int64_t>{2, 6, 64, 64})) << kind;
    EXPECT_TRUE(at::isfinite(logits).all().item<bool>()) << kind;
    ASSERT_EQ(tap.qs.size(), 4u) << kind;
    // Strides 4, 8, 16, 32: grids 16, 8, 4, 2; head dims 16, 8, 16, 8 = width / heads.
    const std::int64_t grids[4] = {16, 8, 4, 2};
    for (int s = 0; s < 4; ++s) {
      EXPECT_EQ(segmenter_grid(c, s), grids[s]);
      EXPECT_EQ(tap.qs[s].sizes().vec(),
                (std::vector<std::int64_t>{2, c.stage_heads[s], grids[s] * grids[s], s % 2 == 0 ? 16 : 8}))
          << kind << " stage " << s;
    }
  }
}

TEST(Segmenter, LearnedSummariesFollowEachStagesLevels) {
  ModelConfig c = tiny_segmenter(64);
  c.attention.block_size = 2;
  // Stage grids 16, 8, 4, 2 with 2 x 2 cells: sides 2 * 2^k with k = 3, 2, 1, 0 give
  // max(0, k - 1) = 2, 1, 0, 0 coarse levels (fmav/fma2d.h).
  const auto shapes = model_tensor_shapes(c);
  const auto has = [&](const std::string& name) {
    for (const auto& [n, s] : shapes) {
      if (n == name) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("stages.0.blocks.0.attn.level2.k.row.weight"));
  EXPECT_FALSE(has("stages.0.blocks.0.attn.level3.k.row.weight"));
  EXPECT_TRUE(has("stages.1.blocks.0.attn.level1.v.col.weight"));
  EXPECT_FALSE(has("stages.1.blocks.0.attn.level2.v.col.weight"));
  EXPECT_FALSE(has("stages.2.blocks.0.attn.level1.k.row.weight"));
  EXPECT_TRUE(has("stages.0.embed.weight") && has("decode.fuse.weight") && has("decode.cls.bias"));
  EXPECT_TRUE(has("stages.1.blocks.0.mlp.dw.weight"));
  // The presets: B0's and B1's widths halved, 2 blocks per stage.
  EXPECT_EQ(segmenter_preset("seg-b1").stage_widths, (std::vector<std::int64_t>{32, 64, 160, 256}));
  expect_error([] { segmenter_preset("seg-b9"); }, "segmenter preset must be seg-b0 or seg-b1, got 'seg-b9'");
}

class SegmenterTraining : public fmav_test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    make_segments_dataset(path("data"), 12, 32, 5);
  }
  TrainOptions options(const std::string& out) const {
    TrainOptions o;
    o.data = path("data"), o.out = path(out);
    o.model = tiny_segmenter();
    o.model.classes.clear();
    o.steps = 4, o.batch = 4, o.warmup = 5, o.lr = 4e-3, o.eval_every = 0, o.save_every = 0, o.eval_tokens = 12;
    return o;
  }
};

TEST_F(SegmenterTraining, LearnsATinySetFarAboveChance) {
  TrainOptions o = options("m");
  o.model = segmenter_preset("seg-b0");  // 0.8 M parameters; at 32 px about 10 s on 2 cores
  o.model.image_size = 32;
  o.model.classes.clear();
  o.steps = 150, o.batch = 8, o.lr = 1e-2, o.warmup = 20;
  std::vector<double> losses;
  const TrainResult r = train(o, [&](const TrainStatus& s) {
    losses.push_back(s.loss);
    EXPECT_FALSE(s.items_are_tokens);
  });
  ASSERT_EQ(losses.size(), 150u);
  const Model m = Model::load(o.out);
  EXPECT_EQ(m.config().classes, segment_classes());
  EvalOptions e;
  e.data = o.data, e.split = Split::train;
  const EvalResult fit = evaluate(m, e);
  // Chance: every pixel called background scores one class's IoU of about 0.6, mIoU ~ 0.1.
  std::printf("first loss %.3f, last %.3f, train mIoU %.3f, pixel accuracy %.3f\n", losses.front(), losses.back(),
              fit.miou, fit.accuracy);
  // Measured: 1.80 -> 0.11, mIoU 0.85, pixel accuracy 0.96.
  EXPECT_LT(losses.back(), 0.3 * losses.front());
  EXPECT_GT(fit.miou, 0.6);
  EXPECT_GT(fit.accuracy, 0.85);
  ASSERT_EQ(fit.class_iou.size(), 6u);
  for (double iou : fit.class_iou) EXPECT_GT(iou, 0.3);  // every class found, the background included
  EXPECT_EQ(fit.images, 12);
  EXPECT_EQ(fit.count, 12 * 32 * 32);
  // The valid split evaluated at the end of training is what evaluate() says of the saved model.
  e.split = Split::valid;
  const EvalResult valid = evaluate(m, e);
  EXPECT_NEAR(valid.miou, r.eval.miou, 1e-9);
  EXPECT_EQ(valid.images, 2);
  EXPECT_NE(m.config().training_json.find("\"miou\""), std::string::npos) << m.config().training_json;
}

TEST_F(SegmenterTraining, ResumedRunEqualsUninterruptedRunAndReloads) {
  TrainOptions whole = options("whole");
  train(whole);
  TrainOptions part = options("part");
  part.steps = 2;
  train(part);
  part.steps = 4, part.resume = true, part.data = "", part.given = {"steps"};
  EXPECT_EQ(train(part).steps_done, 4);
  const Model a = Model::load(whole.out), b = Model::load(part.out);
  const auto ta = a.tensors(), tb = b.tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) {
    const float* x = t.f32();
    const float* y = tb.at(name).f32();
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_NEAR(x[i], y[i], 1e-6) << name << "[" << i << "]";
  }
  // The reloaded model computes what the trained one does.
  const at::Tensor pixels = at::rand({1, 32, 32, 3});
  EXPECT_TRUE(at::allclose(segmenter_logits(a, pixels), segmenter_logits(Model::load(whole.out), pixels)));
  EXPECT_EQ(model_config_json(a.config()), model_config_json(parse_model_config(model_config_json(a.config()))));
}

TEST_F(SegmenterTraining, EvaluationLeavesIgnoredPixelsOut) {
  // The generated set read with label 0 ignored: 5 classes, the background unscored.
  fmav_test::write_bytes(path("data/classes.json"),
                         "{\"format\": \"fmav-segments\", \"format_version\": 1, \"classes\": [\"circle\", "
                         "\"square\", \"triangle\", \"cross\", \"stripes\"], \"ignore_zero\": true}");
  ModelConfig c = tiny_segmenter();
  c.classes = {"circle", "square", "triangle", "cross", "stripes"};
  const Model m = Model::create(c, 9);
  EvalOptions e;
  e.data = path("data"), e.split = Split::all, e.batch = 5;
  const EvalResult r = evaluate(m, e);
  // The same by hand: the argmax of each image's logits against its label map, label 0 skipped.
  const SegmentFolder folder = list_segment_folder(path("data"));
  std::vector<std::int64_t> confusion(25, 0);
  std::int64_t ignored = 0;
  std::vector<SegmentItem> items = folder.training;
  items.insert(items.end(), folder.validation.begin(), folder.validation.end());
  for (const SegmentItem& item : items) {
    const SegmentSample s = read_segment_sample(folder, item, 32);
    const at::Tensor pixels = at::from_blob(const_cast<float*>(s.image.rgb.data()), {1, 32, 32, 3}, at::kFloat);
    const at::Tensor predicted = segmenter_logits(m, pixels).argmax(1).reshape({-1}).contiguous();
    for (std::int64_t i = 0; i < 32 * 32; ++i) {
      if (s.classes[i] == kIgnoreClass) {
        ++ignored;
        continue;
      }
      ++confusion[s.classes[i] * 5 + predicted.data_ptr<std::int64_t>()[i]];
    }
  }
  ASSERT_GT(ignored, 0);
  const SegmentScores hand = segment_scores(confusion, 5);
  EXPECT_EQ(r.count, 14 * 32 * 32 - ignored);
  EXPECT_EQ(r.count, hand.pixels);
  EXPECT_DOUBLE_EQ(r.miou, hand.miou);
  EXPECT_DOUBLE_EQ(r.accuracy, hand.pixel_accuracy);
  ASSERT_EQ(r.class_iou.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    if (std::isnan(hand.iou[k])) EXPECT_TRUE(std::isnan(r.class_iou[k]));
    else EXPECT_DOUBLE_EQ(r.class_iou[k], hand.iou[k]);
  }
}

TEST_F(SegmenterTraining, DataThatDoesNotFitIsNamed) {
  TrainOptions o = options("x");
  o.model = image_preset("tiny");
  o.model.classes.clear();
  expect_error([&] { train(o); }, "is a segmentation folder (images/, annotations/); train a segmenter on it");
  o = options("y");
  make_segments_dataset(path("other"), 2, 32, 1);
  fs::remove_all(path("other/annotations"));
  o.data = path("other");
  expect_error([&] { train(o); }, "has images/ but no annotations/ folder");
  // A model's classes and the folder's must agree.
  o = options("z");
  train(o);
  EvalOptions e;
  e.data = path("ade");
  fs::create_directories(path("ade/images/training")), fs::create_directories(path("ade/images/validation"));
  fs::create_directories(path("ade/annotations"));
  fs::copy(path("data/images/training/0000.png"), path("ade/images/training/a.png"));
  fs::copy(path("data/images/training/0000.png"), path("ade/images/validation/a.png"));
  fs::create_directories(path("ade/annotations/training")), fs::create_directories(path("ade/annotations/validation"));
  fs::copy(path("data/annotations/training/0000.png"), path("ade/annotations/training/a.png"));
  fs::copy(path("data/annotations/training/0000.png"), path("ade/annotations/validation/a.png"));
  expect_error([&] { evaluate(Model::load(o.out), e); }, "its 150 classes differ from the model's 6");
}

TEST(SegmenterConfig, BadConfigsAreNamed) {
  ModelConfig c = tiny_segmenter();
  const std::string good = model_config_json(c);
  EXPECT_EQ(parse_model_config(good).stage_heads, c.stage_heads);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  expect_error([&] { parse_model_config(with("\"image_size\": 32", "\"image_size\": 48")); },
               "config.json: a segmenter's image_size must be a multiple of 32");
  expect_error([&] { parse_model_config(with("\"mlp_ratio\": 2", "\"mlp_ratio\": 2, \"d_model\": 4")); },
               "unknown key \"d_model\"");
  c.stage_heads = {1, 3, 2, 4};
  expect_error([&] { validate(c); }, "stage 2: heads (3) must divide its width (16)");
  c = tiny_segmenter();
  c.stage_widths = {8, 16, 16};
  expect_error([&] { validate(c); }, "a segmenter needs 4 stage widths, depths and heads, got 3, 4 and 4");
  c = tiny_segmenter();
  c.attention.kind = AttentionKind::htransformer;
  expect_error([&] { validate(c); }, "a segmenter's attention must be fma, fma-linear, full, swin or linear, got htransformer");
  c = tiny_segmenter();
  c.layers = 3;
  expect_error([&] { validate(c); }, "a segmenter's layers must be its blocks in all (4), got 3");
  std::string short_widths = good;
  const std::size_t at = short_widths.find("\"stage_widths\"");
  ASSERT_NE(at, std::string::npos);
  short_widths.replace(at, short_widths.find(']', at) - at + 1, "\"stage_widths\": [8, 16]");
  expect_error([&] { parse_model_config(short_widths); }, "\"stage_widths\" must be an array of 4 integers");
  // Predicted training memory grows with the input.
  EXPECT_GT(train_bytes(tiny_segmenter(64), 4), 2 * train_bytes(tiny_segmenter(32), 4));
  // Full attention runs through SDPA, which keeps no N x N scores: at 512 px (16 384 tokens in
  // stage 1) its prediction is below FMA2D's, as measured (docs/BENCHMARKS.md), not 19x it.
  ModelConfig full = segmenter_preset("seg-b0");
  full.image_size = 512, full.classes = segment_classes();
  ModelConfig fma2d = full;
  parse_attention("full", &full.attention);
  EXPECT_LT(train_bytes(full, 1), train_bytes(fma2d, 1));
  EXPECT_LT(eval_bytes(full, 1), eval_bytes(fma2d, 1));
}

}  // namespace
