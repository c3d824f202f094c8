// Full softmax attention: plain tensor math, and LibTorch's scaled_dot_product_attention.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {

void check_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  FMAV_CHECK(q.dim() == 4, "q must be (B, H, N, D), got ", shape_str(q.sizes().vec()));
  FMAV_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(),
             "q, k and v must have the same shape, got q ", shape_str(q.sizes().vec()), ", k ",
             shape_str(k.sizes().vec()), ", v ", shape_str(v.sizes().vec()));
  // float16 and bfloat16 are the CUDA kernels' (docs/CUDA.md); the CPU computes in 32 or 64 bits.
  const bool half = q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16;
  FMAV_CHECK(q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble || (half && q.is_cuda()),
             "q must be float32 or float64 (on CUDA also float16 or bfloat16), got ", scalar_type_name(q.scalar_type()),
             q.is_cuda() ? " on CUDA" : "");
  FMAV_CHECK(k.device() == q.device() && v.device() == q.device(), "q, k and v must be on one device, got ",
             q.device().str(), ", ", k.device().str(), ", ", v.device().str());
  FMAV_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(),
             "q, k and v must have the same dtype, got ", scalar_type_name(q.scalar_type()), ", ",
             scalar_type_name(k.scalar_type()), ", ", scalar_type_name(v.scalar_type()));
  FMAV_CHECK(q.size(2) >= 1, "sequence length N must be >= 1, got ", q.size(2));
  FMAV_CHECK(q.size(3) >= 1, "head dimension D must be >= 1, got ", q.size(3));
  FMAV_CHECK(q.size(0) >= 1 && q.size(1) >= 1, "batch B and heads H must be >= 1, got ",
             shape_str(q.sizes().vec()));
}

void assert_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  FMAV_ASSERT(q.dim() == 4 && k.sizes() == q.sizes() && v.sizes() == q.sizes(), "q ", shape_str(q.sizes().vec()),
              ", k ", shape_str(k.sizes().vec()), ", v ", shape_str(v.sizes().vec()));
  FMAV_ASSERT(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type() &&
                  k.device() == q.device() && v.device() == q.device(),
              "q, k, v of one dtype and device");
}

at::Tensor full_attention_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               bool causal) {
  assert_qkv(q, k, v);
  const std::int64_t N = q.size(2);
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(q.size(3)));
  if (causal) {
    const at::Tensor future = at::ones({N, N}, q.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  }
  return at::matmul(at::softmax(scores, -1), v);
}

at::Tensor local_attention_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                std::int64_t block_size, bool causal) {
  assert_qkv(q, k, v);
  FMAV_ASSERT(block_size >= 1, "block size ", block_size);
  const std::int64_t N = q.size(2);
  const at::Tensor block = at::arange(N, at::kLong).div(block_size, "floor");
  const at::Tensor diff = block.view({1, N}) - block.view({N, 1});  // key block - query block
  at::Tensor hidden = causal ? (diff < -1) | (at::arange(N, at::kLong).view({1, N}) > at::arange(N, at::kLong).view({N, 1}))
                             : diff.abs() > 1;
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(q.size(3)));
  scores = scores.masked_fill(hidden.to(q.device()), -std::numeric_limits<double>::infinity());
  return at::matmul(at::softmax(scores, -1), v);
}

at::Tensor full_attention_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               bool causal) {
  assert_qkv(q, k, v);
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
}

}  // namespace fmav
