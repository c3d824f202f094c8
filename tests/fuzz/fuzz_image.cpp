// Image loading through stb_image with the project's limits (input.h): PNG, JPEG, BMP,
// decompression bombs refused from the header.

#include "fmav/input.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::ImageLimits limits;
  limits.max_side = 4096, limits.max_pixels = 1 << 22;  // 4 Mpixel: the fuzzer's memory
  const fmav::Image image = fmav::decode_image(data, size, limits, "fuzz.img");
  if (image.rgb.size() != static_cast<std::size_t>(image.height * image.width * 3)) __builtin_trap();
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
