// The attention maps on the GPU (docs/DESIGN.md §2): float textures with a mip chain of block
// means, coloured by the GLSL program of shaders/maps.{vert,frag} inside ImGui's draw lists
// through draw callbacks. With platform_glfw.cpp the only file that calls OpenGL.

#include "map_tiles.h"
#include "platform_glfw.h"
#include "platform_gl_storage.h"

#define GL_GLEXT_PROTOTYPES
#include <GL/gl.h>
#include <GL/glext.h>
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <deque>
#include <string>
#include <vector>

namespace fmav::viewer {

// The shader sources, embedded by app/viewer/CMakeLists.txt (maps_shaders.cpp in the build folder).
extern const char* const kMapsVertexShader;
extern const char* const kMapsFragmentShader;

namespace {

struct Program {
  GLuint id = 0, vao = 0, colors = 0;
  GLint rect = -1, uv = -1, values = -1, levels = -1, table = -1, shading = -1, log10 = -1;
  GLint lo = -1, hi = -1, limit = -1, decades = -1, masked = -1;
  std::string error;  // why it could not be built (then maps are not drawn)
};

Program g_program;

// A map's colouring is kept in an offscreen texture and redrawn only when what it shows
// changes: the contents of the textures it reads (g_changed: the generation of each one's
// last upload, so uploading another run's textures leaves it kept), the colour tables, the
// shading, the zoom (uv) or its size on screen (issue 21 point 7). Otherwise a frame copies
// the kept picture to the screen. One slot per map draw of the frame, in drawing order.
struct ColoredMap {
  GLuint framebuffer = 0, texture = 0;
  int width = 0, height = 0;  // of the texture, pixels
  bool valid = false;
  MapDraw drawn;              // what it holds (uv, textures, shading)
  std::uint64_t generation = 0;
};
std::vector<ColoredMap> g_colored;
std::uint64_t g_generation = 1;  // counts uploads
std::unordered_map<GLuint, std::uint64_t> g_changed;  // texture -> generation of its last upload
std::uint64_t g_colors_changed = 0;

// The generation of the newest upload a draw reads (map textures and colour tables).
std::uint64_t changed_at(const MapDraw& d) {
  std::uint64_t at = g_colors_changed;
  for (GLuint texture : {d.values, d.levels}) {
    const auto it = g_changed.find(texture);
    if (it != g_changed.end()) at = std::max(at, it->second);
  }
  return at;
}
MapDrawCounts g_counts;

struct QueuedDraw {
  MapDraw draw;
  std::size_t slot = 0;
};
// The tiles of the map textures made by map_texture_allocate (map_tiles.h), by handle: the
// handle the panels hold is the first tile's name. Textures made whole (float_texture_upload,
// level_texture_upload) are not here: one tile, the handle.
struct TiledMap {
  MapTexel texel = MapTexel::r32f;
  TileGrid grid;
  std::vector<GLuint> ids;  // tile t's texture; ids[0] is the handle
  int stored = 0;           // tiles whose storage of the level being made is there
};
std::unordered_map<GLuint, TiledMap> g_tiled;

const TiledMap* tiled(GLuint handle) {
  const auto it = g_tiled.find(handle);
  return it == g_tiled.end() ? nullptr : &it->second;
}

// Runs fn(texture, rect) for each tile of `handle` that stores level `level`, rect being its
// block of that level (a texture made whole: the handle and [0, width) x [0, height)).
template <typename Fn>
void for_each_tile(GLuint handle, int level, int width, int height, Fn fn) {
  const TiledMap* t = tiled(handle);
  if (!t) return fn(handle, TileRect{0, 0, width, height});
  for (int k = 0; k < t->grid.count(); ++k) {
    if (level < t->grid.tile_levels(k)) fn(t->ids[k], t->grid.rect(k, level));
  }
}

// This frame's map draws; the callbacks read them while ImGui renders (pointers into a
// deque stay valid as it grows).
std::deque<QueuedDraw> g_draws;

GLuint compile(GLenum kind, const char* source, std::string* error) {
  const GLuint shader = glCreateShader(kind);
  glShaderSource(shader, 1, &source, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048] = {};
    glGetShaderInfoLog(shader, sizeof(log), nullptr, log);
    *error = std::string(kind == GL_VERTEX_SHADER ? "maps.vert" : "maps.frag") + ": " + log;
    glDeleteShader(shader);
    return 0;
  }
  return shader;
}

void build_program(Program& p) {
  const GLuint vs = compile(GL_VERTEX_SHADER, kMapsVertexShader, &p.error);
  const GLuint fs = vs ? compile(GL_FRAGMENT_SHADER, kMapsFragmentShader, &p.error) : 0;
  if (!fs) {
    if (vs) glDeleteShader(vs);
    return;
  }
  p.id = glCreateProgram();
  glAttachShader(p.id, vs);
  glAttachShader(p.id, fs);
  glLinkProgram(p.id);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(p.id, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048] = {};
    glGetProgramInfoLog(p.id, sizeof(log), nullptr, log);
    p.error = std::string("maps shaders: ") + log;
    glDeleteProgram(p.id);
    p.id = 0;
    return;
  }
  const auto at = [&](const char* name) { return glGetUniformLocation(p.id, name); };
  p.rect = at("u_rect"), p.uv = at("u_uv"), p.values = at("u_values"), p.levels = at("u_levels");
  p.table = at("u_colors"), p.shading = at("u_shading"), p.log10 = at("u_log10"), p.lo = at("u_lo");
  p.hi = at("u_hi"), p.limit = at("u_limit"), p.decades = at("u_decades"), p.masked = at("u_masked");
  glGenVertexArrays(1, &p.vao);  // core profile: a draw needs a bound VAO, even an empty one
}

// Colours texture window (u0, v0)-(u1, v1) of `values` and `levels` (one tile each) with
// d's shading into the current framebuffer at clip rectangle (cx0, cy0)-(cx1, cy1) (top
// left, bottom right).
void shade_quad(const MapDraw& d, GLuint values, GLuint levels, const float (&rect)[4], const float (&uv)[4]) {
  const Program& p = g_program;
  glUseProgram(p.id);
  glBindVertexArray(p.vao);
  glUniform4f(p.rect, rect[0], rect[1], rect[2], rect[3]);
  glUniform4f(p.uv, uv[0], uv[1], uv[2], uv[3]);
  glUniform1i(p.shading, static_cast<int>(d.shader.shading));
  glUniform1i(p.log10, d.shader.log10 ? 1 : 0);
  glUniform1f(p.lo, d.shader.lo);
  glUniform1f(p.hi, d.shader.hi);
  glUniform1f(p.limit, d.shader.limit);
  glUniform1i(p.decades, d.shader.decades);
  glUniform4f(p.masked, d.shader.masked[0] / 255.0f, d.shader.masked[1] / 255.0f,
              d.shader.masked[2] / 255.0f, 1.0f);
  const GLuint textures[3] = {values, levels, p.colors};
  const GLint units[3] = {p.values, p.levels, p.table};
  for (int unit = 0; unit < 3; ++unit) {
    glActiveTexture(GL_TEXTURE0 + unit);
    glBindTexture(GL_TEXTURE_2D, textures[unit]);
    glUniform1i(units[unit], unit);
  }
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
  glActiveTexture(GL_TEXTURE0);
}

// Colours `d` into the current framebuffer at clip rectangle (cx0, cy0)-(cx1, cy1): a tiled
// map one quad per tile in the window, each where its part of the window lies.
void shade(const MapDraw& d, float cx0, float cy0, float cx1, float cy1) {
  const TiledMap* values = tiled(d.values);
  const TiledMap* levels = tiled(d.levels);
  if (!values || values->grid.count() == 1) return shade_quad(d, d.values, d.levels, {cx0, cy0, cx1, cy1}, {d.u0, d.v0, d.u1, d.v1});
  const TileGrid& g = values->grid;
  const bool same_tiles = levels && levels->grid.across == g.across && levels->grid.down == g.down;
  const auto x_at = [&](float u) { return cx0 + (u - d.u0) / (d.u1 - d.u0) * (cx1 - cx0); };
  const auto y_at = [&](float v) { return cy0 + (v - d.v0) / (d.v1 - d.v0) * (cy1 - cy0); };
  for (int k = 0; k < g.count(); ++k) {
    const TileRect r = g.rect(k, 0);
    const float tu0 = static_cast<float>(r.x) / g.width, tu1 = static_cast<float>(r.x + r.width) / g.width;
    const float tv0 = static_cast<float>(r.y) / g.height, tv1 = static_cast<float>(r.y + r.height) / g.height;
    const float u0 = std::max(d.u0, tu0), u1 = std::min(d.u1, tu1), v0 = std::max(d.v0, tv0), v1 = std::min(d.v1, tv1);
    if (u0 >= u1 || v0 >= v1) continue;
    shade_quad(d, values->ids[k], same_tiles ? levels->ids[k] : d.levels, {x_at(u0), y_at(v0), x_at(u1), y_at(v1)},
               {(u0 - tu0) / (tu1 - tu0), (v0 - tv0) / (tv1 - tv0), (u1 - tu0) / (tu1 - tu0), (v1 - tv0) / (tv1 - tv0)});
  }
}

bool same_draw(const MapDraw& a, const MapDraw& b) {
  const MapShader &s = a.shader, &t = b.shader;
  return a.u0 == b.u0 && a.v0 == b.v0 && a.u1 == b.u1 && a.v1 == b.v1 && a.values == b.values &&
         a.levels == b.levels && s.shading == t.shading && s.log10 == t.log10 && s.lo == t.lo && s.hi == t.hi &&
         s.limit == t.limit && s.decades == t.decades && std::memcmp(s.masked, t.masked, sizeof(s.masked)) == 0;
}

// (Re)colours slot `c` as `d` at width x height pixels when anything it shows changed; false
// when no framebuffer could be made (then the caller shades directly).
bool update_colored(ColoredMap& c, const MapDraw& d, int width, int height) {
  const std::uint64_t generation = changed_at(d);
  if (c.valid && c.width == width && c.height == height && c.generation == generation && same_draw(c.drawn, d)) {
    ++g_counts.kept;
    return true;
  }
  ++g_counts.colored;
  if (c.framebuffer == 0) glGenFramebuffers(1, &c.framebuffer);
  if (c.texture == 0) glGenTextures(1, &c.texture);
  glBindTexture(GL_TEXTURE_2D, c.texture);
  if (c.width != width || c.height != height) {
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    c.width = width, c.height = height;
  }
  glBindTexture(GL_TEXTURE_2D, 0);
  glBindFramebuffer(GL_FRAMEBUFFER, c.framebuffer);
  glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, c.texture, 0);
  if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) return c.valid = false;
  glDisable(GL_SCISSOR_TEST);
  glDisable(GL_BLEND);
  glViewport(0, 0, width, height);
  shade(d, -1.0f, 1.0f, 1.0f, -1.0f);
  c.drawn = d, c.generation = generation, c.valid = true;
  return true;
}

// Draws one map inside ImGui's renderer: its kept colouring copied to the screen (recoloured
// first when it changed), or, for a draw partly off the framebuffer (a zoomed exact tile),
// shaded directly. ImGui's state is reset after it.
void draw_callback(const ImDrawList* /*list*/, const ImDrawCmd* cmd) {
  const QueuedDraw& q = *static_cast<const QueuedDraw*>(cmd->UserCallbackData);
  const MapDraw& d = q.draw;
  const ImDrawData* data = ImGui::GetDrawData();
  if (g_program.id == 0 || data == nullptr) return;
  const ImVec2 pos = data->DisplayPos, size = data->DisplaySize, scale = data->FramebufferScale;
  const float fb_width = size.x * scale.x, fb_height = size.y * scale.y;
  const GLint clip[4] = {static_cast<GLint>((cmd->ClipRect.x - pos.x) * scale.x),
                         static_cast<GLint>(fb_height - (cmd->ClipRect.w - pos.y) * scale.y),
                         static_cast<GLsizei>((cmd->ClipRect.z - cmd->ClipRect.x) * scale.x),
                         static_cast<GLsizei>((cmd->ClipRect.w - cmd->ClipRect.y) * scale.y)};
  // The draw in framebuffer pixels (GL's rows count from the bottom).
  const int px0 = static_cast<int>(std::lround((d.x0 - pos.x) * scale.x));
  const int px1 = static_cast<int>(std::lround((d.x1 - pos.x) * scale.x));
  const int py0 = static_cast<int>(std::lround(fb_height - (d.y1 - pos.y) * scale.y));
  const int py1 = static_cast<int>(std::lround(fb_height - (d.y0 - pos.y) * scale.y));
  const bool on_screen = px0 >= 0 && py0 >= 0 && px1 <= fb_width && py1 <= fb_height && px1 > px0 && py1 > py0;
  GLint target = 0;
  glGetIntegerv(GL_DRAW_FRAMEBUFFER_BINDING, &target);
  if (q.slot >= g_colored.size()) g_colored.resize(q.slot + 1);
  ColoredMap& c = g_colored[q.slot];
  const bool kept = on_screen && update_colored(c, d, px1 - px0, py1 - py0);
  glBindFramebuffer(GL_FRAMEBUFFER, static_cast<GLuint>(target));
  glViewport(0, 0, static_cast<GLsizei>(fb_width), static_cast<GLsizei>(fb_height));
  glEnable(GL_SCISSOR_TEST);
  glScissor(clip[0], clip[1], clip[2], clip[3]);
  if (kept) {
    glBindFramebuffer(GL_READ_FRAMEBUFFER, c.framebuffer);
    glBlitFramebuffer(0, 0, c.width, c.height, px0, py0, px1, py1, GL_COLOR_BUFFER_BIT, GL_NEAREST);
    glBindFramebuffer(GL_READ_FRAMEBUFFER, static_cast<GLuint>(target));
    return;
  }
  const auto clip_x = [&](float x) { return 2.0f * (x - pos.x) / size.x - 1.0f; };
  const auto clip_y = [&](float y) { return 1.0f - 2.0f * (y - pos.y) / size.y; };
  ++g_counts.colored;
  shade(d, clip_x(d.x0), clip_y(d.y0), clip_x(d.x1), clip_y(d.y1));
}

void set_sampling(GLint min_filter, GLint mag_filter) {
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, min_filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, mag_filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

}  // namespace

bool map_shading_ready(std::string* error) {
  if (g_program.id == 0 && g_program.error.empty()) build_program(g_program);
  if (error) *error = g_program.error;
  return g_program.id != 0;
}

void map_colors_upload(const std::uint8_t* rgba) {
  g_colors_changed = ++g_generation;  // every kept colouring is stale
  if (g_program.colors == 0) glGenTextures(1, &g_program.colors);
  glBindTexture(GL_TEXTURE_2D, g_program.colors);
  set_sampling(GL_LINEAR, GL_LINEAR);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, 256, 3, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glBindTexture(GL_TEXTURE_2D, 0);
}

unsigned int float_texture_upload(unsigned int texture, int width, int height,
                                  const std::vector<std::vector<float>>& mips) {
  map_tiles_release(texture);
  GLuint id = texture;
  if (id == 0) glGenTextures(1, &id);
  g_changed[id] = ++g_generation;
  glBindTexture(GL_TEXTURE_2D, id);
  set_sampling(mips.size() > 1 ? GL_LINEAR_MIPMAP_LINEAR : GL_LINEAR, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_BASE_LEVEL, 0);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAX_LEVEL, static_cast<GLint>(mips.size()) - 1);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  for (std::size_t level = 0; level < mips.size(); ++level) {
    glTexImage2D(GL_TEXTURE_2D, static_cast<GLint>(level), GL_R32F, width, height, 0, GL_RED, GL_FLOAT,
                 mips[level].data());
    width = width > 1 ? width / 2 : 1;
    height = height > 1 ? height / 2 : 1;
  }
  glBindTexture(GL_TEXTURE_2D, 0);
  return id;
}

unsigned int map_texture_allocate(unsigned int texture, MapTexel texel, int width, int height, int levels,
                                  bool* fresh) {
  GLuint id = texture;
  if (id == 0) glGenTextures(1, &id);
  g_changed[id] = ++g_generation;
  const auto it = g_tiled.find(id);
  *fresh = texture == 0 || it == g_tiled.end() || it->second.texel != texel || it->second.grid.width != width ||
           it->second.grid.height != height || it->second.grid.levels != levels;
  if (!*fresh) return id;  // same storage, rows replaced by map_texture_rows
  map_tiles_release(id);
  TiledMap& t = g_tiled[id];
  t.texel = texel;
  t.grid = tile_grid(width, height, levels, map_tile_side());
  t.ids.assign(static_cast<std::size_t>(t.grid.count()), id);
  if (t.grid.count() > 1) glGenTextures(t.grid.count() - 1, t.ids.data() + 1);
  const bool r8 = texel == MapTexel::r8;
  for (int k = 0; k < t.grid.count(); ++k) {
    const int tile_levels = t.grid.tile_levels(k);
    glBindTexture(GL_TEXTURE_2D, t.ids[k]);
    set_sampling(r8 ? GL_NEAREST : tile_levels > 1 ? GL_LINEAR_MIPMAP_LINEAR : GL_LINEAR, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_BASE_LEVEL, 0);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAX_LEVEL, tile_levels - 1);
  }
  glBindTexture(GL_TEXTURE_2D, 0);
  return id;
}

bool map_texture_level_storage(unsigned int texture, MapTexel texel, int level, int width, int height) {
  const auto it = g_tiled.find(texture);
  if (it == g_tiled.end()) return storage_ready(texture, texel, level, width, height);
  TiledMap& t = it->second;
  for (; t.stored < t.grid.count(); ++t.stored) {  // a tile at a time, on the storage thread
    if (level >= t.grid.tile_levels(t.stored)) continue;
    const TileRect r = t.grid.rect(t.stored, level);
    if (!storage_ready(t.ids[t.stored], texel, level, r.width, r.height)) return false;
  }
  t.stored = 0;
  return true;
}

void map_tiles_release(unsigned int texture) {
  const auto it = g_tiled.find(texture);
  if (it == g_tiled.end()) return;
  if (it->second.ids.size() > 1) glDeleteTextures(static_cast<GLsizei>(it->second.ids.size() - 1), it->second.ids.data() + 1);
  g_tiled.erase(it);
}

bool map_storage_pending() { return storage_pending(); }

bool map_texture_read(unsigned int texture, MapTexel texel, int level, int width, int height, void* out) {
  const bool r8 = texel == MapTexel::r8;
  const std::size_t bytes = r8 ? 1 : 4;
  const TiledMap* t = tiled(texture);
  if (t && t->grid.count() > 1) {
    for (int k = 0; k < t->grid.count(); ++k) {
      if (level >= t->grid.tile_levels(k)) return false;  // the whole's level is not stored
    }
  }
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  std::vector<unsigned char> tile;
  for_each_tile(texture, level, width, height, [&](GLuint id, TileRect r) {
    tile.resize(static_cast<std::size_t>(r.width) * r.height * bytes);
    glBindTexture(GL_TEXTURE_2D, id);
    glGetTexImage(GL_TEXTURE_2D, level, GL_RED, r8 ? GL_UNSIGNED_BYTE : GL_FLOAT, tile.data());
    for (int y = 0; y < r.height; ++y) {
      std::memcpy(static_cast<unsigned char*>(out) + ((static_cast<std::size_t>(r.y) + y) * width + r.x) * bytes,
                  tile.data() + static_cast<std::size_t>(y) * r.width * bytes, r.width * bytes);
    }
  });
  glPixelStorei(GL_PACK_ALIGNMENT, 4);
  glBindTexture(GL_TEXTURE_2D, 0);
  return true;
}

void map_texture_rows(unsigned int texture, MapTexel texel, int level, int row0, int rows, int width,
                      const void* data) {
  g_changed[texture] = ++g_generation;
  const bool r8 = texel == MapTexel::r8;
  const std::size_t bytes = r8 ? 1 : 4;
  glPixelStorei(GL_UNPACK_ALIGNMENT, r8 ? 1 : 4);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, width);
  for_each_tile(texture, level, width, row0 + rows, [&](GLuint id, TileRect r) {
    const int y0 = std::max(row0, r.y), y1 = std::min(row0 + rows, r.y + r.height);
    if (y0 >= y1) return;
    const auto* first = static_cast<const unsigned char*>(data) + (static_cast<std::size_t>(y0 - row0) * width + r.x) * bytes;
    glBindTexture(GL_TEXTURE_2D, id);
    glTexSubImage2D(GL_TEXTURE_2D, level, 0, y0 - r.y, r.width, y1 - y0, GL_RED, r8 ? GL_UNSIGNED_BYTE : GL_FLOAT, first);
  });
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  glBindTexture(GL_TEXTURE_2D, 0);
}

unsigned int level_texture_upload(unsigned int texture, int width, int height, const std::uint8_t* codes) {
  map_tiles_release(texture);
  GLuint id = texture;
  if (id == 0) glGenTextures(1, &id);
  g_changed[id] = ++g_generation;
  glBindTexture(GL_TEXTURE_2D, id);
  set_sampling(GL_NEAREST, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R8, width, height, 0, GL_RED, GL_UNSIGNED_BYTE, codes);
  glBindTexture(GL_TEXTURE_2D, 0);
  return id;
}

void draw_shaded_map(const MapDraw& draw) {
  if (g_program.id == 0) return;
  g_draws.push_back({draw, g_draws.size()});
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddCallback(draw_callback, &g_draws.back());
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

void map_draws_clear() { g_draws.clear(); }

MapDrawCounts map_draw_counts() { return g_counts; }

void map_shading_release() {
  if (g_program.id != 0) glDeleteProgram(g_program.id);
  if (g_program.vao != 0) glDeleteVertexArrays(1, &g_program.vao);
  if (g_program.colors != 0) glDeleteTextures(1, &g_program.colors);
  for (ColoredMap& c : g_colored) {
    if (c.framebuffer != 0) glDeleteFramebuffers(1, &c.framebuffer);
    if (c.texture != 0) glDeleteTextures(1, &c.texture);
  }
  g_colored.clear();
  g_program = Program();
  g_draws.clear();
}

}  // namespace fmav::viewer
