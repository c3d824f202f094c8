// The FMA2D geometry of docs/DESIGN.md §4: padding, levels, near and far cell lists, slot
// rectangles and multiplicities. Plain integer arithmetic shared by every implementation.

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "fmav/error.h"
#include "fmav/fma2d.h"

namespace fmav {
namespace {

std::int64_t chebyshev(std::int64_t ay, std::int64_t ax, std::int64_t by, std::int64_t bx) {
  return std::max(std::abs(ay - by), std::abs(ax - bx));
}

}  // namespace

Levels2d make_levels_2d(std::int64_t height, std::int64_t width, std::int64_t cell) {
  FMAV_CHECK(height >= 1 && width >= 1, "grid must be at least 1 x 1, got ", height, " x ", width);
  FMAV_CHECK(cell >= 1, "cell side r must be >= 1, got ", cell);
  FMAV_CHECK(height <= (std::int64_t{1} << 24) && width <= (std::int64_t{1} << 24),
             "grid sides must be <= 2^24, got ", height, " x ", width);
  Levels2d levels;
  levels.height = height, levels.width = width, levels.cell = cell;
  const std::int64_t longest = std::max(height, width);
  std::int64_t side = cell;
  int k = 0;
  while (side < longest) {
    FMAV_CHECK(side <= (std::int64_t{1} << 30), "grid ", height, " x ", width,
               " is too large for cell side ", cell);
    side *= 2;
    ++k;
  }
  levels.side = side;
  levels.num_levels = k > 1 ? k - 1 : 0;
  return levels;
}

void near_cells_2d(std::int64_t out[kNearCells2d][2]) {
  int e = 0;
  for (std::int64_t dy = -1; dy <= 1; ++dy) {
    for (std::int64_t dx = -1; dx <= 1; ++dx, ++e) out[e][0] = dy, out[e][1] = dx;
  }
}

void far_cells_2d(std::int64_t cy, std::int64_t cx, std::int64_t out[kFarCells2d][2]) {
  // Children of the parent's neighbours span rows 2 (cy / 2) - 2 .. 2 (cy / 2) + 3.
  const std::int64_t y_lo = 2 * (cy / 2) - 2 - cy, x_lo = 2 * (cx / 2) - 2 - cx;
  int e = 0;
  for (std::int64_t dy = y_lo; dy < y_lo + 6; ++dy) {
    for (std::int64_t dx = x_lo; dx < x_lo + 6; ++dx) {
      if (std::abs(dy) <= 1 && std::abs(dx) <= 1) continue;
      out[e][0] = dy, out[e][1] = dx;
      ++e;
    }
  }
  FMAV_ASSERT(e == kFarCells2d, "far list has ", e, " cells");
}

int level_of_2d(const Levels2d& levels, std::int64_t i, std::int64_t t) {
  const std::int64_t n = levels.n();
  FMAV_CHECK(i >= 0 && i < n && t >= 0 && t < n, "level_of_2d: (", i, ", ", t, ") outside [0, ",
             n, ")");
  const std::int64_t y = i / levels.width, x = i % levels.width;
  const std::int64_t ty = t / levels.width, tx = t % levels.width;
  const std::int64_t r = levels.cell;
  if (chebyshev(y / r, x / r, ty / r, tx / r) <= 1) return 0;
  for (int l = 1; l <= levels.num_levels; ++l) {
    const std::int64_t c = levels.cell_side(l);
    const std::int64_t qy = y / c, qx = x / c, ky = ty / c, kx = tx / c;
    if (chebyshev(qy, qx, ky, kx) >= 2 && chebyshev(qy / 2, qx / 2, ky / 2, kx / 2) <= 1) return l;
  }
  FMAV_ASSERT(false, "pair (", i, ", ", t, ") covered by no level; the lists of §4 cover every pair");
  return -1;
}

std::int64_t rank_side(std::int64_t rank) {
  for (std::int64_t s = 1; s * s <= rank; ++s) {
    if (s * s == rank) return s;
  }
  return 0;
}

std::int64_t sub_window_2d(std::int64_t dy, std::int64_t dx, std::int64_t cell_side,
                           std::int64_t rank) {
  const std::int64_t s = rank_side(rank);
  FMAV_ASSERT(s > 0 && cell_side % s == 0, "sub-windows need p = s^2 with s | cell side");
  const std::int64_t sub = cell_side / s;
  return (dy / sub) * s + dx / sub;
}

CellRect slot_rect_2d(const Levels2d& levels, const FmaConfig& config, int level,
                      std::int64_t cy, std::int64_t cx, std::int64_t slot) {
  const std::int64_t c = levels.cell_side(level);
  std::int64_t y0 = cy * c, x0 = cx * c, sy = c, sx = c;
  if (config.downsample == Downsample::average) {
    const std::int64_t s = rank_side(config.rank);
    sy = sx = c / s;
    y0 += (slot / s) * sy;
    x0 += (slot % s) * sx;
  }
  CellRect rect;
  rect.y0 = std::min(y0, levels.height), rect.y1 = std::min(y0 + sy, levels.height);
  rect.x0 = std::min(x0, levels.width), rect.x1 = std::min(x0 + sx, levels.width);
  return rect;
}

double slot_multiplicity_2d(const Levels2d& levels, const FmaConfig& config, int level,
                            std::int64_t cy, std::int64_t cx, std::int64_t slot) {
  const double real = static_cast<double>(slot_rect_2d(levels, config, level, cy, cx, slot).count());
  if (config.downsample == Downsample::average) return real;
  return real / static_cast<double>(config.rank);
}

}  // namespace fmav
