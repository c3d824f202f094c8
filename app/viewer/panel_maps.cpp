// The maps panel: FMA next to full attention for a model's layer and head on an input, or on
// the synthetic input (docs/DESIGN.md §2, "The attention map at full resolution"): the four
// maps, their legends, zoom and pan, and hover; the controls are panel_map_controls.cpp.
// The engine's worker is in maps_worker.cpp; the frame only uploads its results and draws.

#include "panel_maps.h"
#include "colormap.h"
#include "map_overlay.h"
#include "maps_header.h"
#include "maps_worker.h"
#include "method_labels.h"
#include "platform_glfw.h"
#include "shared.h"
#include "source_finite.h"
#include "text_wrap.h"

#include "fmav/attend.h"
#include "fmav/error.h"
#include "fmav/model.h"

#include <imgui.h>
#include <chrono>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kBusy(1.0f, 0.8f, 0.3f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);

// ---- drawing helpers ----

ImU32 to_imu32(Rgba8 c) { return IM_COL32(c.r, c.g, c.b, c.a); }

std::string format_value(const char* fmt, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), fmt, value);
  return text;
}

// The progress of the run under way, in percent (0 before it starts).
double progress_percent(const MapsWorker& maps) {
  return maps.progress ? 100 * maps.progress->fraction.load() : 0.0;
}

// A colour bar with labels at its ends and centre: horizontal, `length` pixels wide with the
// labels under it; or (vertical) `length` pixels tall, high values on top, labels beside it.
template <typename ColorOf>
void draw_color_bar(float length, bool vertical, ColorOf color_of, const std::string& left,
                    const std::string& middle, const std::string& right) {
  constexpr int kSegments = 48;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float thick = 12.0f;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (int i = 0; i < kSegments; ++i) {
    const float s0 = length * i / kSegments, s1 = length * (i + 1) / kSegments;
    const ImU32 a = to_imu32(color_of(static_cast<float>(i) / kSegments));
    const ImU32 b = to_imu32(color_of(static_cast<float>(i + 1) / kSegments));
    if (vertical) {  // from the bottom (low) up
      const float y0 = origin.y + length - s1, y1 = origin.y + length - s0;
      draw->AddRectFilledMultiColor(ImVec2(origin.x, y0), ImVec2(origin.x + thick, y1), b, b, a, a);
    } else {
      draw->AddRectFilledMultiColor(ImVec2(origin.x + s0, origin.y), ImVec2(origin.x + s1, origin.y + thick), a, b, b, a);
    }
  }
  const std::string* labels[] = {&left, &middle, &right};
  if (vertical) {
    const float line = ImGui::GetTextLineHeight();
    for (int k = 0; k < 3; ++k) {  // bottom, centre, top
      const float y = origin.y + length - 0.5f * k * length - (k == 0 ? line : k == 1 ? 0.5f * line : 0.0f);
      draw->AddText(ImVec2(origin.x + thick + 6, y), ImGui::GetColorU32(ImGuiCol_Text), labels[k]->c_str());
    }
    ImGui::Dummy(ImVec2(thick, length));
    return;
  }
  ImGui::Dummy(ImVec2(length, thick));
  const ImVec2 text = ImGui::GetCursorPos();
  for (int k = 0; k < 3; ++k) {  // aligned left, centred, right
    const float label_w = ImGui::CalcTextSize(labels[k]->c_str()).x;
    ImGui::SetCursorPos(ImVec2(text.x + 0.5f * k * (length - label_w), text.y));
    ImGui::TextUnformatted(labels[k]->c_str());
  }
}

// A colour box and its label, on a new line when it would pass `right_edge`.
void draw_swatch(Rgba8 color, const std::string& label, float right_edge) {
  const float box = ImGui::GetTextLineHeight();
  const float width = box + 4 + ImGui::CalcTextSize(label.c_str()).x;
  if (ImGui::GetCursorScreenPos().x + width > right_edge) ImGui::NewLine();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + box, p.y + box), to_imu32(color));
  ImGui::Dummy(ImVec2(box, box));
  ImGui::SameLine(0, 4);
  ImGui::TextUnformatted(label.c_str());
  ImGui::SameLine(0, 14);
}

// The level map's swatches: their labels (name and mean mass per row), level 0 first, then "masked".
std::vector<std::pair<Rgba8, std::string>> level_swatches(const Inspection& in, Method method) {
  std::vector<std::pair<Rgba8, std::string>> swatches;
  const std::size_t levels = static_cast<std::size_t>(in.num_levels) + 1;
  std::int64_t finite_rows = 0;  // rows that met NaN or Inf have no mass per level
  const std::vector<double> means = mean_level_mass(in.level_mass, in.rows, in.num_levels, &finite_rows);
  for (std::size_t l = 0; l < levels; ++l) {
    const double mass = 100.0 * means[l];
    const std::string name = level_short(static_cast<int>(l), method);
    const char* fmt = mass >= 9.95 ? " %.0f%%" : mass >= 0.995 ? " %.1f%%" : " %.2f%%";
    swatches.emplace_back(level_color(static_cast<int>(l)), name + format_value(fmt, mass));
  }
  swatches.emplace_back(kMaskedColor, level_short(-1, method));
  return swatches;
}

float swatch_width(const std::string& label) {
  return ImGui::GetTextLineHeight() + 4 + ImGui::CalcTextSize(label.c_str()).x + 14;
}

// How many lines the level legend takes when its swatches wrap at `width` (one a line: vertical).
int level_legend_lines(const Inspection& in, Method method, float width) {
  int lines = 1;
  float x = 0;
  for (const auto& swatch : level_swatches(in, method)) {
    const float w = swatch_width(swatch.second);
    if (x > 0 && x + w - 14 > width) ++lines, x = 0;
    x += w;
  }
  return lines;
}

// The widest level swatch, for a legend beside the map.
float level_legend_width(const Inspection& in, Method method) {
  float widest = 0;
  for (const auto& swatch : level_swatches(in, method)) widest = std::max(widest, swatch_width(swatch.second));
  return widest;
}

void draw_level_legend(const Inspection& in, Method method, float width, bool vertical) {
  const float right_edge = ImGui::GetCursorScreenPos().x + width;
  for (const auto& [color, label] : level_swatches(in, method)) {
    draw_swatch(color, label, right_edge);
    if (vertical) ImGui::NewLine();
  }
  if (!vertical) ImGui::NewLine();
}

// The legend of map `kind`: under the map, `length` pixels wide; or beside it, `length` tall.
void draw_legend(const Shared& shared, MapKind kind, float length, bool vertical) {
  const MapJob& shown = shared.maps.shown;
  const MapShader shader = map_shader(shared.colors, shown.data, kind);
  if (kind == kMapLevel) {
    draw_level_legend(*shown.inspection, shown.method, length, vertical);
  } else if (kind == kMapDiff) {
    const double limit = shader.limit;
    const std::string middle = shader.decades && limit > 0
                                   ? format_value("|d| < %.0e", limit * std::pow(10.0, -shader.decades))
                                   : "0";
    const bool zero = !(limit > 0);  // FMA is exact here (e.g. n <= 2m)
    draw_color_bar(
        length, vertical, [](float t) { return diverging_color(2 * t - 1); },
        zero ? "0" : format_value("%.1e", -limit), middle,
        zero ? "0" : format_value("+%.1e", limit));
  } else if (shader.log10) {
    const double floor = shader.lo;
    draw_color_bar(
        length, vertical, [&](float t) { return sequential_color(t, shared.colors.colormap); },
        format_value("1e%.0f", floor),
        format_value(std::fmod(floor, 2.0) == 0 ? "1e%.0f" : "1e%.1f", 0.5 * floor), "1");
  } else {
    draw_color_bar(
        length, vertical, [&](float t) { return sequential_color(t, shared.colors.colormap); }, "0",
        format_value("%.2g", 0.5 * shader.hi), format_value("%.2g", shader.hi));
  }
  if (kind != kMapLevel && shown.data.nonfinite_cells > 0) {  // the shader's marked colour
    draw_swatch(kNonFiniteColor, "NaN / Inf: " + std::to_string(shown.data.nonfinite_cells) + " cells",
                ImGui::GetCursorScreenPos().x + (vertical ? ImGui::GetContentRegionAvail().x : length));
    ImGui::NewLine();
  }
}

// The map token (row, column) under the mouse, through the shared zoom (token units).
void token_under_mouse(const Shared& shared, ImVec2 origin, ImVec2 size, std::int64_t* row, std::int64_t* col) {
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const MapViewport& v = shared.viewport;
  *col = std::clamp<std::int64_t>(static_cast<std::int64_t>(v.col_at((mouse.x - origin.x) / size.x)), 0, v.cols - 1);
  *row = std::clamp<std::int64_t>(static_cast<std::int64_t>(v.row_at((mouse.y - origin.y) / size.y)), 0, v.rows - 1);
}

// The maps' values at token (row, col): the exact tile's when it holds them, else the shown
// map's, which is a pool x pool block mean above kMaxMapSide tokens.
struct Cell {
  double full = 0, fma = 0, row_tv = 0;
  int level = -1;
  std::int64_t pool = 1;  // 1: exact
};

Cell cell_at(const Shared& shared, std::int64_t row, std::int64_t col) {
  const MapTile& tile = shared.maps.tile;
  const bool exact = tile.of == shared.maps.shown.inspection && tile.inspection && tile.contains(row, col);
  const Inspection& in = exact ? *tile.inspection : *shared.maps.shown.inspection;
  const std::int64_t r = exact ? row - tile.r0 : row / in.pool, c = exact ? col - tile.c0 : col / in.pool;
  const std::size_t i = static_cast<std::size_t>(r * in.cols + c);
  return Cell{in.full_map[i], in.fma_map[i], in.row_tv[r], in.level_map[i], in.pool};
}

void draw_hover(const Shared& shared, ImVec2 origin, ImVec2 size) {
  const MapJob& shown = shared.maps.shown;
  std::int64_t row = 0, col = 0;
  token_under_mouse(shared, origin, size, &row, &col);
  const Cell cell = cell_at(shared, row, col);
  const std::pair<const char*, std::string> lines[] = {
      {"full", format_value("%.3e", cell.full)},
      {method_title(shown.method), format_value("%.3e", cell.fma)},
      {"diff", format_value("%+.3e", cell.fma - cell.full)},
      {"level", level_label(cell.level, shown.method, shown.fma)},
      {"row TV", format_value("%.3e", cell.row_tv)}};
  ImGui::BeginTooltip();
  ImGui::Text("query %lld, key %lld", static_cast<long long>(row), static_cast<long long>(col));
  if (cell.pool > 1) {
    ImGui::TextColored(kMuted, "means of %lld x %lld tokens (zoom in for exact values)",
                       static_cast<long long>(cell.pool), static_cast<long long>(cell.pool));
  }
  const float column = std::max(70.0f, ImGui::CalcTextSize(method_title(shown.method)).x + 16);
  for (const auto& [label, value] : lines) {
    ImGui::TextColored(kMuted, "%s", label);
    ImGui::SameLine(column);
    ImGui::TextUnformatted(value.c_str());
  }
  ImGui::TextColored(kMuted, "click: inspect query %lld", static_cast<long long>(row));
  ImGui::EndTooltip();
}

std::string caption_of(const Shared& shared, MapKind kind) {
  const Inspection& in = *shared.maps.shown.inspection;
  const bool log10 = shared.colors.scale == MapScale::log10;
  switch (kind) {
    case kMapFull:
      return log10 ? "log10 probability, exact softmax" : "probability, exact";
    case kMapFma:
      return "output rel. error " + value_text("%.2e", in.output_rel_error) + ", mean row TV " +
             mean_text("%.2e", in.row_tv);
    case kMapDiff: {
      const MapData& data = shared.maps.shown.data;
      return (data.nonfinite_cells > 0 ? "max |diff| undefined (" + std::to_string(data.nonfinite_cells) +
                                             " non-finite cells)"
                                       : format_value("max |diff| %.2e", data.diff_max)) +
             (log10 ? " (symmetric log)" : " (linear)") + ", mean row TV " + mean_text("%.2e", in.row_tv);
    }
    default: {
      std::int64_t finite_rows = 0;
      mean_level_mass(in.level_mass, in.rows, in.num_levels, &finite_rows);
      return std::to_string(in.num_levels) + " coarse levels; legend: " + method_title(shared.maps.shown.method) +
             "'s mass per level" +
             (finite_rows < in.rows ? " over the " + std::to_string(finite_rows) + " finite rows" : "");
    }
  }
}

// Makes the map row under the mouse the query of the query inspector and asks for that tab.
void select_query_at(Shared& shared, ImVec2 origin, ImVec2 size) {
  std::int64_t row = 0, col = 0;
  token_under_mouse(shared, origin, size, &row, &col);
  shared.query_row = row;
  shared.query_key = col;
  shared.view = View::query;
  shared.view_requested = true;
}

// Wheel zooms about the cursor, a drag pans, a double click or F fits, +/- zoom, arrows pan:
// on any map, and all four follow (one shared viewport).
void handle_zoom_pan(Shared& shared, ImVec2 origin, ImVec2 size) {
  const ImGuiIO& io = ImGui::GetIO();
  MapViewport& v = shared.viewport;
  const double fx = (io.MousePos.x - origin.x) / size.x, fy = (io.MousePos.y - origin.y) / size.y;
  if (io.MouseWheel != 0) v.zoom_at(fx, fy, std::pow(1.25, io.MouseWheel));
  if (ImGui::IsMouseDragging(ImGuiMouseButton_Left) || ImGui::IsMouseDragging(ImGuiMouseButton_Right)) {
    v.pan(-io.MouseDelta.x / size.x, -io.MouseDelta.y / size.y);
  }
  if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) || ImGui::IsKeyPressed('F')) {
    v.fit(v.rows, v.cols);
  }
  const auto key = [](ImGuiKey k) { return ImGui::IsKeyPressed(ImGui::GetKeyIndex(k)); };
  // 'F', '=' and '-' are also GLFW's key codes of those keys (ImGui 1.86 names few keys).
  if (ImGui::IsKeyPressed('=')) v.zoom_at(0.5, 0.5, 1.25);
  if (ImGui::IsKeyPressed('-')) v.zoom_at(0.5, 0.5, 0.8);
  if (key(ImGuiKey_LeftArrow)) v.pan(-0.1, 0);
  if (key(ImGuiKey_RightArrow)) v.pan(0.1, 0);
  if (key(ImGuiKey_UpArrow)) v.pan(0, -0.1);
  if (key(ImGuiKey_DownArrow)) v.pan(0, 0.1);
}

// Lines at the hierarchy's fine block boundaries (1D: every m tokens; 2D: every image row of
// tokens), only where they are at least 4 pixels apart at the current zoom.
void draw_block_grid(const Shared& shared, ImVec2 origin, ImVec2 size) {
  const FmaConfig& f = shared.maps.shown.fma;
  const std::int64_t step = f.is_2d() ? f.grid_width : f.block_size;
  const MapViewport& v = shared.viewport;
  if (step < 1 || size.x / (v.x1 - v.x0) * static_cast<double>(step) < 4.0) return;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImU32 color = IM_COL32(255, 255, 255, 60);
  for (std::int64_t t = (static_cast<std::int64_t>(v.x0) / step + 1) * step; t < v.x1; t += step) {
    const float x = origin.x + static_cast<float>(v.fx_of(static_cast<double>(t))) * size.x;
    draw->AddLine(ImVec2(x, origin.y), ImVec2(x, origin.y + size.y), color);
  }
  for (std::int64_t t = (static_cast<std::int64_t>(v.y0) / step + 1) * step; t < v.y1; t += step) {
    const float y = origin.y + static_cast<float>(v.fy_of(static_cast<double>(t))) * size.y;
    draw->AddLine(ImVec2(origin.x, y), ImVec2(origin.x + size.x, y), color);
  }
}

// The map through the shared zoom, coloured by the GPU; over a pooled map, the exact tile
// where it has one.
void draw_map_texture(const Shared& shared, const MapsPanel& panel, MapKind kind, ImVec2 origin, ImVec2 size) {
  const MapViewport& v = shared.viewport;
  MapDraw draw;
  draw.x0 = origin.x, draw.y0 = origin.y, draw.x1 = origin.x + size.x, draw.y1 = origin.y + size.y;
  draw.u0 = static_cast<float>(v.u0()), draw.v0 = static_cast<float>(v.v0());
  draw.u1 = static_cast<float>(v.u1()), draw.v1 = static_cast<float>(v.v1());
  draw.values = panel.textures[kind], draw.levels = panel.textures[kMapLevel];
  draw.shader = map_shader(shared.colors, shared.maps.shown.data, kind);
  draw_shaded_map(draw);
  const MapTile& t = shared.maps.tile;
  if (t.of != shared.maps.shown.inspection || !t.inspection || panel.tile_textures[kMapLevel] == 0) return;
  // The tile's rectangle on screen; ImGui's clip rectangle (the map's child window) trims it.
  const auto x_of = [&](std::int64_t col) { return origin.x + static_cast<float>(v.fx_of(static_cast<double>(col))) * size.x; };
  const auto y_of = [&](std::int64_t row) { return origin.y + static_cast<float>(v.fy_of(static_cast<double>(row))) * size.y; };
  ImGui::PushClipRect(origin, ImVec2(origin.x + size.x, origin.y + size.y), true);
  draw.x0 = x_of(t.c0), draw.x1 = x_of(t.c1), draw.y0 = y_of(t.r0), draw.y1 = y_of(t.r1);
  draw.u0 = 0, draw.v0 = 0, draw.u1 = 1, draw.v1 = 1;
  draw.values = panel.tile_textures[kind], draw.levels = panel.tile_textures[kMapLevel];
  draw_shaded_map(draw);
  ImGui::PopClipRect();
}

// ---- layout ----

// One layout for the four maps, so they are drawn at the same size: the largest square that
// leaves room in a cell for the title and caption lines, the axes and the legend, which goes
// beside the map when that gives a larger map (wide cells) and under it otherwise.
struct MapLayout {
  float side = 16;           // the map's longer side, pixels
  bool legend_beside = false;
  float legend_w = 0;        // room for a legend beside the map
  AxisRoom axes;
};

MapLayout map_layout(const Shared& shared, ImVec2 cell) {
  const MapJob& shown = shared.maps.shown;
  const FmaConfig& f = shown.fma;
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float header_h = 2 * line + 4, gap = 8;
  MapLayout layout;
  layout.axes = axis_room(shared.viewport.rows, f.is_2d() ? f.grid_width : 0);
  const float room_x = cell.x - layout.axes.left - gap, room_y = cell.y - header_h - layout.axes.bottom - gap;
  // Beside: a vertical colour bar with its labels, or the level swatches one a line.
  const Inspection& in = *shown.inspection;
  const float beside_w = std::max(ImGui::CalcTextSize("+0.0e+00").x + 24, level_legend_width(in, shown.method)) + 12;
  const float beside_h = (in.num_levels + 2) * line;
  const float side_beside = std::min(room_x - beside_w, room_y);
  // Under: two lines of colour bar and labels, or the swatches wrapped at the map's width.
  float side_under = std::min(room_x, room_y - 2 * line);
  const int lines = level_legend_lines(in, shown.method, side_under);
  side_under = std::min(room_x, room_y - std::max(2 * line, lines * line + 4));
  layout.legend_beside = side_beside >= side_under && beside_h <= side_beside;
  layout.side = std::max(16.0f, layout.legend_beside ? side_beside : side_under);
  layout.legend_w = layout.legend_beside ? beside_w : 0;
  return layout;
}

// Marks this frame's hovered token, for the crosshair on all four maps next frame.
void note_hover(MapsPanel& panel, const Shared& shared, ImVec2 origin, ImVec2 size) {
  token_under_mouse(shared, origin, size, &panel.hover_row, &panel.hover_col);
  panel.hovered = true;
}

void draw_map_cell(Shared& shared, MapsPanel& panel, MapKind kind, ImVec2 cell, const MapLayout& layout) {
  const MapJob& shown = shared.maps.shown;
  const char* method = method_title(shown.method);
  const bool shared_qk = shown.method == Method::reformer;  // its full counterpart
  const std::string kTitles[kMapCount] = {shared_qk ? "Full attention (shared QK)" : "Full attention", method,
                                          std::string(method) + " - full", "Level map"};
  const MapViewport& v = shared.viewport;
  const float scale = layout.side / static_cast<float>(std::max(v.rows, v.cols));
  const ImVec2 size(static_cast<float>(v.cols) * scale, static_cast<float>(v.rows) * scale);
  const float total_w = layout.axes.left + size.x + (layout.legend_beside ? 12 + layout.legend_w : 0);
  const float indent = std::max(0.0f, 0.5f * (cell.x - total_w));
  // Title, then the caption on its own line (clipped by the cell), both over the map.
  ImGui::Indent(indent + layout.axes.left);
  ImGui::TextUnformatted(kTitles[kind].c_str());
  ImGui::TextColored(kMuted, "%s", caption_of(shared, kind).c_str());
  ImGui::Unindent(indent + layout.axes.left);
  const ImVec2 top = ImGui::GetCursorScreenPos();
  const ImVec2 origin(top.x + indent + layout.axes.left, top.y);
  ImGui::SetCursorScreenPos(origin);
  ImGui::Dummy(size);  // the map's item: hover, clicks and the layout
  const bool hovered = ImGui::IsItemHovered();
  draw_map_texture(shared, panel, kind, origin, size);
  if (panel.show_grid) draw_block_grid(shared, origin, size);
  const FmaConfig& f = shown.fma;
  draw_map_axes(v, origin, size, f.is_2d() ? f.grid_width : 0);
  if (panel.crosshair) draw_crosshair(v, origin, size, panel.cross_row, panel.cross_col);
  if (hovered) {
    handle_zoom_pan(shared, origin, size);
    note_hover(panel, shared, origin, size);
    draw_hover(shared, origin, size);
  }
  // A click, not the end of a drag, opens the row in the query inspector.
  if (hovered && ImGui::IsMouseReleased(ImGuiMouseButton_Left) &&
      ImGui::GetIO().MouseDragMaxDistanceSqr[ImGuiMouseButton_Left] < 16.0f) {
    select_query_at(shared, origin, size);
  }
  if (layout.legend_beside) {
    ImGui::SetCursorScreenPos(ImVec2(origin.x + size.x + 12, origin.y));
  } else {
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + size.y + layout.axes.bottom));
  }
  ImGui::BeginGroup();
  draw_legend(shared, kind, layout.legend_beside ? size.y : size.x, layout.legend_beside);
  ImGui::EndGroup();
}

// The first line of an engine error; LibTorch's stack trace, if any, behind a tree node.
void draw_error(const std::string& error) {
  const std::size_t end = error.find('\n');
  ImGui::TextColored(kErrorColor, "engine error:");
  ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
  text_wrapped("%s", error.substr(0, end).c_str());
  ImGui::PopStyleColor();
  if (end != std::string::npos && ImGui::TreeNode("details")) {
    text_wrapped("%s", error.substr(end + 1).c_str());
    ImGui::TreePop();
  }
}

// The shaders' colour tables from the colormaps (colormap.cpp), so maps and legends agree.
void upload_color_tables(Colormap colormap, MapsPanel& panel) {
  std::vector<std::uint8_t> table(256 * 3 * 4);
  const auto put = [&](int row, int i, Rgba8 c) {
    std::uint8_t* p = table.data() + 4 * (row * 256 + i);
    p[0] = c.r, p[1] = c.g, p[2] = c.b, p[3] = 255;
  };
  for (int i = 0; i < 256; ++i) {
    const float t = static_cast<float>(i) / 255.0f;
    put(0, i, sequential_color(t, colormap));
    put(1, i, diverging_color(2 * t - 1));
    put(2, i, level_color(i));
  }
  map_colors_upload(table.data());
  panel.colors_of = static_cast<int>(colormap);
}

// Creates, replaces or frees (no data) the texture of map `kind` of one set of maps.
void upload_map(const MapData& data, int kind, std::array<unsigned int, kMapCount>& textures) {
  unsigned int& texture = textures[kind];
  const bool empty = kind == kMapLevel ? data.level_codes.empty() : data.values[kind].mips.empty();
  if (empty) {
    texture_destroy(texture);
    texture = 0;
  } else if (kind == kMapLevel) {
    const MapValues& shape = data.values[kMapFull];
    texture = level_texture_upload(texture, shape.width, shape.height, data.level_codes.data());
  } else {
    const MapValues& v = data.values[kind];
    texture = float_texture_upload(texture, v.width, v.height, v.mips);
  }
}

// The frame time spent uploading an arrived run's maps: four 4096² maps with their mip chains
// (~270 MB) took 50 ms in one frame on llvmpipe, and up to 280 ms a map into new storage.
constexpr std::chrono::milliseconds kUploadBudget(6);
// A band of rows: ~2 MB (a few ms on llvmpipe, page faults of new storage included).
constexpr std::int64_t kBandBytes = 2 << 20;

enum class Band { uploaded, waiting, all_up };

// Uploads the next band of rows of `data`'s maps into panel.staged (allocating a map's
// texture at its first band); `waiting` while a level's new storage is being made (on the
// storage thread: nothing more this frame), `all_up` when every map is up.
Band upload_next_band(const MapData& data, MapsPanel& panel) {
  MapsPanel::Staging& s = panel.staging;
  if (s.kind == kMapCount) return Band::all_up;
  unsigned int& texture = panel.staged[s.kind];
  const bool level_map = s.kind == kMapLevel;
  if (level_map ? data.level_codes.empty() : data.values[s.kind].mips.empty()) {
    texture_destroy(texture);
    texture = 0;
    ++s.kind;
    return s.kind == kMapCount ? Band::all_up : Band::uploaded;
  }
  const MapValues& shape = data.values[level_map ? kMapFull : s.kind];
  const int levels = level_map ? 1 : static_cast<int>(shape.mips.size());
  const MapTexel texel = level_map ? MapTexel::r8 : MapTexel::r32f;
  const int width = std::max(1, shape.width >> s.level), height = std::max(1, shape.height >> s.level);
  if (!s.allocated) {
    texture = map_texture_allocate(texture, texel, shape.width, shape.height, levels, &s.fresh);
    s.allocated = true;
  }
  if (s.fresh && s.stored < s.level) {  // new storage, a level at a time: the level 0 of 4096² is 64 MB
    if (!map_texture_level_storage(texture, texel, s.level, width, height)) return Band::waiting;
    s.stored = s.level;
  }
  const std::int64_t bytes = width * (level_map ? 1 : 4);
  const int rows = static_cast<int>(std::min<std::int64_t>(height - s.row, std::max<std::int64_t>(1, kBandBytes / bytes)));
  const void* first = level_map ? static_cast<const void*>(data.level_codes.data() + std::int64_t{s.row} * width)
                                : static_cast<const void*>(shape.mips[s.level].data() + std::int64_t{s.row} * width);
  map_texture_rows(texture, texel, s.level, s.row, rows, width, first);
  s.row += rows;
  if (s.row == height) {
    s.row = 0;
    if (++s.level == levels) s.level = 0, s.stored = -1, s.allocated = false, ++s.kind;
  }
  return s.kind == kMapCount ? Band::all_up : Band::uploaded;
}

void upload(const MapData& data, std::array<unsigned int, kMapCount>& textures) {
  for (int kind = 0; kind < kMapCount; ++kind) upload_map(data, kind, textures);
}

// Uploads the worker's maps and exact tile taken since the last frame.
void upload_new_maps(const MapsWorker& maps, MapsPanel& panel) {
  if (panel.textures_of != maps.shown_count) {
    upload(maps.shown.data, panel.textures);
    panel.textures_of = maps.shown_count;
  }
  if (panel.tile_textures_of != maps.tile_count) {
    upload(maps.tile.data, panel.tile_textures);
    panel.tile_textures_of = maps.tile_count;
  }
}

}  // namespace

// For the GUI tests (FMAV_TEST_CHECK_UPLOADS set): every level of every staged texture read
// back and compared with the run's data, the result printed.
void check_staged_textures(const MapData& data, const MapsPanel& panel) {
  int levels_checked = 0;
  for (int kind = 0; kind < kMapCount; ++kind) {
    const bool level_map = kind == kMapLevel;
    if (level_map ? data.level_codes.empty() : data.values[kind].mips.empty()) continue;
    const MapValues& shape = data.values[level_map ? kMapFull : kind];
    const int levels = level_map ? 1 : static_cast<int>(shape.mips.size());
    for (int level = 0; level < levels; ++level) {
      const int width = std::max(1, shape.width >> level), height = std::max(1, shape.height >> level);
      const std::size_t bytes = std::size_t(width) * height * (level_map ? 1 : 4);
      std::vector<unsigned char> read(bytes);
      if (!map_texture_read(panel.staged[kind], level_map ? MapTexel::r8 : MapTexel::r32f, level, width, height,
                            read.data())) {
        continue;  // a tiled map's smallest levels are not stored
      }
      const void* want = level_map ? static_cast<const void*>(data.level_codes.data())
                                   : static_cast<const void*>(shape.mips[level].data());
      if (std::memcmp(read.data(), want, bytes) != 0) {
        std::fprintf(stderr, "fma-viewer: upload check: map %d level %d (%dx%d) differs from its data\n", kind,
                     level, width, height);
        return;
      }
      ++levels_checked;
    }
  }
  std::fprintf(stderr, "fma-viewer: upload check: %d levels of %dx%d maps match their data\n", levels_checked,
               data.values[kMapFull].width, data.values[kMapFull].height);
}

void upload_arrived_maps(Shared& shared, MapsPanel& panel) {
  using Clock = std::chrono::steady_clock;
  const MapsWorker& w = shared.maps;
  if (!w.has_arrived) return;
  if (panel.staging.of != w.arrived_count) panel.staging = {w.arrived_count};
  const auto start = Clock::now();
  for (Band band = upload_next_band(w.arrived.data, panel); band != Band::all_up;
       band = upload_next_band(w.arrived.data, panel)) {
    if (band == Band::waiting || Clock::now() - start > kUploadBudget) return;  // the rest in the next frames
  }
  static const bool check = std::getenv("FMAV_TEST_CHECK_UPLOADS") != nullptr;
  if (check) check_staged_textures(w.arrived.data, panel);
  std::swap(panel.textures, panel.staged);  // the old textures are the next run's staging
  adopt_arrived(shared);
  panel.textures_of = shared.maps.shown_count;
}

MapShader map_shader(const MapColors& colors, const MapData& data, MapKind kind) {
  MapShader shader;
  shader.masked[0] = kMaskedColor.r, shader.masked[1] = kMaskedColor.g, shader.masked[2] = kMaskedColor.b;
  shader.log10 = colors.scale == MapScale::log10;
  if (kind == kMapLevel) {
    shader.shading = MapShading::levels;
  } else if (kind == kMapDiff) {
    shader.shading = MapShading::diverging;
    shader.limit = static_cast<float>(data.diff_limit);
    shader.decades = diff_decades(colors.scale);
  } else {
    shader.shading = MapShading::sequential;
    shader.lo = shader.log10 ? static_cast<float>(colors.log_floor) : 0.0f;
    shader.hi = shader.log10 ? 0.0f : static_cast<float>(data.prob_max);
  }
  return shader;
}

void draw_map_views(Shared& shared, MapsPanel& panel) {
  upload_new_maps(shared.maps, panel);
  if (!shared.maps.has_shown) {
    if (shared.maps.has_cancelled && shared.maps.cancelled_params == shared.params) {
      ImGui::TextColored(kBusy, "cancelled: press Recompute (or change a setting) to run it");
    } else {
      ImGui::TextColored(kBusy, "computing... %.0f%%", progress_percent(shared.maps));
    }
    return;
  }
  draw_maps_header(shared);
  if (!shared.maps.shown.error.empty()) {
    draw_error(shared.maps.shown.error);
    return;
  }
  std::string shader_error;
  if (!map_shading_ready(&shader_error)) {
    draw_error("the maps' shaders do not build on this OpenGL: " + shader_error);
    return;
  }
  if (panel.colors_of != static_cast<int>(shared.colors.colormap)) upload_color_tables(shared.colors.colormap, panel);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  const ImVec2 cell((avail.x - gap) * 0.5f, (avail.y - gap) * 0.5f);
  const MapLayout layout = map_layout(shared, cell);
  panel.crosshair = panel.hovered, panel.cross_row = panel.hover_row, panel.cross_col = panel.hover_col;
  panel.hovered = false;
  for (int kind = 0; kind < kMapCount; ++kind) {
    if (kind % 2 == 1) ImGui::SameLine();
    ImGui::BeginChild(kind + 1, cell, false, ImGuiWindowFlags_NoScrollbar);
    draw_map_cell(shared, panel, static_cast<MapKind>(kind), cell, layout);
    ImGui::EndChild();
  }
}

void release_map_textures(MapsPanel& panel) {
  for (auto* textures : {&panel.textures, &panel.tile_textures, &panel.staged}) {
    for (unsigned int& texture : *textures) {
      texture_destroy(texture);
      texture = 0;
    }
  }
}

}  // namespace fmav::viewer
