#pragma once
// Inspection data of every FMA variant (docs/DESIGN.md §2-§4; the config says which) and of the
// peer methods (fmav/attend.h) for one (batch, head) and a rectangle of query rows x key
// columns, so a large N can be shown a tile at a time or as a pooled overview: the method's
// map at full resolution, the level map, full attention's map, mass per level and the
// error metrics. (Names say "fma" for the method shown, whichever it is.) Tokens are indices 0..N-1
// (2D: row-major, so a query's row of the map reshaped to H x W is its attention image).

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "fmav/attend.h"
#include "fmav/device.h"
#include "fmav/error.h"

namespace fmav {

// Thrown by inspect when its progress callback asks it to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// The largest map one request returns: rows x columns after pooling (float64, 512 MiB).
constexpr std::int64_t kMaxInspectCells = std::int64_t{1} << 26;

struct InspectRequest {
  std::int64_t batch = 0, head = 0;
  std::int64_t row_begin = 0, row_end = -1;  // query rows [begin, end); -1 = N
  std::int64_t col_begin = 0, col_end = -1;  // key columns [begin, end); -1 = N
  int top_k = 8;                             // for the top-k overlap metric
  // > 1: an overview. Each map cell is the mean of a pool x pool block of the rectangle (the
  // last block of a row or column may be smaller); a level-map cell is the finest level in
  // its block (-1 only when the whole block is masked); the per-row values are means over
  // the block's query rows.
  std::int64_t pool = 1;
  // Called after each band of query rows with (rows done, rows in the rectangle); returning
  // false stops the request with fmav::Cancelled. May be empty.
  std::function<bool(std::int64_t done, std::int64_t total)> progress;
  // Where the Inspector's constructor puts the dense float64 work (the slot probabilities,
  // full attention's rows, log-softmax, the output error): resolve_device's rules, so cuda
  // without a GPU throws naming why and auto falls back to the cpu. map() computes each band
  // of full attention's rows there too and copies it to the host for the per-row and
  // per-cell loops. Ignored by map()'s request: the inspector keeps its own.
  Device device = Device::cpu;
};

struct Inspection {
  std::int64_t rows = 0, cols = 0;  // the map's size: the rectangle's, divided by pool (rounded up)
  std::int64_t pool = 1;            // the request's
  int num_levels = 0;               // L: levels 0 (near field) .. L
  std::vector<double> fma_map;      // (rows, cols) the method's probabilities at full resolution
  std::vector<double> full_map;     // (rows, cols) full softmax attention (reformer: shared QK)
  // (rows, cols) 0 near / exact, l coarse level, -1 masked (peers: not attended)
  std::vector<std::int8_t> level_map;
  std::vector<double> level_mass;   // (rows, L + 1) FMA probability mass per level
  // (rows, L + 1) full attention's probability mass on the keys of each level; what a row
  // lacks of 1 is on keys the method masks or does not attend
  std::vector<double> full_level_mass;
  std::vector<double> row_tv;       // (rows) total variation 1/2 sum |fma - full| over all keys
  std::vector<double> row_kl;       // (rows) KL(full || fma) over all keys
  std::vector<double> row_topk;     // (rows) |top-k(fma) ∩ top-k(full)| / k
  // A row (pooled: any of its query rows) whose method or full-attention probabilities hold
  // NaN or Inf (from non-finite q, k or v) has NaN in row_tv, row_kl and row_topk.
  double output_rel_error = 0;      // ||O_fma - O_full|| / ||O_full|| over this (batch, head)
};

// One (batch, head) prepared for inspection: the FMA slot probabilities, the hierarchy and
// the output error are computed once, so that many rectangles (tiles at the zoom a viewer
// shows, pooled overviews, single query rows) cost only their own rows. Computed in float64
// with the blocked FMA (for the linear variants the one-softmax form, which gives the same
// outputs), on the constructor request's device (a peer's own rows stay on the host).
// Copies share the prepared state; map() may be called from several threads.
class Inspector {
 public:
  Inspector() = default;
  // q, k, v as for attend(); `which` gives the batch and head. Throws fmav::Error for a bad
  // batch or head or any attend() input error.
  Inspector(const HostTensor& q, const HostTensor& k, const HostTensor& v, const FmaConfig& config,
            const WeightSet& weights, const InspectRequest& which);
  // Any method but full attention: FMA (options.fma) or a peer, whose map rows come from its
  // definition in float64 (the dense reference) and whose output is those rows times v.
  // Throws as above, and for a bad peer setting (validate_peer) or options.method full.
  // Both throw fmav::Error for which.device cuda where no CUDA device can run.
  Inspector(const HostTensor& q, const HostTensor& k, const HostTensor& v, const AttendOptions& options,
            const WeightSet& weights, const InspectRequest& which);
  // The inspection data of request's rectangle (its batch and head are ignored: they are
  // this inspector's). Throws fmav::Error for a bad rectangle, top_k or pool, or a map over
  // kMaxInspectCells; fmav::Cancelled when request.progress returns false.
  Inspection map(const InspectRequest& request) const;

  bool empty() const { return !m_state; }
  std::int64_t tokens() const;  // N
  int num_levels() const;       // L
  double output_rel_error() const;
  // The head's output of the method in float64, (1, 1, N, D): the oracle a faster
  // implementation of the same method is checked against.
  HostTensor fma_output() const;
  // The method inspected (options.method; fma for the FmaConfig constructor).
  Method method() const;
  // Where the dense work runs: cpu or cuda (the constructor's device, auto resolved).
  Device device() const;

 private:
  struct State;
  std::shared_ptr<const State> m_state;
};

// Inspector(q, k, v, config or options, weights, request).map(request).
Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const FmaConfig& config, const WeightSet& weights,
                   const InspectRequest& request);
Inspection inspect(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                   const AttendOptions& options, const WeightSet& weights,
                   const InspectRequest& request);

}  // namespace fmav
