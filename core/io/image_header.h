#pragma once
// What image headers declare, read without stb: the format, the width and height (so that a
// huge declared size is reported as such), and a walk of a JPEG's segments in stb's own order
// that refuses what stb_image 2.27 would overflow on (Huffman tables of more than 256 codes).

#include <cstddef>
#include <cstdint>
#include <string>

namespace fmav {

// "PNG", "JPEG" or "BMP" by the signature stb_image tests, or nullptr. Never throws.
const char* sniff_image_format(const std::uint8_t* bytes, std::size_t size);

// The width and height the header of a PNG, BMP or JPEG declares; false when the bytes are
// none of these or the header is cut short (stb then has the last word). Never throws.
bool declared_image_size(const std::uint8_t* bytes, std::size_t size, std::int64_t* width,
                         std::int64_t* height);

// Empty when stb_image may parse the file's JPEG segments (or it is no JPEG); otherwise what
// is wrong. Follows stb's reading order (junk skipped before the frame header, entropy-coded
// data up to its first marker but restarts), so that every table stb would build is seen.
// Never throws.
std::string jpeg_table_problem(const std::uint8_t* bytes, std::size_t size);

}  // namespace fmav
