// The CUDA kernels' own source (kernels/*.cuh) run on host threads by tests/cuda_emulation.h,
// so the fused forward, both backward passes and the down-sampling kernel are checked on
// every machine, GPU or not: against a dense float64 oracle of the same attention (near keys
// by level_of, each query block's coarse slots with their log multiplicities, one softmax)
// with autograd for the gradients, and against the CPU pyramid. Outputs are filled with NaN
// before each launch and shared memory with 0xFF bytes, so nothing unwritten passes.
// What the emulation cannot show (fragment layouts, the memory model, speed) is the GPU
// suites' part (test_cuda).

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
#include "downsample_kernel.cuh"
#include "fma_backward_kernels.cuh"
#include "fma_forward_fa2_kernel.cuh"
#include "fma_forward_kernel.cuh"
#include "emulated_problem.h"

namespace {

using namespace fmav_kernel_test;

// ---- emulated launches, shaped as the .cu launchers shape them ----

template <typename T, int D>
void emulate_forward(const fmav::FmaCudaParams& p, fmav_emu::Order order) {
  const auto tiles = static_cast<unsigned>(fmav::ceil_div(p.n, p.block_size) * fmav::tiles_per_block(p.block_size));
  fmav_emu::launch({tiles, static_cast<unsigned>(p.bh), 1}, fmav::kThreads, fmav::forward_shared_bytes<T, D>(),
                   [&] { fmav::fma_forward_kernel<T, D>(p); }, order);
}

// With `workspace`, the coarse slots' gradients go through slot_partial and the fixed-order
// sum (slot_grad_reduce_kernel.cuh), as with --deterministic; else atomics.
template <typename T, int D>
void emulate_backward(fmav::FmaCudaGradParams g, const Problem& pr, bool workspace, fmav_emu::Order order) {
  const fmav::FmaCudaParams& p = g.fwd;
  const fmav::SlotEntries entries = fmav::invert_block_slots(pr.slots.offset, pr.slots.index, p.slots);
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const at::Tensor entry_offset = at::tensor(entries.offset, longs);
  const at::Tensor entry = entries.entry.empty() ? at::zeros({1}, longs) : at::tensor(entries.entry, longs);
  g.entries = pr.slots.offset.back();
  const at::Tensor partial = poisoned(
      {std::max<std::int64_t>(fmav::slot_partial_floats(p.bh, g.entries, p.block_size, D), 1)}, at::kFloat);
  if (workspace) {
    g.deterministic = true;
    g.slot_entries.offset = entry_offset.data_ptr<std::int64_t>(), g.slot_entries.entry = entry.data_ptr<std::int64_t>();
    g.slot_partial = partial.data_ptr<float>();
  }
  const auto tiles = static_cast<unsigned>(fmav::ceil_div(p.n, p.block_size) * fmav::tiles_per_block(p.block_size));
  const fmav_emu::Index3 grid{tiles, static_cast<unsigned>(p.bh), 1};
  fmav_emu::launch(grid, fmav::kThreads, fmav::dq_shared_bytes<T, D>(), [&] { fmav::fma_backward_dq_kernel<T, D>(g); },
                   order);
  fmav_emu::launch(grid, fmav::kThreads, fmav::dkv_shared_bytes<T, D>(),
                   [&] { fmav::fma_backward_dkv_kernel<T, D>(g); }, order);
  if (workspace && p.slots > 0) {
    fmav_emu::launch({static_cast<unsigned>(p.slots), static_cast<unsigned>(p.bh), 1}, D, 0,
                     [&] { fmav::slot_grad_reduce_kernel<D>(g); }, order);
  }
}

// One case with the threads of every block run in `order` between barriers.
template <typename T, int D>
void check_case(const Case& c, at::ScalarType dtype, fmav_emu::Order order) {
  const std::string what =
      describe(c, dtype) + (order == fmav_emu::Order::ascending ? " (threads ascending)" : " (threads descending)");
  const Problem pr = make_problem<T, D>(c, dtype, 31 + c.n);
  // The down-sampling kernel against the CPU pyramid (float32 for the 16-bit types).
  fmav::FmaWeights float_weights = pr.weights;
  for (fmav::LevelWeights& lw : float_weights) {
    for (at::Tensor* t : {&lw.k.weight, &lw.k.bias, &lw.v.weight, &lw.v.bias}) {
      if (t->defined()) *t = t->to(at::kFloat);
    }
  }
  const at::Tensor cpu_kc = fmav::pyramid_stream(pr.k.to(at::kFloat), pr.lv, pr.config, float_weights, fmav::Stream::k);
  EXPECT_LT(rel_err(pr.kc, cpu_kc), tolerance(dtype).out * 4) << "pyramid " << what;

  // Forward.
  at::Tensor out = poisoned({1, 2, c.n, D}, dtype), lse = poisoned({1, 2, c.n}, at::kFloat);
  const fmav::FmaCudaParams p = params_of(pr, out, lse);
  emulate_forward<T, D>(p, order);
  std::vector<at::Tensor> leaves;
  for (const at::Tensor* x : {&pr.q, &pr.k, &pr.v, &pr.kc, &pr.vc}) {
    leaves.push_back(x->to(at::kDouble).detach().set_requires_grad(true));
  }
  const std::vector<at::Tensor> want = dense_oracle(pr, leaves[0], leaves[1], leaves[2], leaves[3], leaves[4]);
  EXPECT_LT(rel_err(out, want[0].detach()), tolerance(dtype).out) << "out " << what;
  EXPECT_LT(rel_err(lse, want[1].detach()), tolerance(dtype).out) << "lse " << what;

  // Backward of sum(out * g) + sum(lse * g_lse): delta = rowsum(g * out) - g_lse.
  const at::Tensor g = random_bhnd(1, 2, c.n, D, 7 + c.n, dtype), g_lse = random_bhnd(1, 2, c.n, 1, 8).squeeze(-1);
  ((want[0] * g.to(at::kDouble)).sum() + (want[1] * g_lse).sum()).backward();
  const at::Tensor delta = ((g.to(at::kFloat) * out.to(at::kFloat)).sum(-1) - g_lse.to(at::kFloat)).contiguous();
  fmav::FmaCudaGradParams gp;
  gp.fwd = p;
  at::Tensor d_q = poisoned({1, 2, c.n, D}, dtype), d_k = poisoned({1, 2, c.n, D}, dtype);
  at::Tensor d_v = poisoned({1, 2, c.n, D}, dtype);
  at::Tensor d_kc = at::zeros(pr.kc.sizes(), at::kFloat), d_vc = at::zeros(pr.vc.sizes(), at::kFloat);
  gp.d_out = g.data_ptr(), gp.delta = delta.data_ptr<float>();
  gp.d_q = d_q.data_ptr(), gp.d_k = d_k.data_ptr(), gp.d_v = d_v.data_ptr();
  gp.d_kc = d_kc.data_ptr<float>(), gp.d_vc = d_vc.data_ptr<float>();
  // The slots' gradients by atomics in one order, through the workspace in the other.
  emulate_backward<T, D>(gp, pr, order == fmav_emu::Order::descending, order);
  const char* names[] = {"d_q", "d_k", "d_v", "d_kc", "d_vc"};
  const at::Tensor got[] = {d_q, d_k, d_v, d_kc, d_vc};
  for (int i = 0; i < 5; ++i) {
    EXPECT_LT(rel_err(got[i], leaves[i].grad()), tolerance(dtype).grad) << names[i] << " " << what;
  }
}

// Both schedules: a read missing its barrier sees stale data in one of them.
template <typename T, int D>
void check_both_orders(const Case& c, at::ScalarType dtype) {
  for (fmav_emu::Order order : {fmav_emu::Order::ascending, fmav_emu::Order::descending}) {
    check_case<T, D>(c, dtype, order);
  }
}

// Awkward lengths (1, one under a block, a prime, several levels), both masks.
std::vector<Case> cases(std::int64_t d) {
  std::vector<Case> out;
  for (std::int64_t n : {1, 63, 97, 200}) {
    for (bool causal : {false, true}) {
      out.push_back({n, 16, d, causal, "learned"});
      if (n >= 97) out.push_back({n, 64, d, causal, n == 97 ? "average" : "learned"});
    }
  }
  out.push_back({300, 128, d, true, "learned"});  // two tiles a block; the last block's second has no rows
  return out;
}

TEST(KernelsEmulated, Float32MatchesTheDenseOracle) {
  for (const Case& c : cases(32)) check_both_orders<float, 32>(c, at::kFloat);
  for (const Case& c : cases(64)) check_both_orders<float, 64>(c, at::kFloat);
  check_both_orders<float, 128>({200, 16, 128, true, "learned"}, at::kFloat);
}

TEST(KernelsEmulated, Float16OnTheTensorCoreTilesMatchesTheDenseOracle) {
  for (const Case& c : cases(32)) check_both_orders<__half, 32>(c, at::kHalf);
  check_both_orders<__half, 64>({97, 16, 64, false, "learned"}, at::kHalf);
  check_both_orders<__half, 128>({200, 16, 128, true, "learned"}, at::kHalf);
}

TEST(KernelsEmulated, BFloat16OnTheTensorCoreTilesMatchesTheDenseOracle) {
  for (const Case& c : cases(32)) check_both_orders<__nv_bfloat16, 32>(c, at::kBFloat16);
  check_both_orders<__nv_bfloat16, 128>({97, 64, 128, false, "learned"}, at::kBFloat16);
}

// ---- the sm_80 primitives (kernels/mma_sm80.cuh) against the PTX ISA's tables ----
// The emulator places fragments by the inverse map (element -> lane, register); these tests
// state the ISA's forward map (lane, register -> element) on their own, so a layout error in
// either shows as a mismatch, and with it any kernel that relies on the wrong layout.

template <typename T>
float register_half(std::uint32_t reg, int high) {
  const auto bits = static_cast<std::uint16_t>(reg >> (16 * high));
  T e;
  std::memcpy(static_cast<void*>(&e), &bits, sizeof bits);
  return fmav::to_float<T>(e);
}

// A (16 x 16) element i of lane l (PTX ISA, mma.m16n8k16 .f16/.bf16 multiplicand A): row g for
// i in {0, 1, 4, 5}, else g + 8; column 2t + (i & 1), + 8 for i >= 4; register i / 2, half i % 2.
struct Element {
  int row, col;
};
Element a_element(int lane, int i) {
  const int g = lane >> 2, t = lane % 4;
  const bool low_rows = i < 2 || (i >= 4 && i < 6);
  return {low_rows ? g : g + 8, t * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
}
// B (16 x 8) element i: row 2t + (i & 1), + 8 for i >= 2; column g.
Element b_element(int lane, int i) { return {(lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0), lane >> 2}; }
// C, D (16 x 8 float) element i: row g, + 8 for i >= 2; column 2t + (i & 1).
Element c_element(int lane, int i) { return {(lane >> 2) + (i >= 2 ? 8 : 0), (lane % 4) * 2 + (i & 1)}; }

template <typename T>
void check_ldmatrix(const char* what) {
  // A 16 x 16 matrix of distinct small integers (exact in both 16-bit types), rows 32 bytes.
  std::vector<float> m(256);
  for (int i = 0; i < 256; ++i) m[i] = static_cast<float>((i * 37) % 256 - 128);
  std::vector<std::uint32_t> plain(32 * 4), trans(32 * 4);
  fmav_emu::launch({1, 1, 1}, 32, 256 * sizeof(T), [&] {
    FMAV_DYNAMIC_SHARED(smem);
    T* tile = reinterpret_cast<T*>(smem);
    const int lane = static_cast<int>(threadIdx.x);
    for (int i = lane; i < 256; i += 32) tile[i] = fmav::from_float<T>(m[i]);
    __syncthreads();
    // Lane l addresses row l % 8 of matrix l / 8; matrices (rows 0-7, 8-15) x (columns 0-7, 8-15).
    const int matrix = lane / 8;
    const T* row = tile + (lane % 8 + 8 * (matrix & 1)) * 16 + 8 * (matrix >> 1);
    std::uint32_t r[4];
    fmav::ldmatrix_x4(r, row);
    std::copy(r, r + 4, &plain[lane * 4]);
    fmav::ldmatrix_x4_trans(r, row);
    std::copy(r, r + 4, &trans[lane * 4]);
  });
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) {
      // These four matrices in this order are exactly an A fragment.
      const Element e = a_element(lane, i);
      EXPECT_EQ(register_half<T>(plain[lane * 4 + i / 2], i % 2), m[e.row * 16 + e.col])
          << what << " ldmatrix lane " << lane << " element " << i;
      // .trans: register j holds matrix j's (row 2t + h, column g), h = i % 2.
      const int j = i / 2, h = i % 2, g = lane / 4, t = lane % 4;
      const int row = 8 * (j & 1) + 2 * t + h, col = 8 * (j >> 1) + g;
      EXPECT_EQ(register_half<T>(trans[lane * 4 + j], h), m[row * 16 + col])
          << what << " ldmatrix.trans lane " << lane << " element " << i;
    }
  }
}

TEST(KernelsEmulated, LdmatrixGivesEachLaneTheDocumentedElements) {
  check_ldmatrix<__half>("f16");
  check_ldmatrix<__nv_bfloat16>("bf16");
}

// One mma.m16n8k16 with fragments built from the ISA's table, against a plain product.
template <typename T>
void check_mma(const char* what) {
  std::vector<float> a(16 * 16), b(16 * 8), c(16 * 8);
  for (int i = 0; i < 256; ++i) a[i] = static_cast<float>((i * 7) % 17 - 8);
  for (int i = 0; i < 128; ++i) b[i] = static_cast<float>((i * 5) % 13 - 6);
  for (int i = 0; i < 128; ++i) c[i] = static_cast<float>(i % 11);
  std::vector<float> d(32 * 4);
  fmav_emu::launch({1, 1, 1}, 32, 0, [&] {
    const int lane = static_cast<int>(threadIdx.x);
    std::uint32_t fa[4], fb[2];
    for (int r = 0; r < 4; ++r) {
      const Element lo = a_element(lane, 2 * r), hi = a_element(lane, 2 * r + 1);
      fa[r] = fmav::pack_pair<T>(a[lo.row * 16 + lo.col], a[hi.row * 16 + hi.col]);
    }
    for (int r = 0; r < 2; ++r) {
      const Element lo = b_element(lane, 2 * r), hi = b_element(lane, 2 * r + 1);
      fb[r] = fmav::pack_pair<T>(b[lo.row * 8 + lo.col], b[hi.row * 8 + hi.col]);
    }
    float acc[4];
    for (int i = 0; i < 4; ++i) acc[i] = c[c_element(lane, i).row * 8 + c_element(lane, i).col];
    fmav::mma_m16n8k16<T>(acc, fa, fb[0], fb[1]);
    std::copy(acc, acc + 4, &d[lane * 4]);
  });
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const Element e = c_element(lane, i);
      double want = c[e.row * 8 + e.col];
      for (int k = 0; k < 16; ++k) want += static_cast<double>(a[e.row * 16 + k]) * b[k * 8 + e.col];
      EXPECT_EQ(d[lane * 4 + i], want) << what << " mma lane " << lane << " element " << i;
    }
  }
}

TEST(KernelsEmulated, MmaM16n8k16MatchesAPlainProduct) {
  check_mma<__half>("f16");
  check_mma<__nv_bfloat16>("bf16");
}

// cp.async: the destination holds NaN until the issuing thread's wait covers its group, then
// the source (or zeros).
TEST(KernelsEmulated, CpAsyncLandsAtTheWait) {
  alignas(16) float src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> seen(12);
  fmav_emu::launch({1, 1, 1}, 32, 64, [&] {
    FMAV_DYNAMIC_SHARED(smem);
    float* dst = reinterpret_cast<float*>(smem);
    if (threadIdx.x != 0) return;
    fmav::cp_async_16(dst, src, true);
    fmav::cp_async_commit();
    fmav::cp_async_16(dst + 4, src + 4, false);
    fmav::cp_async_commit();
    seen[0] = dst[0];
    fmav::cp_async_wait<1>();
    seen[1] = dst[0], seen[2] = dst[3], seen[3] = dst[4];
    fmav::cp_async_wait<0>();
    seen[4] = dst[4], seen[5] = dst[7];
  });
  EXPECT_TRUE(std::isnan(seen[0]));
  EXPECT_EQ(seen[1], 1.0f);
  EXPECT_EQ(seen[2], 4.0f);
  EXPECT_TRUE(std::isnan(seen[3]));
  EXPECT_EQ(seen[4], 0.0f);
  EXPECT_EQ(seen[5], 0.0f);
}

// ---- the FlashAttention-2-class forward (fma_forward_fa2_kernel.cuh) ----

template <typename T, int D>
void emulate_forward_fa2(const fmav::FmaCudaParams& p, fmav_emu::Order order) {
  const auto tiles = static_cast<unsigned>(fmav::ceil_div(p.n, p.block_size) * fmav::tiles_per_block(p.block_size));
  fmav_emu::launch({tiles, static_cast<unsigned>(p.bh), 1}, fmav::kThreads, fmav::fa2_forward_shared_bytes<T, D>(),
                   [&] { fmav::fma_forward_fa2_kernel<T, D>(p); }, order);
}

// {out, lse} of the kernel on pr, NaN-poisoned before the launch.
template <typename T, int D>
std::vector<at::Tensor> run_fa2(const Problem& pr, fmav_emu::Order order) {
  at::Tensor out = poisoned({1, pr.q.size(1), pr.q.size(2), D}, pr.dtype);
  at::Tensor lse = poisoned({1, pr.q.size(1), pr.q.size(2)}, at::kFloat);
  emulate_forward_fa2<T, D>(params_of(pr, out, lse), order);
  return {out, lse};
}

// The kernel's error against the float64 oracle, out and lse together: infinity where it
// left a NaN or threw.
template <typename T, int D>
double fa2_error(const Problem& pr, fmav_emu::Order order) {
  std::vector<at::Tensor> got;
  try {
    got = run_fa2<T, D>(pr, order);
  } catch (const std::exception&) {
    return std::numeric_limits<double>::infinity();
  }
  if (at::isnan(got[0]).any().item<bool>() || at::isnan(got[1]).any().item<bool>()) {
    return std::numeric_limits<double>::infinity();
  }
  const auto d = [](const at::Tensor& x) { return x.to(at::kDouble); };
  const std::vector<at::Tensor> want = dense_oracle(pr, d(pr.q), d(pr.k), d(pr.v), d(pr.kc), d(pr.vc));
  return std::max(rel_err(got[0], want[0]), rel_err(got[1], want[1]));
}

// Lengths from one row to 4 levels: under a tile, a tile, awkward, past it; m = 64 (the tile,
// FMA's default block) and smaller blocks, whose tiles hold fewer rows than warps. Levels:
// 0 (N <= 97 at m = 64), 1 (97 at m = 32), 2 (300 at m = 64), 3 (200 at 16), 4 (300 at 16).
std::vector<Case> fa2_cases(std::int64_t d) {
  std::vector<Case> out;
  for (bool causal : {false, true}) {
    for (Case c : std::vector<Case>{{1, 64, d, causal, "learned"},
                                    {40, 64, d, causal, "learned"},
                                    {64, 64, d, causal, "average"},
                                    {97, 64, d, causal, "learned"},
                                    {300, 64, d, causal, "learned"},
                                    {97, 32, d, causal, "average"},
                                    {200, 16, d, causal, "learned"},
                                    {300, 16, d, causal, "learned"}}) {
      out.push_back(c);
    }
  }
  return out;
}

template <typename T, int D>
void check_fa2(at::ScalarType dtype) {
  for (const Case& c : fa2_cases(D)) {
    const Problem pr = make_problem<T, D>(c, dtype, 131 + c.n);
    for (fmav_emu::Order order : {fmav_emu::Order::ascending, fmav_emu::Order::descending}) {
      EXPECT_LT((fa2_error<T, D>(pr, order)), tolerance(dtype).out)
          << describe(c, dtype) << " (" << pr.lv.num_levels << " levels)"
          << (order == fmav_emu::Order::ascending ? " threads ascending" : " threads descending");
    }
  }
}

TEST(KernelsEmulated, Fa2ForwardBFloat16MatchesTheDenseOracle) {
  check_fa2<__nv_bfloat16, 64>(at::kBFloat16);
  check_fa2<__nv_bfloat16, 128>(at::kBFloat16);
}

TEST(KernelsEmulated, Fa2ForwardFloat16MatchesTheDenseOracle) {
  check_fa2<__half, 64>(at::kHalf);
  check_fa2<__half, 128>(at::kHalf);
}

// Causal: changing the keys and values from position t on (and so the pyramid built from
// them) changes nothing before t, bit for bit.
TEST(KernelsEmulated, Fa2ForwardCausalIsBlindToLaterTokens) {
  for (const Case& c : {Case{200, 64, 64, true, "learned"}, Case{200, 16, 64, true, "learned"}}) {
    const Problem pr = make_problem<__nv_bfloat16, 64>(c, at::kBFloat16, 17);
    const std::vector<at::Tensor> before = run_fa2<__nv_bfloat16, 64>(pr, fmav_emu::Order::ascending);
    for (std::int64_t t : {77, 128, 199}) {
      Problem changed = pr;
      changed.k = pr.k.clone(), changed.v = pr.v.clone();
      const at::Tensor noise = random_bhnd(1, 2, c.n - t, 64, 5 + t, at::kBFloat16) * 3;
      changed.k.narrow(2, t, c.n - t).copy_(noise);
      changed.v.narrow(2, t, c.n - t).copy_(noise.flip(-1));
      changed.kc = emulate_pyramid<__nv_bfloat16, 64>(changed, changed.k, fmav::Stream::k, c.m);
      changed.vc = emulate_pyramid<__nv_bfloat16, 64>(changed, changed.v, fmav::Stream::v, c.m);
      const std::vector<at::Tensor> after = run_fa2<__nv_bfloat16, 64>(changed, fmav_emu::Order::ascending);
      EXPECT_TRUE(at::equal(before[0].narrow(2, 0, t), after[0].narrow(2, 0, t))) << describe(c, at::kBFloat16) << " t=" << t;
      EXPECT_TRUE(at::equal(before[1].narrow(2, 0, t), after[1].narrow(2, 0, t))) << describe(c, at::kBFloat16) << " t=" << t;
      EXPECT_FALSE(at::equal(before[0], after[0])) << "the change reaches the later rows, t=" << t;
    }
  }
}

// Every __syncthreads of the kernel is needed: without any one of them (the emulator skips
// that call site), a case with several key steps fails in one thread order or the other.
TEST(KernelsEmulated, Fa2ForwardNeedsEachOfItsBarriers) {
  const Case c{200, 64, 64, false, "learned"};
  const Problem pr = make_problem<__half, 64>(c, at::kHalf, 23);
  fmav_emu::BarrierSites& sites = fmav_emu::barrier_sites();
  sites.recording = true;
  ASSERT_LT((fa2_error<__half, 64>(pr, fmav_emu::Order::ascending)), tolerance(at::kHalf).out);
  sites.recording = false;
  std::vector<fmav_emu::BarrierSite> kernel_sites;
  for (const fmav_emu::BarrierSite& s : sites.seen) {
    if (s.file.find("fma_forward_fa2_kernel.cuh") != std::string::npos) kernel_sites.push_back(s);
  }
  EXPECT_EQ(kernel_sites.size(), 2u);
  for (const fmav_emu::BarrierSite& s : kernel_sites) {
    sites.dropped = s;
    const double error = std::max(fa2_error<__half, 64>(pr, fmav_emu::Order::ascending),
                                  fa2_error<__half, 64>(pr, fmav_emu::Order::descending));
    EXPECT_GT(error, 0.5) << "without the barrier at line " << s.line;
  }
  sites.dropped = {};
}

}  // namespace

// The down-sampling kernel alone against the CPU's pyramid: head tiles full and partial (9
// heads), ranks below, at and above the slot tile, every chunk from one block to the whole
// padded sequence (so every level is finished by either pass, and groups past the last
// chunk are written by pass 2), learned and average, awkward lengths.
TEST(KernelsEmulated, PyramidMatchesTheCpuForEveryChunk) {
  struct PyramidCase {
    std::int64_t n, m, rank;
    const char* kind;
  };
  const std::vector<PyramidCase> cases = {{1, 16, 4, "learned"},   {63, 16, 4, "average"}, {97, 16, 6, "learned"},
                                          {200, 16, 2, "average"}, {513, 32, 4, "learned"}, {300, 16, 8, "average"}};
  for (const PyramidCase& pc : cases) {
    Problem pr;
    pr.dtype = at::kFloat;
    pr.config = to_config(NaiveConfig{pc.m, pc.rank, false, pc.kind, true});
    const VariantInputs in = make_variant_inputs(pr.config, 1, 9, pc.n, 32, 3 + pc.n, at::kFloat);
    pr.weights = in.weights;
    pr.lv = fmav::make_levels(pc.n, pc.m);
    // k for even cases, v for odd ones: the streams differ only in their weights.
    const fmav::Stream stream = (&pc - cases.data()) % 2 == 0 ? fmav::Stream::k : fmav::Stream::v;
    {
      const at::Tensor& x = stream == fmav::Stream::k ? in.k : in.v;
      const at::Tensor want = fmav::pyramid_stream(x, pr.lv, pr.config, pr.weights, stream);
      for (std::int64_t chunk = pc.m; chunk <= pr.lv.n_pad; chunk *= 2) {
        const at::Tensor got = emulate_pyramid<float, 32>(pr, x, stream, chunk);
        ASSERT_EQ(got.sizes(), want.sizes());
        EXPECT_LT(rel_err(got, want), 1e-5) << "N=" << pc.n << " m=" << pc.m << " p=" << pc.rank << " " << pc.kind
                                            << " chunk " << chunk;
      }
    }
  }
  // The launcher's chunk: a block multiple dividing n_pad, at most 512, about 512 blocks.
  EXPECT_EQ(fmav::pyramid_chunk(4096, 4096, 64, 16), 64);
  EXPECT_EQ(fmav::pyramid_chunk(1 << 20, 1 << 20, 64, 16), 512);
  EXPECT_EQ(fmav::pyramid_chunk(100, 128, 64, 1), 64);
}
