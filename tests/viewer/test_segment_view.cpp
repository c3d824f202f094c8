// The viewer's segmentation overlay (app/viewer/segment_view.h): the prediction and the ground
// truth found next to the image, a mask that cannot be read reported beside the prediction,
// and the blend of the class colours over the image.

#include <gtest/gtest.h>

#include <filesystem>

#include "fmav/segments.h"
#include "segment_view.h"
#include "test_helpers.h"

namespace {

using namespace fmav;
using namespace fmav::viewer;
namespace fs = std::filesystem;

class SegmentViewTest : public fmav_test::TempFolder {
 protected:
  Model small_segmenter() const {
    ModelConfig c = segmenter_preset("seg-b0");
    c.image_size = 32, c.stage_widths = {8, 8, 16, 16}, c.stage_depths = {1, 1, 1, 1}, c.stage_heads = {1, 1, 2, 2};
    c.layers = 4, c.d_model = 16, c.mlp_ratio = 2, c.classes = segment_classes();
    return Model::create(c, 2);
  }
};

TEST_F(SegmentViewTest, PredictionAndTheLayoutsGroundTruth) {
  make_segments_dataset(path("set"), 2, 32, 5);
  const Model m = small_segmenter();
  const std::string image = path("set/images/validation/0000.png");
  const Image fitted = fit_image(read_image(image), 32, 32);
  const SegmentView view = make_segment_view(m, fitted, image, "");
  EXPECT_EQ(view.predicted, predict_segments(m, fitted.rgb));
  std::int64_t pixels = 0;
  for (std::int64_t n : view.predicted_pixels) pixels += n;
  EXPECT_EQ(pixels, 32 * 32);
  ASSERT_EQ(view.truth.size(), 32u * 32u);
  EXPECT_EQ(fs::path(view.truth_path), fs::path(path("set/annotations/validation/0000.png")));
  const SegmentScores expected = score_segment_mask(view.predicted, view.truth, 6);
  EXPECT_DOUBLE_EQ(view.scores.pixel_accuracy, expected.pixel_accuracy);
  EXPECT_TRUE(view.truth_note.empty());

  // A loose image has none; a mask of the wrong size is reported, the prediction kept.
  fs::copy_file(image, path("loose.png"));
  const SegmentView loose = make_segment_view(m, fitted, path("loose.png"), "");
  EXPECT_TRUE(loose.truth.empty());
  EXPECT_NE(loose.truth_note.find("no ground truth"), std::string::npos) << loose.truth_note;
  LabelImage small;
  small.width = 16, small.height = 32, small.labels.assign(16 * 32, 0);
  write_label_png(path("small.png"), small);
  const SegmentView bad = make_segment_view(m, fitted, image, path("small.png"));
  EXPECT_TRUE(bad.truth.empty());
  EXPECT_EQ(bad.predicted, view.predicted);
  EXPECT_NE(bad.truth_note.find("ground truth not shown: " + path("small.png") + ": the label map is 16 x 32"),
            std::string::npos) << bad.truth_note;
}

TEST_F(SegmentViewTest, BlendMixesTheClassColoursIn) {
  Image image;
  image.width = 2, image.height = 1, image.rgb = {0.2f, 0.4f, 0.6f, 1.0f, 1.0f, 1.0f};
  const std::vector<std::int32_t> classes = {1, kIgnoreClass};
  const Rgba8 c = segment_color(1);
  EXPECT_EQ(blend_segments(image, classes, 0.0f).rgb, image.rgb);
  const Image full = blend_segments(image, classes, 1.0f);
  EXPECT_FLOAT_EQ(full.rgb[0], c.r / 255.0f);
  EXPECT_FLOAT_EQ(full.rgb[2], c.b / 255.0f);
  EXPECT_FLOAT_EQ(full.rgb[3], 1.0f);  // ignored: the image's own
  const Image half = blend_segments(image, classes, 0.5f);
  EXPECT_FLOAT_EQ(half.rgb[1], 0.5f * 0.4f + 0.5f * c.g / 255.0f);
  // Classes past the fixed palette get distinct colours too.
  const Rgba8 a = segment_color(20), b = segment_color(21);
  EXPECT_TRUE(a.r != b.r || a.g != b.g || a.b != b.b);
  fmav_test::expect_error([&] { blend_segments(image, {1}, 0.5f); }, "the mask has 1 pixels but the image 2");
}

}  // namespace
