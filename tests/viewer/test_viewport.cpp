// The attention maps' linked zoom and pan (app/viewer/map_view.h): fitting, zooming about the
// cursor, limits, panning inside the map, the coordinate conversions, and mip chains.

#include <gtest/gtest.h>

#include "data_folder.h"
#include "map_axes.h"
#include "map_tiles.h"
#include "map_view.h"
#include "text_wrap.h"

#include "fmav/error.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using fmav::viewer::kMinSpan;
using fmav::viewer::MapViewport;

TEST(MapViewport, FitShowsTheWholeMap) {
  MapViewport v;
  v.fit(512, 256);
  EXPECT_DOUBLE_EQ(v.x1, 256);
  EXPECT_DOUBLE_EQ(v.y1, 512);
  EXPECT_DOUBLE_EQ(v.u0(), 0);
  EXPECT_DOUBLE_EQ(v.v1(), 1);
  EXPECT_FALSE(v.zoomed());
}

TEST(MapViewport, ZoomKeepsThePointUnderTheCursor) {
  MapViewport v;
  v.fit(1000, 1000);
  const double col = v.col_at(0.25), row = v.row_at(0.75);
  v.zoom_at(0.25, 0.75, 4.0);
  EXPECT_NEAR(v.x1 - v.x0, 250, 1e-9);
  EXPECT_NEAR(v.col_at(0.25), col, 1e-9);
  EXPECT_NEAR(v.row_at(0.75), row, 1e-9);
  EXPECT_TRUE(v.zoomed());
  EXPECT_NEAR(v.fx_of(col), 0.25, 1e-12);
  EXPECT_NEAR(v.u0(), v.x0 / 1000, 1e-15);
}

TEST(MapViewport, ZoomIsLimited) {
  MapViewport v;
  v.fit(1000, 1000);
  v.zoom_at(0.5, 0.5, 1e9);
  EXPECT_NEAR(v.x1 - v.x0, kMinSpan, 1e-9);
  v.zoom_at(0.5, 0.5, 1e-9);  // out past the whole map: back to fit
  EXPECT_NEAR(v.x1 - v.x0, 1000, 1e-9);
  EXPECT_FALSE(v.zoomed());
  MapViewport small;
  small.fit(2, 3);  // maps smaller than the minimum span cannot zoom in
  small.zoom_at(0.5, 0.5, 10);
  EXPECT_NEAR(small.x1 - small.x0, 3, 1e-9);
  v.zoom_at(0.5, 0.5, 0);  // a non-positive factor is ignored
  EXPECT_NEAR(v.x1 - v.x0, 1000, 1e-9);
}

TEST(MapViewport, PanStaysInsideTheMap) {
  MapViewport v;
  v.fit(100, 100);
  v.zoom_at(0.0, 0.0, 10);  // top-left 10 x 10
  EXPECT_NEAR(v.x0, 0, 1e-9);
  v.pan(-1, -1);  // cannot leave the map
  EXPECT_NEAR(v.x0, 0, 1e-9);
  EXPECT_NEAR(v.y0, 0, 1e-9);
  v.pan(0.5, 2.0);
  EXPECT_NEAR(v.x0, 5, 1e-9);
  EXPECT_NEAR(v.y0, 20, 1e-9);
  v.pan(100, 100);
  EXPECT_NEAR(v.x1, 100, 1e-9);
  EXPECT_NEAR(v.y1, 100, 1e-9);
  EXPECT_NEAR(v.x1 - v.x0, 10, 1e-9);
}

TEST(MapViewport, ShowClampsToTheMap) {
  MapViewport v;
  v.fit(512, 512);
  v.show(100, 164, 50, 114);
  EXPECT_DOUBLE_EQ(v.y0, 100);
  EXPECT_DOUBLE_EQ(v.x1, 114);
  v.show(500, 600, -20, -18);  // off the map, too small a span: moved inside, widened to kMinSpan
  EXPECT_DOUBLE_EQ(v.y1, 512);
  EXPECT_DOUBLE_EQ(v.y0, 412);
  EXPECT_DOUBLE_EQ(v.x0, 0);
  EXPECT_DOUBLE_EQ(v.x1, kMinSpan);
}

TEST(MipChain, LevelsAreBlockMeansDownToOnePixel) {
  // 5 x 3 (width x height): levels 2 x 1, then 1 x 1; the odd column joins the last block.
  std::vector<float> v(15);
  for (int i = 0; i < 15; ++i) v[i] = static_cast<float>(i);
  const auto mips = fmav::viewer::mip_chain(v, 5, 3);
  ASSERT_EQ(mips.size(), 3u);
  ASSERT_EQ(mips[1].size(), 2u);
  // Block 0: columns 0-1 of rows 0-2 = {0, 1, 5, 6, 10, 11}; block 1: columns 2-4.
  EXPECT_FLOAT_EQ(mips[1][0], (0 + 1 + 5 + 6 + 10 + 11) / 6.0f);
  EXPECT_FLOAT_EQ(mips[1][1], (2 + 3 + 4 + 7 + 8 + 9 + 12 + 13 + 14) / 9.0f);
  ASSERT_EQ(mips[2].size(), 1u);
  EXPECT_FLOAT_EQ(mips[2][0], (mips[1][0] + mips[1][1]) / 2);
}

// A tiled map (map_tiles.h) stores, per tile and level, a block of the whole map's mip level;
// those blocks must be what the tile's own mip chain would be (so sampling a tile is
// sampling the whole), halve as OpenGL requires, and cover each level without overlap.
TEST(MapTiles, TileLevelsAreBlocksOfTheWholeMipChain) {
  using fmav::viewer::TileGrid;
  using fmav::viewer::TileRect;
  struct Case {
    int width, height, side, across, down;
  };
  for (const Case& c : {Case{64, 64, 16, 4, 4}, Case{75, 37, 16, 5, 3}, Case{100, 40, 64, 2, 1}, Case{48, 48, 64, 1, 1},
                        Case{33, 200, 32, 2, 7}}) {
    SCOPED_TRACE(std::to_string(c.width) + " x " + std::to_string(c.height) + " in tiles of " + std::to_string(c.side));
    std::vector<float> v(static_cast<std::size_t>(c.width) * c.height);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7919) % 1009);
    const auto whole = fmav::viewer::mip_chain(v, c.width, c.height);
    const int levels = static_cast<int>(whole.size());
    const TileGrid g = fmav::viewer::tile_grid(c.width, c.height, levels, c.side);
    ASSERT_EQ(g.across, c.across);
    ASSERT_EQ(g.down, c.down);
    int all_store = levels;  // the levels every tile stores
    for (int t = 0; t < g.count(); ++t) all_store = std::min(all_store, g.tile_levels(t));
    for (int level = 0; level < levels; ++level) {
      const int lw = std::max(1, c.width >> level), lh = std::max(1, c.height >> level);
      std::vector<int> owners(static_cast<std::size_t>(lw) * lh, 0);
      bool every_tile = true;
      for (int t = 0; t < g.count(); ++t) {
        if (level >= g.tile_levels(t)) {
          every_tile = false;
          continue;
        }
        const TileRect r = g.rect(t, level), r0 = g.rect(t, 0);
        ASSERT_GE(r.width, 1);
        ASSERT_GE(r.height, 1);
        ASSERT_LE(r.x + r.width, lw);
        ASSERT_LE(r.y + r.height, lh);
        EXPECT_LE(r0.width, c.side);
        EXPECT_EQ(r.width, std::max(1, r0.width >> level));  // OpenGL's sizes of the tile's own chain
        EXPECT_EQ(r.height, std::max(1, r0.height >> level));
        for (int y = 0; y < r.height; ++y) {
          for (int x = 0; x < r.width; ++x) ++owners[static_cast<std::size_t>(r.y + y) * lw + r.x + x];
        }
        // On the levels every tile stores, the tile's own mip chain from its level-0 block
        // equals the whole's block. (Above them, a block beside a tile too small for the level
        // takes in that tile's texels, as the whole's chain does.)
        if (level >= all_store) continue;
        std::vector<float> block;
        for (int y = 0; y < r0.height; ++y) {
          for (int x = 0; x < r0.width; ++x) block.push_back(whole[0][static_cast<std::size_t>(r0.y + y) * c.width + r0.x + x]);
        }
        const auto own = fmav::viewer::mip_chain(block, r0.width, r0.height);
        ASSERT_GT(own.size(), static_cast<std::size_t>(level));
        for (int y = 0; y < r.height; ++y) {
          for (int x = 0; x < r.width; ++x) {
            ASSERT_FLOAT_EQ(own[level][static_cast<std::size_t>(y) * r.width + x],
                            whole[level][static_cast<std::size_t>(r.y + y) * lw + r.x + x])
                << "tile " << t << " level " << level << " texel " << x << ", " << y;
          }
        }
      }
      for (int n : owners) {
        ASSERT_LE(n, 1) << "tiles overlap at level " << level;
      }
      if (every_tile) {
        for (int n : owners) {
          ASSERT_EQ(n, 1) << "level " << level << " is not covered";
        }
      }
    }
    if (g.count() == 1) {
      EXPECT_EQ(g.tile_levels(0), levels);
    }
  }
}

TEST(MipChain, SquarePowerOfTwoKeepsTheMean) {
  std::vector<float> v(64 * 64);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) / 101.0f;
  double mean = 0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  const auto mips = fmav::viewer::mip_chain(v, 64, 64);
  ASSERT_EQ(mips.size(), 7u);  // 64, 32, 16, 8, 4, 2, 1
  EXPECT_EQ(mips[3].size(), 64u);
  EXPECT_NEAR(mips.back()[0], mean, 1e-6);
}

}  // namespace

// ---- the maps' token axes (map_axes.h) ----

namespace {

using fmav::viewer::axis_ticks;
using fmav::viewer::tick_label;

TEST(MapAxes, TicksAreRoundStepsAtLeastTheGapApart) {
  // 512 tokens over 256 pixels, 40 pixels apart: at least 80 tokens, so a step of 100.
  const std::vector<std::int64_t> t = axis_ticks(0, 512, 256, 40);
  EXPECT_EQ(t, (std::vector<std::int64_t>{0, 100, 200, 300, 400, 500}));
}

TEST(MapAxes, AZoomedSpanGetsItsOwnTicks) {
  // Rows 3643..4522 of a zoomed view: the ticks lie in that range, not from 0.
  const std::vector<std::int64_t> t = axis_ticks(3643, 4522, 300, 30);
  ASSERT_FALSE(t.empty());
  EXPECT_GE(t.front(), 3643);
  EXPECT_LT(t.back(), 4522);
  EXPECT_EQ(t.front(), 3700);
  EXPECT_EQ(t[1] - t[0], 100);
  // Deep zoom: four tokens over 300 pixels tick every token.
  EXPECT_EQ(axis_ticks(10.5, 14.5, 300, 30), (std::vector<std::int64_t>{11, 12, 13, 14}));
}

TEST(MapAxes, ImageTicksAreWholePatchRowsAndReadRowCol) {
  // A 14 x 14 patch grid (196 tokens) over 100 pixels, 30 apart: a step of at least 58.8
  // tokens = 4.2 rows -> 5 rows (70 tokens), not 100 tokens (7.1 rows).
  const std::vector<std::int64_t> t = axis_ticks(0, 196, 100, 30, 14);
  EXPECT_EQ(t, (std::vector<std::int64_t>{0, 70, 140}));
  // Below a row: token steps as in 1D.
  EXPECT_EQ(axis_ticks(0, 14, 140, 30, 14), (std::vector<std::int64_t>{0, 5, 10}));
  EXPECT_EQ(tick_label(70, 14), "5,0");
  EXPECT_EQ(tick_label(17, 14), "1,3");
  EXPECT_EQ(tick_label(17, 0), "17");
}

TEST(MapAxes, EmptySpansHaveNoTicks) {
  EXPECT_TRUE(axis_ticks(5, 5, 100, 10).empty());
  EXPECT_TRUE(axis_ticks(0, 10, 0, 10).empty());
}

}  // namespace

namespace {

namespace fv = fmav::viewer;

// The per-user data folder (issue 21 point 6): XDG_DATA_HOME when absolute, else ~/.local/share;
// relative names go inside it, absolute paths stay as given.
TEST(DataFolder, FollowsTheXdgRules) {
  EXPECT_EQ(fv::data_folder_for("/x/data", "/home/u"), "/x/data/fma-viewer");
  EXPECT_EQ(fv::data_folder_for(nullptr, "/home/u"), "/home/u/.local/share/fma-viewer");
  EXPECT_EQ(fv::data_folder_for("", "/home/u"), "/home/u/.local/share/fma-viewer");          // empty: ignored
  EXPECT_EQ(fv::data_folder_for("rel/data", "/home/u"), "/home/u/.local/share/fma-viewer");  // relative: ignored
  EXPECT_EQ(fv::data_folder_for(nullptr, nullptr), "");
  EXPECT_EQ(fv::data_folder_for(nullptr, "relative-home"), "");
}

TEST(DataFolder, RelativeNamesGoInsideIt) {
  const std::string scratch = std::filesystem::temp_directory_path() / "fmav_data_folder_test";
  std::filesystem::remove_all(scratch);
  ASSERT_EQ(setenv("XDG_DATA_HOME", scratch.c_str(), 1), 0);
  EXPECT_EQ(fv::data_path("sweep.jsonl"), scratch + "/fma-viewer/sweep.jsonl");
  EXPECT_EQ(fv::data_path("runs/../b.jsonl"), scratch + "/fma-viewer/b.jsonl");
  EXPECT_EQ(fv::data_path("/abs/s.jsonl"), "/abs/s.jsonl");
  // The folder is made on demand, and one that cannot be is named with the reason.
  const std::string path = fv::data_path("runs/s.jsonl");
  EXPECT_FALSE(std::filesystem::exists(scratch));
  fv::make_parent_folder(path);
  EXPECT_TRUE(std::filesystem::is_directory(scratch + "/fma-viewer/runs"));
  { std::ofstream(scratch + "/file") << "x"; }
  try {
    fv::make_parent_folder(scratch + "/file/sub/s.jsonl");
    ADD_FAILURE() << "a folder under a file was made";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the folder " + scratch + "/file/sub"), std::string::npos)
        << e.what();
  }
  unsetenv("XDG_DATA_HOME");
  std::filesystem::remove_all(scratch);
}

}  // namespace

namespace {

// Lines break only at spaces (ImGui's own wrapping also broke "16.7 ms" after the '.').
TEST(TextWrap, BreaksOnlyAtSpaces) {
  const auto chars = [](const std::string& s) { return static_cast<float>(s.size()); };  // 1 per char
  using fmav::viewer::wrap_at_spaces;
  EXPECT_EQ(wrap_at_spaces("FMA 16.7 ms, full attention 4.63 ms", 12, chars),
            (std::vector<std::string>{"FMA 16.7 ms,", "full", "attention", "4.63 ms"}));
  // A word wider than the line keeps a line of its own, whole.
  EXPECT_EQ(wrap_at_spaces("a H-Transformer-1D b", 6, chars),
            (std::vector<std::string>{"a", "H-Transformer-1D", "b"}));
  // Newlines are kept; short text is one line.
  EXPECT_EQ(wrap_at_spaces("one two\nthree", 40, chars), (std::vector<std::string>{"one two", "three"}));
  EXPECT_EQ(wrap_at_spaces("", 10, chars), (std::vector<std::string>{""}));
}

}  // namespace
