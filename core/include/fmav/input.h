#pragma once
// Input files for models: UTF-8 text (its bytes are the tokens 0..255) and images (PNG, JPEG,
// BMP through stb_image, always RGB). Hardened like the tensor formats: sizes are checked
// before anything is allocated or decoded, and errors name the file and what was wrong.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fmav {

// ---- text ----

struct TextLimits {
  std::uint64_t max_bytes = 1ull << 30;
};
// The limits a read uses when none is given: process-wide, TextLimits{} unless changed at
// start-up (fmav --max-text-mib). Set them before any thread reads.
TextLimits text_limits();
void set_text_limits(const TextLimits& limits);

// Reads a UTF-8 text file's bytes. A multi-byte sequence cut off at the very end of the file
// is accepted (a dump or a window may end mid-character). Throws fmav::Error naming the path
// when the file is missing, unreadable, empty, over limits.max_bytes, holds a NUL byte (a
// binary file; names its offset) or is not UTF-8 (names the offset of the first bad sequence).
std::string read_text(const std::string& path, const TextLimits& limits = text_limits());

// Offset of the first byte of the first invalid UTF-8 sequence in bytes[0, size), or size
// when all is valid. Overlong forms, surrogates (U+D800..U+DFFF) and code points past
// U+10FFFF are invalid; with allow_cut_end, a valid prefix of a sequence that the end cuts
// off is accepted. NUL is valid UTF-8 here (read_text refuses it separately). Never throws.
std::size_t first_invalid_utf8(const std::uint8_t* bytes, std::size_t size, bool allow_cut_end);

// Start offsets of windows of `window` bytes every `stride` bytes over a text of `size`
// bytes: 0, stride, 2 stride, ...; the last window ends at `size` exactly (it may overlap the
// one before); a text shorter than `window` gives one window at 0. Throws fmav::Error for
// window < 1, stride < 1 or size < 1.
std::vector<std::int64_t> text_windows(std::int64_t size, std::int64_t window, std::int64_t stride);

// ---- images ----

struct ImageLimits {
  std::int64_t max_side = 16384;                // pixels per side
  std::int64_t max_pixels = 1ll << 26;          // width * height
  std::uint64_t max_file_bytes = 256ull << 20;  // the encoded file
};
// The limits a read uses when none is given: process-wide, ImageLimits{} unless changed at
// start-up (fmav --max-image-side, --max-image-mpixels, --max-image-file-mib). Set them
// before any thread reads.
ImageLimits image_limits();
void set_image_limits(const ImageLimits& limits);

struct Image {
  std::int64_t height = 0, width = 0;
  std::vector<float> rgb;  // (height, width, 3), row-major, values in [0, 1]
};

// Reads and decodes a PNG, JPEG or BMP file into RGB (grey and alpha are dropped or
// expanded; 16-bit PNGs are reduced to 8 bits). The dimensions are read from the header and
// checked against the limits before decoding (decompression bombs), and the decoder's
// allocations are capped by what those dimensions need. Throws fmav::Error naming the path:
// missing, empty, over max_file_bytes, unknown format or corrupt (with stb's reason), or
// dimensions over the limits (naming them and the limit).
Image read_image(const std::string& path, const ImageLimits& limits = image_limits());
// The same on bytes in memory; `name` stands for the file in messages.
Image decode_image(const std::uint8_t* bytes, std::size_t size, const ImageLimits& limits = image_limits(),
                   const std::string& name = "<memory>");

// Resizes so that the image covers height x width keeping its aspect ratio (area average
// when shrinking, bilinear when enlarging, per axis), then crops the centre. A constant image
// stays constant. Throws fmav::Error for height or width < 1, or an empty or inconsistent image.
Image fit_image(const Image& image, std::int64_t height, std::int64_t width);

// Writes an 8-bit RGB PNG atomically (values clamped to [0, 1] and rounded). Throws
// fmav::Error naming the path for an empty or inconsistent image or when writing fails.
void write_png(const std::string& path, const Image& image);

// A per-pixel label map: one 8-bit value per pixel (segmentation masks, ADE20K annotations).
struct LabelImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> labels;  // (height, width), row-major
};

// Reads an 8-bit single-channel (grey) PNG as labels, values as stored. Throws fmav::Error
// naming the path for what read_image refuses, and for a PNG that is not one 8-bit grey
// channel (RGB, palette, alpha or 16-bit masks would be misread as labels).
LabelImage read_label_png(const std::string& path, const ImageLimits& limits = image_limits());
// Writes labels as an 8-bit grey PNG atomically. Throws fmav::Error naming the path for an
// empty or inconsistent map or when writing fails.
void write_label_png(const std::string& path, const LabelImage& image);

// A folder of class sub-folders (one per class, names sorted) holding .png, .jpg, .jpeg and
// .bmp files (extension in any case; names sorted; other files and hidden entries ignored).
struct ImageFolder {
  std::vector<std::string> classes;
  std::vector<std::pair<std::string, int>> items;  // (path, class index), class by class
};

// Lists an image folder. Throws fmav::Error naming the folder when it is missing, not a
// folder, unreadable, has fewer than 2 class folders, or a class folder holds no image.
ImageFolder list_image_folder(const std::string& root);

}  // namespace fmav
