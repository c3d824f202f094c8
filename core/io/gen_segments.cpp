// The generated segmentation set (fmav/segments.h): textured backgrounds under overlapping
// shapes, their label maps, in the ADE20K layout. One SplitMix64 stream per image, so an
// image depends on the seed, its split and its index only.

#include "fmav/segments.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "base/random.h"

namespace fmav {
namespace {

constexpr double kTwoPi = 6.283185307179586;

enum SegmentClass : std::uint8_t { background = 0, circle, square, triangle, cross, stripes, kClassCount };

std::uint64_t mix(std::uint64_t value) { return SplitMix64(value).next(); }

// Whether (dx, dy), in units of the radius in the shape's own frame, is inside the shape.
bool inside(int cls, double dx, double dy) {
  switch (cls) {
    case circle: return dx * dx + dy * dy <= 1.0;
    case square: return std::max(std::abs(dx), std::abs(dy)) <= 0.8;
    case triangle: return dy <= 0.75 && std::abs(dx) <= 0.95 * (dy + 1.0) / 1.75;
    case cross: return (std::abs(dx) <= 1.0 && std::abs(dy) <= 0.3) || (std::abs(dy) <= 1.0 && std::abs(dx) <= 0.3);
    case stripes: return std::abs(dx) <= 1.0 && std::abs(dy) <= 0.55;  // a striped band
    default: return false;
  }
}

float clamp01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

struct Texture {
  float colour[3], other[3];  // base colour; stripes: the second colour
  double period = 4, phase = 0, noise = 0.05;
};

void random_colour(SplitMix64& rng, float out[3]) {
  for (int e = 0; e < 3; ++e) out[e] = static_cast<float>(rng.uniform(0.05, 0.95));
}

// One image and its labels: a background of two colours in a soft sinusoidal pattern with
// grain, then 2..5 shapes, each a random colour with its own grain (stripes: two colours
// alternating across the band).
void draw_sample(std::int64_t size, SplitMix64& rng, Image* image, LabelImage* labels) {
  const double n = static_cast<double>(size);
  image->height = image->width = labels->height = labels->width = size;
  image->rgb.assign(static_cast<std::size_t>(size * size * 3), 0.0f);
  labels->labels.assign(static_cast<std::size_t>(size * size), background);
  float a[3], b[3];
  random_colour(rng, a), random_colour(rng, b);
  const double fx = rng.uniform(2.0, 6.0) / n, fy = rng.uniform(2.0, 6.0) / n, phase = rng.uniform(0.0, kTwoPi);
  for (std::int64_t y = 0; y < size; ++y) {
    for (std::int64_t x = 0; x < size; ++x) {
      const double t = 0.5 + 0.5 * std::sin(kTwoPi * (fx * x + fy * y) + phase) * std::cos(kTwoPi * fy * x);
      float* p = image->rgb.data() + (y * size + x) * 3;
      for (int e = 0; e < 3; ++e) p[e] = clamp01(a[e] + t * (b[e] - a[e]) + rng.uniform(-0.06, 0.06));
    }
  }
  const int shapes = 2 + static_cast<int>(rng.next() % 4);
  for (int k = 0; k < shapes; ++k) {
    const int cls = 1 + static_cast<int>(rng.next() % (kClassCount - 1));
    const double radius = n * rng.uniform(0.12, 0.28);
    const double cx = rng.uniform(0.1 * n, 0.9 * n), cy = rng.uniform(0.1 * n, 0.9 * n);
    const double angle = rng.uniform(0.0, kTwoPi), c = std::cos(angle), s = std::sin(angle);
    Texture tex;
    random_colour(rng, tex.colour);
    for (int e = 0; e < 3; ++e) tex.other[e] = tex.colour[e] > 0.5f ? tex.colour[e] - 0.45f : tex.colour[e] + 0.45f;
    tex.period = rng.uniform(0.18, 0.3);  // stripes per radius unit
    tex.noise = rng.uniform(0.02, 0.08);
    const std::int64_t y0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(cy - 1.5 * radius));
    const std::int64_t y1 = std::min<std::int64_t>(size, static_cast<std::int64_t>(cy + 1.5 * radius) + 1);
    const std::int64_t x0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(cx - 1.5 * radius));
    const std::int64_t x1 = std::min<std::int64_t>(size, static_cast<std::int64_t>(cx + 1.5 * radius) + 1);
    for (std::int64_t y = y0; y < y1; ++y) {
      for (std::int64_t x = x0; x < x1; ++x) {
        const double px = x + 0.5 - cx, py = y + 0.5 - cy;
        const double dx = (c * px + s * py) / radius, dy = (c * py - s * px) / radius;
        if (!inside(cls, dx, dy)) continue;
        labels->labels[static_cast<std::size_t>(y * size + x)] = static_cast<std::uint8_t>(cls);
        const bool second = cls == stripes && std::fmod(dx + 2.0, 2 * tex.period) >= tex.period;
        const float* colour = second ? tex.other : tex.colour;
        float* p = image->rgb.data() + (y * size + x) * 3;
        const double grain = rng.uniform(-tex.noise, tex.noise);
        for (int e = 0; e < 3; ++e) p[e] = clamp01(colour[e] + grain + rng.uniform(-0.02, 0.02));
      }
    }
  }
}

// "0007.png": zero-padded to 4 digits, or to as many as the largest index has.
std::string file_name(std::int64_t index, std::int64_t count) {
  const std::size_t digits = std::max<std::size_t>(4, std::to_string(count - 1).size());
  const std::string number = std::to_string(index);
  return std::string(digits - std::min(digits, number.size()), '0') + number + ".png";
}

void make_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  FMAV_CHECK(!ec, folder.string(), ": cannot create the folder: ", ec.message());
}

}  // namespace

const std::vector<std::string>& segment_classes() {
  static const std::vector<std::string> kNames = {"background", "circle", "square", "triangle", "cross", "stripes"};
  return kNames;
}

void make_segments_dataset(const std::string& root, std::int64_t count, std::int64_t size, std::uint64_t seed,
                           const std::function<void(std::int64_t, std::int64_t)>& progress) {
  FMAV_CHECK(count >= 1 && count <= 100000, "segments: --count (training images) must be in 1..100000, got ", count);
  FMAV_CHECK(size >= 16 && size <= 1024, "segments: --size must be in 16..1024 pixels, got ", size);
  namespace fs = std::filesystem;
  const std::int64_t counts[2] = {count, std::max<std::int64_t>(2, count / 5)};
  const char* const splits[2] = {"training", "validation"};
  std::string classes = "{\n  \"format\": \"fmav-segments\",\n  \"format_version\": 1,\n  \"classes\": [";
  for (std::size_t c = 0; c < segment_classes().size(); ++c) classes += (c ? ", \"" : "\"") + segment_classes()[c] + "\"";
  classes += "],\n  \"ignore_zero\": false\n}\n";
  make_folder(root);
  write_file_atomic((fs::path(root) / "classes.json").string(), classes);
  std::int64_t done = 0;
  for (int s = 0; s < 2; ++s) {
    const fs::path images = fs::path(root) / "images" / splits[s], annotations = fs::path(root) / "annotations" / splits[s];
    make_folder(images), make_folder(annotations);
    for (std::int64_t i = 0; i < counts[s]; ++i) {
      SplitMix64 rng(mix(mix(mix(seed) + static_cast<std::uint64_t>(s)) + static_cast<std::uint64_t>(i)));
      Image image;
      LabelImage labels;
      draw_sample(size, rng, &image, &labels);
      const std::string name = file_name(i, counts[s]);
      write_png((images / name).string(), image);
      write_label_png((annotations / name).string(), labels);
      if (progress) progress(++done, counts[0] + counts[1]);
    }
  }
}

}  // namespace fmav
