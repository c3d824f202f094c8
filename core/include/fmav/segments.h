#pragma once
// Semantic segmentation data and scores (docs/DESIGN.md "Segmentation"): folders in the
// ADE20K layout (images/{training,validation}/NAME.jpg|png with annotations/{...}/NAME.png,
// 8-bit grey label maps), the set `fmav gen-task segments` makes in that layout, and the
// scores of a prediction: per-class IoU, mIoU and pixel accuracy. No LibTorch.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmav/input.h"

namespace fmav {

constexpr int kAde20kClasses = 150;
constexpr std::int32_t kIgnoreClass = -1;  // a pixel no class is scored on

// One image and its label map.
struct SegmentItem {
  std::string image, annotation;
};

// A segmentation folder. Its classes come from root/classes.json when it has one (format
// "fmav-segments": "classes", names in label order, and "ignore_zero"); else it is ADE20K's
// 150 classes ("ade1".."ade150") with label 0 ("other") ignored and label v scored as class
// v - 1. With ignore_zero false, label v is class v (the generated set: 0 is the background,
// a real class).
struct SegmentFolder {
  std::string root;
  std::vector<std::string> classes;
  bool ignore_zero = true;
  std::vector<SegmentItem> training, validation;  // sorted by image name
};

// Whether `root` is a folder with an images/ sub-folder (the ADE20K layout). Never throws.
bool is_segment_folder(const std::string& root);

// Lists a segmentation folder. Throws fmav::Error naming the folder or file when root or
// images/ is missing, annotations/ is missing, a split folder is missing or empty, an image
// has no annotation (naming the image and the annotation looked for), or classes.json is
// unreadable.
SegmentFolder list_segment_folder(const std::string& root);

// One item read for a model of side `size`: the image fitted (fit_image: cover, centre crop)
// and its classes by nearest neighbour on the same crop, (size, size) row-major, kIgnoreClass
// where ignored. Throws fmav::Error naming the annotation when its size differs from the
// image's or a label is out of range (naming the label, the pixel and the range).
struct SegmentSample {
  Image image;
  std::vector<std::int32_t> classes;
};
SegmentSample read_segment_sample(const SegmentFolder& folder, const SegmentItem& item, std::int64_t size);

// The generated set's classes in label order: background (a real class, label 0), circle,
// square, triangle, cross, stripes.
const std::vector<std::string>& segment_classes();

// Writes root/images/{training,validation}/NNNN.png, root/annotations/{...}/NNNN.png and
// root/classes.json: `count` training and max(2, count / 5) validation images of size x size
// pixels, each a textured background under 2..5 overlapping shapes of random class, colour,
// size and angle (later shapes cover earlier ones), every file written atomically and
// deterministic in the seed. Throws fmav::Error for count outside 1..100000, size outside
// 16..1024, or when writing fails. `progress` gets the images written and in all.
void make_segments_dataset(const std::string& root, std::int64_t count, std::int64_t size, std::uint64_t seed,
                           const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

// Scores from a confusion matrix (classes x classes, [true * classes + predicted] counts of
// scored pixels): per-class IoU = TP / (TP + FP + FN), NaN for a class in neither the truth
// nor the prediction; mIoU = the mean over the other classes; pixel accuracy = correct /
// scored pixels. Throws fmav::Error for a matrix of the wrong size or without pixels.
struct SegmentScores {
  std::vector<double> iou;
  double miou = 0, pixel_accuracy = 0;
  std::int64_t pixels = 0;
};
SegmentScores segment_scores(const std::vector<std::int64_t>& confusion, std::int64_t classes);

// The scores of one prediction against its truth, both (S, S) class maps as
// read_segment_sample gives them (kIgnoreClass where ignored; predicted: 0..classes-1):
// segment_scores of their confusion matrix. Throws fmav::Error naming the map whose size
// differs or the first class out of range (and segment_scores' errors).
SegmentScores score_segment_mask(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& truth,
                                 std::int64_t classes);

// The annotation the ADE20K layout gives an image: root/images/<split>/NAME.ext ->
// root/annotations/<split>/NAME.png; "" when the image is not in that layout or that file
// does not exist. Never throws.
std::string find_segment_annotation(const std::string& image);

// Reads `annotation` as the label map of `image` for a model with `classes` and side `size`
// (read_segment_sample's checks and crop). The label rule is the folder's when the
// annotation lies in one (root/annotations/<split>/, root/classes.json or ADE20K's), whose
// class count must match; otherwise label v is class v. Throws fmav::Error naming the file.
SegmentSample read_segment_mask(const std::string& image, const std::string& annotation,
                                const std::vector<std::string>& classes, std::int64_t size);

}  // namespace fmav
