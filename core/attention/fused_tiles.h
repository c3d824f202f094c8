#pragma once
// Tile kernels of the fused CPU FMA: score tiles (Q K^T), probability-times-value tiles
// (P V) and the softmax row loops. Each is compiled for AVX-512, AVX2+FMA and baseline
// x86-64 (`#pragma GCC target` per instruction set, fused_tiles.cpp) and one is chosen at
// start-up by __builtin_cpu_supports, so any x86-64 runs them.

#include <cstdint>

namespace fmav {

// The instruction set the tile kernels run with on this CPU, chosen once at start-up.
const char* fused_cpu_isa();

// s (rows x cols, row stride lds) = scale * q (rows x depth, ldq) * kt (depth x cols, ldk).
void qk_tile(const float* q, std::int64_t ldq, const float* kt, std::int64_t ldk, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, float scale, float* s, std::int64_t lds);
void qk_tile(const double* q, std::int64_t ldq, const double* kt, std::int64_t ldk, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, double scale, double* s, std::int64_t lds);

// o (rows x cols, ldo) = (accumulate ? o : 0) + p (rows x depth, ldp) * v (depth x cols, ldv).
void pv_tile(const float* p, std::int64_t ldp, const float* v, std::int64_t ldv, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, bool accumulate, float* o, std::int64_t ldo);
void pv_tile(const double* p, std::int64_t ldp, const double* v, std::int64_t ldv, std::int64_t rows,
             std::int64_t cols, std::int64_t depth, bool accumulate, double* o, std::int64_t ldo);

// x[i] = exp(x[i] - shift) for i < n; returns their sum. -inf entries become exactly 0.
float exp_shift_sum(float* x, std::int64_t n, float shift);
double exp_shift_sum(double* x, std::int64_t n, double shift);

// The largest of x[0..n) (-inf when n == 0).
float row_max(const float* x, std::int64_t n);
double row_max(const double* x, std::int64_t n);

// ds[i] = p[i] * (ds[i] - d): one row of the softmax backward.
void softmax_grad_row(float* ds, const float* p, float d, std::int64_t n);
void softmax_grad_row(double* ds, const double* p, double d, std::int64_t n);

// acc (rows x d) += sum over t < tokens of w_t (rows x d) * x_t (d), x_t broadcast over the
// rows (w_t at w + t rows d, x_t at x + t ldx): a run of tokens' contributions to the p
// summaries of a learned down-sampling group.
void summary_accumulate(float* acc, const float* w, const float* x, std::int64_t ldx, std::int64_t tokens,
                        std::int64_t rows, std::int64_t d);
void summary_accumulate(double* acc, const double* w, const double* x, std::int64_t ldx, std::int64_t tokens,
                        std::int64_t rows, std::int64_t d);

}  // namespace fmav
