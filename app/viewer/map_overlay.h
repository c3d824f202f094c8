#pragma once
// What the maps panel draws around and over each map (issue 21 point 3): token-index axes
// with ticks that follow the shared zoom, and the crosshair that marks on every map the cell
// hovered on one of them.

#include "map_view.h"

#include <imgui.h>

#include <cstdint>

namespace fmav::viewer {

// The room the axes take: `left` pixels for the query (row) labels left of the map, `bottom`
// for the key (column) labels under it, for a map of `rows` tokens (`grid_width` > 1: image
// patches, labelled "row,col").
struct AxisRoom {
  float left = 0, bottom = 0;
};
AxisRoom axis_room(std::int64_t rows, std::int64_t grid_width);

// Ticks and labels of the visible rows (left, queries) and columns (under, keys) of the map
// drawn at `origin` with `size` through viewport `v`.
void draw_map_axes(const MapViewport& v, ImVec2 origin, ImVec2 size, std::int64_t grid_width);

// A crosshair through token (row, col) on the map drawn at `origin` with `size`, when visible.
void draw_crosshair(const MapViewport& v, ImVec2 origin, ImVec2 size, std::int64_t row, std::int64_t col);

}  // namespace fmav::viewer
