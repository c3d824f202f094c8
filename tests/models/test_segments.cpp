// Tests of the segmentation data (fmav/segments.h): the generated set (layout, determinism,
// labels), folders in the ADE20K layout made here (label 0 ignored, 150 classes), the fitted
// label maps, every bad-input message, label PNGs, and the scores against hand-computed ones.

#include "fmav/segments.h"

#include "fmav/error.h"
#include "fmav/input.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace fmav_test {
namespace {

namespace fs = std::filesystem;
using fmav::kIgnoreClass;

class Segments : public TempFolder {
 protected:
  // An image of w x h with a label map (labels[i] per pixel) in root/{images,annotations}/split/name.
  void add(const std::string& root, const std::string& split, const std::string& name, std::int64_t w,
           std::int64_t h, const std::vector<std::uint8_t>& labels, std::int64_t mask_w = -1, std::int64_t mask_h = -1) {
    fs::create_directories(fs::path(root) / "images" / split);
    fs::create_directories(fs::path(root) / "annotations" / split);
    fmav::Image image;
    image.width = w, image.height = h;
    image.rgb.assign(static_cast<std::size_t>(w * h * 3), 0.5f);
    fmav::write_png((fs::path(root) / "images" / split / (name + ".png")).string(), image);
    fmav::LabelImage mask;
    mask.width = mask_w < 0 ? w : mask_w, mask.height = mask_h < 0 ? h : mask_h;
    mask.labels = labels;
    mask.labels.resize(static_cast<std::size_t>(mask.width * mask.height), 1);
    fmav::write_label_png((fs::path(root) / "annotations" / split / (name + ".png")).string(), mask);
  }
  // A minimal ADE20K-style folder: one 4 x 4 image per split, labels 0..3.
  std::string ade() {
    const std::string root = path("ade");
    add(root, "training", "ADE_train_0001", 4, 4, {0, 1, 2, 3, 150});
    add(root, "validation", "ADE_val_0001", 4, 4, {3, 2, 1, 0});
    return root;
  }
};

TEST_F(Segments, GeneratedSetHasTheLayoutAndIsDeterministic) {
  std::int64_t last = 0, total = 0;
  fmav::make_segments_dataset(path("a"), 10, 32, 7, [&](std::int64_t done, std::int64_t all) {
    EXPECT_EQ(done, last + 1);
    last = done, total = all;
  });
  EXPECT_EQ(last, 12);  // 10 training + max(2, 10 / 5) validation
  EXPECT_EQ(total, 12);
  fmav::make_segments_dataset(path("b"), 10, 32, 7);
  fmav::make_segments_dataset(path("c"), 10, 32, 8);
  const std::string first = "images/training/0000.png", mask = "annotations/validation/0001.png";
  EXPECT_EQ(read_bytes(path("a/" + first)), read_bytes(path("b/" + first)));
  EXPECT_EQ(read_bytes(path("a/" + mask)), read_bytes(path("b/" + mask)));
  EXPECT_NE(read_bytes(path("a/" + first)), read_bytes(path("c/" + first)));

  const fmav::SegmentFolder folder = fmav::list_segment_folder(path("a"));
  EXPECT_EQ(folder.classes, fmav::segment_classes());
  EXPECT_FALSE(folder.ignore_zero);
  ASSERT_EQ(folder.training.size(), 10u);
  ASSERT_EQ(folder.validation.size(), 2u);
  EXPECT_EQ(folder.training[3].annotation, (fs::path(path("a")) / "annotations/training/0003.png").string());
  // Every label is a class; together the images show the background and every shape.
  std::set<std::int32_t> seen;
  for (const fmav::SegmentItem& item : folder.training) {
    const fmav::SegmentSample s = fmav::read_segment_sample(folder, item, 32);
    ASSERT_EQ(s.classes.size(), 32u * 32u);
    std::set<std::int32_t> here(s.classes.begin(), s.classes.end());
    EXPECT_GE(here.size(), 2u) << item.image << " shows no shape";
    seen.insert(here.begin(), here.end());
  }
  EXPECT_EQ(seen, (std::set<std::int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(Segments, GeneratorRefusesBadSizes) {
  expect_error([&] { fmav::make_segments_dataset(path("x"), 0, 32, 1); }, "--count (training images) must be in 1..100000, got 0");
  expect_error([&] { fmav::make_segments_dataset(path("x"), 5, 8, 1); }, "--size must be in 16..1024 pixels, got 8");
}

TEST_F(Segments, Ade20kLayoutIgnoresLabelZero) {
  const std::string root = ade();
  EXPECT_TRUE(fmav::is_segment_folder(root));
  EXPECT_FALSE(fmav::is_segment_folder(path("none")));
  const fmav::SegmentFolder folder = fmav::list_segment_folder(root);
  ASSERT_EQ(folder.classes.size(), 150u);
  EXPECT_EQ(folder.classes[0], "ade1");
  EXPECT_TRUE(folder.ignore_zero);
  const fmav::SegmentSample s = fmav::read_segment_sample(folder, folder.training[0], 4);
  EXPECT_EQ(s.classes[0], kIgnoreClass);
  EXPECT_EQ(s.classes[1], 0);
  EXPECT_EQ(s.classes[3], 2);
  EXPECT_EQ(s.classes[4], 149);  // label 150, the last class
  EXPECT_EQ(s.classes[5], 0);    // the filler label 1
}

TEST_F(Segments, JpegImagesFindTheirPngAnnotations) {
  const std::string root = ade();
  fs::rename(fs::path(root) / "images/validation/ADE_val_0001.png", fs::path(root) / "images/validation/ADE_val_0001.jpg");
  const fmav::SegmentFolder folder = fmav::list_segment_folder(root);
  ASSERT_EQ(folder.validation.size(), 1u);
  EXPECT_EQ(fs::path(folder.validation[0].annotation).filename(), "ADE_val_0001.png");
}

TEST_F(Segments, LabelsAreFittedWithTheImagesCrop) {
  // 8 wide, 4 high: fitting to 2 x 2 keeps columns 2..5; labels are the column index.
  const std::string root = path("wide");
  std::vector<std::uint8_t> labels;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 8; ++x) labels.push_back(static_cast<std::uint8_t>(x + 1));
  }
  add(root, "training", "a", 8, 4, labels);
  add(root, "validation", "a", 8, 4, labels);
  const fmav::SegmentFolder folder = fmav::list_segment_folder(root);
  const fmav::SegmentSample s = fmav::read_segment_sample(folder, folder.training[0], 2);
  EXPECT_EQ(s.image.width, 2);
  // Output pixel x samples source column 2 + (x + 0.5) * 2: columns 3 and 5 (labels 4, 6 -> classes 3, 5).
  EXPECT_EQ(s.classes, (std::vector<std::int32_t>{3, 5, 3, 5}));
}

TEST_F(Segments, BadFoldersAreNamed) {
  const std::string root = ade();
  fmav::SegmentFolder folder = fmav::list_segment_folder(root);

  // A label map of another size than its image.
  add(root, "training", "small", 4, 4, {}, 3, 4);
  folder = fmav::list_segment_folder(root);
  expect_error([&] { fmav::read_segment_sample(folder, folder.training[1], 4); },
               "annotations/training/small.png: the label map is 3 x 4 pixels but its image");

  // A label past the classes: 151 for ADE20K.
  add(root, "training", "high", 4, 4, {1, 151});
  folder = fmav::list_segment_folder(root);
  expect_error([&] { fmav::read_segment_sample(folder, folder.training[1], 4); },
               "high.png: label 151 at pixel (1, 0) is out of range: " + root + " has 150 classes, labels 0..150 (0 ignored)");

  // An image without its annotation.
  fs::remove(fs::path(root) / "annotations/training/high.png");
  expect_error([&] { fmav::list_segment_folder(root); },
               "images/training/high.png: has no annotation (looked for " + root + "/annotations/training/high.png)");

  // An RGB PNG as a label map.
  fmav::Image rgb;
  rgb.width = rgb.height = 4;
  rgb.rgb.assign(48, 0.0f);
  fmav::write_png((fs::path(root) / "annotations/training/high.png").string(), rgb);
  folder = fmav::list_segment_folder(root);
  expect_error([&] { fmav::read_segment_sample(folder, folder.training[1], 4); },
               "high.png: a label map must be an 8-bit grey PNG (one channel), got bit depth 8 and 3 channel(s)");

  // No annotations/ at all; no images/; no split folder.
  fs::remove_all(fs::path(root) / "annotations");
  expect_error([&] { fmav::list_segment_folder(root); }, root + ": has images/ but no annotations/ folder");
  expect_error([&] { fmav::list_segment_folder(path("nothing")); }, "nothing: no such folder");
  fs::create_directories(path("empty"));
  expect_error([&] { fmav::list_segment_folder(path("empty")); }, "empty: has no images/ folder");
  const std::string one = path("one");
  add(one, "training", "a", 4, 4, {});
  expect_error([&] { fmav::list_segment_folder(one); }, one + ": has no images/validation/ folder");
}

TEST_F(Segments, GeneratedLabelsPastTheClassesAreRefused) {
  fmav::make_segments_dataset(path("g"), 1, 16, 1);
  add(path("g"), "training", "bad", 4, 4, {6});
  const fmav::SegmentFolder folder = fmav::list_segment_folder(path("g"));
  expect_error([&] { fmav::read_segment_sample(folder, folder.training[1], 4); },
               "bad.png: label 6 at pixel (0, 0) is out of range: " + path("g") + " has 6 classes, labels 0..5");
  write_bytes(path("g/classes.json"), "{\"format\": \"fmav-segments\", \"format_version\": 1, \"classes\": [\"a\"], "
                                      "\"ignore_zero\": false}");
  expect_error([&] { fmav::list_segment_folder(path("g")); }, "classes.json: \"classes\" must be an array of 2..255 names");
}

TEST_F(Segments, LabelPngsRoundTrip) {
  fmav::LabelImage in;
  in.width = 3, in.height = 2;
  in.labels = {0, 1, 2, 150, 254, 255};
  fmav::write_label_png(path("m.png"), in);
  const fmav::LabelImage out = fmav::read_label_png(path("m.png"));
  EXPECT_EQ(out.width, 3);
  EXPECT_EQ(out.height, 2);
  EXPECT_EQ(out.labels, in.labels);
  write_bytes(path("bad.png"), "not a png");
  expect_error([&] { fmav::read_label_png(path("bad.png")); }, "bad.png: a label map must be a PNG");
}

TEST(SegmentScores, MatchAHandComputedExample) {
  // 3 classes; rows: truth, columns: prediction. Class 2 appears nowhere.
  //            pred 0  pred 1  pred 2
  // truth 0:     3       1       0
  // truth 1:     2       4       0
  // truth 2:     0       0       0
  const std::vector<std::int64_t> confusion = {3, 1, 0, 2, 4, 0, 0, 0, 0};
  const fmav::SegmentScores s = fmav::segment_scores(confusion, 3);
  ASSERT_EQ(s.iou.size(), 3u);
  EXPECT_DOUBLE_EQ(s.iou[0], 3.0 / (4 + 5 - 3));   // TP 3, truth 4, predicted 5
  EXPECT_DOUBLE_EQ(s.iou[1], 4.0 / (6 + 5 - 4));   // TP 4, truth 6, predicted 5
  EXPECT_TRUE(std::isnan(s.iou[2]));               // absent: left out of the mean
  EXPECT_DOUBLE_EQ(s.miou, (0.5 + 4.0 / 7) / 2);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy, 7.0 / 10);
  EXPECT_EQ(s.pixels, 10);
  // Predicted but never true: IoU 0, counted in the mean.
  const fmav::SegmentScores t = fmav::segment_scores({1, 1, 0, 0}, 2);
  EXPECT_DOUBLE_EQ(t.iou[1], 0.0);
  EXPECT_DOUBLE_EQ(t.miou, 0.25);
  expect_error([] { fmav::segment_scores({1, 2, 3}, 2); }, "the confusion matrix must be 2 x 2, got 3 counts");
  expect_error([] { fmav::segment_scores({0, 0, 0, 0}, 2); }, "no scored pixels");
}

}  // namespace
}  // namespace fmav_test
