// `fmav segment`: a segmenter's prediction on one image (docs/DESIGN.md "Segmentation"): the
// pixels per predicted class, the per-class IoU, mIoU and pixel accuracy against a ground-truth
// mask (--mask, or the ADE20K layout's annotation of the image), and the predicted mask as PNG.

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/model.h"
#include "fmav/segments.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

struct SegmentArgs {
  std::string model, input, mask, out;
  bool json = false;
};

nlohmann::ordered_json number_or_null(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr; }

int run_segment(const SegmentArgs& a) {
  const Model model = Model::load(a.model);
  const ModelConfig& c = model.config();
  FMAV_CHECK(c.is_segmenter(), "--model ", a.model, " is a ", to_string(c.architecture),
             "; `fmav segment` takes a segmenter");
  const std::int64_t S = c.image_size, K = static_cast<std::int64_t>(c.classes.size());
  const std::string mask = a.mask.empty() ? find_segment_annotation(a.input) : a.mask;
  SegmentSample sample;
  if (mask.empty()) {
    sample.image = fit_image(read_image(a.input), S, S);
  } else {
    sample = read_segment_mask(a.input, mask, c.classes, S);
  }
  const std::vector<std::int32_t> predicted = predict_segments(model, sample.image.rgb);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(K), 0);
  for (std::int32_t p : predicted) ++counts[static_cast<std::size_t>(p)];
  if (!a.out.empty()) {
    LabelImage png;
    png.width = png.height = S;
    png.labels.assign(predicted.begin(), predicted.end());
    write_label_png(a.out, png);
  }
  nlohmann::ordered_json j;
  j["model"] = a.model, j["input"] = a.input, j["size"] = S, j["classes"] = c.classes;
  j["predicted_pixels"] = counts;
  if (!mask.empty()) {
    const SegmentScores s = score_segment_mask(predicted, sample.classes, K);
    j["mask"] = mask, j["scored_pixels"] = s.pixels;
    j["pixel_accuracy"] = s.pixel_accuracy, j["miou"] = number_or_null(s.miou);
    j["iou"] = nlohmann::ordered_json::array();
    for (double v : s.iou) j["iou"].push_back(number_or_null(v));
  }
  if (!a.out.empty()) j["out"] = a.out;
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s on %s (%lld x %lld):\n", a.model.c_str(), a.input.c_str(), static_cast<long long>(S),
              static_cast<long long>(S));
  std::printf("  %-16s %9s%s\n", "class", "predicted", mask.empty() ? "" : "      IoU");
  for (std::int64_t k = 0; k < K; ++k) {
    const double share = 100.0 * static_cast<double>(counts[k]) / static_cast<double>(S * S);
    std::printf("  %-16s %8.1f%%", c.classes[k].c_str(), share);
    if (!mask.empty()) {
      const auto& v = j["iou"][k];
      v.is_null() ? std::printf("        -") : std::printf("  %7.3f", v.get<double>());
    }
    std::printf("\n");
  }
  if (mask.empty()) {
    std::printf("no ground truth (give --mask, or an image in the ADE20K layout with its annotation)\n");
  } else {
    std::printf("against %s: mIoU %.3f, pixel accuracy %.3f over %lld pixels\n", mask.c_str(),
                j["miou"].is_null() ? NAN : j["miou"].get<double>(), j["pixel_accuracy"].get<double>(),
                static_cast<long long>(j["scored_pixels"].get<std::int64_t>()));
  }
  if (!a.out.empty()) std::printf("wrote %s (8-bit grey, the predicted class index per pixel)\n", a.out.c_str());
  return 0;
}

}  // namespace

std::function<int()> add_segment(CLI::App& app) {
  auto a = std::make_shared<SegmentArgs>();
  CLI::App* cmd = app.add_subcommand(
      "segment", "Run a segmenter on one image: the share of each predicted class and, against a\n"
                 "ground-truth mask, per-class IoU, mIoU and pixel accuracy; optionally the predicted mask.");
  cmd->add_option("--model", a->model, "a segmenter's folder (e.g. assets/models/seg-full)")->required();
  cmd->add_option("--input", a->input, "the image (PNG, JPEG, BMP; fitted to the model's size: cover, centre crop)")
      ->required();
  cmd->add_option("--mask", a->mask,
                  "its ground truth, an 8-bit grey label PNG of the image's size (default: the ADE20K\n"
                  "layout's root/annotations/<split>/NAME.png for root/images/<split>/NAME.*, if present)");
  cmd->add_option("--out", a->out, "write the predicted mask here: an 8-bit grey PNG, class index per pixel");
  cmd->add_flag("--json", a->json, "print the result as JSON");
  return [a] { return run_segment(*a); };
}

}  // namespace fmav::cli
