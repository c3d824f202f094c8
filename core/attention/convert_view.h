#pragma once
// A mapped file's tensor (fmav/mapped_safetensors.h) copied into LibTorch: kept apart from
// fma_internal.h so that the mapped reader's users alone depend on it.

#include <ATen/ATen.h>

#include "fmav/mapped_safetensors.h"

namespace fmav {

// A copy of the view's bytes as a CPU at::Tensor of its shape and dtype (the view may be
// unaligned; the copy is not).
at::Tensor to_tensor(const TensorView& view);

}  // namespace fmav
