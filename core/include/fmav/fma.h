#pragma once
// The FMA configuration (docs/DESIGN.md §2-§4) and the FMA-1D level geometry: block size m,
// rank p, the levels and interaction lists. Plain integers, no LibTorch, so the GUI can draw
// them. The 2D geometry is in fmav/fma2d.h.

#include <cstdint>
#include <string>

namespace fmav {

// How each coarse level summarizes the K and V of a group into `rank` tokens (§2).
enum class Downsample { learned, average, dense };

struct FmaConfig {
  std::int64_t block_size = 64;     // m (also r): the fine block size
  std::int64_t rank = 4;            // p: summary tokens per group and level
  bool causal = false;              // causal interaction lists instead of bidirectional
  Downsample downsample = Downsample::learned;
  bool count_multiplicity = true;   // weigh a coarse slot by the tokens it stands for
  bool linear = false;              // §3 query down-sampling (FMA-linear, O(N))
  std::int64_t grid_height = 0;     // §4 FMA2D on a grid_height x grid_width grid of
  std::int64_t grid_width = 0;      //    row-major tokens; both 0 for FMA-1D
  // The CUDA backward bit-identical run to run: the coarse slots' gradients are summed in a
  // fixed order through a workspace instead of by float32 atomics (docs/DESIGN.md §5).
  bool deterministic = false;

  bool is_2d() const { return grid_height != 0 || grid_width != 0; }
};

// Throws fmav::Error naming the first bad field: m >= 1, p >= 1; average needs p | m (1D)
// or p = s^2 with s | m (2D); FMA-linear needs the same of p; FMA2D is bidirectional, has
// a positive grid, and down-samples learned or average.
void validate(const FmaConfig& config);
// "fma" | "fma-linear" | "fma2d" | "fma2d-linear".
const char* variant_name(const FmaConfig& config);
// Coarse levels L of this configuration for n tokens (2D: n must be grid_height *
// grid_width). Throws fmav::Error for a bad n or grid.
int num_levels(const FmaConfig& config, std::int64_t n);
// "HxW" (e.g. "32x48") into height and width >= 1; throws fmav::Error naming the text.
void parse_grid(const std::string& text, std::int64_t* height, std::int64_t* width);
const char* to_string(Downsample kind);
// "learned" | "average" | "dense"; throws fmav::Error for anything else.
Downsample parse_downsample(const std::string& name);

// The hierarchy for a sequence of n tokens with block size m: padded to n_pad = m * 2^k
// (the smallest such >= n), num_levels = max(0, k - 1) coarse levels, level l (1-based) of
// group width m * 2^(l-1).
struct Levels {
  std::int64_t n = 0;
  std::int64_t n_pad = 0;
  std::int64_t block_size = 0;
  std::int64_t num_blocks = 0;  // n_pad / m
  int num_levels = 0;           // L

  std::int64_t width(int level) const { return block_size << (level - 1); }
  std::int64_t groups(int level) const { return n_pad / width(level); }
};

// Throws fmav::Error for n < 1 or m < 1, or when n_pad would overflow.
Levels make_levels(std::int64_t n, std::int64_t block_size);

// Offsets (relative to the query's fine block) of the near-field key blocks: {-1, 0, +1}
// bidirectional, {-1, 0} causal. Returns the count; fills out[0..count).
int near_offsets(bool causal, std::int64_t out[3]);
// Offsets of the groups in the interaction list of group g at a coarse level (§2):
// bidirectional g even {-2, +2, +3}, odd {-3, -2, +2}; causal even {-2}, odd {-3, -2}.
// Groups outside [0, G) are absent and must be masked by the caller.
int far_offsets(std::int64_t g, bool causal, std::int64_t out[3]);
// Maximum count far_offsets can return.
int max_far_offsets(bool causal);

// Which level covers the pair (query i, key t): 0 = near field, l = coarse level l, and
// -1 when the key is masked (padding or, causal, the future). Indices are 0-based < n.
int level_of(const Levels& levels, bool causal, std::int64_t i, std::int64_t t);

// Tokens a coarse slot stands for, for count_multiplicity (§2, padding): learned and dense
// summaries spread over the group's real tokens (count / p); average over its sub-window.
// Returns 0 when the slot has no real tokens (it is then masked).
double slot_multiplicity(const Levels& levels, const FmaConfig& config, int level,
                         std::int64_t group, std::int64_t slot);
// The real token range [begin, end) a coarse slot's probability is spread over in the
// full-resolution map (§2): the group for learned/dense, its sub-window for average.
void slot_span(const Levels& levels, const FmaConfig& config, int level, std::int64_t group,
               std::int64_t slot, std::int64_t* begin, std::int64_t* end);

}  // namespace fmav
