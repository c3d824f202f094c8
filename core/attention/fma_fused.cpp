// The fused CPU FMA-1D as a LibTorch autograd function (docs/DESIGN.md §2): the coarse K/V
// pyramid is built once per call (build_pyramid: LibTorch ops when gradients are needed, so
// its backward, weights included, is LibTorch's), and the attention over near keys and
// coarse slots runs in the fused kernels.

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>
#include <memory>

#include "cuda_backend.h"
#include "fma_fused_kernels.h"
#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {

BlockSlots make_block_slots(const Levels& lv, const FmaConfig& config,
                            const std::vector<at::Tensor>& log_mult) {
  BlockSlots slots;
  const std::int64_t m = lv.block_size, p = config.rank;
  const std::int64_t blocks = (lv.n + m - 1) / m;
  std::vector<std::int64_t> base(lv.num_levels + 1, 0);
  for (int l = 2; l <= lv.num_levels; ++l) base[l] = base[l - 1] + lv.groups(l - 1) * p;
  slots.offset.push_back(0);
  for (std::int64_t b = 0; b < blocks; ++b) {
    for (int l = 1; l <= lv.num_levels; ++l) {
      const double* lm = log_mult[l - 1].data_ptr<double>();
      const std::int64_t g = b * m / lv.width(l);
      std::int64_t offsets[3];
      const int far = far_offsets(g, config.causal, offsets);
      for (int f = 0; f < far; ++f) {
        const std::int64_t h = g + offsets[f];
        if (h < 0 || h >= lv.groups(l)) continue;
        for (std::int64_t j = 0; j < p; ++j) {
          if (std::isinf(lm[h * p + j])) continue;
          slots.index.push_back(base[l] + h * p + j);
          slots.log_mult.push_back(lm[h * p + j]);
        }
      }
    }
    slots.offset.push_back(static_cast<std::int64_t>(slots.index.size()));
  }
  return slots;
}

namespace {

at::Tensor vec_tensor(const std::vector<std::int64_t>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong));
}
at::Tensor vec_tensor(const std::vector<double>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kDouble));
}
template <typename E>
std::vector<E> tensor_vec(const at::Tensor& t) {
  return std::vector<E>(t.data_ptr<E>(), t.data_ptr<E>() + t.numel());
}

template <typename T>
FusedArgs<T> make_args(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& kc,
                       const at::Tensor& vc, std::int64_t block_size, bool causal, const BlockSlots& slots) {
  FusedArgs<T> a;
  a.bh = q.size(0) * q.size(1), a.n = q.size(2), a.dim = q.size(3);
  a.block_size = block_size, a.slots = kc.size(2), a.causal = causal;
  a.scale = 1.0 / std::sqrt(static_cast<double>(a.dim));
  a.block_slots = &slots;
  a.q = q.data_ptr<T>(), a.k = k.data_ptr<T>(), a.v = v.data_ptr<T>();
  a.kc = kc.data_ptr<T>(), a.vc = vc.data_ptr<T>();
  return a;
}

// {out, lse}: attention of q over the near keys of k, v and the coarse slots kc, vc
// (B, H, S, D), and each row's log-sum-exp of scores (B, H, N), both differentiable.
struct FusedCore : public torch::autograd::Function<FusedCore> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q_in, const at::Tensor& k_in,
                            const at::Tensor& v_in, const at::Tensor& kc_in, const at::Tensor& vc_in,
                            std::int64_t block_size, bool causal, BlockSlots slots) {
    const at::Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const at::Tensor kc = kc_in.contiguous(), vc = vc_in.contiguous();
    at::Tensor out = at::empty_like(q);
    at::Tensor lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fma_fused_forward", [&] {
      FusedArgs<scalar_t> a = make_args<scalar_t>(q, k, v, kc, vc, block_size, causal, slots);
      a.out = out.data_ptr<scalar_t>(), a.lse = lse.data_ptr<scalar_t>();
      fma_fused_forward_cpu(a);
    });
    ctx->save_for_backward({q, k, v, kc, vc, out, lse});
    ctx->saved_data["block_size"] = block_size;
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["offset"] = vec_tensor(slots.offset);
    ctx->saved_data["index"] = vec_tensor(slots.index);
    ctx->saved_data["log_mult"] = vec_tensor(slots.log_mult);
    return {out, lse};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &kc = saved[3], &vc = saved[4];
    BlockSlots slots;
    slots.offset = tensor_vec<std::int64_t>(ctx->saved_data["offset"].toTensor());
    slots.index = tensor_vec<std::int64_t>(ctx->saved_data["index"].toTensor());
    slots.log_mult = tensor_vec<double>(ctx->saved_data["log_mult"].toTensor());
    const at::Tensor d_out = grads[0].defined() ? grads[0].contiguous() : at::zeros_like(q);
    const at::Tensor d_lse = grads[1].defined() ? grads[1].contiguous() : at::Tensor();
    at::Tensor d_q = at::empty_like(q), d_k = at::empty_like(k), d_v = at::empty_like(v);
    at::Tensor d_kc = at::empty_like(kc), d_vc = at::empty_like(vc);
    const std::int64_t bh = q.size(0) * q.size(1);
    const std::int64_t block_size = ctx->saved_data["block_size"].toInt();
    const std::int64_t work = fused_backward_workspace(bh, q.size(2), q.size(3), block_size, slots);
    at::Tensor work_kc = at::empty({work}, q.options()), work_vc = at::empty({work}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fma_fused_backward", [&] {
      FusedGradArgs<scalar_t> ga;
      ga.fwd = make_args<scalar_t>(q, k, v, kc, vc, block_size, ctx->saved_data["causal"].toBool(), slots);
      ga.work_kc = work_kc.data_ptr<scalar_t>(), ga.work_vc = work_vc.data_ptr<scalar_t>();
      ga.fwd.out = saved[5].data_ptr<scalar_t>(), ga.fwd.lse = saved[6].data_ptr<scalar_t>();
      ga.d_out = d_out.data_ptr<scalar_t>();
      ga.d_lse = d_lse.defined() ? d_lse.data_ptr<scalar_t>() : nullptr;
      ga.d_q = d_q.data_ptr<scalar_t>(), ga.d_k = d_k.data_ptr<scalar_t>(), ga.d_v = d_v.data_ptr<scalar_t>();
      ga.d_kc = d_kc.data_ptr<scalar_t>(), ga.d_vc = d_vc.data_ptr<scalar_t>();
      fma_fused_backward_cpu(ga);
    });
    return {d_q, d_k, d_v, d_kc, d_vc, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor fma_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                     const FmaWeights& weights) {
  assert_qkv(q, k, v);
  if (q.is_cuda()) return fma_fused_cuda(q, k, v, config, weights);
  FMAV_ASSERT(q.device().is_cpu(), "the fused FMA runs on the CPU or CUDA, got a tensor on ", q.device().str());
  const Levels lv = make_levels(q.size(2), config.block_size);
  const Pyramid pyramid = build_pyramid(k, v, lv, config, weights);
  return FusedCore::apply(q, k, v, pyramid.kc, pyramid.vc, config.block_size, config.causal,
                          make_block_slots(lv, config, pyramid.log_mult))[0];
}

std::vector<at::Tensor> local_attention_fused_lse(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                  std::int64_t block_size, bool causal) {
  if (q.is_cuda()) return local_attention_fused_cuda_lse(q, k, v, block_size, causal);
  assert_qkv(q, k, v);
  FMAV_ASSERT(block_size >= 1, "block size ", block_size);
  FMAV_ASSERT(q.device().is_cpu(), "the fused local attention runs on the CPU or CUDA, got a tensor on ",
              q.device().str());
  BlockSlots none;
  none.offset.assign((q.size(2) + block_size - 1) / block_size + 1, 0);
  const at::Tensor empty = at::zeros({q.size(0), q.size(1), 0, q.size(3)}, q.options());
  return FusedCore::apply(q, k, v, empty, empty, block_size, causal, none);
}

at::Tensor local_attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 std::int64_t block_size, bool causal) {
  return local_attention_fused_lse(q, k, v, block_size, causal)[0];
}

}  // namespace fmav
