// .npy: header dict, dtype, shape and payload size against the bytes (tensor_io.h).

#include "fmav/tensor_io.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  fmav::IoLimits limits;
  limits.max_tensor_bytes = 64u << 20;  // the fuzzer's memory, not the format's limit
  fmav::parse_npy(data, size, limits, "fuzz.npy");
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
