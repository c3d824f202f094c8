// Synthetic tasks (fmav/gen_task.h): text records whose answers lie far from their clues
// (key-value recall, copying), a four-class shapes image set, and the viewer's default
// picture. Everything is drawn from SplitMix64, so a seed gives the same bytes everywhere.

#include "fmav/gen_task.h"

#include "fmav/error.h"
#include "base/random.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <system_error>
#include <unordered_set>
#include <vector>

namespace fmav {
namespace {

constexpr std::int64_t kMinRecordLen = 64;
constexpr std::int64_t kMaxTaskBytes = std::int64_t{1} << 30;
constexpr char kHex[] = "0123456789abcdef";

// A uniform integer in [0, n) (n >= 1; the modulo bias is below 2^-40 for the sizes used).
std::int64_t below(SplitMix64& rng, std::int64_t n) {
  return static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(n));
}

// A well-mixed seed from `value`: seeds of neighbouring values start unrelated streams
// (SplitMix64 seeded with s and s + 1 step through nearby states otherwise).
std::uint64_t hash_seed(std::uint64_t value) { return SplitMix64(value).next(); }

void check_text_task(const char* task, std::int64_t records, std::int64_t record_len) {
  FMAV_CHECK(records >= 1, task, ": records must be >= 1, got ", records);
  FMAV_CHECK(record_len >= kMinRecordLen, task, ": record length must be >= ", kMinRecordLen,
             " bytes, got ", record_len);
  FMAV_CHECK(record_len <= kMaxTaskBytes / records, task, ": ", records, " records of ", record_len,
             " bytes exceed the limit of ", kMaxTaskBytes, " bytes");
}

// ---- key-value recall ----

// The layout of one key-value record: pairs `k<key>=<value>;`, '.' filler, queries
// `?k<key>><value>;`, '\n'.
struct KvLayout {
  std::int64_t key_digits = 3, value_digits = 4;
  std::int64_t queries = 1, pairs = 0, filler = 0;
  std::int64_t pair_len() const { return key_digits + value_digits + 3; }
  std::int64_t query_len() const { return key_digits + value_digits + 4; }
  std::int64_t query_start(std::int64_t record_len) const {
    return record_len - 1 - queries * query_len();
  }
};

KvLayout kv_layout(std::int64_t record_len) {
  KvLayout layout;
  layout.queries = std::clamp<std::int64_t>(record_len / 128, 1, 16);
  for (;;) {
    layout.pairs = layout.query_start(record_len) / layout.pair_len();
    // Enough keys that drawing them unique stays cheap.
    const double key_space = std::pow(16.0, static_cast<double>(layout.key_digits));
    if (key_space >= 4.0 * static_cast<double>(layout.pairs)) break;
    ++layout.key_digits;
  }
  layout.filler = layout.query_start(record_len) - layout.pairs * layout.pair_len();
  return layout;
}

std::string random_hex(SplitMix64& rng, std::int64_t digits) {
  std::string out(static_cast<std::size_t>(digits), '0');
  for (char& c : out) c = kHex[rng.next() & 15];
  return out;
}

void append_kv_record(SplitMix64& rng, std::int64_t record_len, const KvLayout& layout,
                      TextTask& task) {
  const std::size_t begin = task.text.size();
  std::vector<std::string> keys, values;
  std::unordered_set<std::string> seen;
  while (static_cast<std::int64_t>(keys.size()) < layout.pairs) {
    std::string key = random_hex(rng, layout.key_digits);
    if (!seen.insert(key).second) continue;
    keys.push_back(std::move(key));
    values.push_back(random_hex(rng, layout.value_digits));
  }
  for (std::int64_t i = 0; i < layout.pairs; ++i)
    task.text += "k" + keys[i] + "=" + values[i] + ";";
  task.text.append(static_cast<std::size_t>(layout.filler), '.');

  // Pairs that start at least record_len / 4 bytes before the first query.
  const std::int64_t latest = layout.query_start(record_len) - record_len / 4;
  const std::int64_t eligible = std::min(layout.pairs, latest / layout.pair_len() + 1);
  FMAV_ASSERT(eligible >= layout.queries, "kv-recall layout leaves ", eligible,
              " pairs far enough for ", layout.queries, " queries");
  std::vector<std::int64_t> order(static_cast<std::size_t>(eligible));
  std::iota(order.begin(), order.end(), 0);
  task.answer_mask.resize(task.text.size(), 0);
  for (std::int64_t q = 0; q < layout.queries; ++q) {
    std::swap(order[q], order[q + below(rng, eligible - q)]);
    const std::int64_t pair = order[q];
    task.text += "?k" + keys[pair] + ">";
    task.answer_mask.resize(task.text.size(), 0);
    task.text += values[pair];
    task.answer_mask.resize(task.text.size(), 1);
    task.text += ";";
  }
  task.text += '\n';
  task.answer_mask.resize(task.text.size(), 0);
  FMAV_ASSERT(static_cast<std::int64_t>(task.text.size() - begin) == record_len,
              "kv-recall record of ", task.text.size() - begin, " bytes, expected ", record_len);
}

// ---- shapes ----

enum class Shape { circle, cross, square, triangle };

// Whether the point (dx, dy), in units of the shape's radius from its centre and rotated
// into the shape's frame (y down), is inside the shape.
bool inside(Shape shape, double dx, double dy) {
  switch (shape) {
    case Shape::circle:
      return dx * dx + dy * dy <= 1.0;
    case Shape::cross:
      return (std::abs(dx) <= 1.0 && std::abs(dy) <= 0.3) ||
             (std::abs(dy) <= 1.0 && std::abs(dx) <= 0.3);
    case Shape::square:
      return std::max(std::abs(dx), std::abs(dy)) <= 0.8;
    case Shape::triangle:  // apex (0, -1), base from (-0.95, 0.75) to (0.95, 0.75)
      return dy <= 0.75 && std::abs(dx) <= 0.95 * (dy + 1.0) / 1.75;
  }
  return false;
}

struct Placement {
  Shape shape = Shape::circle;
  double cx = 0, cy = 0, radius = 1, angle = 0;
};

// Blends `colour` over the image where the shape covers it, times `alpha`; edges are
// anti-aliased by 4 x 4 samples per pixel. Only the shape's bounding box is visited.
void paint(Image& image, const Placement& p, const float colour[3], float alpha) {
  constexpr int kSamples = 4;
  const double c = std::cos(p.angle), s = std::sin(p.angle);
  const auto clip = [](double v, std::int64_t n) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(v)), 0, n);
  };
  const double reach = 1.5 * p.radius;
  const std::int64_t y0 = clip(p.cy - reach, image.height),
                     y1 = clip(p.cy + reach + 1, image.height);
  const std::int64_t x0 = clip(p.cx - reach, image.width), x1 = clip(p.cx + reach + 1, image.width);
  for (std::int64_t y = y0; y < y1; ++y) {
    for (std::int64_t x = x0; x < x1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < kSamples; ++sy) {
        for (int sx = 0; sx < kSamples; ++sx) {
          const double px = static_cast<double>(x) + (sx + 0.5) / kSamples - p.cx;
          const double py = static_cast<double>(y) + (sy + 0.5) / kSamples - p.cy;
          // Rotate the point by -angle into the shape's frame.
          hits += inside(p.shape, (c * px + s * py) / p.radius, (c * py - s * px) / p.radius);
        }
      }
      if (hits == 0) continue;
      const float a = alpha * static_cast<float>(hits) / (kSamples * kSamples);
      float* rgb = image.rgb.data() + (y * image.width + x) * 3;
      for (int e = 0; e < 3; ++e) rgb[e] += a * (colour[e] - rgb[e]);
    }
  }
}

float clamp01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

Image blank_image(std::int64_t size) {
  Image image;
  image.height = image.width = size;
  image.rgb.assign(static_cast<std::size_t>(size * size * 3), 0.0f);
  return image;
}

// One image of the shapes set: a noisy background of one random colour and one shape of
// another colour at least 0.5 away in RGB.
Image shape_image(Shape shape, std::int64_t size, SplitMix64& rng) {
  float background[3], colour[3];
  for (float& v : background) v = static_cast<float>(rng.uniform());
  for (int attempt = 0;; ++attempt) {
    double distance = 0;
    for (int e = 0; e < 3; ++e) {
      colour[e] = static_cast<float>(rng.uniform());
      distance += (colour[e] - background[e]) * (colour[e] - background[e]);
    }
    if (distance >= 0.25) break;
    if (attempt == 64) {  // a background near grey: take its complement
      for (int e = 0; e < 3; ++e) colour[e] = background[e] > 0.5f ? 0.0f : 1.0f;
      break;
    }
  }
  Image image = blank_image(size);
  for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = background[i % 3];
  const double n = static_cast<double>(size);
  Placement p;
  p.shape = shape;
  p.radius = n * rng.uniform(0.18, 0.36);
  p.cx = rng.uniform(p.radius, n - p.radius);
  p.cy = rng.uniform(p.radius, n - p.radius);
  p.angle = rng.uniform(0.0, 6.283185307179586);
  paint(image, p, colour, 1.0f);
  for (float& v : image.rgb) v = clamp01(v + rng.uniform(-0.08, 0.08));
  return image;
}

// "0007.png": zero-padded to 4 digits, or to as many as the largest index has.
std::string image_name(std::int64_t index, std::int64_t count) {
  const std::size_t digits = std::max<std::size_t>(4, std::to_string(count - 1).size());
  const std::string number = std::to_string(index);
  return std::string(digits - std::min(digits, number.size()), '0') + number + ".png";
}

}  // namespace

TextTask make_kv_recall(std::int64_t records, std::int64_t record_len, std::uint64_t seed) {
  check_text_task("kv-recall", records, record_len);
  const KvLayout layout = kv_layout(record_len);
  SplitMix64 rng(seed);
  TextTask task;
  task.text.reserve(static_cast<std::size_t>(records * record_len));
  for (std::int64_t r = 0; r < records; ++r) append_kv_record(rng, record_len, layout, task);
  return task;
}

TextTask make_copy_task(std::int64_t records, std::int64_t record_len, std::uint64_t seed) {
  check_text_task("copy", records, record_len);
  const std::int64_t half = (record_len - 2) / 2;
  const std::int64_t separators = record_len - 1 - 2 * half;
  SplitMix64 rng(seed);
  TextTask task;
  task.text.reserve(static_cast<std::size_t>(records * record_len));
  task.answer_mask.reserve(static_cast<std::size_t>(records * record_len));
  std::string source(static_cast<std::size_t>(half), 'a');
  for (std::int64_t r = 0; r < records; ++r) {
    for (char& c : source) c = static_cast<char>('a' + below(rng, 26));
    task.text += source;
    task.text.append(static_cast<std::size_t>(separators), '|');
    task.answer_mask.resize(task.text.size(), 0);
    task.text += source;
    task.answer_mask.resize(task.text.size(), 1);
    task.text += '\n';
    task.answer_mask.resize(task.text.size(), 0);
  }
  return task;
}

const std::vector<std::string>& shape_classes() {
  static const std::vector<std::string> kClasses = {"circle", "cross", "square", "triangle"};
  return kClasses;
}

void make_shapes_dataset(const std::string& root, std::int64_t per_class, std::int64_t size,
                         std::uint64_t seed, const std::function<void(std::int64_t, std::int64_t)>& progress) {
  FMAV_CHECK(per_class >= 1 && per_class <= 100000,
             "shapes: images per class must be in 1..100000, got ", per_class);
  FMAV_CHECK(size >= 8 && size <= 1024, "shapes: image size must be in 8..1024 pixels, got ", size);
  namespace fs = std::filesystem;
  const Shape shapes[] = {Shape::circle, Shape::cross, Shape::square, Shape::triangle};
  for (std::size_t c = 0; c < shape_classes().size(); ++c) {
    const fs::path folder = fs::path(root) / shape_classes()[c];
    std::error_code ec;
    fs::create_directories(folder, ec);
    FMAV_CHECK(!ec, folder.string(), ": cannot create the folder: ", ec.message());
    for (std::int64_t i = 0; i < per_class; ++i) {
      // One stream per image, so that an image does not depend on the ones before it.
      SplitMix64 rng(hash_seed(hash_seed(hash_seed(seed) + c) + static_cast<std::uint64_t>(i)));
      write_png((folder / image_name(i, per_class)).string(), shape_image(shapes[c], size, rng));
      const std::int64_t classes = static_cast<std::int64_t>(shape_classes().size());
      if (progress) progress(static_cast<std::int64_t>(c) * per_class + i + 1, classes * per_class);
    }
  }
}

Image make_sample_image(std::int64_t size, std::uint64_t seed) {
  FMAV_CHECK(size >= 8 && size <= 4096, "sample image: size must be in 8..4096 pixels, got ", size);
  static const float kPalette[][3] = {
      {0.93f, 0.42f, 0.35f}, {0.98f, 0.75f, 0.30f}, {0.36f, 0.67f, 0.47f}, {0.30f, 0.55f, 0.80f},
      {0.62f, 0.42f, 0.75f}, {0.95f, 0.95f, 0.90f}, {0.20f, 0.22f, 0.30f}};
  constexpr std::int64_t kColours = sizeof kPalette / sizeof kPalette[0];
  SplitMix64 rng(seed);
  Image image = blank_image(size);
  const double n = static_cast<double>(size);
  // A diagonal gradient between two muted colours, with soft ripples.
  const double angle = rng.uniform(0.0, 6.283185307179586);
  const double gx = std::cos(angle), gy = std::sin(angle);
  const float top[3] = {0.16f, 0.26f, 0.42f}, bottom[3] = {0.78f, 0.62f, 0.52f};
  const double freq = rng.uniform(10.0, 16.0) / n, phase = rng.uniform(0.0, 6.3);
  for (std::int64_t y = 0; y < size; ++y) {
    for (std::int64_t x = 0; x < size; ++x) {
      const double u =
          std::clamp(0.5 + ((x - n / 2) * gx + (y - n / 2) * gy) / (1.42 * n), 0.0, 1.0);
      const double ripple = 0.03 * std::sin(freq * (x * 0.8 + y * 1.3) + phase) *
                            std::sin(freq * (x * 1.1 - y * 0.6));
      float* rgb = image.rgb.data() + (y * size + x) * 3;
      for (int e = 0; e < 3; ++e) rgb[e] = clamp01(top[e] + u * (bottom[e] - top[e]) + ripple);
    }
  }
  // A few shapes in distinct colours with soft shadows, larger ones first, kept apart where
  // a few tries allow.
  std::int64_t colours[kColours];
  std::iota(colours, colours + kColours, 0);
  for (std::int64_t i = kColours - 1; i > 0; --i) std::swap(colours[i], colours[below(rng, i + 1)]);
  const int count = 4 + static_cast<int>(below(rng, 2));
  const Shape shapes[] = {Shape::circle, Shape::square, Shape::triangle, Shape::cross};
  const float shadow[3] = {0.05f, 0.05f, 0.08f};
  std::vector<Placement> placed;
  for (int k = 0; k < count; ++k) {
    Placement p;
    p.shape = shapes[(k + below(rng, 4)) % 4];
    p.radius = n * rng.uniform(0.09, 0.17) * (1.0 - 0.08 * k);
    p.angle = rng.uniform(0.0, 1.0);
    for (int attempt = 0; attempt < 20; ++attempt) {
      p.cx = rng.uniform(p.radius, n - p.radius);
      p.cy = rng.uniform(p.radius, n - p.radius);
      bool apart = true;
      for (const Placement& q : placed) {
        apart = apart && std::hypot(p.cx - q.cx, p.cy - q.cy) > 1.1 * (p.radius + q.radius);
      }
      if (apart) break;
    }
    placed.push_back(p);
    Placement shade = p;
    shade.cx += n / 80;
    shade.cy += n / 60;
    paint(image, shade, shadow, 0.3f);
    paint(image, p, kPalette[colours[k % kColours]], 0.9f);
  }
  for (float& v : image.rgb) v = clamp01(v + rng.uniform(-0.015, 0.015));
  return image;
}

}  // namespace fmav
