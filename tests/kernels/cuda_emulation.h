#pragma once
// CUDA's execution model on the host, so the kernels' own source (kernels/*.cuh, built with
// FMAV_CUDA_EMULATION) can be run and checked where no GPU is. A block's threads are fibers
// (ucontext) on one host thread, each running until it waits at a barrier (__syncthreads
// for the block, __syncwarp for its warp); a fiber that ends while others wait, or threads
// waiting at different barriers, is reported as a deadlock, not hung. Threads run in
// ascending or descending order between barriers, so a read that lacks a barrier after
// the write it needs sees stale data in one of the two orders. Shuffles pass through the
// warp's exchange slots; a WMMA fragment is the whole 16 x 16 tile, held by every lane,
// whose loads and stores check the alignment and leading dimensions CUDA documents. The
// sm_80 instructions (mma.sync m16n8k16, ldmatrix, cp.async; kernels/mma_sm80.cuh) run
// lane by lane with the PTX ISA's fragment layouts, and a cp.async's destination is NaN
// until the thread's wait. After a barrier releases, the first warp in the order runs on
// to its next block barrier before the later ones. Blocks run one after another. It shows
// indexing, shared-memory layout, masking, the algorithm and missing barriers; not WMMA's
// fragment layouts, the memory model, timing or speed.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// cuda_fp16.h already makes __host__, __device__, __global__ empty and __align__ an
// attribute on the host.
#define __launch_bounds__(...)
#define FMAV_DYNAMIC_SHARED(name) unsigned char* name = ::fmav_emu::current().shared

namespace fmav_emu {

struct Index3 {
  unsigned x = 0, y = 0, z = 0;
};

constexpr unsigned kWarpSize = 32;
// A fiber's stack. The kernels use at most 17 KiB of it (measured by painting the stacks, in
// the -O3 and the sanitizer builds, every test of test_kernels_emulated): 128 KiB leaves 7x
// that. Under AddressSanitizer an overflow would be a heap-buffer-overflow report; smaller
// stacks also make the sanitizer's swapcontext, which clears a whole stack's shadow on every
// switch, cheaper (512 KiB stacks spent a third of that pass's emulated-kernel time there).
constexpr std::size_t kStackBytes = 128 * 1024;

enum class Order { ascending, descending };

constexpr unsigned kRegisterSlots = 6;  // an mma's A and B registers

// One cp.async: 16 bytes from src to dst, or zeros where !fill.
struct AsyncCopy {
  unsigned char* dst;
  const unsigned char* src;
  bool fill;
};

struct Fiber {
  ucontext_t context;
  bool done = false;
  int waiting = -1;  // the barrier it waits at: 0 the block's, 1 + w warp w's
};

// The running block: its index, shared memory, fibers, barriers and shuffle slots.
struct Block {
  Index3 index;
  Index3 thread;  // the running fiber's
  unsigned char* shared = nullptr;
  std::vector<Fiber> fibers;
  std::vector<unsigned> arrived, needed;  // per barrier
  std::vector<float> slots;               // per thread: the shuffles' exchange
  std::size_t shared_bytes = 0;
  // The warp-wide tensor-core instructions (mma_m16n8k16, ldmatrix_x4): per thread, a count
  // of those it ran, whose parity picks one of two sets of exchange slots.
  std::vector<unsigned> collectives;
  std::vector<std::uint32_t> registers;    // (2, threads, kRegisterSlots)
  std::vector<const unsigned char*> rows;  // (2, threads): ldmatrix's row addresses
  std::vector<std::vector<AsyncCopy>> async_open;               // per thread
  std::vector<std::deque<std::vector<AsyncCopy>>> async_groups;  // per thread, committed
  ucontext_t scheduler;
  const std::function<void()>* kernel = nullptr;
  std::string error;  // an exception a fiber threw
};

// Fiber stacks, allocated once and reused by every block (fresh ones per block would cost a
// page fault per page touched).
inline char* fiber_stack(unsigned t) {
  static std::vector<std::unique_ptr<char[]>> stacks;
  while (stacks.size() <= t) stacks.emplace_back(new char[kStackBytes]);
  return stacks[t].get();
}

inline Block*& current_block() {
  static Block* block = nullptr;
  return block;
}
inline Block& current() { return *current_block(); }

inline void fiber_entry() {
  Block& b = current();
  try {
    (*b.kernel)();
  } catch (const std::exception& e) {
    if (b.error.empty()) b.error = e.what();
  }
  b.fibers[b.thread.x].done = true;  // returning resumes the scheduler (uc_link)
}

// Suspends the running thread at barrier `id` until all its threads have arrived.
inline void barrier_wait(unsigned id) {
  Block& b = current();
  Fiber& f = b.fibers[b.thread.x];
  f.waiting = static_cast<int>(id);
  if (++b.arrived[id] == b.needed[id]) {
    b.arrived[id] = 0;
    for (unsigned t = 0; t < b.fibers.size(); ++t) {
      const bool member = id == 0 || t / kWarpSize == id - 1;
      if (member && b.fibers[t].waiting == static_cast<int>(id)) b.fibers[t].waiting = -1;
    }
  }
  swapcontext(&f.context, &b.scheduler);
}

// Runs one block of `threads` fibers to the end in `order`; throws std::runtime_error on a
// deadlock or on an exception a thread threw.
inline void run_block(Block& b, unsigned threads, Order order) {
  b.fibers.resize(threads);
  b.arrived.assign(1 + threads / kWarpSize, 0);
  b.needed.assign(1 + threads / kWarpSize, kWarpSize);
  b.needed[0] = threads;
  b.slots.assign(threads, 0.0f);
  b.collectives.assign(threads, 0);
  b.registers.assign(2 * threads * kRegisterSlots, 0);
  b.rows.assign(2 * threads, nullptr);
  b.async_open.assign(threads, {});
  b.async_groups.assign(threads, {});
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = b.fibers[t];
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = fiber_stack(t);
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiber_entry, 0);
  }
  for (;;) {
    bool ran = false, all_done = true;
    for (unsigned i = 0; i < threads; ++i) {
      const unsigned t = order == Order::ascending ? i : threads - 1 - i;
      Fiber& f = b.fibers[t];
      if (f.done) continue;
      all_done = false;
      if (f.waiting >= 0) continue;
      b.thread = {t, 0, 0};
      swapcontext(&b.scheduler, &f.context);
      ran = true;
      // A barrier this thread completed frees the threads before it: run them first, so the
      // first warp in `order` runs on to its next block barrier before the later warps start
      // (on the GPU too a warp may run far ahead of another between block barriers).
      if (!f.done && f.waiting < 0) break;
    }
    if (!b.error.empty()) throw std::runtime_error("emulated kernel threw: " + b.error);
    if (all_done) return;
    if (!ran) throw std::runtime_error("emulated kernel deadlocked: threads wait at a barrier others never reach");
  }
}

// Runs kernel() as grid.x * grid.y blocks of `threads` threads (a multiple of 32), block by
// block, each with `shared_bytes` of fresh dynamic shared memory filled with 0xFF bytes
// (float NaN), so a read of what nobody wrote shows.
inline void launch(Index3 grid, unsigned threads, std::size_t shared_bytes, const std::function<void()>& kernel,
                   Order order = Order::ascending) {
  if (threads == 0 || threads % kWarpSize != 0) throw std::invalid_argument("threads must be a multiple of 32");
  // Exactly shared_bytes, 128-byte aligned: under AddressSanitizer a step past the end is a report.
  const std::unique_ptr<unsigned char, void (*)(unsigned char*)> memory(
      static_cast<unsigned char*>(::operator new[](std::max<std::size_t>(shared_bytes, 1), std::align_val_t(128))),
      [](unsigned char* p) { ::operator delete[](p, std::align_val_t(128)); });
  unsigned char* base = memory.get();
  for (unsigned y = 0; y < grid.y; ++y) {
    for (unsigned x = 0; x < grid.x; ++x) {
      std::memset(base, 0xFF, shared_bytes);
      Block block;
      block.index = {x, y, 0};
      block.shared = base;
      block.shared_bytes = shared_bytes;
      block.kernel = &kernel;
      current_block() = &block;
      run_block(block, threads, order);
      current_block() = nullptr;
    }
  }
}

}  // namespace fmav_emu

#define threadIdx (::fmav_emu::current().thread)
#define blockIdx (::fmav_emu::current().index)

namespace fmav_emu {
// __syncthreads by call site, so a test can show that each of a kernel's barriers is needed:
// with `recording`, every site reached is kept; the `dropped` site is skipped.
struct BarrierSite {
  std::string file;
  int line = 0;
  bool operator<(const BarrierSite& o) const { return file != o.file ? file < o.file : line < o.line; }
  bool operator==(const BarrierSite& o) const { return line == o.line && file == o.file; }
};
struct BarrierSites {
  bool recording = false;
  std::set<BarrierSite> seen;
  BarrierSite dropped;  // line 0: none
};
inline BarrierSites& barrier_sites() {
  static BarrierSites sites;
  return sites;
}
inline void syncthreads_at(const char* file, int line) {
  BarrierSites& sites = barrier_sites();
  if (sites.recording) sites.seen.insert({file, line});
  if (sites.dropped.line == line && sites.dropped.file == file) return;
  barrier_wait(0);
}
}  // namespace fmav_emu

#define __syncthreads() ::fmav_emu::syncthreads_at(__FILE__, __LINE__)
inline void __syncwarp(unsigned = 0xffffffffu) { fmav_emu::barrier_wait(1 + threadIdx.x / fmav_emu::kWarpSize); }
inline float __shfl_xor_sync(unsigned, float value, int lane_mask) {
  fmav_emu::Block& b = fmav_emu::current();
  const unsigned lane = threadIdx.x % fmav_emu::kWarpSize, warp0 = threadIdx.x - lane;
  b.slots[threadIdx.x] = value;
  __syncwarp();
  const float other = b.slots[warp0 + (lane ^ static_cast<unsigned>(lane_mask))];
  __syncwarp();
  return other;
}
inline float atomicAdd(float* address, float value) {
  const float old = *address;  // one host thread runs every fiber: no race
  *address = old + value;
  return old;
}

using std::max;
using std::min;

// ---- WMMA (mma.h) on whole tiles ----
namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulation has the 16x16x16 shape only");
  float x[16 * 16];  // element (r, c) at r * 16 + c, as float
};

namespace detail {
// CUDA: the pointer 256-bit aligned; ldm a multiple of 16 bytes (8 halves, 4 floats).
template <typename E>
void check(const E* p, unsigned ldm) {
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0) throw std::logic_error("wmma: pointer not 32-byte aligned");
  if ((ldm * sizeof(E)) % 16 != 0) throw std::logic_error("wmma: ldm not a multiple of 16 bytes");
}
template <typename E>
float to_float(E v) {
  if constexpr (std::is_same_v<E, __half>) {
    return __half2float(v);
  } else if constexpr (std::is_same_v<E, __nv_bfloat16>) {
    return __bfloat162float(v);
  } else {
    return static_cast<float>(v);
  }
}
}  // namespace detail

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
  detail::check(p, ldm);
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c) {
      const T v = std::is_same_v<Layout, col_major> ? p[c * ldm + r] : p[r * ldm + c];
      f.x[r * 16 + c] = detail::to_float(v);
    }
  }
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
  detail::check(p, ldm);
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
  }
}
// Each lane stores its share of the elements; the kernel's __syncwarp makes them visible.
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  detail::check(p, ldm);
  const unsigned lane = threadIdx.x % fmav_emu::kWarpSize;
  for (unsigned e = lane; e < 256; e += fmav_emu::kWarpSize) {
    const unsigned r = e / 16, c = e % 16;
    (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[e];
  }
}
template <typename Use, typename T, typename Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, float value) {
  std::fill(std::begin(f.x), std::end(f.x), value);
}
// The emulator's own arithmetic on its own 16 x 16 arrays: it touches no memory of the kernel
// under test, so the sanitizers' pass leaves it uninstrumented (it was half of that pass's
// longest run, the emulated kernels).
template <typename T, typename LayoutA, typename LayoutB>
__attribute__((no_sanitize("address", "undefined")))
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LayoutA>& a,
              const fragment<matrix_b, 16, 16, 16, T, LayoutB>& b, const fragment<accumulator, 16, 16, 16, float>& c) {
  float out[256];
  for (int r = 0; r < 16; ++r) {
    for (int col = 0; col < 16; ++col) {
      float sum = c.x[r * 16 + col];
      for (int k = 0; k < 16; ++k) sum += a.x[r * 16 + k] * b.x[k * 16 + col];
      out[r * 16 + col] = sum;
    }
  }
  std::copy(out, out + 256, d.x);
}

}  // namespace wmma
}  // namespace nvcuda

// ---- sm_80's warp-level instructions (kernels/mma_sm80.cuh), lane by lane ----
// Each lane hands its operands to the warp's exchange slots and takes its own result from
// the others', with the PTX ISA's per-lane layouts; a kernel that places a fragment wrongly
// gets a wrong product here, as it would on the GPU.
namespace fmav_emu {

template <typename E>
float element_to_float(std::uint16_t bits) {
  E e;
  std::memcpy(static_cast<void*>(&e), &bits, sizeof bits);
  if constexpr (std::is_same_v<E, __half>) {
    return __half2float(e);
  } else {
    return __bfloat162float(e);
  }
}
inline std::uint16_t half_of(std::uint32_t reg, int high) { return static_cast<std::uint16_t>(reg >> (16 * high)); }

// This thread's exchange slots for its next warp-wide instruction, and the warp's first thread.
inline unsigned next_parity() {
  Block& b = current();
  return b.collectives[threadIdx.x]++ % 2;
}

// d += a b, one m16n8k16 tile (E = __half or __nv_bfloat16), from the 32 lanes' fragments.
// A(r, k) lies in lane 4 (r % 8) + (k % 8) / 2, register r / 8 + 2 (k / 8), half k % 2;
// B(k, n) in lane 4 n + (k % 8) / 2, register k / 8, half k % 2; this lane's D elements
// are (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
template <typename E>
__attribute__((no_sanitize("address", "undefined")))
void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
  Block& blk = current();
  const unsigned t = threadIdx.x, lane = t % kWarpSize, warp0 = t - lane, threads = blk.fibers.size();
  const unsigned parity = next_parity();
  std::uint32_t* mine = &blk.registers[(parity * threads + t) * kRegisterSlots];
  std::copy(a, a + 4, mine);
  std::copy(b, b + 2, mine + 4);
  barrier_wait(1 + t / kWarpSize);  // every lane's operands are in
  const auto slot = [&](unsigned l, int reg) { return blk.registers[(parity * threads + warp0 + l) * kRegisterSlots + reg]; };
  const auto a_at = [&](int r, int k) {
    return element_to_float<E>(half_of(slot(4 * (r % 8) + (k % 8) / 2, r / 8 + 2 * (k / 8)), k % 2));
  };
  const auto b_at = [&](int k, int n) { return element_to_float<E>(half_of(slot(4 * n + (k % 8) / 2, 4 + k / 8), k % 2)); };
  const int g = static_cast<int>(lane / 4), tq = static_cast<int>(lane % 4);
  for (int i = 0; i < 4; ++i) {
    const int r = g + 8 * (i / 2), n = 2 * tq + i % 2;
    float sum = 0.0f;
    for (int k = 0; k < 16; ++k) sum += a_at(r, k) * b_at(k, n);
    d[i] += sum;
  }
  // No second barrier: the next instruction uses the other set of slots, and the one after
  // reuses these only once every lane has passed the next one's barrier.
}

// ldmatrix .x4 (.trans): lane l's row address is row l % 8 of matrix l / 8, in shared
// memory and 16-byte aligned (checked); register i gets matrix i's (l / 4, 2 (l % 4) + h),
// h = 0, 1, or transposed (2 (l % 4) + h, l / 4).
inline void ldmatrix_x4(std::uint32_t (&r)[4], const void* row, bool trans) {
  Block& blk = current();
  const unsigned t = threadIdx.x, lane = t % kWarpSize, warp0 = t - lane, threads = blk.fibers.size();
  const auto* p = static_cast<const unsigned char*>(row);
  if (p < blk.shared || p + 16 > blk.shared + blk.shared_bytes) throw std::logic_error("ldmatrix: row not in shared memory");
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) throw std::logic_error("ldmatrix: row not 16-byte aligned");
  const unsigned parity = next_parity();
  blk.rows[parity * threads + t] = p;
  barrier_wait(1 + t / kWarpSize);
  const unsigned g = lane / 4, tq = lane % 4;
  const auto element = [&](unsigned matrix, unsigned rr, unsigned cc) {
    std::uint16_t bits;
    std::memcpy(&bits, blk.rows[parity * threads + warp0 + 8 * matrix + rr] + 2 * cc, sizeof bits);
    return static_cast<std::uint32_t>(bits);
  };
  for (unsigned i = 0; i < 4; ++i) {
    const std::uint32_t lo = trans ? element(i, 2 * tq, g) : element(i, g, 2 * tq);
    const std::uint32_t hi = trans ? element(i, 2 * tq + 1, g) : element(i, g, 2 * tq + 1);
    r[i] = lo | (hi << 16);
  }
}

// cp.async: the destination is undefined (NaN bytes) from the issue until this thread's wait
// covers the copy, so a read that lacks the wait, or the barrier after it, or that races a
// later copy into the same buffer, reads NaN in one of the thread orders.
inline void cp_async_16(void* dst, const void* src, bool fill) {
  Block& blk = current();
  auto* d = static_cast<unsigned char*>(dst);
  if (d < blk.shared || d + 16 > blk.shared + blk.shared_bytes) throw std::logic_error("cp.async: dst not in shared memory");
  if (reinterpret_cast<std::uintptr_t>(d) % 16 != 0 || (fill && reinterpret_cast<std::uintptr_t>(src) % 16 != 0)) {
    throw std::logic_error("cp.async: address not 16-byte aligned");
  }
  std::memset(d, 0xFF, 16);
  blk.async_open[threadIdx.x].push_back({d, static_cast<const unsigned char*>(src), fill});
}
inline void cp_async_commit() {
  Block& blk = current();
  blk.async_groups[threadIdx.x].push_back(std::move(blk.async_open[threadIdx.x]));
  blk.async_open[threadIdx.x].clear();
}
inline void cp_async_wait(int pending) {
  auto& groups = current().async_groups[threadIdx.x];
  while (groups.size() > static_cast<std::size_t>(pending)) {
    for (const AsyncCopy& c : groups.front()) {
      if (c.fill) {
        std::memcpy(c.dst, c.src, 16);
      } else {
        std::memset(c.dst, 0, 16);
      }
    }
    groups.pop_front();
  }
}

}  // namespace fmav_emu
