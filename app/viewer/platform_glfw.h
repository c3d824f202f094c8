#pragma once
// The platform layer, the only code with GLFW and OpenGL (docs/DESIGN.md §5.1):
// the window and its GL 3.3 core context, Dear ImGui's backends, frames, framebuffer
// read-back, RGBA8 textures, and the attention maps' float textures coloured by GLSL
// (platform_gl_maps.cpp).

#include <cstdint>
#include <string>
#include <vector>

struct GLFWwindow;

namespace fmav::viewer {

struct Platform {
  GLFWwindow* m_window = nullptr;
  bool m_imgui_ready = false;
};

// Why platform_open failed.
enum class OpenStatus { ok, no_display, failed };

// Whether DISPLAY or WAYLAND_DISPLAY is set (without one GLFW cannot open a window).
bool has_display_env();
// Opens a width x height window with a GL 3.3 core context, creates the ImGui context and
// starts its GLFW and OpenGL3 backends. On failure fills *error and cleans up.
OpenStatus platform_open(Platform& platform, int width, int height, const char* title,
                         std::string* error);
// Stops the backends, destroys the ImGui context, the window and GLFW.
void platform_close(Platform& platform);

bool platform_should_close(const Platform& platform);
// Processes window events, waiting up to wait_seconds for one (0: poll, do not wait);
// returns whether any was user input (keys, characters, mouse).
bool platform_poll(double wait_seconds);
// Starts an ImGui frame (backends, then ImGui::NewFrame).
void platform_begin_frame();
// Renders the ImGui frame into the back buffer (not yet shown).
void platform_render(Platform& platform);
// Shows the back buffer.
void platform_present(Platform& platform);
// Waits until the GL work of the frame is done (to time frames on the software renderer).
void platform_finish(Platform& platform);
// The framebuffer's size in pixels.
int platform_width(const Platform& platform);
int platform_height(const Platform& platform);
// Reads the back buffer as (height, width) RGBA8 rows, top row first, alpha forced opaque.
void platform_read_pixels(Platform& platform, int* width, int* height,
                          std::vector<std::uint8_t>* rgba);

// The paths dropped on the window since the last call (files or folders, as the desktop
// gave them), in order; clears the queue.
std::vector<std::string> platform_take_dropped_paths();

// Creates (texture == 0) or replaces an RGBA8 texture of width x height pixels; returns its
// id, usable as an ImTextureID. Magnified with nearest so single tokens stay sharp.
unsigned int texture_upload(unsigned int texture, int width, int height, const std::uint8_t* rgba);
void texture_destroy(unsigned int texture);

// ---- attention maps coloured by GLSL (platform_gl_maps.cpp, shaders/maps.*) ----

// How a map's float values become colours (shaders/maps.frag).
enum class MapShading { sequential = 0, diverging = 1, levels = 2 };
struct MapShader {
  MapShading shading = MapShading::sequential;
  bool log10 = true;
  float lo = -6, hi = 0;   // sequential: the range shown (exponents with log10)
  float limit = 0;         // diverging: |values| up to limit
  int decades = 0;         // diverging: 0 linear, else symmetric-log over this many decades
  std::uint8_t masked[3] = {0, 0, 0};  // colour of masked pairs
};

// One map rectangle: screen pixels (x0, y0) top-left to (x1, y1), showing texture window
// (u0, v0)-(u1, v1) of `values` (R32F; ignored for levels) masked and, for levels,
// coloured by `levels` (R8 level + 1).
struct MapDraw {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float u0 = 0, v0 = 0, u1 = 1, v1 = 1;
  unsigned int values = 0, levels = 0;
  MapShader shader;
};

// Builds the maps' GLSL program on first use; false (with the compiler's message in *error)
// when it cannot be built, and then maps are not drawn.
bool map_shading_ready(std::string* error);
// The colour tables, 256 x 3 RGBA8: row 0 sequential, row 1 diverging, row 2 level colours.
void map_colors_upload(const std::uint8_t* rgba);
// Creates (texture == 0) or replaces an R32F texture of width x height values with the given
// mip chain (level 0 first, each next level half the size, rounded down, at least 1).
unsigned int float_texture_upload(unsigned int texture, int width, int height,
                                  const std::vector<std::vector<float>>& mips);
// A map texture filled a band of rows at a time, so that a large map's upload can be spread
// over frames: map_texture_allocate makes `texture` (0: a new one) a texture of `levels` mip
// levels of width x height (halved per level as above); *fresh says whether its storage must
// be (re)made, level by level, with map_texture_level_storage (contents undefined; llvmpipe
// clears it, ~0.4 ms per MB here, so a thread with a shared GL context makes it: the call
// returns false until it is there, and the texture must be left alone until then), else
// the storage it has is kept. map_texture_rows fills
// rows [row0, row0 + rows) of one level from `data` (row-major, the level's width per row).
enum class MapTexel { r32f, r8 };
unsigned int map_texture_allocate(unsigned int texture, MapTexel texel, int width, int height, int levels,
                                  bool* fresh);
bool map_texture_level_storage(unsigned int texture, MapTexel texel, int level, int width, int height);
// Whether storage asked for by map_texture_level_storage is being made now (the frame loop
// then waits for events: the thread wakes it when done).
bool map_storage_pending();
void map_texture_rows(unsigned int texture, MapTexel texel, int level, int row0, int rows, int width,
                      const void* data);
// Reads level `level` (width x height) of a map texture back into `out` (tests: what the
// texture holds after the banded upload); false for a level a tiled map does not store.
bool map_texture_read(unsigned int texture, MapTexel texel, int level, int width, int height, void* out);
// A map texture larger than 2048 on a side is stored as tiles (map_tiles.h), one GL texture
// each, behind the handle these functions take and return; map_tiles_release deletes the
// tiles other than the handle (texture_destroy calls it).
void map_tiles_release(unsigned int texture);
// Creates or replaces the R8 level texture (level + 1 per pair; 0 = masked).
unsigned int level_texture_upload(unsigned int texture, int width, int height, const std::uint8_t* codes);
// Adds `draw` to the current ImGui window's draw list (clipped as ImGui clips the window).
void draw_shaded_map(const MapDraw& draw);
// Forgets the previous frame's draws (call after the frame is rendered).
void map_draws_clear();
// Map draws since start: `colored` ran the colouring shader, `kept` copied a colouring kept
// from an earlier frame (nothing it shows had changed); for --bench-frames.
struct MapDrawCounts {
  std::uint64_t colored = 0, kept = 0;
};
MapDrawCounts map_draw_counts();
// Deletes the program and colour tables (before the GL context goes).
void map_shading_release();

}  // namespace fmav::viewer
