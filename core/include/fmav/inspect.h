#pragma once
// Inspection data of every FMA variant (DESIGN.md §2-§4; the config says which) for one
// (batch, head) and a rectangle of query rows x key columns, so a large N can be shown a
// tile at a time: the FMA map at full resolution, the level map, full attention's map, mass
// per level and the error metrics. Tokens are indices 0..N-1 (2D: row-major, so a query's
// row of the map reshaped to H x W is its attention image).

#include <cstdint>
#include <vector>

#include "fmav/attend.h"

namespace fmav {

struct InspectRequest {
  std::int64_t batch = 0, head = 0;
  std::int64_t row_begin = 0, row_end = -1;  // query rows [begin, end); -1 = N
  std::int64_t col_begin = 0, col_end = -1;  // key columns [begin, end); -1 = N
  int top_k = 8;                             // for the top-k overlap metric
};

struct Inspection {
  std::int64_t rows = 0, cols = 0;  // the rectangle's size
  int num_levels = 0;               // L: levels 0 (near field) .. L
  std::vector<double> fma_map;      // (rows, cols) FMA probabilities at full resolution
  std::vector<double> full_map;     // (rows, cols) full softmax attention
  std::vector<std::int8_t> level_map;  // (rows, cols) 0 near, l coarse level, -1 masked
  std::vector<double> level_mass;   // (rows, L + 1) FMA probability mass per level
  std::vector<double> row_tv;       // (rows) total variation 1/2 sum |fma - full| over all keys
  std::vector<double> row_kl;       // (rows) KL(full || fma) over all keys
  std::vector<double> row_topk;     // (rows) |top-k(fma) ∩ top-k(full)| / k
  double output_rel_error = 0;      // ||O_fma - O_full|| / ||O_full|| over this (batch, head)
};

// Computes the inspection data in float64 with the blocked FMA (for the linear variants the
// one-softmax form, which gives the same outputs). q, k, v as for attend().
// Throws fmav::Error for a bad rectangle, batch, head or any attend() input error.
Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const FmaConfig& config, const WeightSet& weights,
                   const InspectRequest& request);

}  // namespace fmav
