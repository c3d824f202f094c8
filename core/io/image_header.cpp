// Image headers read without stb (image_header.h). The JPEG walk mirrors the order in which
// stb_image 2.27 reads marker segments, byte for byte where stb succeeds; wherever stb is
// certain to fail anyway the walk just stops. stb 2.27 builds a Huffman table from 16 code
// counts without checking that they sum to at most 256, writing past its tables (fixed
// upstream in 2.28); the walk refuses such tables before stb sees them.

#include "image_header.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fmav {
namespace {

constexpr int kNoMarker = 0xFF;  // what stb's marker reader returns when it finds none

std::int64_t be32(const std::uint8_t* p) {
  return (std::int64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
std::int64_t le16(const std::uint8_t* p) { return p[0] | (p[1] << 8); }
std::int64_t le32_signed(const std::uint8_t* p) {
  return static_cast<std::int32_t>(std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) |
                                   (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24));
}

// Reads bytes as stb does from memory: 0 past the end, skips clamped to the end.
class JpegReader {
 public:
  JpegReader(const std::uint8_t* bytes, std::size_t size) : m_bytes(bytes), m_size(size) {}

  int get8() { return m_pos < m_size ? m_bytes[m_pos++] : 0; }
  int get16() {
    const int high = get8();
    return (high << 8) | get8();
  }
  void skip(std::int64_t n) {
    if (n < 0 || static_cast<std::uint64_t>(n) >= m_size - m_pos) {
      m_pos = m_size;
    } else {
      m_pos += static_cast<std::size_t>(n);
    }
  }
  bool at_end() const { return m_pos >= m_size; }
  std::size_t left() const { return m_size - m_pos; }

  // The next marker: 0xFF, any 0xFF fill bytes, the marker byte; kNoMarker when the next
  // byte is not 0xFF.
  int marker() {
    int x = get8();
    if (x != 0xFF) return kNoMarker;
    while (x == 0xFF) x = get8();
    return x;
  }

  // Skips entropy-coded data to the marker that ends it: stuffed 0xFF 0x00 bytes and restart
  // markers RST0..RST7 belong to the data. -1 at the end of the file.
  int marker_after_entropy_data() {
    while (m_pos < m_size) {
      if (m_bytes[m_pos++] != 0xFF) continue;
      int c = get8();
      while (c == 0xFF) c = get8();
      if (c != 0 && !(c >= 0xD0 && c <= 0xD7)) return c;
    }
    return -1;
  }

 private:
  const std::uint8_t* m_bytes;
  std::size_t m_size;
  std::size_t m_pos = 0;
};

enum class Segment { ok, stb_fails, refused };

// One marker segment as stb's process_marker reads it (DRI, DQT, DHT, APPn, COM; anything
// else is an error to stb). Sets *problem for a refused Huffman table.
Segment walk_segment(JpegReader& r, int marker, std::string* problem) {
  if (marker == 0xDD) {  // DRI: length 4, the interval
    if (r.get16() != 4) return Segment::stb_fails;
    r.get16();
    return Segment::ok;
  }
  if (marker == 0xDB || (marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE) {
    // DQT, APPn, COM: on success stb reads exactly the segment's length.
    const int length = r.get16();
    if (length < 2) return Segment::stb_fails;
    r.skip(length - 2);
    return Segment::ok;
  }
  if (marker != 0xC4) return Segment::stb_fails;
  int left = r.get16() - 2;  // DHT: tables of class/id, 16 code counts, then the codes
  while (left > 0) {
    const int q = r.get8();
    if ((q >> 4) > 1 || (q & 15) > 3) return Segment::stb_fails;
    int codes = 0;
    for (int i = 0; i < 16; ++i) codes += r.get8();
    if (codes > 256) {
      *problem = "Huffman table with " + std::to_string(codes) + " codes, at most 256 allowed";
      return Segment::refused;
    }
    r.skip(codes);
    left -= 17 + codes;
  }
  return left == 0 ? Segment::ok : Segment::stb_fails;
}

bool is_frame_marker(int marker) { return marker == 0xC0 || marker == 0xC1 || marker == 0xC2; }

// Walks a JPEG's segments up to its frame header (stb skips junk between them there). True
// with the reader just past the frame marker; false when stb would fail or *problem is set.
bool walk_to_frame(JpegReader& r, std::string* problem) {
  if (r.marker() != 0xD8) return false;  // no start-of-image: not a JPEG to stb
  int marker = r.marker();
  while (!is_frame_marker(marker)) {
    if (walk_segment(r, marker, problem) != Segment::ok) return false;
    marker = r.marker();
    while (marker == kNoMarker) {
      if (r.at_end()) return false;
      marker = r.marker();
    }
  }
  return true;
}

}  // namespace

const char* sniff_image_format(const std::uint8_t* bytes, std::size_t size) {
  if (size >= 4 && bytes[0] == 0x89 && std::memcmp(bytes + 1, "PNG", 3) == 0) return "PNG";
  if (size >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return "BMP";
  JpegReader r(bytes, size);
  return r.marker() == 0xD8 ? "JPEG" : nullptr;
}

bool declared_image_size(const std::uint8_t* b, std::size_t size, std::int64_t* width,
                         std::int64_t* height) {
  const char* format = sniff_image_format(b, size);
  if (format == nullptr) return false;
  if (format[0] == 'P') {  // signature, then the IHDR chunk: length, "IHDR", width, height
    if (size < 24 || std::memcmp(b + 12, "IHDR", 4) != 0) return false;
    *width = be32(b + 16);
    *height = be32(b + 20);
    return true;
  }
  if (format[0] == 'B') {  // file header (14 bytes), then the info header's size and sizes
    if (size < 26) return false;
    if (le32_signed(b + 14) == 12) {  // OS/2 core header: 16-bit sizes
      *width = le16(b + 18);
      *height = le16(b + 20);
    } else {
      *width = le32_signed(b + 18);
      *height = std::abs(le32_signed(b + 22));  // negative: rows stored top-down
    }
    return *width > 0;
  }
  JpegReader r(b, size);
  std::string problem;
  if (!walk_to_frame(r, &problem)) return false;
  if (r.left() < 7) return false;
  r.get16();  // frame header: length, precision, height, width
  r.get8();
  *height = r.get16();
  *width = r.get16();
  return true;
}

std::string jpeg_table_problem(const std::uint8_t* bytes, std::size_t size) {
  JpegReader r(bytes, size);
  std::string problem;
  if (!walk_to_frame(r, &problem)) return problem;
  const int frame_length = r.get16();
  if (frame_length < 11) return "";
  r.skip(frame_length - 2);
  // After the frame header stb takes markers strictly one after another.
  int marker = r.marker();
  while (marker != 0xD9) {
    if (marker == 0xDA) {  // start of scan: its header, then entropy-coded data
      r.skip(r.get16() - 2);
      marker = r.marker_after_entropy_data();
      if (marker < 0) return "";
      continue;
    }
    if (marker == 0xDC) {  // DNL: length 4, the height
      r.skip(4);
    } else if (walk_segment(r, marker, &problem) != Segment::ok) {
      return problem;
    }
    marker = r.marker();
  }
  return "";
}

}  // namespace fmav
