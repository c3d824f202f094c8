#pragma once
// A segmenter's prediction on the shown image for the query inspector (docs/DESIGN.md
// "Segmentation"): the predicted class mask, the ground truth when one is found (--mask, or
// the ADE20K layout's annotation), this image's per-class IoU, and the mask blended over the
// image. No ImGui or GL here: the worker makes it, panel_query_input.cpp draws it.

#include "colormap.h"
#include "fmav/input.h"
#include "fmav/model.h"
#include "fmav/segments.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

struct SegmentView {
  std::vector<std::string> classes;      // the model's, in label order
  std::int64_t size = 0;                 // S: the masks are (S, S) row-major
  std::vector<std::int32_t> predicted;   // class per pixel
  std::vector<std::int64_t> predicted_pixels;  // per class
  std::vector<std::int32_t> truth;       // kIgnoreClass where ignored; empty without a mask
  std::string truth_path;                // the mask read, "" when none
  std::string truth_note;                // why there is none, or why it could not be read
  SegmentScores scores;                  // of predicted against truth, when there is one
};

// The segmenter's prediction on `image` (fitted to its size, as the capture's) and the
// ground truth of `input`: `mask` when given, else find_segment_annotation(input). A mask
// that cannot be read leaves truth empty with the reason in truth_note. Throws fmav::Error
// only for a model that is not a segmenter or a wrong-size image (predict_segments).
SegmentView make_segment_view(const Model& model, const Image& image, const std::string& input,
                              const std::string& mask);

// Class `k`'s colour in the overlay and the legend: a fixed palette, then hues by the golden
// ratio; kIgnoreClass is black.
Rgba8 segment_color(std::int32_t k);

// `image` with each pixel's class colour blended in at `alpha` (0: the image, 1: the colours);
// ignored pixels stay as they are. `classes` is (image.height, image.width).
Image blend_segments(const Image& image, const std::vector<std::int32_t>& classes, float alpha);

}  // namespace fmav::viewer
