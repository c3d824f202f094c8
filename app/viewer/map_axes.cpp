// Tick positions and labels of the maps' token axes (map_axes.h).

#include "map_axes.h"

#include <algorithm>
#include <cmath>

namespace fmav::viewer {

namespace {

// The smallest of 1, 2, 5 x 10^k that is at least `x` (>= 1).
std::int64_t round_step_at_least(double x) {
  for (std::int64_t decade = 1;; decade *= 10) {
    for (std::int64_t c : {decade, 2 * decade, 5 * decade}) {
      if (static_cast<double>(c) >= x) return c;
    }
  }
}

}  // namespace

std::vector<std::int64_t> axis_ticks(double lo, double hi, double pixels, double min_gap_px,
                                     std::int64_t grid_width) {
  std::vector<std::int64_t> ticks;
  if (!(hi > lo) || !(pixels > 0)) return ticks;
  const double min_step = std::max(1.0, min_gap_px * (hi - lo) / pixels);  // tokens
  std::int64_t step = round_step_at_least(min_step);
  // On an image, once a step spans a row of patches: a round number of whole rows.
  if (grid_width > 1 && step >= grid_width) {
    step = grid_width * round_step_at_least(min_step / static_cast<double>(grid_width));
  }
  for (std::int64_t t = static_cast<std::int64_t>(std::ceil(lo / static_cast<double>(step))) * step;
       static_cast<double>(t) < hi; t += step) {
    ticks.push_back(t);
  }
  return ticks;
}

std::string tick_label(std::int64_t t, std::int64_t grid_width) {
  if (grid_width > 1) return std::to_string(t / grid_width) + "," + std::to_string(t % grid_width);
  return std::to_string(t);
}

}  // namespace fmav::viewer
