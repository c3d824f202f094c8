// A Hugging Face config.json (hf_model.h): the families, sizes and options the engine reads.

#include <string>

#include "fmav/hf_model.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "config.json");
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
