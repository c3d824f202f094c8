// Tick positions and labels of the maps' token axes (map_axes.h).

#include "map_axes.h"

#include <cmath>

namespace fmav::viewer {

std::vector<std::int64_t> axis_ticks(double lo, double hi, double pixels, double min_gap_px,
                                     std::int64_t grid_width) {
  std::vector<std::int64_t> ticks;
  if (!(hi > lo) || !(pixels > 0)) return ticks;
  const double min_step = std::max(1.0, min_gap_px * (hi - lo) / pixels);  // tokens
  std::int64_t step = 1;
  for (std::int64_t decade = 1;; decade *= 10) {
    const std::int64_t candidates[] = {decade, 2 * decade, 5 * decade};
    bool found = false;
    for (std::int64_t c : candidates) {
      if (static_cast<double>(c) >= min_step) {
        step = c;
        found = true;
        break;
      }
    }
    if (found) break;
  }
  if (grid_width > 1 && step >= grid_width) step = (step + grid_width - 1) / grid_width * grid_width;
  for (std::int64_t t = static_cast<std::int64_t>(std::ceil(lo / step)) * step; static_cast<double>(t) < hi;
       t += step) {
    ticks.push_back(t);
  }
  return ticks;
}

std::string tick_label(std::int64_t t, std::int64_t grid_width) {
  if (grid_width > 1) return std::to_string(t / grid_width) + "," + std::to_string(t % grid_width);
  return std::to_string(t);
}

}  // namespace fmav::viewer
