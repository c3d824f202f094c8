#pragma once
// Where a model computes and in what precision (fmav/train.h TrainOptions::device,
// ::precision): the LibTorch device of a resolved fmav::Device, and bf16 autocast around a
// forward pass (core only).

#include <ATen/ATen.h>

#include "fmav/device.h"
#include "fmav/train.h"

namespace fmav {

// The LibTorch device of a resolved device (cpu or cuda:0); `automatic` must be resolved first.
at::Device torch_device(Device resolved);

// Autocast on `device`'s type for its lifetime when `precision` is bf16 (the matrix products
// of the forward in bfloat16; parameters, their gradients and the optimizer stay float32);
// nothing for fp32. The previous state comes back on destruction.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const at::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool m_active = false;
  at::DeviceType m_type = at::kCPU;
  bool m_was_enabled = false;
  at::ScalarType m_was_dtype = at::kFloat;
};

// The peak memory of a run since reset_peak_memory(): the CUDA caching allocator's peak of
// allocated bytes on cuda, the process's peak resident set on the CPU.
void reset_peak_memory(Device resolved);
std::int64_t peak_memory_bytes(Device resolved);

}  // namespace fmav
