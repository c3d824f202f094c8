#pragma once
// Exact tensor-memory accounting for benchmarks: wraps LibTorch's CPU allocator and counts
// the bytes of live CPU tensors and their peak; plus the process's peak resident set.

#include <cstdint>
#include <exception>

namespace fmav {

// Installs the counting allocator (once; later calls do nothing). Tensors allocated before
// are not counted.
void install_memory_tracker();
// Bytes of live tensors allocated since installation.
std::int64_t tracked_live_bytes();
// Peak of tracked_live_bytes() since the last reset_tracked_peak().
std::int64_t tracked_peak_bytes();
void reset_tracked_peak();

// Peak resident set size (VmHWM) in bytes, and its reset (Linux clear_refs; best effort).
std::int64_t peak_rss_bytes();
void reset_peak_rss();


}  // namespace fmav
