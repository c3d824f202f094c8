#pragma once
// The largest sizes the commands take and their results files hold: one set, shared by the
// CLI's option checks (cmd_sweep.cpp, cmd_bench.cpp), the runners (sweep_points,
// validate_bench) and the sweep and bench readers, so that a value a command accepts is one
// its results file reads back (docs/HARDENING.md "Limits"; test_cli_limits).

#include <cstdint>
#include <string>

namespace fmav {

constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;  // N; a block size r (m), a rank p, a 2D cell
constexpr std::int64_t kMaxBatch = std::int64_t{1} << 16;   // B
constexpr std::int64_t kMaxHeads = std::int64_t{1} << 13;   // H (a sweep point's per-head errors fit one line)
constexpr std::int64_t kMaxDim = std::int64_t{1} << 16;     // head dimension D
constexpr std::int64_t kMaxIndex = (std::int64_t{1} << 16) - 1;  // a layer's or head's number
constexpr std::int64_t kMaxRepeats = 1000;                  // timed calls per point or row
constexpr std::int64_t kMaxShards = std::int64_t{1} << 16;  // a sweep's --shard i/N
constexpr std::int64_t kMaxGridPoints = std::int64_t{1} << 20;  // a sweep's points, values on one axis
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 50;  // a sweep's text offset
constexpr std::int64_t kMaxThreads = std::int64_t{1} << 16; // bench --threads (0: LibTorch's)

// Throws fmav::Error "<name> must be an integer in [lo, hi], got <value>" when it is not.
void check_limit(const std::string& name, std::int64_t value, std::int64_t lo, std::int64_t hi);

}  // namespace fmav
