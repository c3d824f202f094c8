// A segmenter's block captured for inspection (fmav/model.h capture_*): each block's q, k, v
// on its stage's grid reproduce the attention the forward pass computed; full attention is
// compared with FMA2D on that grid; the predicted mask is the logits' argmax; one image's IoU;
// ground-truth masks found by the ADE20K layout and read for a model; errors that name the problem.

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "fmav/error.h"
#include "fmav/inspect.h"
#include "fmav/segments.h"
#include "models/model_internal.h"
#include "test_util.h"

namespace {

using namespace fmav;
using fmav_test::expect_error;
namespace fs = std::filesystem;

// 64 px: stage grids 16, 8, 4, 2; two blocks in stage 0 so block 1 is a shifted Swin block.
ModelConfig small_segmenter(const char* attention) {
  ModelConfig c = segmenter_preset("seg-b0");
  c.image_size = 64;
  c.stage_widths = {16, 16, 32, 32};
  c.stage_depths = {2, 1, 1, 1};
  c.stage_heads = {1, 2, 2, 4};
  c.layers = 5;
  c.d_model = 32;
  c.mlp_ratio = 2;
  c.classes = segment_classes();
  parse_attention(attention, &c.attention);
  c.attention.block_size = 2;
  return c;
}

std::vector<float> random_image(std::int64_t side, std::uint64_t seed) {
  at::manual_seed(seed);
  const at::Tensor t = at::rand({side * side * 3});
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

// Layer `layer`'s attention output (1, H, N, D) as the forward pass computed it.
at::Tensor forward_output(const Model& m, const std::vector<float>& rgb, int layer) {
  LayerTap tap;
  tap.layer = layer;
  at::NoGradGuard no_grad;
  segmenter_logits(m, at::from_blob(const_cast<float*>(rgb.data()), {1, 64, 64, 3}, at::kFloat).clone(), &tap);
  return tap.o;
}

TEST(SegmenterCapture, EachBlockReproducesTheForwardsAttention) {
  const std::int64_t grids[4] = {16, 8, 4, 2};
  const int stages[5] = {0, 0, 1, 2, 3}, blocks[5] = {0, 1, 0, 0, 0};
  for (const char* kind : {"fma", "fma-linear", "swin", "linear"}) {
    const Model m = Model::create(small_segmenter(kind), 5);
    const std::vector<float> rgb = random_image(64, 1);
    for (int layer = 0; layer < 5; ++layer) {
      const LayerCapture c = capture_image(m, rgb, layer);
      const std::int64_t grid = grids[stages[layer]];
      EXPECT_EQ(c.stage, stages[layer]) << kind << " layer " << layer;
      EXPECT_EQ(c.block, blocks[layer]) << kind << " layer " << layer;
      EXPECT_EQ(c.tokens, grid * grid) << kind << " layer " << layer;
      if (c.method != Method::linear) {
        EXPECT_EQ(c.fma.grid_height, grid) << kind << " layer " << layer;
        EXPECT_EQ(c.fma.grid_width, grid) << kind << " layer " << layer;
      }
      if (c.method == Method::swin) {
        EXPECT_EQ(c.peer.shifted, blocks[layer] % 2 == 1) << " layer " << layer;
      }
      const at::Tensor mine = to_tensor(attend(c.q, c.k, c.v, c.options(), c.weights));
      const at::Tensor forward = forward_output(m, rgb, layer);
      ASSERT_EQ(mine.sizes(), forward.sizes()) << kind << " layer " << layer;
      EXPECT_LT(fmav_test::max_abs_diff(mine, forward), 1e-4) << kind << " layer " << layer;
    }
  }
}

TEST(SegmenterCapture, LearnedSummariesAreTheBlocksOwn) {
  const Model m = Model::create(small_segmenter("fma"), 5);
  // Stage 0 (16 x 16, 2 x 2 cells) has 2 coarse levels, stage 1 one, stages 2 and 3 none.
  const LayerCapture b1 = capture_image(m, random_image(64, 2), 1);
  EXPECT_EQ(b1.weights.size(), 12u);  // levels 1 and 2; k and v; row, col and bias
  EXPECT_EQ(b1.weights.count("level2.k.row.weight"), 1u);
  EXPECT_TRUE(at::equal(to_tensor(b1.weights.at("level1.v.col.weight")),
                        m.state().params.at("stages.0.blocks.1.attn.level1.v.col.weight")));
  EXPECT_TRUE(capture_image(m, random_image(64, 2), 3).weights.empty());
}

TEST(SegmenterCapture, FullAttentionIsComparedWithFma2dOnTheStageGrid) {
  const Model m = Model::create(small_segmenter("full"), 5);
  const std::vector<float> rgb = random_image(64, 3);
  for (int layer : {0, 2}) {
    const LayerCapture c = capture_image(m, rgb, layer);
    EXPECT_EQ(c.method, Method::fma);
    EXPECT_EQ(c.fma.downsample, Downsample::average);
    const std::int64_t grid = layer == 0 ? 16 : 8;
    EXPECT_EQ(c.fma.grid_height, grid);
    EXPECT_EQ(c.fma.block_size, 2);
    // The full map's rows are the forward's softmax: each sums to 1 over the stage's tokens,
    // and the map times v is what the forward computed.
    InspectRequest req;
    const Inspection ins = inspect(c.q, c.k, c.v, c.options(), c.weights, req);
    ASSERT_EQ(ins.cols, grid * grid);
    for (std::int64_t r = 0; r < ins.rows; ++r) {
      const double full = std::accumulate(ins.full_map.begin() + r * ins.cols, ins.full_map.begin() + (r + 1) * ins.cols, 0.0);
      const double fma = std::accumulate(ins.fma_map.begin() + r * ins.cols, ins.fma_map.begin() + (r + 1) * ins.cols, 0.0);
      ASSERT_NEAR(full, 1.0, 1e-9) << "row " << r;
      ASSERT_NEAR(fma, 1.0, 1e-9) << "row " << r;
    }
    EXPECT_GT(ins.num_levels, 0);
    AttendOptions full = c.options();
    full.method = Method::full;
    const at::Tensor mine = to_tensor(attend(c.q, c.k, c.v, full, {}));
    EXPECT_LT(fmav_test::max_abs_diff(mine, forward_output(m, rgb, layer)), 1e-4);
  }
}

TEST(SegmenterCapture, FileLayersCaptureEveryBlock) {
  const Model m = Model::create(small_segmenter("fma"), 5);
  const fs::path png = fs::temp_directory_path() / "fmav_segcap_image.png";
  Image img;
  img.height = 80, img.width = 64;  // not square: fitted (cover, centre crop) to 64 x 64
  const at::Tensor pixels = at::rand({80 * 64 * 3});
  img.rgb.assign(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
  write_png(png.string(), img);
  const std::vector<LayerCapture> all = capture_file_layers(m, png.string());
  ASSERT_EQ(all.size(), 5u);
  for (int layer = 0; layer < 5; ++layer) {
    EXPECT_EQ(all[layer].image.height, 64);
    const LayerCapture one = capture_file(m, png.string(), layer);
    EXPECT_EQ(all[layer].stage, one.stage);
    EXPECT_TRUE(at::equal(to_tensor(all[layer].q), to_tensor(one.q))) << layer;
  }
  fs::remove(png);
}

TEST(SegmenterCapture, PredictionIsTheArgmaxOfTheLogits) {
  const Model m = Model::create(small_segmenter("fma"), 7);
  const std::vector<float> rgb = random_image(64, 4);
  const std::vector<std::int32_t> predicted = predict_segments(m, rgb);
  ASSERT_EQ(predicted.size(), 64u * 64u);
  at::NoGradGuard no_grad;
  const at::Tensor logits =
      segmenter_logits(m, at::from_blob(const_cast<float*>(rgb.data()), {1, 64, 64, 3}, at::kFloat).clone());
  const at::Tensor argmax = logits.argmax(1)[0].to(at::kInt).contiguous();
  EXPECT_TRUE(std::equal(predicted.begin(), predicted.end(), argmax.data_ptr<std::int32_t>()));
}

TEST(SegmenterCapture, OneImagesScores) {
  // Truth 0 0 1 1 - 2 against 0 1 1 1 2 0 (the 5th pixel ignored): class 0 TP 1 of union 3,
  // class 1 TP 2 of 3, class 2 TP 0 of 1; 3 of 5 scored pixels right.
  const SegmentScores s = score_segment_mask({0, 1, 1, 1, 2, 0}, {0, 0, 1, 1, kIgnoreClass, 2}, 3);
  ASSERT_EQ(s.iou.size(), 3u);
  EXPECT_DOUBLE_EQ(s.iou[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.iou[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.iou[2], 0.0);
  EXPECT_DOUBLE_EQ(s.miou, 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy, 3.0 / 5);
  EXPECT_EQ(s.pixels, 5);
  // A class in neither map is NaN and left out of the mean.
  const SegmentScores t = score_segment_mask({0, 0, 1}, {0, 0, 1}, 3);
  EXPECT_TRUE(std::isnan(t.iou[2]));
  EXPECT_DOUBLE_EQ(t.miou, 1.0);
}

TEST(SegmenterCapture, BadInputsNameTheProblem) {
  const Model m = Model::create(small_segmenter("fma"), 5);
  expect_error([&] { capture_image(m, random_image(64, 1), 5); },
               "layer must be in [0, 5), got 5 (a segmenter's blocks are counted over all its stages)");
  expect_error([&] { capture_image(m, random_image(64, 1), -1); }, "layer must be in [0, 5), got -1");
  expect_error([&] { capture_image(m, random_image(32, 1), 0); }, "image must be 64 x 64 x 3 values");
  expect_error([&] { predict_segments(m, random_image(32, 1)); }, "image must be 64 x 64 x 3 values");
  ModelConfig lm;
  expect_error([&] { predict_segments(Model::create(lm, 1), random_image(64, 1)); },
               "a causal-lm does not segment images");
  expect_error([&] { score_segment_mask({0, 1}, {0, 1, 1}, 2); },
               "the ground-truth mask has 3 pixels but the prediction 2");
  expect_error([&] { score_segment_mask({0, 1}, {0, 7}, 2); },
               "the ground-truth mask's class 7 at pixel 1 is out of range 0..1");
  expect_error([&] { score_segment_mask({0, 1}, {kIgnoreClass, kIgnoreClass}, 2); }, "no scored pixels");
}

class SegmentMasks : public fmav_test::TempFolder {};

TEST_F(SegmentMasks, FoundByTheLayoutAndReadForTheModel) {
  make_segments_dataset(path("set"), 2, 32, 3);
  const std::string image = path("set/images/training/0000.png");
  const std::string annotation = find_segment_annotation(image);
  EXPECT_EQ(fs::path(annotation), fs::path(path("set/annotations/training/0000.png")));
  EXPECT_EQ(find_segment_annotation(path("set/images/training/0099.png")), "");
  EXPECT_EQ(find_segment_annotation(path("elsewhere.png")), "");
  const SegmentFolder folder = list_segment_folder(path("set"));
  const SegmentSample expected = read_segment_sample(folder, folder.training[0], 16);
  const SegmentSample got = read_segment_mask(image, annotation, segment_classes(), 16);
  EXPECT_EQ(got.classes, expected.classes);
  EXPECT_EQ(got.image.rgb, expected.image.rgb);

  // A loose mask: label v is the model's class v.
  LabelImage loose;
  loose.width = 32, loose.height = 32;
  loose.labels.assign(32 * 32, 5);
  write_label_png(path("loose.png"), loose);
  EXPECT_EQ(read_segment_mask(image, path("loose.png"), segment_classes(), 16).classes,
            std::vector<std::int32_t>(16 * 16, 5));
  loose.labels[40] = 6;  // pixel (8, 1)
  write_label_png(path("loose.png"), loose);
  expect_error([&] { read_segment_mask(image, path("loose.png"), segment_classes(), 16); },
               "label 6 at pixel (8, 1) is out of range: the model has 6 classes, labels 0..5");
  loose.width = 16, loose.labels.resize(16 * 32);
  write_label_png(path("loose.png"), loose);
  expect_error([&] { read_segment_mask(image, path("loose.png"), segment_classes(), 16); },
               "the label map is 16 x 32 pixels but its image " + image + " is 32 x 32");
  expect_error([&] { read_segment_mask(image, annotation, {"a", "b"}, 16); },
               "has 6 classes but the model 2");
}

}  // namespace
