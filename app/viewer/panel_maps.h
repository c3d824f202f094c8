#pragma once
// The attention maps panel: the sidebar's controls (panel_map_controls.cpp) and the four maps
// with their legends, zoom, pan and hover (panel_maps.cpp); the maps' GL textures.

#include "map_colors.h"
#include "maps_worker.h"
#include "platform_glfw.h"

#include <array>
#include <cstdint>

namespace fmav::viewer {

struct Shared;

struct MapsPanel {
  bool show_grid = true;  // overlay the hierarchy's fine blocks on the maps
  // GL textures (0 = none) of the shown maps and of the exact tile, and the worker's
  // shown_count and tile_count they were uploaded for.
  std::array<unsigned int, kMapCount> textures{}, tile_textures{};
  int textures_of = 0, tile_textures_of = 0;
  // The worker's arrived run, uploaded into `staged` a band of rows at a time, a few ms of it
  // a frame (upload_arrived_maps), which then trades places with `textures`. `staging` is
  // where the upload stands: the arrived_count it is for, and the next band's map, mip level
  // and first row, whether that map's texture is allocated, whether it needs new storage and
  // up to which level it has it.
  std::array<unsigned int, kMapCount> staged{};
  struct Staging {
    int of = -1, kind = 0, level = 0, row = 0;
    bool allocated = false, fresh = false;
    int stored = -1;
  } staging;
  int colors_of = -1;  // the Colormap whose colour table the GPU holds (-1: none yet)
  // The token (row, col) under the mouse on one map, drawn as a crosshair on all four:
  // `crosshair` is the last frame's (drawn this frame), `hovered` this frame's so far.
  bool crosshair = false, hovered = false;
  std::int64_t cross_row = 0, cross_col = 0, hover_row = 0, hover_col = 0;
};

// The sidebar's input, method and FMA settings, the colour scale, the Recompute and Cancel
// buttons and the fast-path check; a change of shared.params starts a new engine run.
void draw_map_controls(Shared& shared, MapsPanel& panel);
// Uploads a few ms' worth of the worker's arrived run's maps, and when all are up, makes the
// run the shown one with its textures (call every frame, whichever tab is open).
void upload_arrived_maps(Shared& shared, MapsPanel& panel);
// Draws full attention, FMA, their difference and the level map in a 2x2 grid with legends,
// the error metrics and a hover read-out; shows "computing..." or the engine's error. A
// click on a map makes its row shared.query_row and asks for the query view.
void draw_map_views(Shared& shared, MapsPanel& panel);
// How map `kind` of `data` is coloured under `colors` (the GPU's shader and the PNG export
// use it).
MapShader map_shader(const MapColors& colors, const MapData& data, MapKind kind);
// Frees the map textures (at exit, with the GL context alive).
void release_map_textures(MapsPanel& panel);

}  // namespace fmav::viewer
