#pragma once
// Helpers shared by the tensor file formats (no LibTorch).

#include <cstdint>
#include <vector>

namespace fmav {

// numel * itemsize into *nbytes; false when a dim is negative or the product overflows
// 64 bits. Readers call it before allocating anything a header declares.
bool checked_nbytes(const std::vector<std::int64_t>& shape, std::uint64_t itemsize,
                    std::uint64_t* nbytes);

}  // namespace fmav
