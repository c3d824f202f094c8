#pragma once
// CUDA's execution model on the host, so the kernels' own source (kernels/*.cuh, built with
// FMAV_CUDA_EMULATION) can be run and checked where no GPU is. A block's threads are fibers
// (ucontext) on one host thread, each running until it waits at a barrier (__syncthreads
// for the block, __syncwarp for its warp); a fiber that ends while others wait, or threads
// waiting at different barriers, is reported as a deadlock, not hung. Threads run in
// ascending or descending order between barriers, so a read that lacks a barrier after
// the write it needs sees stale data in one of the two orders. Shuffles pass through the
// warp's exchange slots; a WMMA fragment is the whole 16 x 16 tile, held by every lane,
// whose loads and stores check the alignment and leading dimensions CUDA documents. Blocks
// run one after another. It shows indexing, shared-memory layout, masking, the algorithm
// and missing barriers; not the hardware's fragment layouts, memory model, timing or speed.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
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

inline void __syncthreads() { fmav_emu::barrier_wait(0); }
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
