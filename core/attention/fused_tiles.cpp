// Tile kernels of the fused CPU FMA (see fused_tiles.h). Their bodies (fused_tiles_impl.inc)
// use GCC vector extensions one register wide (64 bytes AVX-512, 32 AVX2, 16 SSE) with a
// 4-row register block; they are compiled three times, for AVX-512, AVX2+FMA and baseline
// x86-64, and each call goes to the best one this CPU supports.

#include "fused_tiles.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

// The vector helpers are always inlined into their callers, so the ABI of passing such
// vectors by value (what -Wpsabi warns about) never matters.
#pragma GCC diagnostic ignored "-Wpsabi"

#define FMAV_INLINE __attribute__((always_inline)) inline

namespace fmav {

namespace tiles_baseline {
constexpr int kVecBytes = 16;
constexpr int kWide = 2;  // 16 SSE registers: a 4 x 2 block and 2 loads
#include "fused_tiles_impl.inc"
}  // namespace tiles_baseline

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace tiles_avx2 {
constexpr int kVecBytes = 32;
constexpr int kWide = 2;  // 16 AVX registers: a 4 x 2 block and 2 loads
#include "fused_tiles_impl.inc"
}  // namespace tiles_avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
namespace tiles_avx512 {
constexpr int kVecBytes = 64;
constexpr int kWide = 4;  // 32 AVX-512 registers: a 4 x 4 block
#include "fused_tiles_impl.inc"
}  // namespace tiles_avx512
#pragma GCC pop_options

namespace {

enum class Isa { baseline, avx2, avx512 };

Isa detect_isa() {
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  if (fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    return Isa::avx512;
  if (fma && __builtin_cpu_supports("avx2")) return Isa::avx2;
  return Isa::baseline;
}

const Isa kIsa = detect_isa();

}  // namespace

#define FMAV_DISPATCH(call)                                   \
  switch (kIsa) {                                             \
    case Isa::avx512: return tiles_avx512::call;              \
    case Isa::avx2: return tiles_avx2::call;                  \
    default: return tiles_baseline::call;                     \
  }

const char* fused_cpu_isa() {
  switch (kIsa) {
    case Isa::avx512: return "avx512 (f, vl, bw, dq) + fma";
    case Isa::avx2: return "avx2 + fma";
    default: return "x86-64 baseline (sse2)";
  }
}

void qk_tile(const float* q, std::int64_t ldq, const float* kt, std::int64_t ldk, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, float scale, float* s, std::int64_t lds) {
  FMAV_DISPATCH(qk_tile(q, ldq, kt, ldk, rows, cols, depth, scale, s, lds))
}
void qk_tile(const double* q, std::int64_t ldq, const double* kt, std::int64_t ldk, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, double scale, double* s, std::int64_t lds) {
  FMAV_DISPATCH(qk_tile(q, ldq, kt, ldk, rows, cols, depth, scale, s, lds))
}
void pv_tile(const float* p, std::int64_t ldp, const float* v, std::int64_t ldv, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, bool accumulate, float* o, std::int64_t ldo) {
  FMAV_DISPATCH(pv_tile(p, ldp, v, ldv, rows, cols, depth, accumulate, o, ldo))
}
void pv_tile(const double* p, std::int64_t ldp, const double* v, std::int64_t ldv, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, bool accumulate, double* o, std::int64_t ldo) {
  FMAV_DISPATCH(pv_tile(p, ldp, v, ldv, rows, cols, depth, accumulate, o, ldo))
}
float exp_shift_sum(float* x, std::int64_t n, float shift) { FMAV_DISPATCH(exp_shift_sum(x, n, shift)) }
double exp_shift_sum(double* x, std::int64_t n, double shift) {
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}
float row_max(const float* x, std::int64_t n) { FMAV_DISPATCH(row_max(x, n)) }
double row_max(const double* x, std::int64_t n) { FMAV_DISPATCH(row_max(x, n)) }
void softmax_grad_row(float* ds, const float* p, float d, std::int64_t n) {
  FMAV_DISPATCH(softmax_grad_row(ds, p, d, n))
}
void softmax_grad_row(double* ds, const double* p, double d, std::int64_t n) {
  FMAV_DISPATCH(softmax_grad_row(ds, p, d, n))
}

void summary_accumulate(float* acc, const float* w, const float* x, std::int64_t ldx, std::int64_t tokens,
                        std::int64_t rows, std::int64_t d) {
  FMAV_DISPATCH(summary_accumulate(acc, w, x, ldx, tokens, rows, d))
}
void summary_accumulate(double* acc, const double* w, const double* x, std::int64_t ldx, std::int64_t tokens,
                        std::int64_t rows, std::int64_t d) {
  FMAV_DISPATCH(summary_accumulate(acc, w, x, ldx, tokens, rows, d))
}

}  // namespace fmav
