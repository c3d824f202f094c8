// Tests of the input-file layer (fmav/input.h): the UTF-8 validator against a plain decoder
// over every short sequence, text files, windows, images through every format and hostile
// file (truncated, corrupt, declared huge, compressed bombs), resizing and image folders.

#include "fmav/input.h"

#include "fmav/error.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fmav_test {
namespace {

namespace fs = std::filesystem;
using fmav::Image;

std::size_t invalid_at(const std::string& s, bool allow_cut_end = false) {
  return fmav::first_invalid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(),
                                  allow_cut_end);
}

// ---- UTF-8 ----

TEST(Utf8, AcceptsEveryEncodedCodePoint) {
  const std::vector<std::string> valid = {
      "plain ascii\n\t",     "caf\xC3\xA9",           "\xE2\x82\xAC 5",  // é, €
      "\xF0\x9F\x98\x80",    "\xF4\x8F\xBF\xBF",                         // U+1F600, U+10FFFF
      "\xED\x9F\xBF",        "\xEE\x80\x80",          std::string("a\0b", 3)};
  for (const std::string& s : valid) EXPECT_EQ(invalid_at(s), s.size()) << s;
}

TEST(Utf8, RefusesOverlongsSurrogatesAndPastTheLastCodePoint) {
  const std::vector<std::string> invalid = {
      "\xC0\x80",         "\xC1\xBF",         "\xE0\x80\x80",     "\xE0\x9F\xBF",  // overlong
      "\xF0\x8F\xBF\xBF",                                                          // overlong
      "\xED\xA0\x80",     "\xED\xBF\xBF",                                          // surrogates
      "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF",             "\xFE",          // > U+10FFFF
      "\x80",             "\xBF",             "\xC3\x41",         "\xE2\x82\x41"};
  for (const std::string& s : invalid) {
    EXPECT_EQ(invalid_at("ok" + s + "tail"), 2u) << s;
    EXPECT_EQ(invalid_at("ok" + s + "tail", true), 2u) << s;
  }
}

TEST(Utf8, CutEndIsAcceptedOnlyWhenAllowedAndOnlyForValidPrefixes) {
  for (const std::string cut : {"\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xF4\x8F"}) {
    EXPECT_EQ(invalid_at("ab" + cut), 2u) << cut;
    EXPECT_EQ(invalid_at("ab" + cut, true), 2 + cut.size()) << cut;
  }
  for (const std::string bad : {"\xE0\x80", "\xED\xA0", "\xF4\x90", "\xF0\x80"}) {
    EXPECT_EQ(invalid_at("ab" + bad, true), 2u) << bad;
  }
  EXPECT_EQ(invalid_at("\xC3\xA9\xE2", true), 3u);
  EXPECT_EQ(invalid_at("\xC3\xA9\xE2", false), 2u);
}

// The oracle: decode one sequence arithmetically and check the Unicode rules.
bool valid_by_decoding(const std::uint8_t* b, int n) {
  int length = b[0] < 0x80 ? 1 : (b[0] >> 5) == 6 ? 2 : (b[0] >> 4) == 14 ? 3 : (b[0] >> 3) == 30 ? 4 : 0;
  if (length != n) return false;
  std::uint32_t cp = length == 1 ? b[0] : b[0] & (0x7F >> length);
  for (int i = 1; i < n; ++i) {
    if ((b[i] & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b[i] & 0x3F);
  }
  const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  return cp >= min[length] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

TEST(Utf8, MatchesADecoderOnEverySequenceOfUpToThreeBytes) {
  std::uint8_t b[3];
  for (int x = 0; x < 256; ++x) {
    b[0] = static_cast<std::uint8_t>(x);
    ASSERT_EQ(fmav::first_invalid_utf8(b, 1, false) == 1, valid_by_decoding(b, 1)) << x;
    for (int y = 0; y < 256; ++y) {
      b[1] = static_cast<std::uint8_t>(y);
      // Two bytes are valid as two 1-byte sequences or as one 2-byte sequence.
      const bool two = valid_by_decoding(b, 2) || (x < 0x80 && y < 0x80);
      ASSERT_EQ(fmav::first_invalid_utf8(b, 2, false) == 2, two) << x << " " << y;
      if (x < 0xE0 || x > 0xEF) continue;  // 3-byte leads only: the rest is covered above
      for (int z = 0; z < 256; ++z) {
        b[2] = static_cast<std::uint8_t>(z);
        ASSERT_EQ(fmav::first_invalid_utf8(b, 3, false) == 3, valid_by_decoding(b, 3))
            << x << " " << y << " " << z;
      }
    }
  }
  // Every 4-byte sequence with continuation bytes, by lead and second byte.
  for (int x = 0xF0; x < 0x100; ++x) {
    for (int y = 0x80; y < 0xC0; ++y) {
      const std::uint8_t s[4] = {static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y), 0x80, 0xBF};
      ASSERT_EQ(fmav::first_invalid_utf8(s, 4, false) == 4, valid_by_decoding(s, 4)) << x << " " << y;
    }
  }
}

// ---- text files ----

using TextFiles = TempFolder;

TEST_F(TextFiles, ReadsUtf8AndAcceptsACutLastCharacter) {
  const std::string text = "key=value; caf\xC3\xA9 \xE2\x82\xAC\n\xF0\x9F\x98";
  write_bytes(path("t.txt"), text);
  EXPECT_EQ(fmav::read_text(path("t.txt")), text);
}

TEST_F(TextFiles, ErrorsNameThePathAndWhatIsWrong) {
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("missing.txt")); }, "missing.txt: no such file"));
  write_bytes(path("empty.txt"), "");
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("empty.txt")); },
                           "empty.txt: file is empty, expected UTF-8 text"));
  write_bytes(path("nul.txt"), std::string("hello\0world", 11));
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("nul.txt")); },
                           "nul.txt: NUL byte at offset 5: a binary file"));
  write_bytes(path("latin1.txt"), "abc caf\xE9 au lait");
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("latin1.txt")); },
                           "latin1.txt: not UTF-8 text: invalid byte sequence at offset 7 (0xe9 0x20"));
  write_bytes(path("surrogate.txt"), "ab\xED\xA0\x80");
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("surrogate.txt")); }, "at offset 2"));
  write_bytes(path("big.txt"), "0123456789");
  fmav::TextLimits limits;
  limits.max_bytes = 4;
  EXPECT_TRUE(throws_error([&] { fmav::read_text(path("big.txt"), limits); },
                           "big.txt: file is 10 bytes, more than the limit of 4"));
  limits.max_bytes = 10;
  EXPECT_EQ(fmav::read_text(path("big.txt"), limits), "0123456789");
  EXPECT_TRUE(throws_error([&] { fmav::read_text(m_dir.string()); }, "is a folder"));
}

// ---- windows ----

TEST(TextWindows, EdgeCases) {
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(fmav::text_windows(10, 4, 4), (V{0, 4, 6}));
  EXPECT_EQ(fmav::text_windows(8, 4, 4), (V{0, 4}));
  EXPECT_EQ(fmav::text_windows(10, 4, 3), (V{0, 3, 6}));
  EXPECT_EQ(fmav::text_windows(10, 4, 100), (V{0, 6}));
  EXPECT_EQ(fmav::text_windows(10, 4, std::numeric_limits<std::int64_t>::max()), (V{0, 6}));
  EXPECT_EQ(fmav::text_windows(3, 4, 2), (V{0}));
  EXPECT_EQ(fmav::text_windows(4, 4, 1), (V{0}));
  EXPECT_EQ(fmav::text_windows(1, 1, 1), (V{0}));
  EXPECT_EQ(fmav::text_windows(5, 1, 2), (V{0, 2, 4}));
  EXPECT_EQ(fmav::text_windows(5, 2, 2), (V{0, 2, 3}));
  EXPECT_TRUE(throws_error([] { fmav::text_windows(10, 0, 1); }, "window must be >= 1 byte, got 0"));
  EXPECT_TRUE(throws_error([] { fmav::text_windows(10, 4, 0); }, "stride must be >= 1 byte, got 0"));
  EXPECT_TRUE(throws_error([] { fmav::text_windows(0, 4, 1); }, "text size must be >= 1 byte, got 0"));
  EXPECT_TRUE(throws_error([] { fmav::text_windows(10, 4, -3); }, "got -3"));
}

TEST(TextWindows, CoverTheTextAndEndExactlyAtItsEnd) {
  for (std::int64_t size = 1; size <= 40; ++size) {
    for (std::int64_t window = 1; window <= 12; ++window) {
      for (std::int64_t stride = 1; stride <= 14; ++stride) {
        const std::vector<std::int64_t> w = fmav::text_windows(size, window, stride);
        ASSERT_FALSE(w.empty());
        EXPECT_EQ(w.front(), 0);
        EXPECT_EQ(w.back(), std::max<std::int64_t>(0, size - window)) << size << " " << window;
        for (std::size_t i = 1; i < w.size(); ++i) {
          ASSERT_GT(w[i], w[i - 1]);
          if (i + 1 < w.size()) {
            EXPECT_EQ(w[i] - w[i - 1], stride);
          } else {
            EXPECT_LE(w[i] - w[i - 1], stride);
          }
        }
      }
    }
  }
}

// ---- images: helpers ----

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

// A w x h picture with distinct 8-bit values per pixel and channel.
std::vector<std::uint8_t> pattern(int w, int h, int channels = 3) {
  std::vector<std::uint8_t> p(static_cast<std::size_t>(w) * h * channels);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>((i * 37 + i / 7) & 255);
  return p;
}

Image to_image(const std::vector<std::uint8_t>& rgb, int w, int h) {
  Image image;
  image.width = w;
  image.height = h;
  for (std::uint8_t v : rgb) image.rgb.push_back(v / 255.0f);
  return image;
}

std::string encode_png(const std::vector<std::uint8_t>& p, int w, int h, int channels = 3) {
  std::string out;
  EXPECT_NE(stbi_write_png_to_func(append_to_string, &out, w, h, channels, p.data(), w * channels), 0);
  return out;
}

std::string encode_bmp(const std::vector<std::uint8_t>& p, int w, int h) {
  std::string out;
  EXPECT_NE(stbi_write_bmp_to_func(append_to_string, &out, w, h, 3, p.data()), 0);
  return out;
}

std::string encode_jpeg(const std::vector<std::uint8_t>& p, int w, int h) {
  std::string out;
  EXPECT_NE(stbi_write_jpg_to_func(append_to_string, &out, w, h, 3, p.data(), 95), 0);
  return out;
}

Image decode(const std::string& bytes, const fmav::ImageLimits& limits = {}) {
  return fmav::decode_image(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), limits, "x.img");
}

void expect_pixels(const Image& image, const std::vector<std::uint8_t>& rgb, int w, int h) {
  ASSERT_EQ(image.width, w);
  ASSERT_EQ(image.height, h);
  ASSERT_EQ(image.rgb.size(), rgb.size());
  for (std::size_t i = 0; i < rgb.size(); ++i) ASSERT_NEAR(image.rgb[i] * 255.0f, rgb[i], 1e-3) << i;
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// A PNG of declared RGB size w x h whose image data is `zlib`.
std::string hand_made_png(std::uint32_t w, std::uint32_t h, const std::string& zlib) {
  const std::string ihdr = be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", zlib) +
         png_chunk("IEND", "");
}

using Images = TempFolder;

// ---- images: formats ----

TEST_F(Images, PngRoundTripThroughWritePng) {
  const std::vector<std::uint8_t> p = pattern(13, 7);
  fmav::write_png(path("a.png"), to_image(p, 13, 7));
  expect_pixels(fmav::read_image(path("a.png")), p, 13, 7);
  // Out-of-range and NaN values are clamped, not wrapped.
  Image odd = to_image(std::vector<std::uint8_t>(3, 0), 1, 1);
  odd.rgb = {-0.5f, 1.7f, std::nanf("")};
  fmav::write_png(path("odd.png"), odd);
  expect_pixels(fmav::read_image(path("odd.png")), {0, 255, 0}, 1, 1);
  EXPECT_FALSE(fs::exists(path("a.png.tmp")));
}

TEST_F(Images, BmpJpegGreyAndAlphaDecodeToRgb) {
  const std::vector<std::uint8_t> p = pattern(9, 5);
  write_bytes(path("a.bmp"), encode_bmp(p, 9, 5));
  expect_pixels(fmav::read_image(path("a.bmp")), p, 9, 5);

  std::vector<std::uint8_t> smooth(32 * 24 * 3);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) smooth[(y * 32 + x) * 3 + c] = static_cast<std::uint8_t>(x * 4 + y * 3 + c * 20);
  write_bytes(path("a.jpg"), encode_jpeg(smooth, 32, 24));
  const Image jpeg = fmav::read_image(path("a.jpg"));
  ASSERT_EQ(jpeg.width, 32);
  ASSERT_EQ(jpeg.height, 24);
  for (std::size_t i = 0; i < smooth.size(); ++i) EXPECT_NEAR(jpeg.rgb[i] * 255.0f, smooth[i], 12.0) << i;

  const std::vector<std::uint8_t> grey = pattern(4, 3, 1);
  const Image g = decode(encode_png(grey, 4, 3, 1));
  for (std::size_t i = 0; i < grey.size(); ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(g.rgb[i * 3 + c] * 255.0f, grey[i], 1e-3);
  }
  const std::vector<std::uint8_t> rgba = pattern(4, 3, 4);
  const Image a = decode(encode_png(rgba, 4, 3, 4));
  for (std::size_t i = 0; i < 12; ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(a.rgb[i * 3 + c] * 255.0f, rgba[i * 4 + c], 1e-3);
  }
}

TEST_F(Images, FileErrorsNameThePath) {
  EXPECT_TRUE(throws_error([&] { fmav::read_image(path("missing.png")); }, "missing.png: no such file"));
  write_bytes(path("empty.png"), "");
  EXPECT_TRUE(throws_error([&] { fmav::read_image(path("empty.png")); },
                           "empty.png: file is empty, expected a PNG, JPEG or BMP image"));
  write_bytes(path("notes.png"), "just some text, not an image\n");
  EXPECT_TRUE(throws_error([&] { fmav::read_image(path("notes.png")); },
                           "notes.png: unknown image format, expected PNG, JPEG or BMP"));
  write_bytes(path("a.gif"), "GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  EXPECT_TRUE(throws_error([&] { fmav::read_image(path("a.gif")); }, "a.gif: unknown image format"));
  write_bytes(path("big.png"), encode_png(pattern(8, 8), 8, 8));
  fmav::ImageLimits limits;
  limits.max_file_bytes = 20;
  EXPECT_TRUE(throws_error([&] { fmav::read_image(path("big.png"), limits); },
                           "big.png: file is " + std::to_string(fs::file_size(path("big.png"))) +
                               " bytes, more than the limit of 20"));
}

TEST(ImageDecode, EveryPrefixOfAFileFailsCleanly) {
  const std::vector<std::uint8_t> p = pattern(6, 5);
  for (const std::string& file : {encode_png(p, 6, 5), encode_bmp(p, 6, 5), encode_jpeg(p, 6, 5)}) {
    ASSERT_NO_THROW(decode(file));
    for (std::size_t n = 1; n < file.size(); ++n) {
      try {
        const Image image = decode(file.substr(0, n));
        // A JPEG or BMP cut near its end may still decode (stb pads missing data), and so
        // may a PNG that lacks only the CRC of its IEND chunk (stb does not check CRCs).
        EXPECT_EQ(image.width, 6);
        EXPECT_EQ(image.height, 5);
        if (file[0] == '\x89') {
          EXPECT_GE(n, file.size() - 4) << "a truncated PNG of " << n << " bytes decoded";
        }
      } catch (const fmav::Error& e) {
        EXPECT_NE(std::string(e.what()).find("x.img: "), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_TRUE(throws_error([&] { decode(encode_png(p, 6, 5).substr(0, 40)); }, "x.img: corrupt PNG image (stb: "));
}

TEST(ImageDecode, RandomCorruptionFailsCleanly) {
  std::mt19937 rng(5);
  const std::vector<std::uint8_t> p = pattern(16, 12);
  const std::vector<std::string> files = {encode_png(p, 16, 12), encode_bmp(p, 16, 12), encode_jpeg(p, 16, 12)};
  int decoded = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string file = files[trial % 3];
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) file[rng() % file.size()] = static_cast<char>(rng());
    try {
      const Image image = decode(file);
      EXPECT_EQ(image.rgb.size(), static_cast<std::size_t>(image.width * image.height * 3));
      ++decoded;
    } catch (const fmav::Error&) {
      ++refused;
    }
  }
  for (int trial = 0; trial < 500; ++trial) {  // noise behind a real signature
    std::string file = files[trial % 3].substr(0, 2 + trial % 30);
    for (int i = 0; i < 200; ++i) file += static_cast<char>(rng());
    try {
      decode(file);
    } catch (const fmav::Error&) {
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(decoded + refused, 0);
}

TEST(ImageDecode, HugeDeclaredSizesAreRefusedBeforeDecoding) {
  const std::string bomb = hand_made_png(100000, 100000, "");
  EXPECT_TRUE(throws_error([&] { decode(bomb); },
                           "x.img: image is 100000 x 100000 pixels (width x height), over the limit of "
                           "16384 pixels per side"));
  EXPECT_TRUE(throws_error([&] { decode(hand_made_png(16000, 16000, "")); },
                           "x.img: image is 16000 x 16000 = 256000000 pixels, over the limit of 67108864"));
  // A BMP header that declares 70000 x 3 (the payload is missing, but the size comes first).
  std::string bmp = encode_bmp(pattern(2, 3), 2, 3);
  bmp[18] = static_cast<char>(70000 & 255), bmp[19] = static_cast<char>((70000 >> 8) & 255);
  bmp[20] = static_cast<char>(70000 >> 16);
  EXPECT_TRUE(throws_error([&] { decode(bmp); }, "image is 70000 x 3 pixels"));
  // A JPEG whose frame header declares 65535 x 65535.
  std::string jpeg = encode_jpeg(pattern(8, 8), 8, 8);
  const std::size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 4, "\xFF\xFF\xFF\xFF");
  EXPECT_TRUE(throws_error([&] { decode(jpeg); }, "image is 65535 x 65535 pixels"));
}

TEST(ImageDecode, JpegHuffmanTablesOfMoreThan256CodesAreRefused) {
  // stb_image 2.27 writes past its tables for these; the counts of the first table grow.
  std::string jpeg = encode_jpeg(pattern(8, 8), 8, 8);
  const std::size_t dht = jpeg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  for (int i = 0; i < 16; ++i) jpeg[dht + 5 + i] = '\x7F';
  EXPECT_TRUE(throws_error([&] { decode(jpeg); }, "x.img: corrupt JPEG image (Huffman table with 2032 codes, at most 256"));
  EXPECT_TRUE(throws_error([&] { decode("\xFF" + jpeg); }, "Huffman table with 2032 codes"));
  // A table of 512 codes before the frame header, behind padding that stb skips there, and
  // one after the first scan (as progressive files have).
  const std::string good = encode_jpeg(pattern(8, 8), 8, 8);
  const std::string table = std::string("\xFF\xC4\x00\x23\x10", 5) + std::string(16, '\x20') + std::string(14, '\x01');
  const std::size_t sof = good.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  const std::string early = good.substr(0, sof) + std::string("\x00\x17", 2) + table + good.substr(sof);
  EXPECT_TRUE(throws_error([&] { decode(early); }, "Huffman table with 512 codes"));
  std::string late = good;
  late.insert(late.rfind("\xFF\xD9"), table);
  EXPECT_TRUE(throws_error([&] { decode(late); }, "Huffman table with 512 codes"));
}

TEST(ImageDecode, LimitsCanBeLoweredAndRaised) {
  const std::string png = encode_png(pattern(64, 32), 64, 32);
  fmav::ImageLimits limits;
  limits.max_side = 50;
  EXPECT_TRUE(throws_error([&] { decode(png, limits); }, "image is 64 x 32 pixels (width x height), over the limit of 50 pixels per side"));
  limits.max_side = 64;
  EXPECT_EQ(decode(png, limits).width, 64);
  limits.max_pixels = 1000;
  EXPECT_TRUE(throws_error([&] { decode(png, limits); }, "image is 64 x 32 = 2048 pixels, over the limit of 1000 pixels"));
  limits.max_pixels = 2048;
  EXPECT_EQ(decode(png, limits).height, 32);
  limits.max_side = 0;
  EXPECT_TRUE(throws_error([&] { decode(png, limits); }, "image limits must be positive"));
}

TEST(ImageDecode, CompressedDataBombIsRefused) {
  // 16 x 16 declared, but the image data inflates to 32 MiB.
  std::vector<unsigned char> zeros(32u << 20, 0);
  int length = 0;
  unsigned char* zlib = stbi_zlib_compress(zeros.data(), static_cast<int>(zeros.size()), &length, 5);
  ASSERT_NE(zlib, nullptr);
  const std::string png = hand_made_png(16, 16, std::string(reinterpret_cast<char*>(zlib), static_cast<std::size_t>(length)));
  std::free(zlib);
  EXPECT_TRUE(throws_error([&] { decode(png); }, "decoding it needs more memory than a 16 x 16 image can"));
  // The same image data at its honest size decodes.
  std::vector<unsigned char> rows(16 * (16 * 3 + 1), 0);
  zlib = stbi_zlib_compress(rows.data(), static_cast<int>(rows.size()), &length, 5);
  const std::string honest = hand_made_png(16, 16, std::string(reinterpret_cast<char*>(zlib), static_cast<std::size_t>(length)));
  std::free(zlib);
  EXPECT_EQ(decode(honest).width, 16);
}

// ---- fit_image ----

Image constant_image(std::int64_t h, std::int64_t w, float r, float g, float b) {
  Image image;
  image.height = h;
  image.width = w;
  for (std::int64_t i = 0; i < h * w; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

TEST(FitImage, SizesAndConstantImagesStayConstant) {
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {7, 3}, {100, 50}, {33, 97}}) {
    const Image src = constant_image(h, w, 0.2f, 0.5f, 0.9f);
    for (const auto& [th, tw] : std::vector<std::pair<int, int>>{{1, 1}, {5, 9}, {20, 30}, {64, 64}, {150, 13}}) {
      const Image out = fmav::fit_image(src, th, tw);
      ASSERT_EQ(out.height, th);
      ASSERT_EQ(out.width, tw);
      ASSERT_EQ(out.rgb.size(), static_cast<std::size_t>(th * tw * 3));
      for (std::size_t i = 0; i < out.rgb.size(); i += 3) {
        ASSERT_NEAR(out.rgb[i], 0.2f, 1e-5) << h << "x" << w << " -> " << th << "x" << tw;
        ASSERT_NEAR(out.rgb[i + 1], 0.5f, 1e-5);
        ASSERT_NEAR(out.rgb[i + 2], 0.9f, 1e-5);
      }
    }
  }
}

TEST(FitImage, SameSizeIsIdentityAndHalvingAveragesBlocks) {
  const Image src = to_image(pattern(6, 4), 6, 4);
  const Image same = fmav::fit_image(src, 4, 6);
  for (std::size_t i = 0; i < src.rgb.size(); ++i) EXPECT_NEAR(same.rgb[i], src.rgb[i], 1e-6);
  const Image half = fmav::fit_image(src, 2, 3);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        const auto at = [&](int yy, int xx) { return src.rgb[(yy * 6 + xx) * 3 + c]; };
        const float mean = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
        EXPECT_NEAR(half.rgb[(y * 3 + x) * 3 + c], mean, 1e-6);
      }
    }
  }
}

TEST(FitImage, CoversAndCropsTheCentre) {
  // 200 wide x 100 high: red band in the left and right quarters, blue in the middle.
  Image src = constant_image(100, 200, 0, 0, 1);
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 200; ++x) {
      if (x < 50 || x >= 150) src.rgb[(y * 200 + x) * 3] = 1, src.rgb[(y * 200 + x) * 3 + 2] = 0;
    }
  }
  const Image square = fmav::fit_image(src, 40, 40);  // covers at 80 x 40, keeps the middle
  for (std::size_t i = 0; i < square.rgb.size(); i += 3) {
    EXPECT_NEAR(square.rgb[i], 0.0f, 1e-6);
    EXPECT_NEAR(square.rgb[i + 2], 1.0f, 1e-6);
  }
  const Image wide = fmav::fit_image(src, 10, 40);  // same aspect ratio: everything stays
  EXPECT_NEAR(wide.rgb[0], 1.0f, 1e-6);
  EXPECT_NEAR(wide.rgb[(5 * 40 + 20) * 3 + 2], 1.0f, 1e-6);
  const Image tall = fmav::fit_image(src, 300, 30);  // enlarges by 3, keeps the middle 30 x 100
  EXPECT_EQ(tall.height, 300);
  EXPECT_NEAR(tall.rgb[(150 * 30 + 15) * 3 + 2], 1.0f, 1e-6);
}

TEST(FitImage, Errors) {
  const Image src = constant_image(4, 4, 1, 1, 1);
  EXPECT_TRUE(throws_error([&] { fmav::fit_image(src, 0, 5); }, "fit_image: target size must be at least 1 x 1, got 5 x 0"));
  EXPECT_TRUE(throws_error([&] { fmav::fit_image(src, 5, -1); }, "got -1 x 5"));
  EXPECT_TRUE(throws_error([&] { fmav::fit_image(Image{}, 5, 5); }, "fit_image: image is empty (0 x 0 pixels)"));
  Image broken = src;
  broken.rgb.pop_back();
  EXPECT_TRUE(throws_error([&] { fmav::fit_image(broken, 2, 2); }, "fit_image: a 4 x 4 image needs 48 rgb values, has 47"));
}

TEST_F(Images, WritePngErrors) {
  EXPECT_TRUE(throws_error([&] { fmav::write_png(path("e.png"), Image{}); }, "e.png: image is empty"));
  EXPECT_TRUE(throws_error([&] { fmav::write_png(path("no/such/folder/a.png"), constant_image(2, 2, 0, 0, 0)); },
                           "a.png: cannot write"));
  EXPECT_FALSE(fs::exists(path("e.png")));
}

// ---- image folders ----

TEST_F(Images, ImageFolderListsClassesAndImagesSorted) {
  const std::string png = encode_png(pattern(2, 2), 2, 2);
  fs::create_directories(path("set/dog"));
  fs::create_directories(path("set/cat"));
  fs::create_directories(path("set/.cache"));
  for (const char* name : {"set/dog/b.PNG", "set/dog/a.jpeg", "set/dog/c.Bmp", "set/cat/z.jpg",
                           "set/cat/.hidden.png", "set/cat/readme.txt", "set/.cache/x.png", "set/top.png"}) {
    write_bytes(path(name), png);
  }
  fs::create_directories(path("set/cat/sub.png"));  // a folder with an image's name
  const fmav::ImageFolder folder = fmav::list_image_folder(path("set"));
  EXPECT_EQ(folder.classes, (std::vector<std::string>{"cat", "dog"}));
  const std::vector<std::pair<std::string, int>> expect = {
      {path("set/cat/z.jpg"), 0}, {path("set/dog/a.jpeg"), 1}, {path("set/dog/b.PNG"), 1}, {path("set/dog/c.Bmp"), 1}};
  EXPECT_EQ(folder.items, expect);
}

TEST_F(Images, ImageFolderErrorsNameTheFolder) {
  EXPECT_TRUE(throws_error([&] { fmav::list_image_folder(path("none")); }, "none: no such folder"));
  write_bytes(path("file"), "x");
  EXPECT_TRUE(throws_error([&] { fmav::list_image_folder(path("file")); }, "file: is not a folder"));
  fs::create_directories(path("one/a"));
  write_bytes(path("one/a/1.png"), "x");
  EXPECT_TRUE(throws_error([&] { fmav::list_image_folder(path("one")); },
                           "one: found 1 class folders, expected at least 2"));
  fs::create_directories(path("one/b"));
  write_bytes(path("one/b/notes.txt"), "x");
  EXPECT_TRUE(throws_error([&] { fmav::list_image_folder(path("one")); },
                           "one: class folder 'b' holds no image (.png, .jpg, .jpeg or .bmp)"));
}

}  // namespace
}  // namespace fmav_test
