// A model's config.json (model.h): strict keys, types, ranges and the architecture's rules.

#include <string>

#include "fmav/model.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::parse_model_config(std::string(reinterpret_cast<const char*>(data), size), "config.json");
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
