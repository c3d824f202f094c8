// Conversions between the public HostTensor and LibTorch tensors.

#include <cstring>

#include "convert_view.h"
#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return at::kFloat;
    case DType::f64: return at::kDouble;
    case DType::f16: return at::kHalf;
    case DType::bf16: return at::kBFloat16;
    case DType::i64: return at::kLong;
    case DType::i32: return at::kInt;
    case DType::u8: return at::kByte;
  }
  throw Error("unknown dtype");
}

const char* scalar_type_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(dtype);
  }
}

at::Tensor to_tensor(const HostTensor& host) {
  FMAV_ASSERT(host.data.size() == static_cast<std::size_t>(host.numel()) * dtype_size(host.dtype),
              "host tensor of shape ", shape_str(host.shape), " holds ", host.data.size(), " bytes");
  at::Tensor out = at::empty(host.shape, at::TensorOptions().dtype(scalar_type(host.dtype)));
  if (!host.data.empty()) std::memcpy(out.data_ptr(), host.data.data(), host.data.size());
  return out;
}

at::Tensor to_tensor(const TensorView& view) {
  std::uint64_t nbytes = 0;
  FMAV_ASSERT(checked_nbytes(view.shape, dtype_size(view.dtype), &nbytes) && nbytes == view.nbytes,
              "tensor view of shape ", shape_str(view.shape), " holds ", view.nbytes, " bytes");
  at::Tensor out = at::empty(view.shape, at::TensorOptions().dtype(scalar_type(view.dtype)));
  if (view.nbytes != 0) std::memcpy(out.data_ptr(), view.data, view.nbytes);
  return out;
}

HostTensor to_host(const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  DType dtype;
  switch (t.scalar_type()) {
    case at::kFloat: dtype = DType::f32; break;
    case at::kDouble: dtype = DType::f64; break;
    case at::kLong: dtype = DType::i64; break;
    case at::kInt: dtype = DType::i32; break;
    default: throw Error(std::string("cannot convert a tensor of dtype ") +
                         scalar_type_name(t.scalar_type()) + " to a host tensor");
  }
  HostTensor host = make_host_tensor(dtype, t.sizes().vec());
  if (!host.data.empty()) std::memcpy(host.data.data(), t.data_ptr(), host.data.size());
  return host;
}

at::Tensor pad_tokens(const at::Tensor& x, std::int64_t n_pad) {
  const std::int64_t n = x.size(2);
  if (n == n_pad) return x;
  return at::constant_pad_nd(x, {0, 0, 0, n_pad - n});
}

}  // namespace fmav
