// fma-viewer's session and settings files (session.h); the first byte picks which.

#include <string>

#include "fmav/session.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fmav::parse_session(text, "session.json");
  } else {
    fmav::parse_settings(text, "settings.json");
  }
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
