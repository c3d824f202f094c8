// The one file that calls kernels/ (cuda_backend.h): checks every argument on the host,
// lays tensors out as the kernels' plain structs, launches on LibTorch's current stream and
// wraps the fused forward and backward as an autograd function. Also the CUDA facts, timers
// and memory statistics core needs. Without FMAV_WITH_CUDA everything here says so.

#include "cuda_backend.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>

#include "fmav/error.h"

#if FMAV_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/autograd/custom_function.h>

#include "fma_cuda.h"
#include "slot_entries.h"
#endif

namespace fmav {

#if FMAV_WITH_CUDA

namespace {

std::atomic<bool> g_poison{false};

void check_status(CudaStatus status, const char* launcher) {
  FMAV_CHECK(status == nullptr, "CUDA error in ", launcher, ": ", status);
}

CudaDtype cuda_dtype(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return CudaDtype::f32;
    case at::kHalf: return CudaDtype::f16;
    case at::kBFloat16: return CudaDtype::bf16;
    default: break;
  }
  throw Error(detail::concat("the CUDA kernels take float32, float16 or bfloat16, got ", scalar_type_name(dtype)));
}

// Contiguous and 16-byte aligned (the kernels read 16-byte chunks).
at::Tensor aligned(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  if (reinterpret_cast<std::uintptr_t>(c.data_ptr()) % 16 != 0) c = c.clone();
  return c;
}

void poison(std::initializer_list<at::Tensor> outputs) {
  if (!g_poison.load()) return;
  for (const at::Tensor& t : outputs) t.fill_(std::numeric_limits<double>::quiet_NaN());
}

void* current_stream() { return at::cuda::getCurrentCUDAStream().stream(); }

// The block slots on the device: offsets, pyramid rows and float log multiplicities.
struct DeviceSlots {
  at::Tensor offset, index, log_mult;

  DeviceSlots(const BlockSlots& s, const at::Device& device) {
    const auto longs = at::TensorOptions().dtype(at::kLong);
    offset = at::tensor(s.offset, longs).to(device);
    // A one-element dummy keeps the pointers valid when no block has a slot.
    index = s.index.empty() ? at::zeros({1}, longs.device(device)) : at::tensor(s.index, longs).to(device);
    log_mult = s.log_mult.empty() ? at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(device))
                                  : at::tensor(s.log_mult, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(device);
  }
  DeviceSlots(at::Tensor o, at::Tensor i, at::Tensor l) : offset(std::move(o)), index(std::move(i)), log_mult(std::move(l)) {}
  // The slots' side (slot_entries.h), for the backward's fixed-order sum of their gradients.
  static std::vector<at::Tensor> entries_of(const BlockSlots& s, std::int64_t slots, const at::Device& device) {
    const SlotEntries e = invert_block_slots(s.offset, s.index, slots);
    const auto longs = at::TensorOptions().dtype(at::kLong);
    return {at::tensor(e.offset, longs).to(device),
            e.entry.empty() ? at::zeros({1}, longs.device(device)) : at::tensor(e.entry, longs).to(device)};
  }
  CudaBlockSlots view() const {
    CudaBlockSlots v;
    v.offset = offset.data_ptr<std::int64_t>();
    v.index = index.data_ptr<std::int64_t>();
    v.log_mult = log_mult.data_ptr<float>();
    return v;
  }
};

FmaCudaParams make_params(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& kc,
                          const at::Tensor& vc, std::int64_t block_size, bool causal, const DeviceSlots& slots) {
  FmaCudaParams p;
  p.dtype = cuda_dtype(q.scalar_type());
  p.dim = static_cast<int>(q.size(3));
  p.bh = q.size(0) * q.size(1), p.n = q.size(2), p.block_size = block_size, p.slots = kc.size(2);
  p.head_stride = p.n * p.dim, p.slot_stride = p.slots * p.dim;
  p.causal = causal;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.dim)));
  p.q = q.data_ptr(), p.k = k.data_ptr(), p.v = v.data_ptr();
  p.kc = kc.data_ptr(), p.vc = vc.data_ptr();
  p.block_slots = slots.view();
  return p;
}

// {out, lse}: attention of q over the near keys of k, v and the coarse slots kc, vc on the
// device, differentiable in all five; lse in q's dtype (float32 inside).
struct FusedCudaCore : public torch::autograd::Function<FusedCudaCore> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q_in,
                                                const at::Tensor& k_in, const at::Tensor& v_in,
                                                const at::Tensor& kc_in, const at::Tensor& vc_in,
                                                std::int64_t block_size, bool causal, const BlockSlots& slots,
                                                bool deterministic) {
    const at::Tensor q = aligned(q_in), k = aligned(k_in), v = aligned(v_in);
    const at::Tensor kc = aligned(kc_in), vc = aligned(vc_in);
    const DeviceSlots device_slots(slots, q.device());
    at::Tensor out = at::empty_like(q);
    at::Tensor lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
    poison({out, lse});
    FmaCudaParams p = make_params(q, k, v, kc, vc, block_size, causal, device_slots);
    p.out = out.data_ptr(), p.lse = lse.data_ptr<float>();
    check_status(fma_forward_cuda(p, current_stream()), "fma_forward_cuda");
    const std::vector<at::Tensor> entries = DeviceSlots::entries_of(slots, kc.size(2), q.device());
    ctx->save_for_backward({q, k, v, kc, vc, out, lse, device_slots.offset, device_slots.index, device_slots.log_mult,
                            entries[0], entries[1]});
    ctx->saved_data["block_size"] = block_size;
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["deterministic"] = deterministic;
    ctx->saved_data["entries"] = static_cast<std::int64_t>(slots.index.size());
    return {out, lse.to(q.scalar_type())};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list s = ctx->get_saved_variables();
    const at::Tensor &q = s[0], &k = s[1], &v = s[2], &kc = s[3], &vc = s[4], &out = s[5], &lse = s[6];
    const DeviceSlots slots(s[7], s[8], s[9]);
    const at::Tensor d_out = grads[0].defined() ? aligned(grads[0].to(q.scalar_type())) : at::zeros_like(q);
    // rowsum(dO * O), less the gradient of the log-sum-exp where it is an output too.
    at::Tensor delta = (d_out.to(at::kFloat) * out.to(at::kFloat)).sum(-1);
    if (grads[1].defined()) delta = delta - grads[1].to(at::kFloat);
    delta = delta.contiguous();
    at::Tensor d_q = at::empty_like(q), d_k = at::empty_like(k), d_v = at::empty_like(v);
    at::Tensor d_kc = at::zeros(kc.sizes(), kc.options().dtype(at::kFloat));
    at::Tensor d_vc = at::zeros(vc.sizes(), vc.options().dtype(at::kFloat));
    poison({d_q, d_k, d_v});
    FmaCudaGradParams g;
    g.fwd = make_params(q, k, v, kc, vc, ctx->saved_data["block_size"].toInt(), ctx->saved_data["causal"].toBool(),
                        slots);
    g.fwd.out = out.data_ptr(), g.fwd.lse = lse.data_ptr<float>();
    g.d_out = d_out.data_ptr(), g.delta = delta.data_ptr<float>();
    g.d_q = d_q.data_ptr(), g.d_k = d_k.data_ptr(), g.d_v = d_v.data_ptr();
    g.d_kc = d_kc.data_ptr<float>(), g.d_vc = d_vc.data_ptr<float>();
    // Deterministic: every query tile's partial slot gradients to a workspace, summed per
    // slot in a fixed order (fma_cuda.h); else float32 atomics, with no workspace.
    g.deterministic = ctx->saved_data["deterministic"].toBool();
    g.entries = ctx->saved_data["entries"].toInt();
    g.slot_entries.offset = s[10].data_ptr<std::int64_t>(), g.slot_entries.entry = s[11].data_ptr<std::int64_t>();
    at::Tensor partial;
    if (g.deterministic && g.entries > 0) {
      partial = at::empty({slot_partial_floats(g.fwd.bh, g.entries, g.fwd.block_size, g.fwd.dim)},
                          q.options().dtype(at::kFloat));
      g.slot_partial = partial.data_ptr<float>();
    }
    check_status(fma_backward_cuda(g, current_stream()), "fma_backward_cuda");
    return {d_q, d_k, d_v, d_kc.to(kc.scalar_type()), d_vc.to(vc.scalar_type()), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

// What the kernels take beyond what the caller checked (check_qkv, validate): the launch's
// limits, checked on the host before it (docs/DESIGN.md §5.3).
void check_cuda_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t block_size) {
  assert_qkv(q, k, v);
  FMAV_ASSERT(q.is_cuda(), "the CUDA kernels take CUDA tensors, got q on ", q.device().str());
  FMAV_CHECK(cuda_kernels_take(q.scalar_type(), q.size(3)),
             "the CUDA kernels take float32, float16 or bfloat16 with head dimension D = 32, 64 or 128, got ",
             scalar_type_name(q.scalar_type()), " with D = ", q.size(3));
  FMAV_CHECK(q.size(0) * q.size(1) <= 65535, "the CUDA kernels take at most 65535 batch x heads, got ",
             q.size(0) * q.size(1));
  FMAV_ASSERT(block_size >= 1, "block size ", block_size);
}

}  // namespace

bool cuda_kernels_take(at::ScalarType dtype, std::int64_t dim) {
  const bool type_ok = dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16;
  return type_ok && (dim == 32 || dim == 64 || dim == 128);
}

at::Tensor pyramid_stream_cuda(const at::Tensor& x_in, const Levels& lv, const FmaConfig& config,
                               const FmaWeights& weights, Stream stream) {
  FMAV_ASSERT(x_in.is_cuda() && cuda_kernels_take(x_in.scalar_type(), x_in.size(3)), "the down-sampling kernel got a ",
              scalar_type_name(x_in.scalar_type()), " tensor on ", x_in.device().str(), " with D = ", x_in.size(3));
  const at::Tensor x = aligned(x_in);
  const std::int64_t d = x.size(3), p = config.rank;
  FMAV_ASSERT(lv.num_levels <= kMaxPyramidLevels, "the down-sampling kernel takes ", kMaxPyramidLevels,
              " levels, got ", lv.num_levels);
  PyramidCudaParams pp;
  pp.dtype = cuda_dtype(x.scalar_type());
  pp.dim = static_cast<int>(d);
  pp.bh = x.size(0) * x.size(1), pp.n = x.size(2), pp.head_stride = pp.n * d;
  pp.rank = p, pp.block_size = lv.block_size, pp.n_pad = lv.n_pad, pp.levels = lv.num_levels;
  pp.chunk = pyramid_chunk(pp.n, pp.n_pad, pp.block_size, pp.bh);
  pp.average = config.downsample == Downsample::average;
  std::vector<at::Tensor> keep;  // the weights as the kernel reads them, alive until it ran
  if (!pp.average) {
    for (int l = 1; l <= lv.num_levels; ++l) {
      const Summarizer& s = weights[l - 1].of(stream);
      // (p D, 1, w) with row c p + j -> (w, p, D); bias (p D) -> (p, D), on x's device.
      keep.push_back(s.weight.detach().view({d, p, lv.width(l)}).permute({2, 1, 0}).to(x.options()).contiguous());
      keep.push_back(s.bias.detach().view({d, p}).t().to(x.options()).contiguous());
      pp.panels[l - 1] = keep[keep.size() - 2].data_ptr(), pp.bias[l - 1] = keep.back().data_ptr();
    }
  }
  const std::int64_t slots = pyramid_base(pp, lv.num_levels + 1);
  at::Tensor out = at::empty({x.size(0), x.size(1), slots, d}, x.options());
  const at::Tensor partial = at::empty({pyramid_workspace_floats(pp)}, x.options().dtype(at::kFloat));
  pp.x = x.data_ptr(), pp.out = out.data_ptr(), pp.out_stride = slots * d;
  pp.partial = partial.data_ptr<float>();
  check_status(pyramid_cuda(pp, current_stream()), "pyramid_cuda");
  return out;
}

at::Tensor fma_fused_cuda(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                          const FmaConfig& config, const FmaWeights& weights) {
  check_cuda_qkv(q_in, k_in, v_in, config.block_size);
  FMAV_ASSERT(!config.is_2d() && !config.linear, "the CUDA kernels are FMA-1D; ", variant_name(config),
             " runs blocked on CUDA");
  const at::Tensor q = aligned(q_in), k = aligned(k_in), v = aligned(v_in);
  const Levels lv = make_levels(q.size(2), config.block_size);
  const Pyramid pyramid = build_pyramid(k, v, lv, config, weights_to(weights, at::TensorOptions().device(q.device())));
  return FusedCudaCore::apply(q, k, v, pyramid.kc, pyramid.vc, config.block_size, config.causal,
                              make_block_slots(lv, config, pyramid.log_mult), config.deterministic)[0];
}

std::vector<at::Tensor> local_attention_fused_cuda_lse(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, std::int64_t block_size, bool causal) {
  check_cuda_qkv(q, k, v, block_size);
  BlockSlots none;
  none.offset.assign((q.size(2) + block_size - 1) / block_size + 1, 0);
  const at::Tensor empty = at::zeros({q.size(0), q.size(1), 0, q.size(3)}, q.options());
  return FusedCudaCore::apply(q, k, v, empty, empty, block_size, causal, none, false);
}

int cuda_visible_devices() { return static_cast<int>(c10::cuda::device_count()); }

std::string cuda_device_summary() {
  if (cuda_visible_devices() == 0) return "";
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(0);
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(prop->totalGlobalMem) / (1 << 30));
  return std::string(prop->name) + ", " + memory;
}

void cuda_synchronize() { c10::cuda::device_synchronize(); }

void cuda_reset_peak_memory() { c10::cuda::CUDACachingAllocator::resetPeakStats(0); }

std::int64_t cuda_peak_memory_bytes() {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  return stats.allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}

void set_cuda_poison_outputs(bool poison) { g_poison.store(poison); }

struct CudaTimer::Events {
  at::cuda::CUDAEvent start{cudaEventDefault}, stop{cudaEventDefault};
};
CudaTimer::CudaTimer() : m_events(std::make_unique<Events>()) {}
CudaTimer::~CudaTimer() = default;
void CudaTimer::start() { m_events->start.record(); }
double CudaTimer::stop_ms() {
  m_events->stop.record();
  m_events->stop.synchronize();
  return m_events->start.elapsed_time(m_events->stop);
}

#else  // no CUDA kernels in this build

namespace {
[[noreturn]] void no_kernels() {
  throw Error("this build has no CUDA kernels (configured with FMAV_CUDA=OFF, or without nvcc or a CUDA LibTorch)");
}
}  // namespace

bool cuda_kernels_take(at::ScalarType, std::int64_t) { return false; }
at::Tensor pyramid_stream_cuda(const at::Tensor&, const Levels&, const FmaConfig&, const FmaWeights&, Stream) {
  no_kernels();
}
at::Tensor fma_fused_cuda(const at::Tensor&, const at::Tensor&, const at::Tensor&, const FmaConfig&,
                          const FmaWeights&) {
  no_kernels();
}
std::vector<at::Tensor> local_attention_fused_cuda_lse(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                       std::int64_t, bool) {
  no_kernels();
}
int cuda_visible_devices() { return 0; }
std::string cuda_device_summary() { return ""; }
void cuda_synchronize() { no_kernels(); }
void cuda_reset_peak_memory() { no_kernels(); }
std::int64_t cuda_peak_memory_bytes() { no_kernels(); }
void set_cuda_poison_outputs(bool) {}
struct CudaTimer::Events {};
CudaTimer::CudaTimer() { no_kernels(); }
CudaTimer::~CudaTimer() = default;
void CudaTimer::start() { no_kernels(); }
double CudaTimer::stop_ms() { no_kernels(); }

#endif

}  // namespace fmav
