#pragma once
// A large map texture as a grid of tiles (platform_gl_maps.cpp). llvmpipe clears a level's
// storage when it is made, under Mesa's share-group texture lock, which every draw of the GUI
// thread takes too: a 4096² R32F map with its mip chain (85 MB) held one frame ~40 ms. As
// tiles of at most 2048² each wait is a quarter of that (docs/BENCHMARKS.md).
//
// Each tile has its own mip chain. Its level l is exactly the block of the whole map's level l
// it covers: the whole's levels halve, rounding down, and every tile but the last of a row or
// column starts at a multiple of `side`, a power of two. A tile keeps the levels on which it
// holds at least one texel each way, so the whole's smallest levels (a map of a few texels)
// are not stored. A last tile narrower than `side` runs out of levels first; above that, the
// whole's blocks beside it also hold its texels (an odd last row or column joins the block
// before it, map_view.h), so there the neighbour's level is the whole's, not its own chain.

namespace fmav::viewer {

struct TileRect {
  int x = 0, y = 0, width = 0, height = 0;
};

struct TileGrid {
  int width = 0, height = 0, levels = 1;  // the whole map's level 0 and mip levels
  int side = 0;                           // a tile's largest side at level 0
  int across = 1, down = 1;               // tiles; row-major, tile t = row * across + column
  int count() const { return across * down; }
  // The mip levels tile t stores: levels 0 .. tile_levels(t) - 1.
  int tile_levels(int t) const;
  // Tile t's block of the whole map's level `level` (< tile_levels(t)), in that level's texels.
  TileRect rect(int t, int level) const;
};

// The tiles of a width x height map with `levels` mip levels, each at most side x side at
// level 0 (side a power of two); one tile when the map fits.
TileGrid tile_grid(int width, int height, int levels, int side);

// The viewer's tile side: 2048, or FMAV_TEST_MAP_TILE (a power of two >= 16) for the tests.
int map_tile_side();

}  // namespace fmav::viewer
