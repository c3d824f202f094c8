// The plot's layout and fitting (plot_layout.h): margins from the tick labels, ticks
// that do not overlap, the legend in the corner that hides the least data (outside on the
// right when every corner hides some), the colour bar of a heat map.

#include "plot_layout.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fmav::viewer {
namespace {

constexpr float kPad = 8;           // around the frame
constexpr float kTickGap = 6;       // tick label to the area
constexpr float kLegendSample = 26;  // the legend's line sample
constexpr float kBarWidth = 14;

// The categorical ticks of n cells (labels, or 0..n-1), every k-th one when they would overlap.
std::vector<Tick> category_ticks(int n, const std::vector<std::string>& labels, double length,
                                 const std::function<double(const std::string&)>& size) {
  std::vector<Tick> ticks;
  for (int every = 1; every <= std::max(1, n); ++every) {
    ticks.clear();
    double widest = 0;
    for (int i = 0; i < n; i += every) {
      const std::string label = i < static_cast<int>(labels.size()) ? labels[i] : std::to_string(i);
      ticks.push_back({i + 0.5, true, label});
      widest = std::max(widest, size(label));
    }
    if (widest + kTickGap <= length / std::max(1, n) * every) break;
  }
  return ticks;
}

// How many samples (points, and along segments every 8 pixels) of the shown series fall in r.
int data_under(const PlotSpec& spec, const PlotState& state, const PlotLayout& layout, const PlotRect& r) {
  int count = 0;
  for (const Series& s : spec.series) {
    if (series_hidden(state, s.name)) continue;
    PlotPoint last{NAN, NAN};
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      const PlotPoint p = to_screen(layout, s.x[i], s.y[i]);
      count += r.contains(p.x, p.y);
      if (s.line && !std::isnan(p.x + p.y + last.x + last.y)) {
        const float length = std::hypot(p.x - last.x, p.y - last.y);
        const int steps = static_cast<int>(std::min(length / 8.0f, 400.0f));
        for (int k = 1; k < steps; ++k) {
          const float t = static_cast<float>(k) / steps;
          count += r.contains(last.x + t * (p.x - last.x), last.y + t * (p.y - last.y));
        }
      }
      last = p;
    }
  }
  return count;
}

// The legend: entries, size, and the corner of the area that hides the least data. Returns
// whether it hides none (else the caller may move it outside).
bool place_legend(const PlotSpec& spec, const PlotState& state, PlotLayout& layout, const TextMetrics& text,
                  bool outside) {
  float widest = 0;
  layout.legend_series.clear();
  for (int i = 0; i < static_cast<int>(spec.series.size()); ++i) {
    if (spec.series[i].name.empty()) continue;
    layout.legend_series.push_back(i);
    widest = std::max(widest, text.width(spec.series[i].name));
  }
  layout.legend = {};
  layout.legend_rows.clear();
  if (layout.legend_series.empty()) return true;
  const float row = text.height + 4, w = kLegendSample + widest + 20;
  const float h = row * layout.legend_series.size() + 8;
  const PlotRect& a = layout.area;
  PlotRect corners[4] = {{a.x0 + 8, a.y0 + 8, a.x0 + 8 + w, a.y0 + 8 + h},
                         {a.x1 - 8 - w, a.y0 + 8, a.x1 - 8, a.y0 + 8 + h},
                         {a.x1 - 8 - w, a.y1 - 8 - h, a.x1 - 8, a.y1 - 8},
                         {a.x0 + 8, a.y1 - 8 - h, a.x0 + 8 + w, a.y1 - 8}};
  int best = 0, best_count = std::numeric_limits<int>::max();
  for (int c = 0; c < 4 && !outside; ++c) {
    const int n = data_under(spec, state, layout, corners[c]);
    if (n < best_count) best = c, best_count = n;
  }
  layout.legend = outside ? PlotRect{a.x1 + 12, a.y0, a.x1 + 12 + w, a.y0 + h} : corners[best];
  for (std::size_t i = 0; i < layout.legend_series.size(); ++i) {
    const float y = layout.legend.y0 + 4 + row * i;
    layout.legend_rows.push_back({layout.legend.x0, y, layout.legend.x1, y + row});
  }
  return outside || best_count == 0;
}

// The colour bar's ticks and the room it takes at the right of the area.
float layout_color_bar(const PlotSpec& spec, PlotLayout& layout, const TextMetrics& text) {
  const HeatMap& map = spec.heat_map;
  if (!(map.color_lo < map.color_hi) || !map.color) return 0;
  layout.bar = {map.color_scale, map.color_lo, map.color_hi};
  const double height = layout.area.y1 - layout.area.y0;
  layout.bar_ticks = fit_ticks(layout.bar, height, 40, 4, [&](const std::string&) { return text.height; },
                               map.value_format);
  float widest = 0;
  for (const Tick& t : layout.bar_ticks) widest = std::max(widest, text.width(t.label));
  return 16 + kBarWidth + kTickGap + widest;
}

// The x ticks for the area's width; shrinks the area when the last label would leave the frame.
void layout_x_ticks(const PlotSpec& spec, PlotLayout& layout, const TextMetrics& text) {
  const auto width = [&](const std::string& s) { return static_cast<double>(text.width(s)); };
  for (int pass = 0; pass < 2; ++pass) {
    const double length = layout.area.x1 - layout.area.x0;
    layout.x_ticks = spec.heat_map.rows * spec.heat_map.cols > 0
                         ? category_ticks(spec.heat_map.cols, spec.heat_map.col_labels, length, width)
                         : fit_ticks(layout.x, length, 90, 14, width, spec.x.format);
    float overflow = 0;
    for (const Tick& t : layout.x_ticks) {
      if (!t.major) continue;
      const float end = to_screen(layout, t.value, NAN).x + text.width(t.label) / 2;
      overflow = std::max(overflow, end - (layout.frame.x1 - 2));
    }
    if (overflow <= 0) return;
    layout.area.x1 -= overflow;
  }
}

}  // namespace

PlotTheme dark_plot_theme() {
  return {{0, 0, 0, 0},        {22, 24, 28, 255},    {110, 112, 120, 255}, {62, 64, 72, 255},
          {40, 42, 48, 255},   {220, 220, 225, 255}, {140, 142, 150, 255}, {30, 32, 38, 235},
          {70, 70, 76, 255}};
}

PlotTheme light_plot_theme() {
  return {{255, 255, 255, 255}, {255, 255, 255, 255}, {90, 90, 90, 255},   {215, 215, 215, 255},
          {238, 238, 238, 255}, {30, 30, 30, 255},    {120, 120, 120, 255}, {255, 255, 255, 230},
          {205, 205, 205, 255}};
}

Rgba8 plot_palette(int i) {
  static const Rgba8 kColors[] = {{78, 160, 232, 255}, {242, 142, 43, 255},  {89, 175, 79, 255},
                                  {225, 87, 89, 255},  {176, 122, 205, 255}, {118, 183, 178, 255},
                                  {237, 201, 72, 255}, {170, 120, 90, 255},  {255, 140, 170, 255},
                                  {160, 160, 160, 255}};
  return kColors[((i % 10) + 10) % 10];
}

Rgba8 series_color(const PlotSpec& spec, int i) {
  const Rgba8 c = spec.series[i].color;
  return c.a == 0 ? plot_palette(i) : c;
}

bool series_hidden(const PlotState& state, const std::string& name) {
  return !name.empty() && std::count(state.hidden.begin(), state.hidden.end(), name) > 0;
}

PlotPoint to_screen(const PlotLayout& layout, double x, double y) {
  const PlotRect& a = layout.area;
  const double fx = axis_fraction(layout.x, x), fy = axis_fraction(layout.y, y);
  const auto clamp = [](double v) { return static_cast<float>(std::clamp(v, -1e7, 1e7)); };  // NaN stays
  return {clamp(a.x0 + fx * (a.x1 - a.x0)), clamp(a.y1 - fy * (a.y1 - a.y0))};
}

PlotPoint edge_point(const PlotLayout& layout, const Series& s, std::size_t k) {
  return {to_screen(layout, s.edge_x[k], NAN).x, layout.area.y0 + s.marker_size + 4};
}

bool heat_cell_at(const PlotSpec& spec, const PlotLayout& layout, float px, float py, int* row, int* col) {
  const HeatMap& map = spec.heat_map;
  if (map.rows * map.cols <= 0 || !layout.area.contains(px, py)) return false;
  const PlotRect& a = layout.area;
  *col = std::clamp(static_cast<int>((px - a.x0) / (a.x1 - a.x0) * map.cols), 0, map.cols - 1);
  *row = std::clamp(static_cast<int>((a.y1 - py) / (a.y1 - a.y0) * map.rows), 0, map.rows - 1);
  return true;
}

void fit_plot(const PlotSpec& spec, PlotState& state) {
  if (spec.heat_map.rows * spec.heat_map.cols > 0) {
    state.x = {AxisScale::linear, 0, static_cast<double>(spec.heat_map.cols)};
    state.y = {AxisScale::linear, 0, static_cast<double>(spec.heat_map.rows)};
    return;
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x0 = kInf, x1 = -kInf, y0 = kInf, y1 = -kInf;
  for (const Series& s : spec.series) {
    if (!s.fit || series_hidden(state, s.name)) continue;
    data_extent(s.x, spec.x.scale, &x0, &x1);
    data_extent(s.y, spec.y.scale, &y0, &y1);
    data_extent(s.y_lo, spec.y.scale, &y0, &y1);
    data_extent(s.y_hi, spec.y.scale, &y0, &y1);
    data_extent(s.edge_x, spec.x.scale, &x0, &x1);
  }
  for (const Annotation& a : spec.annotations) {
    data_extent({a.x}, spec.x.scale, &x0, &x1);
    data_extent({a.y}, spec.y.scale, &y0, &y1);
  }
  state.x = auto_range(spec.x.scale, x0, x1);
  state.y = auto_range(spec.y.scale, y0, y1);
}

Series power_law(const std::string& name, double x_lo, double x_hi, double x_at, double y_at,
                 double exponent, double log_power) {
  Series s;
  s.name = name, s.color = {150, 150, 158, 255}, s.dashed = true, s.marker = Marker::none, s.fit = false;
  s.end_label = true;
  constexpr int kPoints = 33;
  for (int i = 0; i < kPoints && x_lo > 0 && x_hi > 0 && x_at > 0; ++i) {
    const double x = x_lo * std::pow(x_hi / x_lo, static_cast<double>(i) / (kPoints - 1));
    const double log_ratio = log_power == 0 ? 1 : std::pow(std::log(x) / std::log(x_at), log_power);
    s.x.push_back(x), s.y.push_back(y_at * std::pow(x / x_at, exponent) * log_ratio);
  }
  return s;
}

void prepare_view(const PlotSpec& spec, PlotState& state) {
  const auto valid = [](const Axis& a, AxisScale scale) {
    return a.scale == scale && std::isfinite(a.lo) && std::isfinite(a.hi) && a.lo < a.hi &&
           (scale == AxisScale::linear || a.lo > 0);
  };
  const bool heat = spec.heat_map.rows * spec.heat_map.cols > 0;
  if (state.auto_fit || heat || !valid(state.x, spec.x.scale) || !valid(state.y, spec.y.scale)) {
    fit_plot(spec, state);
  }
}

PlotLayout layout_plot(const PlotSpec& spec, const PlotState& state, PlotRect frame, const TextMetrics& text) {
  PlotLayout layout;
  layout.frame = frame;
  layout.x = state.x, layout.y = state.y;
  const bool heat = spec.heat_map.rows * spec.heat_map.cols > 0;
  PlotRect& area = layout.area;
  area = {frame.x0 + kPad, frame.y0 + kPad, frame.x1 - kPad, frame.y1 - kPad};
  if (!spec.title.empty()) area.y0 += text.height + 6;
  if (!spec.y.title.empty()) area.y0 += text.height * 1.5f + 6;
  area.y0 = std::max(area.y0, frame.y0 + kPad + text.height / 2);  // room for the top y label
  area.y1 -= text.height + kTickGap;
  if (!spec.x.title.empty()) area.y1 -= text.height + 4;
  area.x1 -= layout_color_bar(spec, layout, text);
  const double height = area.y1 - area.y0;
  const auto line_height = [&](const std::string&) { return static_cast<double>(text.height); };
  layout.y_ticks = heat ? category_ticks(spec.heat_map.rows, spec.heat_map.row_labels, height, line_height)
                        : fit_ticks(layout.y, height, 34, 6, line_height, spec.y.format);
  float widest = 0;
  for (const Tick& t : layout.y_ticks) widest = std::max(widest, t.major ? text.width(t.label) : 0.0f);
  area.x0 += widest + kTickGap;
  layout_x_ticks(spec, layout, text);
  if (!place_legend(spec, state, layout, text, false) && !heat && area.x1 - area.x0 > 480) {
    area.x1 -= layout.legend.x1 - layout.legend.x0 + 12;  // every corner hides data: beside the area
    layout_x_ticks(spec, layout, text);
    place_legend(spec, state, layout, text, true);
  }
  if (!layout.bar_ticks.empty()) layout.color_bar = {area.x1 + 16, area.y0, area.x1 + 16 + kBarWidth, area.y1};
  return layout;
}

// ---- shapes ----

namespace {

using Kind = PlotShape::Kind;

// Pictures are built by appending to one list.
struct Canvas {
  std::vector<PlotShape> shapes;
  void add(Kind kind, std::vector<PlotPoint> points, Rgba8 color, float width, const char* role, bool clip = false) {
    PlotShape s;
    s.kind = kind, s.points = std::move(points), s.color = color, s.width = width, s.role = role, s.clip = clip;
    shapes.push_back(std::move(s));
  }
  void line(PlotPoint a, PlotPoint b, Rgba8 color, float width, const char* role, bool clip = false) {
    add(Kind::polyline, {a, b}, color, width, role, clip);
  }
  void rect(const PlotRect& r, Rgba8 color, bool fill, const char* role, float width = 1, bool clip = false) {
    add(fill ? Kind::fill_rect : Kind::rect, {{r.x0, r.y0}, {r.x1, r.y1}}, color, width, role, clip);
  }
  void text(PlotPoint top, std::string s, Rgba8 color, float align, const char* role) {
    add(Kind::text, {top}, color, 0, role);
    shapes.back().text = std::move(s), shapes.back().align = align;
  }
};

// A crisp one-pixel line: on a pixel's centre.
float snap(float v) { return std::floor(v) + 0.5f; }

// Clips the segment a-b to r (Liang-Barsky); false when none of it is inside.
bool clip_segment(const PlotRect& r, PlotPoint& a, PlotPoint& b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {a.x - r.x0, r.x1 - a.x, a.y - r.y0, r.y1 - a.y};
  double t0 = 0, t1 = 1;
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  const PlotPoint start = a;
  a = {static_cast<float>(start.x + t0 * dx), static_cast<float>(start.y + t0 * dy)};
  b = {static_cast<float>(start.x + t1 * dx), static_cast<float>(start.y + t1 * dy)};
  return true;
}

void add_marker(Canvas& c, Marker marker, PlotPoint p, float r, Rgba8 color, const char* role, bool clip = true) {
  switch (marker) {
    case Marker::none: return;
    case Marker::circle: c.add(Kind::fill_circle, {p}, color, r, role, clip); return;
    case Marker::square: {
      const float h = r * 0.9f;  // the same ink as the circle
      c.rect({p.x - h, p.y - h, p.x + h, p.y + h}, color, true, role, 1, clip);
      return;
    }
    case Marker::triangle: {
      const PlotPoint top{p.x, p.y - r * 1.25f}, left{p.x - r * 1.15f, p.y + r * 0.8f};
      c.add(Kind::fill_triangle, {top, left, {p.x + r * 1.15f, left.y}}, color, 1, role, clip);
      return;
    }
    case Marker::plus:
      c.line({p.x - r, p.y}, {p.x + r, p.y}, color, 2, role, clip);
      c.line({p.x, p.y - r}, {p.x, p.y + r}, color, 2, role, clip);
      return;
    case Marker::cross:
      c.line({p.x - r, p.y - r}, {p.x + r, p.y + r}, color, 2, role, clip);
      c.line({p.x - r, p.y + r}, {p.x + r, p.y - r}, color, 2, role, clip);
      return;
  }
}

// The series' line (clipped pieces between its gaps), markers and edge markers.
void add_series(Canvas& c, const Series& s, Rgba8 color, const PlotLayout& layout) {
  const PlotRect& area = layout.area;
  std::vector<PlotPoint> piece;
  const auto flush = [&] {
    if (piece.size() >= 2) {
      c.add(Kind::polyline, piece, color, s.dashed ? 1.5f : 2.0f, "series", true);
      c.shapes.back().dashed = s.dashed;
    }
    piece.clear();
  };
  const std::size_t n = std::min(s.x.size(), s.y.size());
  PlotPoint last{NAN, NAN};
  for (std::size_t i = 0; i < n && s.line; ++i) {
    const PlotPoint p = to_screen(layout, s.x[i], s.y[i]);
    PlotPoint a = last, b = p;
    last = p;
    if (std::isnan(a.x + a.y + b.x + b.y) || !clip_segment(area, a, b)) {
      flush();
      continue;
    }
    if (piece.empty() || piece.back().x != a.x || piece.back().y != a.y) flush(), piece.push_back(a);
    piece.push_back(b);
  }
  flush();
  const float r = s.marker_size;
  // Spread bars: from y_lo to y_hi, clipped to the area, with caps as wide as the marker.
  for (std::size_t i = 0; i < n && s.y_lo.size() == n && s.y_hi.size() == n; ++i) {
    PlotPoint lo = to_screen(layout, s.x[i], s.y_lo[i]), hi = to_screen(layout, s.x[i], s.y_hi[i]);
    if (std::isnan(lo.x + lo.y + hi.x + hi.y)) continue;
    c.line(lo, hi, color, 1.5f, "spread", true);
    for (const PlotPoint& end : {lo, hi}) c.line({end.x - r, end.y}, {end.x + r, end.y}, color, 1.5f, "spread", true);
  }
  const PlotRect around{area.x0 - r, area.y0 - r, area.x1 + r, area.y1 + r};
  for (std::size_t i = 0; i < n && s.marker != Marker::none; ++i) {
    const PlotPoint p = to_screen(layout, s.x[i], s.y[i]);
    if (around.contains(p.x, p.y)) add_marker(c, s.marker, p, r, color, "marker");
  }
  for (std::size_t k = 0; k < s.edge_x.size(); ++k) {
    const PlotPoint p = edge_point(layout, s, k);
    if (p.x >= area.x0 && p.x <= area.x1) add_marker(c, s.edge_marker, p, r + 1, color, "edge");
  }
}

void add_grid(Canvas& c, const PlotLayout& layout, const PlotTheme& theme, bool heat) {
  const PlotRect& a = layout.area;
  for (const Tick& t : layout.x_ticks) {
    const float x = snap(to_screen(layout, t.value, NAN).x);
    if (!heat) c.line({x, a.y0}, {x, a.y1}, t.major ? theme.grid : theme.grid_minor, 1, "grid");
    if (t.major) c.line({x, a.y1}, {x, a.y1 + 4}, theme.frame, 1, "tick");
  }
  for (const Tick& t : layout.y_ticks) {
    const float y = snap(to_screen(layout, NAN, t.value).y);
    if (!heat) c.line({a.x0, y}, {a.x1, y}, t.major ? theme.grid : theme.grid_minor, 1, "grid");
    if (t.major) c.line({a.x0 - 4, y}, {a.x0, y}, theme.frame, 1, "tick");
  }
}

void add_labels(Canvas& c, const PlotSpec& spec, const PlotLayout& layout, const PlotTheme& theme,
                const TextMetrics& text) {
  const PlotRect& a = layout.area;
  for (const Tick& t : layout.x_ticks) {
    if (t.major) c.text({to_screen(layout, t.value, NAN).x, a.y1 + 5}, t.label, theme.text, 0.5f, "label");
  }
  for (const Tick& t : layout.y_ticks) {
    if (!t.major) continue;
    c.text({a.x0 - 7, to_screen(layout, NAN, t.value).y - text.height / 2}, t.label, theme.text, 1, "label");
  }
  if (!spec.title.empty()) c.text({(a.x0 + a.x1) / 2, layout.frame.y0 + 8}, spec.title, theme.text, 0.5f, "title");
  if (!spec.y.title.empty()) {
    c.text({layout.frame.x0 + 8, a.y0 - text.height * 1.5f - 4}, spec.y.title, theme.muted, 0, "axis-title");
  }
  if (!spec.x.title.empty()) {
    c.text({(a.x0 + a.x1) / 2, a.y1 + 9 + text.height}, spec.x.title, theme.muted, 0.5f, "axis-title");
  }
}

// Black on light cells, white on dark ones.
Rgba8 text_on(Rgba8 fill) {
  const float luma = 0.299f * fill.r + 0.587f * fill.g + 0.114f * fill.b;
  return luma > 140 ? Rgba8{20, 20, 20, 255} : Rgba8{245, 245, 245, 255};
}

void add_heat_map(Canvas& c, const HeatMap& map, const PlotLayout& layout, const PlotTheme& theme,
                  const TextMetrics& text) {
  for (int r = 0; r < map.rows; ++r) {
    for (int col = 0; col < map.cols; ++col) {
      const PlotPoint p0 = to_screen(layout, col, r + 1), p1 = to_screen(layout, col + 1, r);
      const PlotRect cell{p0.x + 0.5f, p0.y + 0.5f, p1.x - 0.5f, p1.y - 0.5f};
      const std::size_t i = static_cast<std::size_t>(r) * map.cols + col;
      const double v = i < map.values.size() ? map.values[i] : NAN;
      const Rgba8 fill = std::isnan(v) || !map.color ? theme.missing : map.color(v);
      c.rect(cell, fill, true, "cell", 1, true);
      if (std::isnan(v)) c.line({cell.x0, cell.y1}, {cell.x1, cell.y0}, theme.muted, 1, "missing", true);
      const std::string label = std::isnan(v) ? std::string() : format_value(v, map.value_format, 3);
      if (map.show_values && !label.empty() && text.width(label) + 6 < cell.x1 - cell.x0 &&
          text.height + 2 < cell.y1 - cell.y0) {
        c.text({(cell.x0 + cell.x1) / 2, (cell.y0 + cell.y1 - text.height) / 2}, label, text_on(fill), 0.5f, "value");
      }
      if (r == map.selected_row && col == map.selected_col) c.rect(cell, theme.text, false, "selected", 2, true);
    }
  }
}

void add_color_bar(Canvas& c, const HeatMap& map, const PlotLayout& layout, const PlotTheme& theme,
                   const TextMetrics& text) {
  const PlotRect& b = layout.color_bar;
  if (b.x1 <= b.x0) return;
  constexpr int kStrips = 64;
  const float h = b.y1 - b.y0;
  for (int k = 0; k < kStrips; ++k) {
    const Rgba8 color = map.color(axis_value(layout.bar, (k + 0.5) / kStrips));
    c.rect({b.x0, b.y1 - h * (k + 1) / kStrips - 0.5f, b.x1, b.y1 - h * k / kStrips}, color, true, "bar");
  }
  c.rect({snap(b.x0), snap(b.y0), snap(b.x1), snap(b.y1)}, theme.frame, false, "bar");
  for (const Tick& t : layout.bar_ticks) {
    if (!t.major) continue;
    const float y = snap(b.y1 - h * static_cast<float>(axis_fraction(layout.bar, t.value)));
    c.line({b.x1, y}, {b.x1 + 4, y}, theme.frame, 1, "tick");
    c.text({b.x1 + 6, y - text.height / 2}, t.label, theme.text, 0, "label");
  }
}

bool overlaps(const PlotRect& a, const PlotRect& b) {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

// The first of `starts` (boxes, in order of preference), moved down or up in steps of its
// height, that overlaps none of `taken`, kept inside the area.
PlotRect place_box(const std::vector<PlotRect>& starts, const PlotRect& area, const std::vector<PlotRect>& taken) {
  const auto inside = [&](PlotRect b) {
    const float dx = std::max(0.0f, area.x0 + 2 - b.x0) - std::max(0.0f, b.x1 - (area.x1 - 2));
    const float dy = std::max(0.0f, area.y0 + 2 - b.y0) - std::max(0.0f, b.y1 - (area.y1 - 2));
    return PlotRect{b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy};
  };
  const auto clear = [&](const PlotRect& b) {
    return std::none_of(taken.begin(), taken.end(), [&](const PlotRect& t) { return overlaps(b, t); });
  };
  const float h = starts.front().y1 - starts.front().y0;
  for (int step = 0; step < 40; ++step) {  // 0, +1, -1, +2, -2, ... box heights
    const float shift = (step % 2 ? 1.0f : -1.0f) * ((step + 1) / 2) * (h + 2);
    for (const PlotRect& s : starts) {
      const PlotRect b = inside({s.x0, s.y0 + shift, s.x1, s.y1 + shift});
      if (clear(b)) return b;
    }
  }
  return inside(starts.front());
}

// Where an annotation's text goes near its point: above right, above left, below right,
// below left.
std::vector<PlotRect> around_point(PlotPoint p, float w, float h) {
  return {{p.x + 8, p.y - 8 - h, p.x + 8 + w, p.y - 8},
          {p.x - 8 - w, p.y - 8 - h, p.x - 8, p.y - 8},
          {p.x + 8, p.y + 8, p.x + 8 + w, p.y + 8 + h},
          {p.x - 8 - w, p.y + 8, p.x - 8, p.y + 8 + h}};
}

// The reference lines' names at their last point inside the area, then the annotations, none
// over another, the legend or the axes' labels (outside the area).
void add_annotations(Canvas& c, const PlotSpec& spec, const PlotState& state, const PlotLayout& layout,
                     const PlotTheme& theme, const TextMetrics& text) {
  const PlotRect& a = layout.area;
  std::vector<PlotRect> taken;
  if (layout.legend.x1 > layout.legend.x0) taken.push_back(layout.legend);
  for (int i = 0; i < static_cast<int>(spec.series.size()); ++i) {
    const Series& s = spec.series[i];
    if (!s.end_label || series_hidden(state, s.name)) continue;
    PlotPoint end{NAN, NAN};
    for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) {
      const PlotPoint p = to_screen(layout, s.x[k], s.y[k]);
      if (a.contains(p.x, p.y)) end = p;
    }
    if (std::isnan(end.x + end.y)) continue;
    const float w = text.width(s.name) + 4, h = text.height;
    // Ending at the line's end, just above it; moved along the edge (down or up, never
    // sideways, so it stays by its own line) when another label is there.
    const PlotRect box = place_box({{end.x - w, end.y - h - 2, end.x, end.y - 2}}, a, taken);
    taken.push_back(box);
    c.text({box.x0 + 2, box.y0}, s.name, series_color(spec, i), 0, "end label");
  }
  for (const Annotation& note : spec.annotations) {
    const PlotPoint p = to_screen(layout, note.x, note.y);
    if (!a.contains(p.x, p.y)) continue;
    c.add(Kind::circle, {p}, theme.text, 5, "annotation", true);
    const PlotRect box = place_box(around_point(p, text.width(note.text) + 10, text.height + 4), a, taken);
    taken.push_back(box);
    c.rect(box, theme.legend_fill, true, "annotation");
    c.rect(box, theme.grid, false, "annotation");
    c.text({box.x0 + 5, box.y0 + 2}, note.text, theme.text, 0, "annotation");
  }
}

void add_legend(Canvas& c, const PlotSpec& spec, const PlotState& state, const PlotLayout& layout,
                const PlotTheme& theme) {
  if (layout.legend.x1 <= layout.legend.x0) return;
  c.rect(layout.legend, theme.legend_fill, true, "legend");
  c.rect({snap(layout.legend.x0), snap(layout.legend.y0), snap(layout.legend.x1), snap(layout.legend.y1)},
         theme.grid, false, "legend");
  for (std::size_t k = 0; k < layout.legend_series.size(); ++k) {
    const int i = layout.legend_series[k];
    const Series& s = spec.series[i];
    const bool hidden = series_hidden(state, s.name);
    const Rgba8 color = hidden ? theme.grid : series_color(spec, i);
    const PlotRect& row = layout.legend_rows[k];
    const float y = (row.y0 + row.y1) / 2, x0 = row.x0 + 8, x1 = x0 + kLegendSample - 6;
    if (s.line) {
      c.line({x0, y}, {x1, y}, color, s.dashed ? 1.5f : 2.0f, "legend");
      c.shapes.back().dashed = s.dashed;
    }
    add_marker(c, s.marker, {(x0 + x1) / 2, y}, s.marker_size, color, "legend", false);
    c.text({x0 + kLegendSample, row.y0 + 2}, s.name, hidden ? theme.muted : theme.text, 0, "legend");
  }
}

}  // namespace

std::vector<PlotShape> plot_shapes(const PlotSpec& spec, const PlotState& state, const PlotLayout& layout,
                                   const PlotTheme& theme, const TextMetrics& text) {
  Canvas c;
  const bool heat = spec.heat_map.rows * spec.heat_map.cols > 0;
  if (theme.background.a) c.rect(layout.frame, theme.background, true, "background");
  c.rect(layout.area, theme.area, true, "area");
  if (heat) add_heat_map(c, spec.heat_map, layout, theme, text);
  add_grid(c, layout, theme, heat);
  for (int i = 0; i < static_cast<int>(spec.series.size()); ++i) {
    if (!series_hidden(state, spec.series[i].name)) add_series(c, spec.series[i], series_color(spec, i), layout);
  }
  add_annotations(c, spec, state, layout, theme, text);
  const PlotRect& a = layout.area;
  c.rect({snap(a.x0), snap(a.y0), snap(a.x1), snap(a.y1)}, theme.frame, false, "frame");
  add_labels(c, spec, layout, theme, text);
  if (heat) add_color_bar(c, spec.heat_map, layout, theme, text);
  add_legend(c, spec, state, layout, theme);
  return std::move(c.shapes);
}

}  // namespace fmav::viewer
