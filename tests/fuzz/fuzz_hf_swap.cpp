// fmav_swap.json (hf_fit.h), the swap a fitted Hugging Face folder describes, read against a
// fixed model: 4 layers, 1024 positions, head dimension 16.

#include <string>

#include "fmav/hf_fit.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::HfConfig config;
  config.layers = 4, config.max_positions = 1024, config.head_dim = 16;
  fmav::parse_hf_swap(std::string(reinterpret_cast<const char*>(data), size), "fmav_swap.json", config);
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
