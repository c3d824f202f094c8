// Linked zoom and pan of the attention maps and their mip chains (map_view.h).

#include "map_view.h"

#include <algorithm>

namespace fmav::viewer {

void MapViewport::fit(std::int64_t n_rows, std::int64_t n_cols) {
  rows = std::max<std::int64_t>(1, n_rows), cols = std::max<std::int64_t>(1, n_cols);
  x0 = 0, y0 = 0, x1 = static_cast<double>(cols), y1 = static_cast<double>(rows);
}

void MapViewport::zoom_at(double fx, double fy, double factor) {
  if (!(factor > 0)) return;
  const double cx = col_at(fx), cy = row_at(fy);
  // New spans, each kept between kMinSpan (or the map, if smaller) and the whole map.
  const double w = std::clamp((x1 - x0) / factor, std::min(kMinSpan, static_cast<double>(cols)),
                              static_cast<double>(cols));
  const double h = std::clamp((y1 - y0) / factor, std::min(kMinSpan, static_cast<double>(rows)),
                              static_cast<double>(rows));
  x0 = cx - fx * w, x1 = x0 + w;
  y0 = cy - fy * h, y1 = y0 + h;
  clamp();
}

void MapViewport::show(double r0, double r1, double c0, double c1) {
  const double w = std::clamp(c1 - c0, std::min(kMinSpan, static_cast<double>(cols)), static_cast<double>(cols));
  const double h = std::clamp(r1 - r0, std::min(kMinSpan, static_cast<double>(rows)), static_cast<double>(rows));
  x0 = c0, x1 = c0 + w, y0 = r0, y1 = r0 + h;
  clamp();
}

void MapViewport::pan(double dx, double dy) {
  const double w = x1 - x0, h = y1 - y0;
  x0 += dx * w, x1 += dx * w;
  y0 += dy * h, y1 += dy * h;
  clamp();
}

// Slides the view back inside the map without changing its size.
void MapViewport::clamp() {
  const double w = x1 - x0, h = y1 - y0;
  x0 = std::clamp(x0, 0.0, static_cast<double>(cols) - w), x1 = x0 + w;
  y0 = std::clamp(y0, 0.0, static_cast<double>(rows) - h), y1 = y0 + h;
}

namespace {

// Block means of `from` (w x h) into the next level, (max(1, w / 2), max(1, h / 2)).
std::vector<float> halve(const std::vector<float>& from, int w, int h, int w2, int h2) {
  std::vector<float> to(static_cast<std::size_t>(w2) * h2);
  for (int y = 0; y < h2; ++y) {
    const int y0 = y * h / h2, y1 = (y + 1) * h / h2;
    for (int x = 0; x < w2; ++x) {
      const int x0 = x * w / w2, x1 = (x + 1) * w / w2;
      double sum = 0;
      for (int yy = y0; yy < y1; ++yy) {
        for (int xx = x0; xx < x1; ++xx) sum += from[static_cast<std::size_t>(yy) * w + xx];
      }
      to[static_cast<std::size_t>(y) * w2 + x] = static_cast<float>(sum / ((y1 - y0) * (x1 - x0)));
    }
  }
  return to;
}

}  // namespace

std::vector<std::vector<float>> mip_chain(std::vector<float> values, int width, int height) {
  std::vector<std::vector<float>> mips;
  mips.push_back(std::move(values));
  while (width > 1 || height > 1) {
    const int w2 = std::max(1, width / 2), h2 = std::max(1, height / 2);
    mips.push_back(halve(mips.back(), width, height, w2, h2));
    width = w2, height = h2;
  }
  return mips;
}

}  // namespace fmav::viewer
