#pragma once
// The plot widget of fma-viewer's panels: line and scatter series with markers and a legend,
// dashed reference lines, annotations, markers at the top edge for points off the chart (out
// of memory), and heat maps; hover readout, wheel zoom, drag pan, double-click fit, clicks on
// points; and an SVG of the same picture. A plot is a plain description (PlotSpec) that the
// caller rebuilds as data arrives; the view (zoom, pan, hidden series) lives in a
// caller-owned PlotState. This header has no ImGui in it (the SVG writer is tested without).
//
//   PlotSpec spec;                                    // a log-log scaling plot
//   spec.x = {"N", AxisScale::log10}, spec.y = {"latency", AxisScale::log10, {"s", true}};
//   spec.series.push_back({"FMA", n_values, seconds});
//   spec.series.back().edge_x = {65536};             // ran out of memory at N = 65536
//   spec.series.push_back(power_law("O(N)", 256, 65536, 256, seconds[0], 1, 0));
//   spec.annotations.push_back({4096, t, "FMA overtakes SDPA at N = 4096"});
//   const PlotHit clicked = draw_plot("scaling", spec, m_scaling_view);  // inside a window
//   if (clicked.series >= 0) select(clicked.series, clicked.point);
//
// A heat map: spec.heat_map = {rows, cols, values, row_labels, col_labels, colour function};
// a click reports the cell in PlotHit::row / col.

#include "colormap.h"
#include "plot_axes.h"

#include <functional>
#include <string>
#include <vector>

namespace fmav::viewer {

enum class Marker { none, circle, square, triangle, plus, cross };  // cross: an 'x'

struct PlotAxisSpec {
  std::string title{};  // the x title goes below the axis, the y title above the y axis
  AxisScale scale = AxisScale::linear;
  LabelFormat format{};
};

struct Series {
  std::string name{};        // legend entry and readout; empty: not in the legend
  std::vector<double> x{}, y{};  // points, same length; a NaN (on a log axis, a value <= 0) breaks the line
  // Optional spread of each point (empty, or as long as y): a vertical bar from y_lo to
  // y_hi with caps (e.g. min..max of repeated timings); NaN: no bar at that point.
  std::vector<double> y_lo{}, y_hi{};
  Rgba8 color{0, 0, 0, 0};   // alpha 0: plot_palette(index of the series)
  bool line = true;
  bool dashed = false;
  Marker marker = Marker::circle;
  float marker_size = 3.5f;   // radius, pixels
  bool fit = true;            // counts towards the fitted view (false for reference lines)
  std::vector<double> edge_x{};  // points off the chart (e.g. out of memory at these N): edge_marker at the top edge
  Marker edge_marker = Marker::cross;
  std::string edge_label = "out of memory";  // their readout
  bool end_label = false;     // the name written at the line's last visible point (reference lines)
};

struct Annotation {
  // The data point, marked with a ring; the text sits above right of it, or where it overlaps
  // neither an earlier annotation, an end label nor the legend, always inside the data area
  // (so never over the axes' labels).
  double x = 0, y = 0;
  std::string text{};
};

// Cell (r, c) covers [c, c + 1] x [r, r + 1] in the plot's coordinates; row 0 at the bottom.
struct HeatMap {
  int rows = 0, cols = 0;
  std::vector<double> values{};                     // (rows, cols), row-major; NaN: missing
  std::vector<std::string> row_labels{}, col_labels{};  // tick labels ("16", "32"), else numbers
  std::function<Rgba8(double)> color{};             // a value's colour (required)
  LabelFormat value_format{};                       // cell texts and the readout
  bool show_values = true;                          // in the cells wide enough for them
  double color_lo = 0, color_hi = 0;                // lo < hi: a colour bar over [lo, hi]
  AxisScale color_scale = AxisScale::linear;        // of the colour bar
  int selected_row = -1, selected_col = -1;         // outlined
};

struct PlotSpec {
  std::string title{};
  PlotAxisSpec x{}, y{};
  std::vector<Series> series{};
  std::vector<Annotation> annotations{};
  HeatMap heat_map{};  // a heat-map plot when rows * cols > 0 (fixed view; series drawn on top)
};

struct PlotRect {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool contains(float x, float y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

// A series' point (point indexes x and y, or edge_x when edge) or a heat map's cell.
struct PlotHit {
  int series = -1, point = -1;
  bool edge = false;
  int row = -1, col = -1;
  bool any() const { return series >= 0 || row >= 0; }
};

// The view of one plot, kept by the caller between frames.
struct PlotState {
  Axis x, y;                        // what is shown (set by fit_plot; zoom and pan change it)
  bool auto_fit = true;             // refit each frame (data arriving) until a zoom or pan; a double-click sets it
  std::vector<std::string> hidden;  // names of series hidden by a click on the legend
  // Set by draw_plot each frame.
  PlotHit hovered;
  PlotRect rect;  // the widget in ImGui coordinates; see plot_framebuffer_rect
  bool dragged = false;  // the button held now has panned (so its release is no click)
};

// ---- drawing (plot.cpp, ImGui) ----

// Draws the plot as one item of `width` x `height` pixels (<= 0: the available width, or
// 300 high) and handles its mouse input; returns the point or cell clicked this frame
// (none: PlotHit{}). The ImGui ID is `id`.
PlotHit draw_plot(const char* id, const PlotSpec& spec, PlotState& state, float width = 0, float height = 0);
// The widget's rectangle as last drawn in framebuffer pixels (ImGui's coordinates times
// DisplayFramebufferScale), top row first, to crop platform_read_pixels' image to the plot.
PlotRect plot_framebuffer_rect(const PlotState& state);

// ---- without ImGui (plot_layout.cpp, plot_svg.cpp) ----

// Sets the view to the data of the shown series with fit = true and the annotations
// (auto_range); for a heat map, its cells.
void fit_plot(const PlotSpec& spec, PlotState& state);
// Writes the plot as a standalone SVG of width x height pixels, white background, in the
// view of `state` (fitted first when state.auto_fit). Throws fmav::Error naming the path
// when it cannot be written.
void write_plot_svg(const std::string& path, const PlotSpec& spec, const PlotState& state,
                    float width = 720, float height = 450);
// A dashed reference y = y_at * (x / x_at)^exponent * (ln x / ln x_at)^log_power on [x_lo,
// x_hi] (log-spaced points; x_lo, x_at > 0, and x_at != 1 with a log_power): O(N) is (1, 0),
// O(N log N) (1, 1), O(N^2) (2, 0).
// Grey, no markers, not fitted, its name written at its end (end_label).
Series power_law(const std::string& name, double x_lo, double x_hi, double x_at, double y_at,
                 double exponent, double log_power);
// The colour of the i-th series: ten distinct hues readable on dark and white backgrounds.
Rgba8 plot_palette(int i);

}  // namespace fmav::viewer
