// The FMA configuration's checks and the FMA-1D level geometry of docs/DESIGN.md §2: padding,
// levels, interaction lists, slot multiplicities and spans. Plain integer arithmetic shared
// by every implementation.

#include <algorithm>
#include <limits>
#include <string>

#include "fmav/error.h"
#include "fmav/fma.h"
#include "fmav/fma2d.h"

namespace fmav {

void validate(const FmaConfig& config) {
  FMAV_CHECK(config.block_size >= 1, "block size m must be >= 1, got ", config.block_size);
  FMAV_CHECK(config.block_size <= (std::int64_t{1} << 24), "block size m must be <= 2^24, got ",
             config.block_size);
  FMAV_CHECK(config.rank >= 1, "rank p must be >= 1, got ", config.rank);
  if (config.is_2d()) {
    FMAV_CHECK(config.grid_height >= 1 && config.grid_width >= 1,
               "FMA2D grid must be at least 1 x 1, got ", config.grid_height, " x ", config.grid_width);
    FMAV_CHECK(!config.causal, "FMA2D is bidirectional; causal is not supported on a grid");
    FMAV_CHECK(config.downsample != Downsample::dense,
               "FMA2D down-samples learned (separable) or average, got dense");
    // Average summaries and linear query windows split a cell into s x s sub-windows (§4).
    if (config.downsample == Downsample::average || config.linear) {
      const std::int64_t s = rank_side(config.rank);
      FMAV_CHECK(s > 0 && config.block_size % s == 0, variant_name(config), " with ",
                 config.linear ? "query down-sampling" : "average down-sampling",
                 " needs the rank p = s^2 with s dividing the cell side r, got r = ",
                 config.block_size, ", p = ", config.rank);
    }
    return;
  }
  if (config.downsample == Downsample::average || config.linear) {
    FMAV_CHECK(config.block_size >= config.rank && config.block_size % config.rank == 0,
               config.linear ? "fma-linear's query windows" : "average down-sampling",
               " need the rank p to divide the block size m, got m = ", config.block_size,
               ", p = ", config.rank);
  }
}

const char* variant_name(const FmaConfig& config) {
  if (config.is_2d()) return config.linear ? "fma2d-linear" : "fma2d";
  return config.linear ? "fma-linear" : "fma";
}

int num_levels(const FmaConfig& config, std::int64_t n) {
  if (!config.is_2d()) return make_levels(n, config.block_size).num_levels;
  FMAV_CHECK(n == config.grid_height * config.grid_width, "FMA2D on a ", config.grid_height, " x ",
             config.grid_width, " grid needs N = ", config.grid_height * config.grid_width,
             " tokens, got N = ", n);
  return make_levels_2d(config.grid_height, config.grid_width, config.block_size).num_levels;
}

void parse_grid(const std::string& text, std::int64_t* height, std::int64_t* width) {
  const std::size_t x = text.find_first_of("xX");
  const auto number = [&](const std::string& part, std::int64_t* out) {
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    *out = std::stoll(part);
    return *out >= 1;
  };
  FMAV_CHECK(x != std::string::npos && number(text.substr(0, x), height) &&
                 number(text.substr(x + 1), width),
             "grid must be HxW with sides >= 1 (e.g. 32x32), got '", text, "'");
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
