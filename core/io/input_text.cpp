// Text input (fmav/input.h): a strict UTF-8 validator (RFC 3629: no overlongs, surrogates or
// code points past U+10FFFF), the file reader built on it, and the window offsets that cut a
// long text into model contexts.

#include "fmav/input.h"

#include "fmav/error.h"
#include "fmav/tensor_io.h"

#include <cstring>
#include <string>
#include <vector>

namespace fmav {
namespace {

// The bytes a sequence led by `lead` takes, or 0 when `lead` can not start one: C0 and C1
// only start overlong 2-byte forms, F5..FF code points past U+10FFFF, 80..BF are continuations.
std::size_t sequence_length(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The range the second byte must be in after `lead`; it is narrower than 80..BF where the
// lead alone would allow overlongs (E0, F0), surrogates (ED) or past U+10FFFF (F4).
void second_byte_range(std::uint8_t lead, std::uint8_t* lo, std::uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead == 0xE0) *lo = 0xA0;
  if (lead == 0xED) *hi = 0x9F;
  if (lead == 0xF0) *lo = 0x90;
  if (lead == 0xF4) *hi = 0x8F;
}

// "0x41 0xc3": the bytes at an offset, for messages.
std::string hex_bytes(const std::string& bytes, std::size_t offset, std::size_t count) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = offset; i < bytes.size() && i < offset + count; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (!out.empty()) out += ' ';
    out += "0x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

std::size_t first_invalid_utf8(const std::uint8_t* bytes, std::size_t size, bool allow_cut_end) {
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = sequence_length(lead);
    if (length == 0) return i;
    std::uint8_t lo = 0, hi = 0;
    second_byte_range(lead, &lo, &hi);
    for (std::size_t k = 1; k < length; ++k) {
      if (i + k == size) return allow_cut_end ? size : i;
      const std::uint8_t c = bytes[i + k];
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return i;
    }
    i += length;
  }
  return size;
}

std::string read_text(const std::string& path, const TextLimits& limits) {
  std::string bytes = read_file_bytes(path, limits.max_bytes);
  FMAV_CHECK(!bytes.empty(), path, ": file is empty, expected UTF-8 text");
  const void* nul = std::memchr(bytes.data(), 0, bytes.size());
  FMAV_CHECK(nul == nullptr, path, ": NUL byte at offset ",
             static_cast<const char*>(nul) - bytes.data(), ": a binary file, expected UTF-8 text");
  const std::size_t bad =
      first_invalid_utf8(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), true);
  FMAV_CHECK(bad == bytes.size(), path, ": not UTF-8 text: invalid byte sequence at offset ", bad,
             " (", hex_bytes(bytes, bad, 4), ")");
  return bytes;
}

std::vector<std::int64_t> text_windows(std::int64_t size, std::int64_t window,
                                       std::int64_t stride) {
  FMAV_CHECK(size >= 1, "text_windows: text size must be >= 1 byte, got ", size);
  FMAV_CHECK(window >= 1, "text_windows: window must be >= 1 byte, got ", window);
  FMAV_CHECK(stride >= 1, "text_windows: stride must be >= 1 byte, got ", stride);
  if (size <= window) return {0};
  const std::int64_t last = size - window;
  std::vector<std::int64_t> starts;
  starts.reserve(static_cast<std::size_t>(last / stride + 2));
  // Written so that a huge stride can not overflow `start`.
  for (std::int64_t start = 0;; start += stride) {
    starts.push_back(start);
    if (last - start < stride) break;
  }
  if (starts.back() != last) starts.push_back(last);
  return starts;
}

}  // namespace fmav
