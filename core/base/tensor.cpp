// HostTensor: dtype sizes and names, element counts, typed views and construction.

#include "fmav/tensor.h"

#include "fmav/error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fmav {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::i64:
      return 8;
    case DType::i32:
      return 4;
    case DType::u8:
      return 1;
  }
  FMAV_ASSERT(false, "unknown DType ", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::f16:
      return "F16";
    case DType::bf16:
      return "BF16";
    case DType::i64:
      return "I64";
    case DType::i32:
      return "I32";
    case DType::u8:
      return "U8";
  }
  FMAV_ASSERT(false, "unknown DType ", static_cast<int>(dtype));
}

std::int64_t HostTensor::numel() const {
  // A zero dim empties the tensor whatever the other dims are, so look for it first: the
  // running product of the others could overflow otherwise.
  for (std::int64_t dim : shape) {
    if (dim == 0) return 0;
  }
  std::int64_t n = 1;
  for (std::int64_t dim : shape) n *= dim;
  return n;
}

namespace {

void check_dtype(const HostTensor& tensor, DType expected) {
  FMAV_CHECK(tensor.dtype == expected, "tensor has dtype ", dtype_name(tensor.dtype), " and shape ",
             shape_str(tensor.shape), ", expected dtype ", dtype_name(expected));
}

}  // namespace

const float* HostTensor::f32() const {
  check_dtype(*this, DType::f32);
  return reinterpret_cast<const float*>(data.data());
}

float* HostTensor::f32() {
  check_dtype(*this, DType::f32);
  return reinterpret_cast<float*>(data.data());
}

const double* HostTensor::f64() const {
  check_dtype(*this, DType::f64);
  return reinterpret_cast<const double*>(data.data());
}

double* HostTensor::f64() {
  check_dtype(*this, DType::f64);
  return reinterpret_cast<double*>(data.data());
}

bool checked_nbytes(const std::vector<std::int64_t>& shape, std::uint64_t itemsize,
                    std::uint64_t* nbytes) {
  bool has_zero = false;
  for (std::int64_t dim : shape) {
    if (dim < 0) return false;
    has_zero = has_zero || dim == 0;
  }
  *nbytes = has_zero ? 0 : itemsize;
  for (std::int64_t dim : shape) {
    if (has_zero) break;
    if (__builtin_mul_overflow(*nbytes, static_cast<std::uint64_t>(dim), nbytes)) return false;
  }
  return true;
}

HostTensor make_host_tensor(DType dtype, std::vector<std::int64_t> shape) {
  for (std::int64_t dim : shape) {
    FMAV_CHECK(dim >= 0, "make_host_tensor: shape must have non-negative dims, got ",
               shape_str(shape));
  }
  std::uint64_t nbytes = 0;
  FMAV_CHECK(checked_nbytes(shape, dtype_size(dtype), &nbytes), "make_host_tensor: shape ",
             shape_str(shape), " of ", dtype_name(dtype), " overflows 64 bits of bytes");
  FMAV_CHECK(nbytes <= SIZE_MAX, "make_host_tensor: shape ", shape_str(shape), " of ",
             dtype_name(dtype), " needs ", nbytes, " bytes, more than this machine can address");
  HostTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.data.assign(static_cast<std::size_t>(nbytes), 0);
  return tensor;
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace fmav
