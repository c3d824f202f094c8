// The FMA-1D level geometry of DESIGN.md §2: padding, levels, interaction lists, slot
// multiplicities and spans. Plain integer arithmetic shared by every implementation.

#include <algorithm>
#include <limits>

#include "fmav/error.h"
#include "fmav/fma.h"

namespace fmav {

void validate(const FmaConfig& config) {
  FMAV_CHECK(config.block_size >= 1, "block size m must be >= 1, got ", config.block_size);
  FMAV_CHECK(config.block_size <= (std::int64_t{1} << 24), "block size m must be <= 2^24, got ",
             config.block_size);
  FMAV_CHECK(config.rank >= 1, "rank p must be >= 1, got ", config.rank);
  if (config.downsample == Downsample::average) {
    FMAV_CHECK(config.block_size >= config.rank && config.block_size % config.rank == 0,
               "average down-sampling needs the rank p to divide the block size m, got m = ",
               config.block_size, ", p = ", config.rank);
  }
}

const char* to_string(Downsample kind) {
  switch (kind) {
    case Downsample::learned: return "learned";
    case Downsample::average: return "average";
    case Downsample::dense: return "dense";
  }
  return "?";
}

Downsample parse_downsample(const std::string& name) {
  if (name == "learned") return Downsample::learned;
  if (name == "average") return Downsample::average;
  if (name == "dense") return Downsample::dense;
  throw Error("downsample must be learned, average or dense, got '" + name + "'");
}

Levels make_levels(std::int64_t n, std::int64_t block_size) {
  FMAV_CHECK(n >= 1, "sequence length N must be >= 1, got ", n);
  FMAV_CHECK(block_size >= 1, "block size m must be >= 1, got ", block_size);
  Levels levels;
  levels.n = n;
  levels.block_size = block_size;
  int k = 0;
  std::int64_t n_pad = block_size;
  while (n_pad < n) {
    FMAV_CHECK(n_pad <= std::numeric_limits<std::int64_t>::max() / 2,
               "sequence length N = ", n, " is too large for block size ", block_size);
    n_pad *= 2;
    ++k;
  }
  levels.n_pad = n_pad;
  levels.num_blocks = n_pad / block_size;
  levels.num_levels = k > 1 ? k - 1 : 0;
  return levels;
}

int near_offsets(bool causal, std::int64_t out[3]) {
  out[0] = -1;
  out[1] = 0;
  if (causal) return 2;
  out[2] = 1;
  return 3;
}

int far_offsets(std::int64_t g, bool causal, std::int64_t out[3]) {
  const bool even = g % 2 == 0;
  if (causal) {
    if (even) {
      out[0] = -2;
      return 1;
    }
    out[0] = -3;
    out[1] = -2;
    return 2;
  }
  if (even) {
    out[0] = -2, out[1] = 2, out[2] = 3;
  } else {
    out[0] = -3, out[1] = -2, out[2] = 2;
  }
  return 3;
}

int max_far_offsets(bool causal) { return causal ? 2 : 3; }

int level_of(const Levels& levels, bool causal, std::int64_t i, std::int64_t t) {
  FMAV_CHECK(i >= 0 && i < levels.n && t >= 0 && t < levels.n, "level_of: (", i, ", ", t,
             ") outside [0, ", levels.n, ")");
  if (causal && t > i) return -1;
  const std::int64_t m = levels.block_size;
  std::int64_t offsets[3];
  const int near = near_offsets(causal, offsets);
  for (int o = 0; o < near; ++o) {
    if (t / m - i / m == offsets[o]) return 0;
  }
  for (int l = 1; l <= levels.num_levels; ++l) {
    const std::int64_t w = levels.width(l);
    const std::int64_t g = i / w;
    const int far = far_offsets(g, causal, offsets);
    for (int o = 0; o < far; ++o) {
      if (t / w - g == offsets[o]) return l;
    }
  }
  FMAV_ASSERT(false, "pair (", i, ", ", t, ") covered by no level; the interaction lists of §2 "
              "cover every pair");
  return -1;
}

void slot_span(const Levels& levels, const FmaConfig& config, int level, std::int64_t group,
               std::int64_t slot, std::int64_t* begin, std::int64_t* end) {
  const std::int64_t w = levels.width(level);
  std::int64_t lo = group * w, hi = lo + w;
  if (config.downsample == Downsample::average) {
    const std::int64_t sub = w / config.rank;
    lo += slot * sub;
    hi = lo + sub;
  }
  *begin = std::min(lo, levels.n);
  *end = std::min(hi, levels.n);
}

double slot_multiplicity(const Levels& levels, const FmaConfig& config, int level,
                         std::int64_t group, std::int64_t slot) {
  std::int64_t begin = 0, end = 0;
  slot_span(levels, config, level, group, slot, &begin, &end);
  const double real = static_cast<double>(end - begin);
  if (config.downsample == Downsample::average) return real;
  return real / static_cast<double>(config.rank);
}

}  // namespace fmav
