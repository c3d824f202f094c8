// A segmenter's prediction and ground truth on the shown image (segment_view.h).

#include "segment_view.h"

#include "fmav/error.h"

#include <algorithm>
#include <cmath>
#include <exception>

namespace fmav::viewer {

SegmentView make_segment_view(const Model& model, const Image& image, const std::string& input,
                              const std::string& mask) {
  const ModelConfig& c = model.config();
  SegmentView view;
  view.classes = c.classes;
  view.size = c.image_size;
  view.predicted = predict_segments(model, image.rgb);
  view.predicted_pixels.assign(c.classes.size(), 0);
  for (std::int32_t k : view.predicted) ++view.predicted_pixels[static_cast<std::size_t>(k)];
  const std::string path = mask.empty() ? find_segment_annotation(input) : mask;
  if (path.empty()) {
    view.truth_note = "no ground truth: give --mask, or open an image in the ADE20K layout (images/<split>/X "
                      "with annotations/<split>/X.png)";
    return view;
  }
  try {
    SegmentSample sample = read_segment_mask(input, path, c.classes, c.image_size);
    view.scores = score_segment_mask(view.predicted, sample.classes, static_cast<std::int64_t>(c.classes.size()));
    view.truth = std::move(sample.classes);
    view.truth_path = path;
  } catch (const std::exception& e) {  // the prediction still shows; the reason goes beside it
    view.truth_note = std::string("ground truth not shown: ") + e.what();
  }
  return view;
}

Rgba8 segment_color(std::int32_t k) {
  static const Rgba8 kPalette[] = {
      {70, 70, 80, 255},    {230, 60, 60, 255},  {60, 170, 255, 255}, {250, 210, 40, 255},
      {90, 210, 90, 255},   {200, 90, 230, 255}, {255, 140, 30, 255}, {40, 220, 210, 255},
      {250, 130, 190, 255}, {150, 110, 60, 255}, {170, 200, 40, 255}, {110, 110, 250, 255},
  };
  constexpr std::int32_t kFixed = static_cast<std::int32_t>(sizeof(kPalette) / sizeof(kPalette[0]));
  if (k < 0) return {0, 0, 0, 255};
  if (k < kFixed) return kPalette[k];
  // Hue by the golden ratio, so neighbouring classes differ; fixed saturation and value.
  const double h = std::fmod(0.13 + 0.6180339887 * k, 1.0) * 6.0, s = 0.65, v = 0.9;
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  const auto byte = [](double x) { return static_cast<std::uint8_t>(std::lround(x * 255)); };
  return {byte(rgb[sector][0]), byte(rgb[sector][1]), byte(rgb[sector][2]), 255};
}

Image blend_segments(const Image& image, const std::vector<std::int32_t>& classes, float alpha) {
  FMAV_CHECK(static_cast<std::int64_t>(classes.size()) == image.height * image.width, "the mask has ",
             classes.size(), " pixels but the image ", image.height * image.width);
  Image out = image;
  const float a = std::clamp(alpha, 0.0f, 1.0f);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i] < 0) continue;
    const Rgba8 c = segment_color(classes[i]);
    const float colour[3] = {c.r / 255.0f, c.g / 255.0f, c.b / 255.0f};
    for (int ch = 0; ch < 3; ++ch) out.rgb[i * 3 + ch] = (1 - a) * image.rgb[i * 3 + ch] + a * colour[ch];
  }
  return out;
}

}  // namespace fmav::viewer
