#pragma once
// A plain host tensor (dtype, shape, bytes in C order): what files hold and what the
// public API passes around, so that callers of the engine never see LibTorch.

#include <cstdint>
#include <string>
#include <vector>

namespace fmav {

enum class DType { f32, f64, f16, bf16, i64, i32, u8 };

// Bytes per element of a dtype.
std::size_t dtype_size(DType dtype);
// The safetensors spelling ("F32", "F64", "F16", "BF16", "I64", "I32", "U8").
const char* dtype_name(DType dtype);

struct HostTensor {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;  // numel() * dtype_size(dtype) bytes, C order

  std::int64_t numel() const;
  std::size_t nbytes() const { return data.size(); }
  // Typed views of the data; the dtype must match (throws fmav::Error otherwise).
  const float* f32() const;
  float* f32();
  const double* f64() const;
  double* f64();
};

// A zero-filled tensor of the given dtype and shape.
HostTensor make_host_tensor(DType dtype, std::vector<std::int64_t> shape);
// "[2, 128, 64]"
std::string shape_str(const std::vector<std::int64_t>& shape);
// numel * itemsize into *nbytes; false when a dim is negative or the product overflows
// 64 bits. Readers call it before allocating anything a header declares.
bool checked_nbytes(const std::vector<std::int64_t>& shape, std::uint64_t itemsize,
                    std::uint64_t* nbytes);

}  // namespace fmav
