// Where a model computes and in what precision (model_device.h): device mapping, bf16
// autocast, peak memory; and Model::on_device.

#include "model_device.h"

#include <ATen/autocast_mode.h>

#include "attention/cuda_backend.h"
#include "attention/memory_tracker.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "model_internal.h"

namespace fmav {

at::Device torch_device(Device resolved) {
  FMAV_ASSERT(resolved != Device::automatic, "torch_device needs a resolved device");
  return resolved == Device::cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

AutocastScope::AutocastScope(Precision precision, const at::Device& device) {
  if (precision != Precision::bf16) return;
  m_active = true;
  m_type = device.type();
  m_was_enabled = at::autocast::is_autocast_enabled(m_type);
  m_was_dtype = at::autocast::get_autocast_dtype(m_type);
  at::autocast::set_autocast_dtype(m_type, at::kBFloat16);
  at::autocast::set_autocast_enabled(m_type, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!m_active) return;
  // The cast weights are cached per forward; the last scope out drops them (as torch.autocast).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(m_type, m_was_enabled);
  at::autocast::set_autocast_dtype(m_type, m_was_dtype);
}

void reset_peak_memory(Device resolved) {
  if (resolved == Device::cuda) cuda_reset_peak_memory();
  else reset_peak_rss();
}

std::int64_t peak_memory_bytes(Device resolved) {
  return resolved == Device::cuda ? cuda_peak_memory_bytes() : peak_rss_bytes();
}

Model Model::on_device(Device device) const {
  const at::Device where = torch_device(resolve_device(device));
  Model model;
  model.m_config = config();
  model.m_state = std::make_shared<ModelState>();
  for (const auto& [name, t] : m_state->params) model.m_state->params[name] = t.to(where);
  return model;
}

}  // namespace fmav
