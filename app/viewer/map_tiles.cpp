#include "map_tiles.h"

#include <algorithm>
#include <cstdlib>

namespace fmav::viewer {
namespace {

int floor_log2(int v) {
  int l = 0;
  while (v > 1) v >>= 1, ++l;
  return l;
}

bool power_of_two(int v) { return v > 0 && (v & (v - 1)) == 0; }

}  // namespace

TileGrid tile_grid(int width, int height, int levels, int side) {
  TileGrid g;
  g.width = width, g.height = height, g.levels = levels;
  g.side = std::max(width, height);
  if (width > side || height > side) {
    g.side = side;
    g.across = (width + side - 1) / side, g.down = (height + side - 1) / side;
  }
  return g;
}

int TileGrid::tile_levels(int t) const {
  if (count() == 1) return levels;
  const int w = std::min(side, width - t % across * side), h = std::min(side, height - t / across * side);
  return std::min(levels, 1 + floor_log2(std::min(w, h)));
}

TileRect TileGrid::rect(int t, int level) const {
  if (count() == 1) return {0, 0, std::max(1, width >> level), std::max(1, height >> level)};
  const int column = t % across, row = t / across;
  const int w = std::min(side, width - column * side), h = std::min(side, height - row * side);
  return {column * (side >> level), row * (side >> level), w >> level, h >> level};
}

int map_tile_side() {
  static const int side = [] {
    const char* test = std::getenv("FMAV_TEST_MAP_TILE");
    const int v = test ? std::atoi(test) : 0;
    return power_of_two(v) && v >= 16 ? v : 2048;
  }();
  return side;
}

}  // namespace fmav::viewer
