#pragma once
// What the emulated-kernel tests share: a head group's data (q, k, v, the pyramid from the
// emulated down-sampling kernel, the block slots as the kernels read them), the kernels'
// parameters for it, and the dense float64 oracle of the same attention. Include last, with
// FMAV_CUDA_EMULATION defined (tests/kernels/cuda_emulation.h's macros meet no later header).

#ifndef FMAV_CUDA_EMULATION
#error "emulated_problem.h: define FMAV_CUDA_EMULATION and include it after every other header"
#endif

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/fma_internal.h"
#include "downsample_kernel.cuh"
#include "test_util.h"

namespace fmav_kernel_test {

using namespace fmav_test;

struct Case {
  std::int64_t n, m, d;
  bool causal;
  const char* kind;  // learned | average
};

inline std::string describe(const Case& c, at::ScalarType dtype) {
  return std::string(c10::toString(dtype)) + " N=" + std::to_string(c.n) + " m=" + std::to_string(c.m) +
         " D=" + std::to_string(c.d) + " " + c.kind + (c.causal ? " causal" : " bidirectional");
}

inline fmav::CudaDtype cuda_dtype(at::ScalarType t) {
  return t == at::kFloat ? fmav::CudaDtype::f32 : t == at::kHalf ? fmav::CudaDtype::f16 : fmav::CudaDtype::bf16;
}

inline double rel_err(const at::Tensor& got, const at::Tensor& want) {
  if (want.numel() == 0) return got.numel() == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  const double scale = std::max(1.0, want.abs().max().item<double>());
  return max_abs_diff(got, want) / scale;
}

inline at::Tensor poisoned(std::vector<std::int64_t> shape, at::ScalarType dtype) {
  return at::full(shape, std::numeric_limits<double>::quiet_NaN(), at::TensorOptions().dtype(dtype));
}

// ---- one head group's data ----

struct Problem {
  Case c;
  at::ScalarType dtype;
  fmav::FmaConfig config;
  fmav::Levels lv;
  fmav::FmaWeights weights;  // in dtype
  at::Tensor q, k, v;        // (1, H, N, D) in dtype
  at::Tensor kc, vc;         // the pyramid (1, H, S, D), from the emulated kernel
  fmav::BlockSlots slots;
  at::Tensor offset, index, log_mult;  // the slots as the kernels read them
};

// Both passes of the down-sampling kernel, as cuda_dispatch.cpp lays out their inputs, with
// a chunk the test chooses (the launcher's own choice is larger than these tests' N).
template <typename T, int D>
at::Tensor emulate_pyramid(const Problem& pr, const at::Tensor& x, fmav::Stream stream, std::int64_t chunk) {
  fmav::PyramidCudaParams pp;
  pp.dtype = cuda_dtype(pr.dtype), pp.dim = D, pp.bh = x.size(1), pp.n = x.size(2), pp.head_stride = pp.n * D;
  pp.rank = pr.config.rank, pp.block_size = pr.lv.block_size, pp.n_pad = pr.lv.n_pad, pp.levels = pr.lv.num_levels;
  pp.chunk = chunk;
  pp.average = pr.config.downsample == fmav::Downsample::average;
  std::vector<at::Tensor> keep;
  if (!pp.average) {
    for (int l = 1; l <= pr.lv.num_levels; ++l) {
      const fmav::Summarizer& s = pr.weights[l - 1].of(stream);
      keep.push_back(s.weight.view({D, pp.rank, pr.lv.width(l)}).permute({2, 1, 0}).contiguous());
      keep.push_back(s.bias.view({D, pp.rank}).t().contiguous());
      pp.panels[l - 1] = keep[keep.size() - 2].data_ptr(), pp.bias[l - 1] = keep.back().data_ptr();
    }
  }
  const std::int64_t rows = fmav::pyramid_base(pp, pp.levels + 1);
  at::Tensor out = poisoned({1, x.size(1), rows, D}, pr.dtype);
  at::Tensor partial = poisoned({std::max<std::int64_t>(fmav::pyramid_workspace_floats(pp), 1)}, at::kFloat);
  pp.x = x.data_ptr(), pp.out = out.data_ptr(), pp.out_stride = rows * D, pp.partial = partial.data_ptr<float>();
  if (pp.levels == 0) return out;
  const auto tiles = static_cast<unsigned>(fmav::pyramid_head_tiles(pp));
  fmav_emu::launch({static_cast<unsigned>(fmav::pyramid_chunks(pp)), tiles, 1}, D, 0,
                   [&] { fmav::pyramid_chunk_kernel<T>(pp); });
  fmav_emu::launch({static_cast<unsigned>(rows / pp.rank), tiles, 1}, D, 0, [&] { fmav::pyramid_reduce_kernel<T>(pp); });
  return out;
}

template <typename T, int D>
Problem make_problem(const Case& c, at::ScalarType dtype, std::uint64_t seed) {
  Problem pr;
  pr.c = c, pr.dtype = dtype;
  pr.config = to_config(NaiveConfig{c.m, 4, c.causal, c.kind, true});
  const VariantInputs in = make_variant_inputs(pr.config, 1, 2, c.n, D, seed, dtype);
  pr.q = in.q, pr.k = in.k, pr.v = in.v, pr.weights = in.weights;
  pr.lv = fmav::make_levels(c.n, c.m);
  // Chunks of one block: every level above the first is summed from partials.
  pr.kc = emulate_pyramid<T, D>(pr, pr.k, fmav::Stream::k, c.m);
  pr.vc = emulate_pyramid<T, D>(pr, pr.v, fmav::Stream::v, c.m);
  std::vector<at::Tensor> log_mult;
  for (int l = 1; l <= pr.lv.num_levels; ++l) log_mult.push_back(fmav::level_log_mult(pr.config, c.n, l));
  pr.slots = fmav::make_block_slots(pr.lv, pr.config, log_mult);
  const auto longs = at::TensorOptions().dtype(at::kLong);
  pr.offset = at::tensor(pr.slots.offset, longs);
  pr.index = pr.slots.index.empty() ? at::zeros({1}, longs) : at::tensor(pr.slots.index, longs);
  pr.log_mult = pr.slots.log_mult.empty() ? at::zeros({1})
                                          : at::tensor(pr.slots.log_mult, at::TensorOptions().dtype(at::kDouble))
                                                .to(at::kFloat);
  return pr;
}

inline fmav::FmaCudaParams params_of(const Problem& pr, const at::Tensor& out, const at::Tensor& lse) {
  fmav::FmaCudaParams p;
  p.dtype = cuda_dtype(pr.dtype), p.dim = static_cast<int>(pr.q.size(3));
  p.bh = pr.q.size(1), p.n = pr.q.size(2), p.block_size = pr.c.m, p.slots = pr.kc.size(2);
  p.head_stride = p.n * p.dim, p.slot_stride = p.slots * p.dim;
  p.causal = pr.c.causal, p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.dim)));
  p.q = pr.q.data_ptr(), p.k = pr.k.data_ptr(), p.v = pr.v.data_ptr(), p.kc = pr.kc.data_ptr(), p.vc = pr.vc.data_ptr();
  p.block_slots.offset = pr.offset.data_ptr<std::int64_t>();
  p.block_slots.index = pr.index.data_ptr<std::int64_t>();
  p.block_slots.log_mult = pr.log_mult.data_ptr<float>();
  p.out = out.data_ptr(), p.lse = lse.data_ptr<float>();
  return p;
}

// ---- the oracle: the same attention as one dense float64 softmax ----

// {out, lse} of q over the near keys of k, v (level_of == 0) and each query block's slots
// of kc, vc (score + log multiplicity), all (1, H, *, D) float64; differentiable.
inline std::vector<at::Tensor> dense_oracle(const Problem& pr, const at::Tensor& q, const at::Tensor& k,
                                            const at::Tensor& v, const at::Tensor& kc, const at::Tensor& vc) {
  const std::int64_t n = q.size(2), s = kc.size(2);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> bias(n * (n + s), -inf);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t t = 0; t < n; ++t) {
      if (fmav::level_of(pr.lv, pr.c.causal, i, t) == 0) bias[i * (n + s) + t] = 0;
    }
    const std::int64_t b = i / pr.c.m;
    for (std::int64_t e = pr.slots.offset[b]; e < pr.slots.offset[b + 1]; ++e) {
      bias[i * (n + s) + n + pr.slots.index[e]] = pr.slots.log_mult[e];
    }
  }
  const at::Tensor mask = at::tensor(bias, at::TensorOptions().dtype(at::kDouble)).view({1, 1, n, n + s});
  const at::Tensor keys = at::cat({k, kc}, 2), values = at::cat({v, vc}, 2);
  const at::Tensor logits = at::matmul(q, keys.transpose(2, 3)) / std::sqrt(static_cast<double>(q.size(3))) + mask;
  return {at::matmul(at::softmax(logits, -1), values), at::logsumexp(logits, -1)};
}

struct Tolerance {
  double out, grad;
};
inline Tolerance tolerance(at::ScalarType dtype) {
  if (dtype == at::kFloat) return {2e-6, 2e-5};
  if (dtype == at::kHalf) return {5e-3, 2e-2};
  return {3e-2, 1e-1};
}

}  // namespace fmav_kernel_test
