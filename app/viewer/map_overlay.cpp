// Axes and crosshair of the attention maps (map_overlay.h); tick positions from map_axes.cpp.

#include "map_overlay.h"
#include "map_axes.h"

#include <algorithm>
#include <string>
#include <utility>

namespace fmav::viewer {
namespace {

constexpr float kTick = 4.0f;  // tick length, pixels
const ImU32 kAxisColor = IM_COL32(170, 170, 178, 255);

}  // namespace

AxisRoom axis_room(std::int64_t rows, std::int64_t grid_width) {
  const std::string widest = tick_label(rows > 0 ? rows - 1 : 0, grid_width);
  return {ImGui::CalcTextSize(widest.c_str()).x + kTick + 4, ImGui::GetTextLineHeight() + kTick + 1};
}

void draw_map_axes(const MapViewport& v, ImVec2 origin, ImVec2 size, std::int64_t grid_width) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const float widest = ImGui::CalcTextSize(tick_label(v.cols, grid_width).c_str()).x;
  // Ticks sit at token starts; a token's cell spans [t, t + 1).
  for (std::int64_t t : axis_ticks(v.x0, v.x1, size.x, widest + 12, grid_width)) {
    const float x = origin.x + static_cast<float>(v.fx_of(static_cast<double>(t))) * size.x;
    draw->AddLine(ImVec2(x, origin.y + size.y), ImVec2(x, origin.y + size.y + kTick), kAxisColor);
    const std::string label = tick_label(t, grid_width);
    const float w = ImGui::CalcTextSize(label.c_str()).x;
    // Centred under the tick, kept within the map's width so neighbouring maps stay clear.
    const float lx = std::min(std::max(x - 0.5f * w, origin.x - 2), origin.x + size.x - w + 2);
    draw->AddText(ImVec2(lx, origin.y + size.y + kTick), kAxisColor, label.c_str());
  }
  for (std::int64_t t : axis_ticks(v.y0, v.y1, size.y, 1.6f * line, grid_width)) {
    const float y = origin.y + static_cast<float>(v.fy_of(static_cast<double>(t))) * size.y;
    draw->AddLine(ImVec2(origin.x - kTick, y), ImVec2(origin.x, y), kAxisColor);
    const std::string label = tick_label(t, grid_width);
    const float w = ImGui::CalcTextSize(label.c_str()).x;
    const float ly = std::min(std::max(y - 0.5f * line, origin.y - 2), origin.y + size.y - line + 2);
    draw->AddText(ImVec2(origin.x - kTick - 2 - w, ly), kAxisColor, label.c_str());
  }
}

void draw_crosshair(const MapViewport& v, ImVec2 origin, ImVec2 size, std::int64_t row, std::int64_t col) {
  const auto x_of = [&](double c) { return origin.x + static_cast<float>(v.fx_of(c)) * size.x; };
  const auto y_of = [&](double r) { return origin.y + static_cast<float>(v.fy_of(r)) * size.y; };
  // Through the centre of the cell, which a box outlines once it is a few pixels wide.
  const float x = x_of(static_cast<double>(col) + 0.5), y = y_of(static_cast<double>(row) + 0.5);
  if (x < origin.x || x > origin.x + size.x || y < origin.y || y > origin.y + size.y) return;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  ImGui::PushClipRect(origin, ImVec2(origin.x + size.x, origin.y + size.y), true);
  const ImU32 shadow = IM_COL32(0, 0, 0, 160), light = IM_COL32(255, 255, 255, 230);
  for (const auto& [color, width] : {std::pair<ImU32, float>{shadow, 3.0f}, {light, 1.0f}}) {
    draw->AddLine(ImVec2(origin.x, y), ImVec2(origin.x + size.x, y), color, width);
    draw->AddLine(ImVec2(x, origin.y), ImVec2(x, origin.y + size.y), color, width);
  }
  const float x0 = x_of(static_cast<double>(col)), x1 = x_of(static_cast<double>(col) + 1);
  if (x1 - x0 >= 6) {
    draw->AddRect(ImVec2(x0, y_of(static_cast<double>(row))), ImVec2(x1, y_of(static_cast<double>(row) + 1)), light);
  }
  ImGui::PopClipRect();
}

}  // namespace fmav::viewer
