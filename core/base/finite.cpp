// Non-finite values in tensors: one scan, one message, one switch (fmav/finite.h).

#include "fmav/finite.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "fmav/error.h"

namespace fmav {
namespace {

std::atomic<bool> g_allow_nonfinite{false};

enum class Kind { finite, nan, pos_inf, neg_inf };

// float16 and bfloat16 by their bits: exponent all ones is Inf (mantissa 0) or NaN.
template <std::uint16_t kExponent, std::uint16_t kMantissa>
Kind kind_of_16(std::uint16_t bits) {
  if ((bits & kExponent) != kExponent) return Kind::finite;
  if ((bits & kMantissa) != 0) return Kind::nan;
  return (bits & 0x8000u) ? Kind::neg_inf : Kind::pos_inf;
}

template <typename T>
Kind kind_of_float(T x) {
  if (std::isnan(x)) return Kind::nan;
  if (std::isinf(x)) return x > 0 ? Kind::pos_inf : Kind::neg_inf;
  return Kind::finite;
}

// Scans elements 0..n-1, each classified by `kind_at`.
template <typename KindAt>
NonFinite scan(std::int64_t n, KindAt kind_at) {
  NonFinite out;
  std::int64_t first = -1;
  for (std::int64_t i = 0; i < n; ++i) {
    const Kind k = kind_at(i);
    if (k == Kind::finite) continue;
    if (first < 0) first = i;
    out.nan += k == Kind::nan;
    out.pos_inf += k == Kind::pos_inf;
    out.neg_inf += k == Kind::neg_inf;
  }
  if (first >= 0) out.first.push_back(first);  // flat; unravelled by the caller
  return out;
}

// Whether any of n elements of `bytes` (each a U) has all exponent bits set (NaN or Inf): a
// branch-free pass the compiler vectorises, so finite tensors (the usual case: model weights
// of gigabytes) cost one fast read; only a tensor that has some gets the counting pass.
template <typename U>
bool any_exponent_all_ones(const std::uint8_t* bytes, std::int64_t n, U exponent) {
  unsigned found = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    U bits;
    std::memcpy(&bits, bytes + i * static_cast<std::int64_t>(sizeof(U)), sizeof(U));
    found |= (bits & exponent) == exponent;
  }
  return found != 0;
}

bool may_hold_nonfinite(DType dtype, const std::uint8_t* bytes, std::int64_t n) {
  switch (dtype) {
    case DType::f32:
      return any_exponent_all_ones<std::uint32_t>(bytes, n, 0x7F800000u);
    case DType::f64:
      return any_exponent_all_ones<std::uint64_t>(bytes, n, 0x7FF0000000000000ull);
    case DType::f16:
      return any_exponent_all_ones<std::uint16_t>(bytes, n, 0x7C00u);
    case DType::bf16:
      return any_exponent_all_ones<std::uint16_t>(bytes, n, 0x7F80u);
    default:
      return false;  // integers are always finite
  }
}

std::vector<std::int64_t> unravel(std::int64_t flat, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

}  // namespace

NonFinite scan_finite(const HostTensor& t) { return scan_finite(t.dtype, t.shape, t.data.data()); }

NonFinite scan_finite(DType dtype, const std::vector<std::int64_t>& shape, const std::uint8_t* bytes) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  NonFinite out;
  if (!may_hold_nonfinite(dtype, bytes, n)) return out;
  switch (dtype) {
    case DType::f32:
      out = scan(n, [&](std::int64_t i) {
        float x;
        std::memcpy(&x, bytes + i * 4, 4);
        return kind_of_float(x);
      });
      break;
    case DType::f64:
      out = scan(n, [&](std::int64_t i) {
        double x;
        std::memcpy(&x, bytes + i * 8, 8);
        return kind_of_float(x);
      });
      break;
    case DType::f16:
    case DType::bf16: {
      const bool half = dtype == DType::f16;
      out = scan(n, [&](std::int64_t i) {
        std::uint16_t bits;
        std::memcpy(&bits, bytes + i * 2, 2);
        return half ? kind_of_16<0x7C00u, 0x03FFu>(bits) : kind_of_16<0x7F80u, 0x007Fu>(bits);
      });
      break;
    }
    default:
      return out;  // integers are always finite
  }
  if (!out.first.empty()) out.first = unravel(out.first[0], shape);
  return out;
}

std::string nonfinite_summary(const NonFinite& found, const std::string& name) {
  std::string inf = std::to_string(found.inf()) + " Inf";
  if (found.inf() > 0) {
    inf += " (" + std::to_string(found.pos_inf) + " +Inf, " + std::to_string(found.neg_inf) + " -Inf)";
  }
  return name + " holds " + std::to_string(found.nan) + " NaN and " + inf + " values; the first at " +
         shape_str(found.first);
}

void set_allow_nonfinite(bool allow) { g_allow_nonfinite.store(allow); }
bool nonfinite_allowed() { return g_allow_nonfinite.load(); }

NonFinite check_finite(const HostTensor& tensor, const std::string& name) {
  return check_finite(tensor.dtype, tensor.shape, tensor.data.data(), name);
}

NonFinite check_finite(DType dtype, const std::vector<std::int64_t>& shape, const std::uint8_t* data,
                       const std::string& name) {
  NonFinite found = scan_finite(dtype, shape, data);
  FMAV_CHECK(!found.any() || nonfinite_allowed(), nonfinite_summary(found, name),
             "; pass --allow-nonfinite to study them anyway");
  return found;
}

}  // namespace fmav
