#pragma once
// Helpers shared by the tensor file formats (no LibTorch).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fmav {

// numel * itemsize into *nbytes; false when a dim is negative or the product overflows
// 64 bits. Readers call it before allocating anything a header declares.
bool checked_nbytes(const std::vector<std::int64_t>& shape, std::uint64_t itemsize,
                    std::uint64_t* nbytes);

// The deepest nesting of [ and { outside strings in JSON text, counted before a parser
// builds any tree (a hostile 10000-deep '[' is refused cheaply). Stops past `limit`.
int json_depth(const char* text, std::size_t size, int limit);

}  // namespace fmav
