#pragma once
// What the plot's two painters share (plot.cpp draws with ImGui, plot_svg.cpp writes SVG): the
// layout of a plot (data area, ticks, legend, colour bar) and its picture as a list of plain
// shapes, so that both show the same thing. Internal to the plot widget (plot.h); no ImGui.

#include "colormap.h"
#include "plot.h"
#include "plot_axes.h"

#include <functional>
#include <string>
#include <vector>

namespace fmav::viewer {

struct PlotTheme {
  Rgba8 background, area, frame, grid, grid_minor, text, muted, legend_fill, missing;
};
PlotTheme dark_plot_theme();   // on ImGui's dark style
PlotTheme light_plot_theme();  // white, for the SVG

// The width of a label in pixels, and the line height, in the painter's font.
struct TextMetrics {
  std::function<float(const std::string&)> width;
  float height = 13;
};

struct PlotPoint {
  float x = 0, y = 0;
};

struct PlotShape {
  enum class Kind { polyline, rect, fill_rect, circle, fill_circle, fill_triangle, text };
  Kind kind = Kind::polyline;
  // polyline: its vertices; rect, fill_rect: two corners; circle, fill_circle: the centre;
  // fill_triangle: three corners; text: the top of the text at `align` (0 left, 0.5 centre,
  // 1 right).
  std::vector<PlotPoint> points;
  Rgba8 color;
  float width = 1;  // stroke width; a circle's radius
  bool dashed = false;
  bool clip = false;  // to the data area
  std::string text;
  float align = 0;
  const char* role = "";  // what it is: "grid", "series", "marker", "edge", "cell", "legend", ...
};

struct PlotLayout {
  PlotRect frame, area;
  Axis x, y;  // the view (for a heat map: its cells)
  std::vector<Tick> x_ticks, y_ticks;
  PlotRect legend;                   // empty (x1 <= x0) without legend entries
  std::vector<int> legend_series;    // the series of each legend row
  std::vector<PlotRect> legend_rows;
  PlotRect color_bar;                // empty without a colour bar
  Axis bar;
  std::vector<Tick> bar_ticks;
};

// Lays the plot out in `frame` with the view of `state` (which prepare_view made valid).
PlotLayout layout_plot(const PlotSpec& spec, const PlotState& state, PlotRect frame, const TextMetrics& text);
// The picture, back to front.
std::vector<PlotShape> plot_shapes(const PlotSpec& spec, const PlotState& state, const PlotLayout& layout,
                                   const PlotTheme& theme, const TextMetrics& text);

// Fits the view when auto_fit is set, the scales changed or the view is not a valid range.
void prepare_view(const PlotSpec& spec, PlotState& state);
// Where a data point is drawn; NaN coordinates when it has no place (<= 0 on a log axis).
PlotPoint to_screen(const PlotLayout& layout, double x, double y);
// Where the edge marker of s.edge_x[k] is drawn: at x, just below the area's top.
PlotPoint edge_point(const PlotLayout& layout, const Series& s, std::size_t k);
bool series_hidden(const PlotState& state, const std::string& name);
Rgba8 series_color(const PlotSpec& spec, int i);
// The heat-map cell at screen (px, py) into *row, *col; false outside the cells.
bool heat_cell_at(const PlotSpec& spec, const PlotLayout& layout, float px, float py, int* row, int* col);

}  // namespace fmav::viewer
