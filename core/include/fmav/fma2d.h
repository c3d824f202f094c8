#pragma once
// The FMA2D geometry of docs/DESIGN.md §4 on an H x W grid of tokens numbered row-major
// (i = y W + x): r x r fine cells with a 3 x 3-cell near field, coarse levels of cells of
// side r 2^(l-1) with 27-cell interaction lists, and padding to a square of side r 2^k.
// Plain integers, no LibTorch, so the GUI and the figures can draw it.

#include <cstdint>

#include "fmav/fma.h"

namespace fmav {

struct Levels2d {
  std::int64_t height = 0, width = 0;  // the real grid, H x W
  std::int64_t cell = 0;               // r: side of a fine cell
  std::int64_t side = 0;               // S = r 2^k >= max(H, W): side of the padded square
  int num_levels = 0;                  // L = max(0, k - 1)

  std::int64_t n() const { return height * width; }
  // Side of a cell at coarse level l >= 1; level 1 cells are the fine cells.
  std::int64_t cell_side(int level) const { return cell << (level - 1); }
  // Cells per side at coarse level l >= 1.
  std::int64_t cells(int level) const { return side / cell_side(level); }
};

// Throws fmav::Error for a side < 1, cell < 1 or a padded side that would overflow.
Levels2d make_levels_2d(std::int64_t height, std::int64_t width, std::int64_t cell);

constexpr int kNearCells2d = 9;   // own cell and its 8 neighbours
constexpr int kFarCells2d = 27;   // children of the parent's 3 x 3 cells, less the 3 x 3 adjacent

// Offsets (dy, dx), in cells, of the near field: the 3 x 3 cells around the query's cell.
void near_cells_2d(std::int64_t out[kNearCells2d][2]);
// Offsets (dy, dx) of the interaction list of the cell (cy, cx) at a coarse level (§4):
// children of its parent's 3 x 3 neighbourhood that are not adjacent to it. Always 27;
// cells outside the grid are absent and must be masked by the caller.
void far_cells_2d(std::int64_t cy, std::int64_t cx, std::int64_t out[kFarCells2d][2]);

// Which level covers (query i, key t), row-major indices < H W: 0 = near field, l = coarse
// level l (the cells are not adjacent at level l but their parents are).
int level_of_2d(const Levels2d& levels, std::int64_t i, std::int64_t t);

// s with s * s = rank, or 0 when the rank is not a square. Average summaries and FMA2D-linear
// query windows split a cell into s x s sub-windows.
std::int64_t rank_side(std::int64_t rank);
// The sub-window (0 .. p-1) of position (dy, dx) inside a cell of side `cell_side`:
// row-major over the s x s sub-windows of side cell_side / s.
std::int64_t sub_window_2d(std::int64_t dy, std::int64_t dx, std::int64_t cell_side,
                           std::int64_t rank);

// Real tokens [y0, y1) x [x0, x1) a coarse slot stands for: the cell (learned) or its
// sub-window `slot` (average), clipped to the real grid.
struct CellRect {
  std::int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  std::int64_t count() const { return y1 > y0 && x1 > x0 ? (y1 - y0) * (x1 - x0) : 0; }
};
CellRect slot_rect_2d(const Levels2d& levels, const FmaConfig& config, int level,
                      std::int64_t cy, std::int64_t cx, std::int64_t slot);
// Tokens a slot stands for (§2 count_multiplicity in 2D): learned real tokens / p, average
// the sub-window's real tokens; 0 when it has none (the slot is then masked).
double slot_multiplicity_2d(const Levels2d& levels, const FmaConfig& config, int level,
                            std::int64_t cy, std::int64_t cx, std::int64_t slot);

}  // namespace fmav
