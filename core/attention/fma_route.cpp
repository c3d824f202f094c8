// FMA-1D's automatic choice between the fused kernels and the composed library calls
// (docs/DESIGN.md §8.6): on CUDA, each is timed once per shape and the faster one recorded,
// as cuDNN's and Triton's autotuners do, so the faster route runs wherever nobody could
// measure during development.

#include <ATen/core/grad_mode.h>

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>

#include "cuda_backend.h"
#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
namespace {

std::mutex g_routes_mutex;
std::map<std::string, FmaRoute>& routes() {
  static std::map<std::string, FmaRoute> recorded;
  return recorded;
}

// What decides which route is faster: the device, dtype, shape and configuration.
std::string route_key(const at::Tensor& q, const FmaConfig& config) {
  std::ostringstream key;
  key << q.device().str() << " " << scalar_type_name(q.scalar_type());
  for (std::int64_t s : q.sizes()) key << " " << s;
  key << " m" << config.block_size << " p" << config.rank << (config.causal ? " causal " : " bidirectional ")
      << to_string(config.downsample) << (config.count_multiplicity ? "" : " no-multiplicity");
  return key.str();
}

at::Tensor run_route(FmaRoute route, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const FmaConfig& config, const FmaWeights& weights) {
  return route == FmaRoute::fused ? fma_fused(q, k, v, config, weights) : fma_composed(q, k, v, config, weights);
}

}  // namespace

bool needs_gradients(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaWeights& weights) {
  if (!at::GradMode::is_enabled()) return false;
  return q.requires_grad() || k.requires_grad() || v.requires_grad() ||
         stream_needs_autograd(k, weights, Stream::k) || stream_needs_autograd(v, weights, Stream::v);
}

const char* to_string(FmaRoute route) { return route == FmaRoute::fused ? "fused" : "composed"; }

FmaRoute tuned_route(const std::string& key, const std::function<double(FmaRoute)>& time_ms) {
  {
    std::lock_guard<std::mutex> lock(g_routes_mutex);
    const auto found = routes().find(key);
    if (found != routes().end()) return found->second;
  }
  const double fused = time_ms(FmaRoute::fused), composed = time_ms(FmaRoute::composed);
  const FmaRoute faster = composed < fused ? FmaRoute::composed : FmaRoute::fused;
  std::lock_guard<std::mutex> lock(g_routes_mutex);
  return routes().emplace(key, faster).first->second;  // another thread's record, if it was first
}

void clear_tuned_routes() {
  std::lock_guard<std::mutex> lock(g_routes_mutex);
  routes().clear();
}

FmaRoute choose_route(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                      const FmaWeights& weights) {
  if (!q.is_cuda() || needs_gradients(q, k, v, weights)) return FmaRoute::fused;
  if (!cuda_kernels_take(q.scalar_type(), q.size(3))) return FmaRoute::composed;
  return tuned_route(route_key(q, config), [&](FmaRoute route) {
    at::AutoGradMode no_grad(false);
    run_route(route, q, k, v, config, weights);  // warm: allocations, library plans
    CudaTimer timer;
    timer.start();
    run_route(route, q, k, v, config, weights);
    return timer.stop_ms();
  });
}

at::Tensor fma_auto(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                    const FmaWeights& weights) {
  return run_route(choose_route(q, k, v, config, weights), q, k, v, config, weights);
}

}  // namespace fmav
