// Text input decoding (input.h): UTF-8 validation (whole and cut at a window's end) and the
// windows a model reads.

#include "fmav/input.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  const std::size_t whole = fmav::first_invalid_utf8(data, size, false);
  const std::size_t cut = fmav::first_invalid_utf8(data, size, true);
  if (whole > size || cut > size || cut < whole) __builtin_trap();  // positions inside the text
  if (size > 0) fmav::text_windows(static_cast<std::int64_t>(size), 1 + data[0] % 64, 1 + data[size - 1] % 64);
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
