// SDPA forced onto one of its backends (sdpa_backends.h) by LibTorch's global switches, and
// the reasons LibTorch gives when that backend does not take the inputs.

#include "sdpa_backends.h"

#include <ATen/Context.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <c10/util/Exception.h>

#include <array>
#include <cctype>
#include <vector>

namespace fmav {
namespace {

// Forces SDPA onto one backend while alive by LibTorch's global switches (all off but that
// one) and puts them back as they were, also when the call throws. They are process-wide:
// an SDPA on another thread meanwhile (the GUI's maps of full attention) gets the same
// choice, and on the CPU, which has no efficient or cuDNN backend, finds none and fails.
class SdpaBackendGuard {
 public:
  explicit SdpaBackendGuard(const std::string& backend) {
    const at::Context& ctx = at::globalContext();
    m_was = {ctx.userEnabledFlashSDP(), ctx.userEnabledMemEfficientSDP(), ctx.userEnabledCuDNNSDP(),
             ctx.userEnabledMathSDP()};
    set({backend == "flash", backend == "efficient", backend == "cudnn", backend == "math"});
  }
  ~SdpaBackendGuard() { set(m_was); }
  SdpaBackendGuard(const SdpaBackendGuard&) = delete;
  SdpaBackendGuard& operator=(const SdpaBackendGuard&) = delete;

 private:
  using Switches = std::array<bool, 4>;  // flash, memory-efficient, cuDNN, math
  static void set(const Switches& on) {
    at::Context& ctx = at::globalContext();
    ctx.setSDPUseFlash(on[0]);
    ctx.setSDPUseMemEfficient(on[1]);
    ctx.setSDPUseCuDNN(on[2]);
    ctx.setSDPUseMath(on[3]);
  }
  Switches m_was;
};

// LibTorch's warnings on this thread, kept instead of printed: before SDPA throws "No
// available kernel" it warns, backend by backend, why each could not take the inputs.
struct WarningLog : c10::WarningHandler {
  std::vector<std::string> messages;
  void process(const c10::Warning& warning) override { messages.push_back(warning.msg()); }
};

// The reasons SDPA gave for `backend`: the warnings after its "... kernel not used because:".
std::string backend_reasons(const std::vector<std::string>& warnings, const std::string& backend) {
  const std::string key = backend == "efficient" ? "memory efficient" : backend;  // flash, cudnn
  std::string section, out;
  for (std::string w : warnings) {
    w = w.substr(0, w.find('\n'));
    std::string lower = w;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.find("not used because") != std::string::npos) {
      section = lower;
    } else if (section.find(key) != std::string::npos) {
      out += (out.empty() ? "" : "; ") + w;
    }
  }
  return out;
}

}  // namespace

at::Tensor sdpa_on(const std::string& backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                   bool causal) {
  if (backend.empty()) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
  WarningLog log;
  const c10::WarningUtils::WarningHandlerGuard capture(&log);
  const SdpaBackendGuard force(backend);
  try {
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
  } catch (const c10::Error& e) {
    // LibTorch 2.x says one or the other when no enabled backend takes the inputs.
    const std::string what = e.what_without_backtrace();
    if (what.find("No available kernel") == std::string::npos && what.find("No viable backend") == std::string::npos) {
      throw;
    }
    const std::string why = backend_reasons(log.messages, backend);
    throw SdpaBackendUnavailable("SDPA's " + backend + " backend does not take these inputs" +
                                 (why.empty() ? "" : ": " + why));
  }
}

}  // namespace fmav
