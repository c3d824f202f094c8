// The FlashAttention-2-class backward (kernels/fma_backward_fa2_kernels.cuh) and the
// fixed-order sum of the coarse slots' gradients (slot_grad_reduce_kernel.cuh), their own
// source run on host fibers by tests/kernels/cuda_emulation.h: gradients of q, k, v and the
// pyramid against autograd through the dense float64 oracle, float16 and bfloat16, D = 64
// and 128, causal and not, lengths 1 to 300 with 0 to 4 coarse levels, with the workspace and
// with atomics; the same bits run to run and in either thread order; no gradient of the past
// that depends on the future. Outputs are NaN before each launch, shared memory 0xFF.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/fma_internal.h"
#include "slot_entries.h"
#include "test_util.h"

// Last: the emulation's macros (threadIdx, blockIdx) must meet no other header.
#define FMAV_CUDA_EMULATION 1
#include "fma_backward_fa2_kernels.cuh"
#include "emulated_problem.h"

namespace {

using namespace fmav_kernel_test;

// How the backward adds up the coarse slots' gradients.
enum class Slots { workspace, atomics };

// The gradients of one backward, in the order q, k, v, kc, vc.
using Grads = std::vector<at::Tensor>;
const char* const kGradNames[] = {"d_q", "d_k", "d_v", "d_kc", "d_vc"};

// The forward's out and lse (the FA2 forward, emulated), the output gradients g, g_lse.
struct Forward {
  at::Tensor out, lse, g, g_lse;
};

template <typename T, int D>
Forward run_forward(const Problem& pr) {
  Forward f;
  f.out = poisoned({1, pr.q.size(1), pr.q.size(2), D}, pr.dtype);
  f.lse = poisoned({1, pr.q.size(1), pr.q.size(2)}, at::kFloat);
  const fmav::FmaCudaParams p = params_of(pr, f.out, f.lse);
  const auto tiles = static_cast<unsigned>(fmav::ceil_div(p.n, p.block_size) * fmav::tiles_per_block(p.block_size));
  fmav_emu::launch({tiles, static_cast<unsigned>(p.bh), 1}, fmav::kThreads, fmav::fa2_forward_shared_bytes<T, D>(),
                   [&] { fmav::fma_forward_fa2_kernel<T, D>(p); });
  f.g = random_bhnd(1, pr.q.size(1), pr.q.size(2), D, 7 + pr.c.n, pr.dtype);
  f.g_lse = random_bhnd(1, pr.q.size(1), pr.q.size(2), 1, 8).squeeze(-1);
  return f;
}

// The backward of sum(out g) + sum(lse g_lse), launched as fma_backward.cu launches it.
template <typename T, int D>
Grads run_backward(const Problem& pr, const Forward& f, Slots slots, fmav_emu::Order order) {
  const at::Tensor delta = ((f.g.to(at::kFloat) * f.out.to(at::kFloat)).sum(-1) - f.g_lse.to(at::kFloat)).contiguous();
  fmav::FmaCudaGradParams g;
  g.fwd = params_of(pr, f.out, f.lse);
  Grads got = {poisoned(pr.q.sizes().vec(), pr.dtype), poisoned(pr.k.sizes().vec(), pr.dtype),
               poisoned(pr.v.sizes().vec(), pr.dtype), at::zeros(pr.kc.sizes(), at::kFloat),
               at::zeros(pr.vc.sizes(), at::kFloat)};
  g.d_out = f.g.data_ptr(), g.delta = delta.data_ptr<float>();
  g.d_q = got[0].data_ptr(), g.d_k = got[1].data_ptr(), g.d_v = got[2].data_ptr();
  g.d_kc = got[3].data_ptr<float>(), g.d_vc = got[4].data_ptr<float>();
  // The workspace and the slots' entries, as cuda_dispatch.cpp lays them out.
  const fmav::SlotEntries entries = fmav::invert_block_slots(pr.slots.offset, pr.slots.index, g.fwd.slots);
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const at::Tensor entry_offset = at::tensor(entries.offset, longs);
  const at::Tensor entry = entries.entry.empty() ? at::zeros({1}, longs) : at::tensor(entries.entry, longs);
  g.entries = pr.slots.offset.back();
  const std::int64_t floats = fmav::slot_partial_floats(g.fwd.bh, g.entries, g.fwd.block_size, D);
  const at::Tensor partial = poisoned({std::max<std::int64_t>(floats, 1)}, at::kFloat);
  if (slots == Slots::workspace) {
    g.deterministic = true;
    g.slot_entries.offset = entry_offset.data_ptr<std::int64_t>();
    g.slot_entries.entry = entry.data_ptr<std::int64_t>();
    g.slot_partial = partial.data_ptr<float>();
  }
  const fmav::FmaCudaParams& p = g.fwd;
  const auto tiles = static_cast<unsigned>(fmav::ceil_div(p.n, p.block_size) * fmav::tiles_per_block(p.block_size));
  const fmav_emu::Index3 grid{tiles, static_cast<unsigned>(p.bh), 1};
  fmav_emu::launch(grid, fmav::kThreads, fmav::fa2_dq_shared_bytes<T, D>(),
                   [&] { fmav::fma_backward_fa2_dq_kernel<T, D>(g); }, order);
  fmav_emu::launch(grid, fmav::kThreads, fmav::fa2_dkv_shared_bytes<T, D>(),
                   [&] { fmav::fma_backward_fa2_dkv_kernel<T, D>(g); }, order);
  if (g.slot_partial != nullptr && p.slots > 0) {
    fmav_emu::launch({static_cast<unsigned>(p.slots), static_cast<unsigned>(p.bh), 1}, D, 0,
                     [&] { fmav::slot_grad_reduce_kernel<D>(g); }, order);
  }
  return got;
}

// Autograd's gradients through the dense float64 oracle, for the same output gradients.
Grads oracle_grads(const Problem& pr, const Forward& f) {
  std::vector<at::Tensor> leaves;
  for (const at::Tensor* x : {&pr.q, &pr.k, &pr.v, &pr.kc, &pr.vc}) {
    leaves.push_back(x->to(at::kDouble).detach().set_requires_grad(true));
  }
  const std::vector<at::Tensor> want = dense_oracle(pr, leaves[0], leaves[1], leaves[2], leaves[3], leaves[4]);
  ((want[0] * f.g.to(at::kDouble)).sum() + (want[1] * f.g_lse).sum()).backward();
  Grads out;
  for (const at::Tensor& l : leaves) out.push_back(l.grad());
  return out;
}

// The largest relative error of the five gradients; infinity for a NaN (a value never
// written) or a kernel that threw.
template <typename T, int D>
double backward_error(const Problem& pr, const Forward& f, const Grads& want, Slots slots, fmav_emu::Order order,
                      std::string* worst = nullptr) {
  Grads got;
  try {
    got = run_backward<T, D>(pr, f, slots, order);
  } catch (const std::exception& e) {
    if (worst != nullptr) *worst = e.what();
    return std::numeric_limits<double>::infinity();
  }
  double error = 0.0;
  for (int i = 0; i < 5; ++i) {
    const double e = at::isnan(got[i]).any().item<bool>() ? std::numeric_limits<double>::infinity()
                                                            : rel_err(got[i], want[i]);
    if (e > error && worst != nullptr) *worst = kGradNames[i];
    error = std::max(error, e);
  }
  return error;
}

// The forward's cases (lengths 1 to 300, 0 to 4 levels) and a block of two query tiles whose
// last block's second tile has no rows (300 = 2 x 128 + 44).
std::vector<Case> backward_cases(std::int64_t d) {
  std::vector<Case> out;
  for (bool causal : {false, true}) {
    for (Case c : std::vector<Case>{{1, 64, d, causal, "learned"},
                                    {40, 64, d, causal, "learned"},
                                    {97, 64, d, causal, "learned"},
                                    {300, 64, d, causal, "learned"},
                                    {97, 32, d, causal, "average"},
                                    {200, 16, d, causal, "learned"},
                                    {300, 16, d, causal, "learned"},
                                    {300, 128, d, causal, "learned"}}) {
      out.push_back(c);
    }
  }
  return out;
}

// Every case with the workspace in both thread orders, and with atomics.
template <typename T, int D>
void check_backward(at::ScalarType dtype) {
  for (const Case& c : backward_cases(D)) {
    const Problem pr = make_problem<T, D>(c, dtype, 131 + c.n);
    const Forward f = run_forward<T, D>(pr);
    const Grads want = oracle_grads(pr, f);
    const std::string what = describe(c, dtype) + " (" + std::to_string(pr.lv.num_levels) + " levels)";
    std::string worst;
    for (fmav_emu::Order order : {fmav_emu::Order::ascending, fmav_emu::Order::descending}) {
      EXPECT_LT((backward_error<T, D>(pr, f, want, Slots::workspace, order, &worst)), tolerance(dtype).grad)
          << what << " workspace, worst " << worst
          << (order == fmav_emu::Order::ascending ? ", threads ascending" : ", threads descending");
    }
    EXPECT_LT((backward_error<T, D>(pr, f, want, Slots::atomics, fmav_emu::Order::ascending, &worst)),
              tolerance(dtype).grad)
        << what << " atomics, worst " << worst;
  }
}

TEST(BackwardFa2Emulated, BFloat16D64MatchesTheDenseOracle) { check_backward<__nv_bfloat16, 64>(at::kBFloat16); }
TEST(BackwardFa2Emulated, BFloat16D128MatchesTheDenseOracle) { check_backward<__nv_bfloat16, 128>(at::kBFloat16); }
TEST(BackwardFa2Emulated, Float16D64MatchesTheDenseOracle) { check_backward<__half, 64>(at::kHalf); }
TEST(BackwardFa2Emulated, Float16D128MatchesTheDenseOracle) { check_backward<__half, 128>(at::kHalf); }

// The workspace's result is the same bits twice and with the threads of every block run in
// the other order. (The emulator runs blocks one after another, so atomics too would repeat
// here; on the GPU only the workspace does.)
TEST(BackwardFa2Emulated, WorkspaceIsBitIdenticalRunToRunAndInEitherThreadOrder) {
  for (const Case& c : {Case{300, 16, 64, true, "learned"}, Case{300, 128, 64, false, "learned"}}) {
    const Problem pr = make_problem<__half, 64>(c, at::kHalf, 5);
    const Forward f = run_forward<__half, 64>(pr);
    const Grads first = run_backward<__half, 64>(pr, f, Slots::workspace, fmav_emu::Order::ascending);
    for (fmav_emu::Order order : {fmav_emu::Order::ascending, fmav_emu::Order::descending}) {
      const Grads again = run_backward<__half, 64>(pr, f, Slots::workspace, order);
      for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(at::equal(first[i], again[i])) << kGradNames[i] << " " << describe(c, at::kHalf);
      }
    }
  }
}

// Causal: new keys and values from position t on (and the pyramid built from them) leave dQ
// of the rows before t the same bits; new queries and output gradients before t leave dK
// and dV from t on the same bits.
TEST(BackwardFa2Emulated, CausalGradientsOfThePastIgnoreTheFuture) {
  for (const Case& c : {Case{200, 64, 64, true, "learned"}, Case{200, 16, 64, true, "learned"}}) {
    const Problem pr = make_problem<__nv_bfloat16, 64>(c, at::kBFloat16, 17);
    const Forward f = run_forward<__nv_bfloat16, 64>(pr);
    const Grads before = run_backward<__nv_bfloat16, 64>(pr, f, Slots::workspace, fmav_emu::Order::ascending);
    for (std::int64_t t : {77, 128, 199}) {
      const std::string what = describe(c, at::kBFloat16) + " t=" + std::to_string(t);
      Problem later = pr;
      later.k = pr.k.clone(), later.v = pr.v.clone();
      const at::Tensor noise = random_bhnd(1, 2, c.n - t, 64, 5 + t, at::kBFloat16) * 3;
      later.k.narrow(2, t, c.n - t).copy_(noise);
      later.v.narrow(2, t, c.n - t).copy_(noise.flip(-1));
      later.kc = emulate_pyramid<__nv_bfloat16, 64>(later, later.k, fmav::Stream::k, c.m);
      later.vc = emulate_pyramid<__nv_bfloat16, 64>(later, later.v, fmav::Stream::v, c.m);
      Forward fl = run_forward<__nv_bfloat16, 64>(later);
      fl.g = f.g, fl.g_lse = f.g_lse;
      const Grads after = run_backward<__nv_bfloat16, 64>(later, fl, Slots::workspace, fmav_emu::Order::ascending);
      EXPECT_TRUE(at::equal(before[0].narrow(2, 0, t), after[0].narrow(2, 0, t))) << "d_q " << what;
      EXPECT_FALSE(at::equal(before[0], after[0])) << "the change reaches later rows' d_q, " << what;

      Problem earlier = pr;
      earlier.q = pr.q.clone();
      earlier.q.narrow(2, 0, t).copy_(random_bhnd(1, 2, t, 64, 9 + t, at::kBFloat16) * 3);
      Forward fe = run_forward<__nv_bfloat16, 64>(earlier);
      fe.g = f.g.clone(), fe.g_lse = f.g_lse;
      fe.g.narrow(2, 0, t).mul_(-2);
      const Grads moved = run_backward<__nv_bfloat16, 64>(earlier, fe, Slots::workspace, fmav_emu::Order::ascending);
      for (int i : {1, 2}) {
        EXPECT_TRUE(at::equal(before[i].narrow(2, t, c.n - t), moved[i].narrow(2, t, c.n - t)))
            << kGradNames[i] << " " << what;
        EXPECT_FALSE(at::equal(before[i], moved[i]))
            << "the change reaches earlier keys' " << kGradNames[i] << ", " << what;
      }
    }
  }
}

// Every __syncthreads of both kernels is needed: without any one of them (the emulator skips
// that call site), a case with more than two steps (so a stage is refilled) and coarse slots
// fails in one thread order or the other. dQ: a step's two and a coarse step's three; dK dV:
// a step's two.
TEST(BackwardFa2Emulated, NeedsEachOfItsBarriers) {
  const Case c{300, 64, 64, false, "learned"};
  const Problem pr = make_problem<__half, 64>(c, at::kHalf, 23);
  const Forward f = run_forward<__half, 64>(pr);
  const Grads want = oracle_grads(pr, f);
  fmav_emu::BarrierSites& sites = fmav_emu::barrier_sites();
  sites.recording = true;
  ASSERT_LT((backward_error<__half, 64>(pr, f, want, Slots::workspace, fmav_emu::Order::ascending)),
            tolerance(at::kHalf).grad);
  sites.recording = false;
  std::vector<fmav_emu::BarrierSite> kernel_sites;
  for (const fmav_emu::BarrierSite& s : sites.seen) {
    if (s.file.find("fma_backward_fa2_kernels.cuh") != std::string::npos) kernel_sites.push_back(s);
  }
  EXPECT_EQ(kernel_sites.size(), 7u);
  for (const fmav_emu::BarrierSite& s : kernel_sites) {
    sites.dropped = s;
    const double error =
        std::max(backward_error<__half, 64>(pr, f, want, Slots::workspace, fmav_emu::Order::ascending),
                 backward_error<__half, 64>(pr, f, want, Slots::workspace, fmav_emu::Order::descending));
    EXPECT_GT(error, 0.5) << "without the barrier at line " << s.line;
  }
  sites.dropped = {};
}

// The slots' side of the CSR: every entry once, under its row, ascending; a row out of range
// is named.
TEST(BackwardFa2Emulated, SlotEntriesInvertTheBlockSlots) {
  const fmav::SlotEntries s = fmav::invert_block_slots({0, 2, 3, 5}, {1, 3, 1, 0, 1}, 4);
  EXPECT_EQ(s.offset, (std::vector<std::int64_t>{0, 1, 4, 4, 5}));
  EXPECT_EQ(s.entry, (std::vector<std::int64_t>{3, 0, 2, 4, 1}));
  try {
    fmav::invert_block_slots({0, 1}, {4}, 4);
    FAIL() << "no throw";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "block slot entry 0 names row 4, outside [0, 4)");
  }
}

}  // namespace
