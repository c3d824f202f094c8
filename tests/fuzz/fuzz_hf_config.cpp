// A Hugging Face config.json (hf_model.h): the families, sizes and options the engine reads;
// and, on the same bytes, a vit's preprocessor_config.json (both are small JSON objects, so
// one corpus of both kinds serves the two parsers without a selector byte).

#include <string>

#include "fmav/hf_model.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    fmav::parse_hf_config(text, "config.json");
  } catch (const fmav::Error&) {
  }
  fmav::parse_hf_image_processor(text, "preprocessor_config.json");
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
