// Image input (fmav/input.h) through stb_image (PNG, JPEG, BMP) and stb_image_write (PNG),
// both compiled here with static linkage so that no stb symbol leaves this file (the GUI
// links Dear ImGui, which carries stb copies of its own). Hostile files: the header's
// dimensions are checked before decoding, every decoder allocation is capped by what those
// dimensions need, and stb's internal assertions throw instead of aborting.

#include "fmav/input.h"

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "image_header.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

// ---- stb configuration ----

namespace {

// Thrown by STBI_ASSERT: a hostile file reached a check that stb only asserts.
struct StbAssertFailed {
  const char* condition;
};

// The decoder's allocations go through these: each is capped (a hostile file can not make
// stb inflate gigabytes for a small image); new blocks are zeroed (a JPEG that uses a table
// it never defines then reads zeros, not stale heap memory, which stb 2.27 would put into
// pixels or follow out of its tables); and those of the decode under way are tracked so that
// a decode abandoned by an exception (StbAssertFailed) leaks nothing. Per thread.
thread_local std::size_t t_alloc_cap = std::numeric_limits<std::size_t>::max();
thread_local bool t_alloc_refused = false;
thread_local std::unordered_set<void*>* t_live = nullptr;

void* stb_malloc_capped(std::size_t size) {
  if (size > t_alloc_cap) {
    t_alloc_refused = true;
    return nullptr;
  }
  void* pointer = std::calloc(1, size);
  if (pointer != nullptr && t_live != nullptr) t_live->insert(pointer);
  return pointer;
}

void* stb_realloc_capped(void* pointer, std::size_t size) {
  if (size > t_alloc_cap) {
    t_alloc_refused = true;
    return nullptr;
  }
  void* moved = std::realloc(pointer, size);
  if (moved != nullptr && t_live != nullptr) {
    if (pointer != nullptr) t_live->erase(pointer);
    t_live->insert(moved);
  }
  return moved;
}

void stb_free_tracked(void* pointer) {
  if (pointer != nullptr && t_live != nullptr) t_live->erase(pointer);
  std::free(pointer);
}

[[noreturn]] void stb_assert_failed(const char* condition) { throw StbAssertFailed{condition}; }

}  // namespace

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MALLOC(size) stb_malloc_capped(size)
#define STBI_REALLOC(pointer, size) stb_realloc_capped(pointer, size)
#define STBI_FREE(pointer) stb_free_tracked(pointer)
#define STBI_ASSERT(x) ((x) ? (void)0 : stb_assert_failed(#x))
#include <stb/stb_image.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

namespace fmav {
namespace {

// Caps and tracks the decoder's allocations for the lifetime of the guard (freeing what an
// abandoned decode left) and clears stb's thread-local failure reason, which some failure
// paths leave unset.
class DecodeGuard {
 public:
  explicit DecodeGuard(std::size_t cap) {
    t_alloc_cap = cap;
    t_alloc_refused = false;
    t_live = &m_live;
    stbi__g_failure_reason = nullptr;
  }
  ~DecodeGuard() {
    for (void* pointer : m_live) std::free(pointer);
    t_live = nullptr;
    t_alloc_cap = std::numeric_limits<std::size_t>::max();
  }
  DecodeGuard(const DecodeGuard&) = delete;
  DecodeGuard& operator=(const DecodeGuard&) = delete;

 private:
  std::unordered_set<void*> m_live;
};

// Reading a header allocates at most a decoder state (tens of KiB).
constexpr std::size_t kHeaderAllocCap = 16u << 20;

// stb's reason for a failure; some of its paths leave none (or an empty one): a file cut
// short is the usual cause then (tests/hostile/image_truncated.png).
const char* stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr && *reason != 0 ? reason : "no reason given; truncated?";
}

[[noreturn]] void fail_decode(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                              std::string reason) {
  if (reason.empty()) reason = "no reason given; truncated?";
  const char* format = sniff_image_format(bytes, size);
  if (format == nullptr) {
    throw Error(name + ": unknown image format, expected PNG, JPEG or BMP (stb: " + reason + ")");
  }
  throw Error(name + ": corrupt " + format + " image (stb: " + reason + ")");
}

void check_dimensions(std::int64_t width, std::int64_t height, const ImageLimits& limits,
                      const std::string& name) {
  FMAV_CHECK(width >= 1 && height >= 1, name, ": image is ", width, " x ", height,
             " pixels (width x height), expected at least 1 x 1");
  FMAV_CHECK(width <= limits.max_side && height <= limits.max_side, name, ": image is ", width,
             " x ", height, " pixels (width x height), over the limit of ", limits.max_side,
             " pixels per side");
  FMAV_CHECK(width * height <= limits.max_pixels, name, ": image is ", width, " x ", height, " = ",
             width * height, " pixels, over the limit of ", limits.max_pixels, " pixels");
}

// The largest allocation decoding a width x height image needs: 16-bit RGBA output, the
// inflated PNG rows (which grow by doubling), JPEG coefficient planes padded to whole MCUs,
// and copies of the compressed data.
std::size_t decode_alloc_cap(std::int64_t width, std::int64_t height, std::size_t file_size) {
  const double padded = static_cast<double>(width + 64) * static_cast<double>(height + 64);
  const double cap = 16.0 * padded + 2.0 * static_cast<double>(file_size) + (1 << 20);
  const double max = static_cast<double>(std::numeric_limits<std::size_t>::max() / 2);
  return static_cast<std::size_t>(std::min(cap, max));
}

void check_image(const Image& image, const std::string& what) {
  FMAV_CHECK(image.height >= 1 && image.width >= 1, what, ": image is empty (", image.width, " x ",
             image.height, " pixels)");
  const std::uint64_t expect =
      static_cast<std::uint64_t>(image.height) * static_cast<std::uint64_t>(image.width) * 3;
  FMAV_CHECK(image.rgb.size() == expect, what, ": a ", image.width, " x ", image.height,
             " image needs ", expect, " rgb values, has ", image.rgb.size());
}

}  // namespace

Image decode_image(const std::uint8_t* bytes, std::size_t size, const ImageLimits& limits,
                   const std::string& name) {
  FMAV_CHECK(limits.max_side >= 1 && limits.max_pixels >= 1, name,
             ": image limits must be positive, got max_side ", limits.max_side, ", max_pixels ",
             limits.max_pixels);
  FMAV_CHECK(size > 0, name, ": file is empty, expected a PNG, JPEG or BMP image");
  FMAV_CHECK(bytes != nullptr, name, ": null buffer of ", size, " bytes");
  FMAV_CHECK(size <= static_cast<std::size_t>(std::numeric_limits<int>::max()), name, ": file is ",
             size, " bytes, more than the decoder's limit of ", std::numeric_limits<int>::max());
  const int length = static_cast<int>(size);
  std::int64_t declared_width = 0, declared_height = 0;
  if (declared_image_size(bytes, size, &declared_width, &declared_height)) {
    check_dimensions(declared_width, declared_height, limits, name);
  }
  const std::string jpeg_problem = jpeg_table_problem(bytes, size);
  FMAV_CHECK(jpeg_problem.empty(), name, ": corrupt JPEG image (", jpeg_problem, ")");
  try {
    int width = 0, height = 0, channels = 0;
    {
      DecodeGuard guard(kHeaderAllocCap);
      if (stbi_info_from_memory(bytes, length, &width, &height, &channels) == 0) {
        fail_decode(bytes, size, name, stb_reason());
      }
    }
    check_dimensions(width, height, limits, name);

    DecodeGuard guard(decode_alloc_cap(width, height, size));
    const std::unique_ptr<stbi_uc, decltype(&stb_free_tracked)> pixels(
        stbi_load_from_memory(bytes, length, &width, &height, &channels, 3), &stb_free_tracked);
    if (pixels == nullptr) {
      FMAV_CHECK(!t_alloc_refused, name, ": corrupt image: decoding it needs more memory than a ",
                 width, " x ", height, " image can (a compressed-data bomb?)");
      fail_decode(bytes, size, name, stb_reason());
    }
    check_dimensions(width, height, limits, name);
    Image image;
    image.width = width;
    image.height = height;
    image.rgb.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    const stbi_uc* p = pixels.get();
    for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = p[i] * (1.0f / 255.0f);
    return image;
  } catch (const StbAssertFailed& failed) {
    fail_decode(bytes, size, name, std::string("internal check failed: ") + failed.condition);
  }
}

Image read_image(const std::string& path, const ImageLimits& limits) {
  const std::string bytes = read_file_bytes(path, limits.max_file_bytes);
  return decode_image(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), limits,
                      path);
}

// ---- resizing ----

namespace {

// The source pixels (and their weights, summing to 1) that make one output pixel on one axis.
struct Taps {
  std::int64_t first = 0;
  std::vector<float> weights;
};

// Taps of `out` output pixels covering the source interval [start, start + extent) of an axis
// of `src` pixels: box (area) average when shrinking, bilinear when enlarging.
std::vector<Taps> axis_taps(std::int64_t src, double start, double extent, std::int64_t out) {
  const double step = extent / static_cast<double>(out);
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  for (std::int64_t j = 0; j < out; ++j) {
    Taps& t = taps[static_cast<std::size_t>(j)];
    if (step > 1.0) {
      const double a = start + static_cast<double>(j) * step, b = a + step;
      const auto lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(a)));
      const auto hi = std::min<std::int64_t>(src, static_cast<std::int64_t>(std::ceil(b)));
      t.first = lo;
      double total = 0;
      for (std::int64_t i = lo; i < hi; ++i) {
        const double w =
            std::min(b, static_cast<double>(i + 1)) - std::max(a, static_cast<double>(i));
        t.weights.push_back(static_cast<float>(std::max(w, 0.0)));
        total += std::max(w, 0.0);
      }
      for (float& w : t.weights) w = static_cast<float>(w / total);
    } else {
      const double x = std::clamp(start + (static_cast<double>(j) + 0.5) * step - 0.5, 0.0,
                                  static_cast<double>(src - 1));
      t.first = std::min<std::int64_t>(static_cast<std::int64_t>(x), src - 1);
      const double frac = x - static_cast<double>(t.first);
      t.weights = {static_cast<float>(1.0 - frac)};
      if (t.first + 1 < src) {
        t.weights.push_back(static_cast<float>(frac));
      } else {
        t.weights[0] = 1.0f;  // the last pixel: nothing to its right
      }
    }
  }
  return taps;
}

}  // namespace

Image fit_image(const Image& image, std::int64_t height, std::int64_t width) {
  FMAV_CHECK(height >= 1 && width >= 1, "fit_image: target size must be at least 1 x 1, got ",
             width, " x ", height, " (width x height)");
  check_image(image, "fit_image");
  const auto h = static_cast<double>(image.height), w = static_cast<double>(image.width);
  // The centred source rectangle with the target's aspect ratio.
  double crop_h = h, crop_w = w;
  if (w * static_cast<double>(height) > h * static_cast<double>(width)) {
    crop_w = h * static_cast<double>(width) / static_cast<double>(height);
  } else {
    crop_h = w * static_cast<double>(height) / static_cast<double>(width);
  }
  const std::vector<Taps> rows = axis_taps(image.height, (h - crop_h) / 2, crop_h, height);
  const std::vector<Taps> cols = axis_taps(image.width, (w - crop_w) / 2, crop_w, width);

  // Horizontal pass over every source row, then the vertical pass.
  std::vector<float> wide(static_cast<std::size_t>(image.height * width * 3), 0.0f);
  for (std::int64_t y = 0; y < image.height; ++y) {
    const float* src = image.rgb.data() + y * image.width * 3;
    float* dst = wide.data() + y * width * 3;
    for (std::int64_t x = 0; x < width; ++x) {
      const Taps& t = cols[static_cast<std::size_t>(x)];
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const float* p = src + (t.first + static_cast<std::int64_t>(k)) * 3;
        for (int c = 0; c < 3; ++c) dst[x * 3 + c] += t.weights[k] * p[c];
      }
    }
  }
  Image out;
  out.height = height;
  out.width = width;
  out.rgb.assign(static_cast<std::size_t>(height * width * 3), 0.0f);
  for (std::int64_t y = 0; y < height; ++y) {
    const Taps& t = rows[static_cast<std::size_t>(y)];
    float* dst = out.rgb.data() + y * width * 3;
    for (std::size_t k = 0; k < t.weights.size(); ++k) {
      const float* src = wide.data() + (t.first + static_cast<std::int64_t>(k)) * width * 3;
      for (std::int64_t i = 0; i < width * 3; ++i) dst[i] += t.weights[k] * src[i];
    }
  }
  return out;
}

// ---- writing ----

void write_png(const std::string& path, const Image& image) {
  check_image(image, path);
  FMAV_CHECK(image.width <= (1 << 24) && image.height <= (1 << 24) &&
                 image.width * image.height <= (1ll << 28),
             path, ": image is ", image.width, " x ", image.height,
             " pixels, too large for the PNG writer (at most 2^28 pixels)");
  std::vector<unsigned char> bytes(image.rgb.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const float v = image.rgb[i];
    // NaN compares false and lands on 0.
    bytes[i] = static_cast<unsigned char>(v > 0.0f ? std::min(v, 1.0f) * 255.0f + 0.5f : 0.0f);
  }
  std::string encoded;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  const int width = static_cast<int>(image.width), height = static_cast<int>(image.height);
  FMAV_CHECK(
      stbi_write_png_to_func(append, &encoded, width, height, 3, bytes.data(), width * 3) != 0,
      path, ": cannot encode the ", width, " x ", height, " image as PNG");
  write_file_atomic(path, encoded);
}

// ---- label maps ----

LabelImage read_label_png(const std::string& path, const ImageLimits& limits) {
  const std::string file = read_file_bytes(path, limits.max_file_bytes);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(file.data());
  FMAV_CHECK(!file.empty(), path, ": file is empty, expected an 8-bit grey PNG of labels");
  const char* format = sniff_image_format(bytes, file.size());
  FMAV_CHECK(format != nullptr && std::string(format) == "PNG", path, ": a label map must be a PNG, got ",
             format == nullptr ? "an unknown format" : format);
  FMAV_CHECK(file.size() <= static_cast<std::size_t>(std::numeric_limits<int>::max()), path, ": file too large");
  const int length = static_cast<int>(file.size());
  std::int64_t declared_width = 0, declared_height = 0;
  if (declared_image_size(bytes, file.size(), &declared_width, &declared_height)) {
    check_dimensions(declared_width, declared_height, limits, path);
  }
  try {
    int width = 0, height = 0, channels = 0;
    {
      DecodeGuard guard(kHeaderAllocCap);
      if (stbi_info_from_memory(bytes, length, &width, &height, &channels) == 0) {
        fail_decode(bytes, file.size(), path, stb_reason());
      }
      // A PNG's bit depth is byte 24 of the file (the IHDR chunk); its colour type byte 25.
      FMAV_CHECK(file.size() > 25 && bytes[24] == 8 && bytes[25] == 0, path,
                 ": a label map must be an 8-bit grey PNG (one channel), got bit depth ",
                 file.size() > 25 ? static_cast<int>(bytes[24]) : 0, " and ", channels, " channel(s)",
                 file.size() > 25 && bytes[25] == 3 ? " (a palette PNG)" : "");
    }
    check_dimensions(width, height, limits, path);
    DecodeGuard guard(decode_alloc_cap(width, height, file.size()));
    const std::unique_ptr<stbi_uc, decltype(&stb_free_tracked)> pixels(
        stbi_load_from_memory(bytes, length, &width, &height, &channels, 1), &stb_free_tracked);
    if (pixels == nullptr) fail_decode(bytes, file.size(), path, stb_reason());
    LabelImage out;
    out.width = width, out.height = height;
    out.labels.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
    return out;
  } catch (const StbAssertFailed& failed) {
    fail_decode(bytes, file.size(), path, std::string("internal check failed: ") + failed.condition);
  }
}

void write_label_png(const std::string& path, const LabelImage& image) {
  FMAV_CHECK(image.height >= 1 && image.width >= 1 && image.width <= (1 << 24) && image.height <= (1 << 24) &&
                 image.width * image.height <= (1ll << 28) &&
                 static_cast<std::int64_t>(image.labels.size()) == image.width * image.height,
             path, ": label map of ", image.width, " x ", image.height, " with ", image.labels.size(),
             " labels cannot be written");
  std::string encoded;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  const int width = static_cast<int>(image.width), height = static_cast<int>(image.height);
  FMAV_CHECK(stbi_write_png_to_func(append, &encoded, width, height, 1, image.labels.data(), width) != 0, path,
             ": cannot encode the ", width, " x ", height, " label map as PNG");
  write_file_atomic(path, encoded);
}

// ---- image folders ----

namespace {

namespace fs = std::filesystem;

// The entries of a folder not starting with '.', sorted by name.
std::vector<fs::directory_entry> visible_entries(const fs::path& folder, const std::string& root) {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  FMAV_CHECK(!ec, root, ": cannot list ", folder.string(), ": ", ec.message());
  std::vector<fs::directory_entry> entries;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    FMAV_CHECK(!ec, root, ": cannot list ", folder.string(), ": ", ec.message());
    if (it->path().filename().string().rfind('.', 0) != 0) entries.push_back(*it);
  }
  FMAV_CHECK(!ec, root, ": cannot list ", folder.string(), ": ", ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const fs::directory_entry& a, const fs::directory_entry& b) {
              return a.path().filename().string() < b.path().filename().string();
            });
  return entries;
}

bool is_image_name(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

}  // namespace

ImageFolder list_image_folder(const std::string& root) {
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  FMAV_CHECK(fs::exists(status), root, ": no such folder");
  FMAV_CHECK(fs::is_directory(status), root,
             ": is not a folder, expected a folder of class folders of images");
  ImageFolder folder;
  for (const fs::directory_entry& entry : visible_entries(root, root)) {
    if (entry.is_directory(ec)) folder.classes.push_back(entry.path().filename().string());
  }
  FMAV_CHECK(folder.classes.size() >= 2, root, ": found ", folder.classes.size(),
             " class folders, expected at least 2 (one sub-folder of images per class)");
  for (std::size_t c = 0; c < folder.classes.size(); ++c) {
    const fs::path class_folder = fs::path(root) / folder.classes[c];
    std::size_t count = 0;
    for (const fs::directory_entry& entry : visible_entries(class_folder, root)) {
      if (!is_image_name(entry.path()) || !entry.is_regular_file(ec)) continue;
      folder.items.emplace_back(entry.path().string(), static_cast<int>(c));
      ++count;
    }
    FMAV_CHECK(count > 0, root, ": class folder '", folder.classes[c],
               "' holds no image (.png, .jpg, .jpeg or .bmp)");
  }
  return folder;
}

}  // namespace fmav
