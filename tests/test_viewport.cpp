// The attention maps' linked zoom and pan (app/map_view.h): fitting, zooming about the
// cursor, limits, panning inside the map, and the coordinate conversions.

#include <gtest/gtest.h>

#include "map_view.h"

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

}  // namespace
