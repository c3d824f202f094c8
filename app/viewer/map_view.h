#pragma once
// The linked zoom and pan of the attention maps: the visible rectangle of an n_rows x n_cols
// map in map coordinates, shared by the four maps, and the conversions between screen,
// map and texture coordinates; and the maps' mip chains. Plain arithmetic (no ImGui), so it
// is unit-tested.

#include <cstdint>
#include <vector>

namespace fmav::viewer {

struct MapViewport {
  // The visible part of the map, in map units (0..cols across, 0..rows down); x1 > x0, y1 > y0.
  double x0 = 0, y0 = 0, x1 = 1, y1 = 1;
  std::int64_t rows = 1, cols = 1;

  // Shows the whole map.
  void fit(std::int64_t n_rows, std::int64_t n_cols);
  // Zooms by `factor` (> 1: in) keeping the map point under (fx, fy) fixed, where fx, fy in
  // [0, 1] are the cursor's position within the drawn area. Each visible span stays between
  // kMinSpan tokens (or the whole map, if smaller) and the whole map.
  void zoom_at(double fx, double fy, double factor);
  // Shows rows [r0, r1) and columns [c0, c1) (clamped to the map, spans >= kMinSpan).
  void show(double r0, double r1, double c0, double c1);
  // Moves the view by (dx, dy) fractions of its size (drag: the negated mouse motion).
  void pan(double dx, double dy);
  // The map point (column, row; fractional) under a position (fx, fy) within the drawn area.
  double col_at(double fx) const { return x0 + fx * (x1 - x0); }
  double row_at(double fy) const { return y0 + fy * (y1 - y0); }
  // Where a map coordinate falls within the drawn area (0..1; outside when not visible).
  double fx_of(double col) const { return (col - x0) / (x1 - x0); }
  double fy_of(double row) const { return (row - y0) / (y1 - y0); }
  // Texture coordinates of the visible rectangle (the texture covers the whole map).
  double u0() const { return x0 / static_cast<double>(cols); }
  double u1() const { return x1 / static_cast<double>(cols); }
  double v0() const { return y0 / static_cast<double>(rows); }
  double v1() const { return y1 / static_cast<double>(rows); }
  bool zoomed() const { return x0 > 0 || y0 > 0 || x1 < static_cast<double>(cols) || y1 < static_cast<double>(rows); }

 private:
  void clamp();
};

// The smallest visible span, in tokens: four tokens across at the deepest zoom.
constexpr double kMinSpan = 4.0;

// The mip chain of a (height, width) row-major map: level 0 is `values`, each next level
// max(1, w / 2) x max(1, h / 2) (OpenGL's sizes) of block means, so a zoomed-out map shows
// each pixel's mean rather than every k-th token; an odd last row or column joins the
// block before it. Ends with the 1 x 1 level.
std::vector<std::vector<float>> mip_chain(std::vector<float> values, int width, int height);

}  // namespace fmav::viewer
