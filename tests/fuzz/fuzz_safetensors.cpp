// .safetensors: header length, JSON header, dtypes, shapes, offsets (tensor_io.h).

#include "fmav/tensor_io.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::IoLimits limits;
  limits.max_tensor_bytes = 64u << 20;
  std::map<std::string, std::string> metadata;
  fmav::parse_safetensors(data, size, &metadata, limits, "fuzz.safetensors");
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
