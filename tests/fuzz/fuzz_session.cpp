// fma-viewer's session and settings files (session.h); the first byte picks which.

#include "fmav/session.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  parse_selected(
      data, size, [](const std::string& text) { fmav::parse_session(text, "session.json"); },
      [](const std::string& text) { fmav::parse_settings(text, "settings.json"); });
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
