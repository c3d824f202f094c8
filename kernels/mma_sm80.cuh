#pragma once
// Warp-level tensor-core primitives of sm_80 and later, one PTX instruction each: the
// m16n8k16 product with float accumulators (mma.sync), the 8x8 shared-memory matrix loads
// that feed it (ldmatrix .x4, .trans for a row-major B) and the asynchronous 16-byte copies
// from global to shared memory (cp.async, with zero fill). Under FMAV_CUDA_EMULATION the
// emulator (tests/kernels/cuda_emulation.h) performs each one for the whole warp with the
// PTX ISA's per-lane fragment layouts, so a kernel that misplaces a fragment fails there.
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"), for
// lane l, g = l / 4 and t = l % 4; each 32-bit register holds two 16-bit elements, the lower
// column (or row, for B) in the low half:
//   A (16 x 16, row):  a[0] = A(g, 2t..2t+1)   a[1] = A(g+8, 2t..2t+1)
//                      a[2] = A(g, 2t+8..+9)   a[3] = A(g+8, 2t+8..+9)
//   B (16 x 8, col):   b[0] = B(2t..2t+1, g)   b[1] = B(2t+8..+9, g)
//   C, D (16 x 8 f32): c[0], c[1] = C(g, 2t), C(g, 2t+1)   c[2], c[3] = C(g+8, 2t), C(g+8, 2t+1)
// ldmatrix .x4: lane l gives the address of row l % 8 of matrix l / 8 (16 bytes, 16-byte
// aligned, shared memory); register i of lane l receives matrix i's row l / 4, columns
// 2 (l % 4) and 2 (l % 4) + 1; with .trans, rows and columns swap (row 2 (l % 4) and the next,
// column l / 4).

#include "cuda_compat.cuh"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fmav {

// d += a b for one 16 x 8 x 16 tile of T (__half or __nv_bfloat16), float accumulators.
template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                             std::uint32_t b1) {
#ifdef FMAV_CUDA_EMULATION
  const std::uint32_t b[2] = {b0, b1};
  fmav_emu::mma_m16n8k16<T>(d, a, b);
#else
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>, "mma_m16n8k16: f16 or bf16");
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#endif
}

// Four 8 x 8 matrices of 16-bit elements from shared memory; `row` is this lane's row
// address (above).
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* row) {
#ifdef FMAV_CUDA_EMULATION
  fmav_emu::ldmatrix_x4(r, row, false);
#else
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
#endif
}

// The same, each matrix transposed: a row-major (k, n) tile in memory becomes B fragments.
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* row) {
#ifdef FMAV_CUDA_EMULATION
  fmav_emu::ldmatrix_x4(r, row, true);
#else
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
#endif
}

// Starts copying 16 bytes from global `src` to shared `dst` (both 16-byte aligned), or
// zeros into dst where !fill (src is then not read). The bytes are there only after this
// thread's cp_async_wait covers the copy's group, and visible to other threads only after
// a barrier following that wait; the emulator leaves dst undefined (NaN) until the wait.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool fill) {
#ifdef FMAV_CUDA_EMULATION
  fmav_emu::cp_async_16(dst, src, fill);
#else
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  const int src_bytes = fill ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(src), "r"(src_bytes)
               : "memory");
#endif
}

// Closes this thread's group of copies issued since the last commit (possibly empty).
__device__ __forceinline__ void cp_async_commit() {
#ifdef FMAV_CUDA_EMULATION
  fmav_emu::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most `kPending` of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#ifdef FMAV_CUDA_EMULATION
  fmav_emu::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

// Two floats as one register of two T (lo in the low half), an A or B operand's element pair.
template <typename T>
__device__ __forceinline__ std::uint32_t pack_pair(float lo, float hi) {
#ifdef FMAV_CUDA_EMULATION
  T pair[2];
  if constexpr (std::is_same_v<T, __half>) {
    pair[0] = __float2half_rn(lo), pair[1] = __float2half_rn(hi);
  } else {
    pair[0] = __float2bfloat16_rn(lo), pair[1] = __float2bfloat16_rn(hi);
  }
  std::uint32_t r;
  std::memcpy(&r, pair, sizeof r);
  return r;
#else
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const std::uint32_t*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const std::uint32_t*>(&h);
  }
#endif
}

}  // namespace fmav
