// The plot widget without ImGui (app/plot/plot_axes.h, plot_layout.h, plot.h): transforms, ticks
// and their labels, auto-range, zoom, pan and fit, the layout, and the SVG writer.

#include <gtest/gtest.h>

#include "colormap.h"
#include "plot.h"
#include "plot_axes.h"
#include "plot_layout.h"

#include "fmav/error.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using fmav::viewer::Axis;
using fmav::viewer::AxisScale;
using fmav::viewer::LabelFormat;
using fmav::viewer::Tick;
namespace fv = fmav::viewer;

constexpr AxisScale kLin = AxisScale::linear, kLog = AxisScale::log10;

// The labelled ticks' labels, space-separated.
std::string labels(const std::vector<Tick>& ticks) {
  std::string s;
  for (const Tick& t : ticks) {
    if (t.major) s += (s.empty() ? "" : " ") + t.label;
  }
  return s;
}

std::string labels(Axis axis, int max_labels, const LabelFormat& format = {}) {
  return labels(fv::axis_ticks(axis, max_labels, format));
}

int minors(const std::vector<Tick>& ticks) {
  int n = 0;
  for (const Tick& t : ticks) n += !t.major;
  return n;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---- transforms ----

TEST(PlotAxis, TransformsRoundTrip) {
  for (const Axis axis : {Axis{kLin, -3, 1e6}, Axis{kLin, 0.1, 0.7}, Axis{kLog, 1e-6, 1e3}, Axis{kLog, 256, 65536}}) {
    for (const double f : {0.0, 0.25, 0.5, 1.0, -0.5, 1.5}) {
      const double v = fv::axis_value(axis, f);
      EXPECT_NEAR(fv::axis_fraction(axis, v), f, 1e-12);
    }
    EXPECT_NEAR(fv::axis_fraction(axis, axis.lo), 0, 1e-12);
    EXPECT_NEAR(fv::axis_fraction(axis, axis.hi), 1, 1e-12);
  }
  EXPECT_NEAR(fv::axis_fraction({kLog, 1, 100}, 10), 0.5, 1e-15);
  EXPECT_NEAR(fv::axis_value({kLog, 1, 100}, 0.5), 10, 1e-12);
}

TEST(PlotAxis, LogAxisHasNoPlaceForNonPositiveValues) {
  const Axis axis{kLog, 1, 100};
  EXPECT_TRUE(std::isnan(fv::axis_fraction(axis, 0)));
  EXPECT_TRUE(std::isnan(fv::axis_fraction(axis, -5)));
  EXPECT_TRUE(std::isnan(fv::axis_fraction(axis, NAN)));
  EXPECT_TRUE(std::isnan(fv::axis_fraction({kLin, 0, 1}, NAN)));
  EXPECT_NEAR(fv::axis_fraction({kLin, 0, 1}, -5), -5, 0);  // linear axes place everything
  // Fitting skips them; a line through them breaks (no NaN reaches a shape).
  double lo = INFINITY, hi = -INFINITY;
  EXPECT_FALSE(fv::data_extent({0, -1, NAN}, kLog, &lo, &hi));
  EXPECT_TRUE(fv::data_extent({0, -1, 3, 30, INFINITY}, kLog, &lo, &hi));
  EXPECT_EQ(lo, 3);
  EXPECT_EQ(hi, 30);
  EXPECT_TRUE(fv::data_extent({-1}, kLin, &lo, &hi));
  EXPECT_EQ(lo, -1);
  EXPECT_TRUE(fv::axis_ticks({kLog, 0, 10}, 5).empty());  // no log axis from 0
}

// ---- ticks ----

TEST(PlotTicks, LinearSteps) {
  EXPECT_EQ(labels({kLin, 0, 1}, 6), "0 0.2 0.4 0.6 0.8 1");
  EXPECT_EQ(labels({kLin, 0, 1}, 5), "0 0.5 1");  // at most five: 0.2 would make six
  EXPECT_EQ(labels({kLin, 0, 1}, 11), "0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1");  // 3 * 0.1 reads 0.3
  EXPECT_EQ(labels({kLin, 0.1, 0.7}, 7), "0.1 0.2 0.3 0.4 0.5 0.6 0.7");
  EXPECT_EQ(labels({kLin, 0.1, 0.7}, 3), "0.2 0.4 0.6");
  EXPECT_EQ(labels({kLin, -3, 1e6}, 5), "0 500k 1M");
  EXPECT_EQ(labels({kLin, -3, 1e6}, 10), "0 200k 400k 600k 800k 1M");
  EXPECT_EQ(labels({kLin, 0, 1500}, 8), "0 200 400 600 800 1k 1.2k 1.4k");
  EXPECT_EQ(labels({kLin, -1, 1}, 5), "-1 -0.5 0 0.5 1");
  // The tick values are the doubles nearest the decimals.
  const std::vector<Tick> ticks = fv::axis_ticks({kLin, 0, 1}, 11);
  EXPECT_EQ(ticks[3].value, 0.3);
  EXPECT_EQ(ticks[7].value, 0.7);
}

TEST(PlotTicks, NeverMoreLabelsThanAsked) {
  for (int n = 1; n <= 12; ++n) {
    for (const Axis axis : {Axis{kLin, 0, 1}, Axis{kLin, -3, 1e6}, Axis{kLin, 0.1, 0.7}, Axis{kLog, 1e-6, 1e3},
                            Axis{kLog, 1, 3.1622776601683795}, Axis{kLog, 100, 1e5}}) {
      const std::vector<Tick> ticks = fv::axis_ticks(axis, n);
      int majors = 0;
      for (const Tick& t : ticks) majors += t.major;
      EXPECT_LE(majors, std::max(n, 2)) << axis.lo << " " << axis.hi << " n = " << n;
      EXPECT_GE(majors, 1);
    }
  }
}

TEST(PlotTicks, ZeroWidthAndExtremeRanges) {
  EXPECT_EQ(labels({kLin, 2, 2}, 5), "2");
  EXPECT_EQ(labels({kLin, 0, 0}, 5), "0");
  EXPECT_EQ(labels({kLin, 1e20, 5e20}, 5), "1e20 2e20 3e20 4e20 5e20");
  EXPECT_EQ(labels({kLin, 1e-9, 5e-9}, 5), "1e-9 2e-9 3e-9 4e-9 5e-9");
  EXPECT_EQ(labels({kLin, 0, 2.5e-4}, 6), "0 5e-5 1e-4 1.5e-4 2e-4 2.5e-4");
  EXPECT_EQ(labels({kLin, 1, 1 + 1e-9}, 3), "1 1.0000000005 1.000000001");
  EXPECT_EQ(labels({kLin, 1e300, 1.7e308}, 3), "5e307 1e308 1.5e308");
  EXPECT_TRUE(fv::axis_ticks({kLin, 0, INFINITY}, 5).empty());
}

TEST(PlotTicks, LogDecadesAndMantissas) {
  // Half a decade: the mantissas 1..9 that fit.
  EXPECT_EQ(labels({kLog, 1, 3.1622776601683795}, 8), "1 2 3");
  // Three decades, room for ten labels: 1, 2, 5 of each decade; minor at the other mantissas.
  const std::vector<Tick> three = fv::axis_ticks({kLog, 100, 1e5}, 12);
  EXPECT_EQ(labels(three), "100 200 500 1k 2k 5k 10k 20k 50k 100k");
  EXPECT_EQ(minors(three), 18);
  // Nine decades: decades, in the scientific form as 1e-6 needs it; every third when crowded.
  EXPECT_EQ(labels({kLog, 1e-6, 1e3}, 10), "1e-6 1e-5 1e-4 1e-3 1e-2 1e-1 1e0 1e1 1e2 1e3");
  const std::vector<Tick> sparse = fv::axis_ticks({kLog, 1e-6, 1e3}, 4);
  EXPECT_EQ(labels(sparse), "1e-6 1e-3 1e0 1e3");
  EXPECT_EQ(minors(sparse), 6);  // the unlabelled decades; no 2..9 over nine decades
  // A few decades of counts: 2..9 minor.
  const std::vector<Tick> counts = fv::axis_ticks({kLog, 100, 1e6}, 6);
  EXPECT_EQ(labels(counts), "100 1k 10k 100k 1M");
  EXPECT_EQ(minors(counts), 32);
  // Little more than a decade with few labels: 1 and 5; less than a factor 2: linear steps.
  EXPECT_EQ(labels({kLog, 2, 50}, 3), "5 10 50");
  EXPECT_EQ(labels({kLog, 1.1, 1.9}, 5), "1.2 1.4 1.6 1.8");
  EXPECT_EQ(labels({kLog, 1e-5, 1e-3}, 12), "1e-5 2e-5 5e-5 1e-4 2e-4 5e-4 1e-3");
}

TEST(PlotTicks, UnitsAndPrefixes) {
  const LabelFormat seconds{"s", true};
  EXPECT_EQ(labels({kLog, 1e-6, 1}, 8, seconds), "1 µs 10 µs 100 µs 1 ms 10 ms 100 ms 1 s");
  EXPECT_EQ(labels({kLin, 0, 2e-3}, 5, seconds), "0 s 500 µs 1 ms 1.5 ms 2 ms");
  EXPECT_EQ(labels({kLin, 0, 100}, 3, {"%", false}), "0 % 50 % 100 %");
  EXPECT_EQ(fv::format_tick(2.5e9, 1e8, {"B", true}), "2.5 GB");
  EXPECT_EQ(fv::format_tick(1e-13, 1e-14, {"s", true}), "1e-13 s");
}

TEST(PlotTicks, ReadoutsAndLabels) {
  EXPECT_EQ(fv::format_value(4096), "4.1k");
  EXPECT_EQ(fv::format_value(4096, {}, 4), "4.096k");
  EXPECT_EQ(fv::format_value(0.0123456), "0.0123");
  EXPECT_EQ(fv::format_value(999999), "1M");
  EXPECT_EQ(fv::format_value(1.5e9), "1.5G");
  EXPECT_EQ(fv::format_value(2.5e-7), "2.5e-7");
  EXPECT_EQ(fv::format_value(-0.3), "-0.3");
  EXPECT_EQ(fv::format_value(0), "0");
  EXPECT_EQ(fv::format_value(9.9999e-4), "1e-3");  // mantissa rounds up to 10
  EXPECT_EQ(fv::format_value(NAN), "NaN");
  EXPECT_EQ(fv::format_tick(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(fv::format_tick(-1e-17, 0.1), "0");
}

TEST(PlotTicks, FitTicksAvoidsOverlappingLabels) {
  const auto width = [](const std::string& s) { return 8.0 * s.size(); };
  const Axis axis{kLin, 0, 1e6};
  const std::vector<Tick> ticks = fv::fit_ticks(axis, 200, 20, 10, width);
  double last_end = -1e9;
  for (const Tick& t : ticks) {
    const double x = fv::axis_fraction(axis, t.value) * 200, half = width(t.label) / 2;
    EXPECT_GE(x - half, last_end + 10) << t.label;
    last_end = x + half;
  }
  EXPECT_GE(ticks.size(), 2u);
  EXPECT_EQ(labels(fv::fit_ticks(axis, 1000, 100, 10, width)), labels(axis, 10));
}

// ---- range, zoom, pan ----

TEST(PlotRange, AutoRange) {
  Axis a = fv::auto_range(kLin, 0, 0.3);
  EXPECT_NEAR(a.lo, -0.015, 1e-15);
  EXPECT_NEAR(a.hi, 0.315, 1e-15);
  a = fv::auto_range(kLin, 5, 5);
  EXPECT_DOUBLE_EQ(a.lo, 4.5);
  EXPECT_DOUBLE_EQ(a.hi, 5.5);
  a = fv::auto_range(kLin, 0, 0);
  EXPECT_EQ(a.lo, -1);
  EXPECT_EQ(a.hi, 1);
  a = fv::auto_range(kLog, 256, 65536);  // to whole or half decades, with a margin
  EXPECT_EQ(a.lo, 100);
  EXPECT_EQ(a.hi, 100000);
  a = fv::auto_range(kLog, 100, 1000);  // on decades: the next half decades
  EXPECT_NEAR(a.lo, std::sqrt(10.0) * 10, 1e-9);
  EXPECT_NEAR(a.hi, std::sqrt(10.0) * 1000, 1e-9);
  a = fv::auto_range(kLog, 100, 100);
  EXPECT_NEAR(a.lo, std::sqrt(10.0) * 10, 1e-9);
  EXPECT_NEAR(a.hi, std::sqrt(10.0) * 100, 1e-9);
  a = fv::auto_range(kLog, INFINITY, -INFINITY);  // no data
  EXPECT_EQ(a.lo, 1);
  EXPECT_EQ(a.hi, 10);
  a = fv::auto_range(kLin, INFINITY, -INFINITY);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 1);
}

TEST(PlotRange, ZoomKeepsThePointUnderTheCursor) {
  Axis lin{kLin, 0, 100};
  const double v = fv::axis_value(lin, 0.25);
  fv::zoom_axis(lin, 0.25, 4);
  EXPECT_NEAR(lin.hi - lin.lo, 25, 1e-12);
  EXPECT_NEAR(fv::axis_value(lin, 0.25), v, 1e-12);
  Axis log{kLog, 1, 1e6};
  fv::zoom_axis(log, 0.5, 2);  // six decades to three, about 1e3
  EXPECT_NEAR(std::log10(log.lo), 1.5, 1e-12);
  EXPECT_NEAR(std::log10(log.hi), 4.5, 1e-12);
  fv::zoom_axis(log, 0.5, 0.5);
  EXPECT_NEAR(log.lo, 1, 1e-9);
  EXPECT_NEAR(log.hi, 1e6, 1e-3);
  fv::zoom_axis(log, 0.5, 0);  // ignored
  fv::zoom_axis(log, 0.5, NAN);
  EXPECT_NEAR(log.hi, 1e6, 1e-3);
}

TEST(PlotRange, ZoomAndPanAreLimited) {
  Axis lin{kLin, 1e6, 1e6 + 1};
  fv::zoom_axis(lin, 0.5, 1e30);
  EXPECT_NEAR(lin.hi - lin.lo, 1e6 * fv::kMinRelativeSpan, 1e-8);  // to the doubles near 1e6
  EXPECT_GT(lin.hi, lin.lo);
  Axis log{kLog, 1e-10, 1e10};
  fv::zoom_axis(log, 0.5, 1e-9);  // out past the limits: kept inside [kMinLog, kMaxLog]
  EXPECT_GE(log.lo, fv::kMinLog * 0.999);
  EXPECT_LE(log.hi, fv::kMaxLog * 1.001);
  fv::pan_axis(log, -1e9);
  EXPECT_GE(log.lo, fv::kMinLog * 0.999);
  EXPECT_GT(log.hi, log.lo);
}

TEST(PlotRange, PanMovesByFractionsOfTheSpan) {
  Axis lin{kLin, 0, 10};
  fv::pan_axis(lin, 0.5);
  EXPECT_DOUBLE_EQ(lin.lo, 5);
  EXPECT_DOUBLE_EQ(lin.hi, 15);
  Axis log{kLog, 10, 1000};
  fv::pan_axis(log, -0.5);  // one decade down, in log space
  EXPECT_NEAR(log.lo, 1, 1e-12);
  EXPECT_NEAR(log.hi, 100, 1e-10);
}

// ---- fit and layout ----

fv::PlotSpec scaling_spec() {
  fv::PlotSpec spec;
  spec.title = "Latency <vs> N & memory";
  spec.x = {"N", kLog, {}};
  spec.y = {"latency", kLog, {"s", true}};
  fv::Series fma{"FMA", {256, 1024, 4096, 16384}, {1e-4, 3e-4, 1e-3, 4e-3}};
  fv::Series sdpa{"SDPA <dense>", {256, 1024, 4096, 16384}, {5e-5, 4e-4, NAN, 1e-1}};
  sdpa.marker = fv::Marker::square;
  sdpa.edge_x = {65536};
  spec.series = {fma, sdpa, fv::power_law("O(N^2)", 256, 65536, 256, 5e-5, 2, 0)};
  spec.annotations.push_back({4096, 1e-3, "FMA overtakes SDPA at N = 4096"});
  return spec;
}

TEST(PlotFit, FitsTheFittedSeriesAndEdgeMarks) {
  const fv::PlotSpec spec = scaling_spec();
  fv::PlotState state;
  fv::fit_plot(spec, state);
  EXPECT_EQ(state.x.scale, kLog);
  EXPECT_EQ(state.x.lo, 100);
  EXPECT_EQ(state.x.hi, 100000);  // the out-of-memory mark at 65536 is inside
  EXPECT_NEAR(state.y.lo, 1e-5 * std::sqrt(10.0), 1e-12);  // the O(N^2) line (up to 3.3) is not fitted
  EXPECT_NEAR(state.y.hi, 1e-1 * std::sqrt(10.0), 1e-12);
  state.hidden = {"SDPA <dense>"};
  fv::fit_plot(spec, state);
  EXPECT_NEAR(state.y.hi, 1e-2, 1e-15);
}

TEST(PlotFit, PowerLawReference) {
  const fv::Series line = fv::power_law("O(N log N)", 100, 10000, 100, 2, 1, 1);
  ASSERT_EQ(line.x.size(), line.y.size());
  EXPECT_NEAR(line.x.front(), 100, 1e-9);
  EXPECT_NEAR(line.x.back(), 10000, 1e-6);
  EXPECT_NEAR(line.y.front(), 2, 1e-12);
  EXPECT_NEAR(line.y.back(), 2 * 100 * 2, 1e-6);  // (x / 100) * (ln x / ln 100)
  EXPECT_TRUE(line.dashed);
  EXPECT_FALSE(line.fit);
}

TEST(PlotLayout, TicksFitAndTheLegendAvoidsTheData) {
  const fv::PlotSpec spec = scaling_spec();
  fv::PlotState state;
  fv::prepare_view(spec, state);
  const fv::TextMetrics text{[](const std::string& s) { return 7.0f * s.size(); }, 15};
  const fv::PlotLayout layout = fv::layout_plot(spec, state, {0, 0, 640, 400}, text);
  EXPECT_GT(layout.area.x0, 8);
  EXPECT_LT(layout.area.x1, 640);
  EXPECT_LT(layout.area.y1, 400 - 2 * 15);  // tick labels and the x title below
  EXPECT_EQ(labels(layout.x_ticks), "100 1k 10k 100k");
  ASSERT_EQ(layout.legend_series.size(), 3u);
  // Rising lines leave the top left empty.
  EXPECT_LT(layout.legend.x0, (layout.area.x0 + layout.area.x1) / 2);
  EXPECT_LT(layout.legend.y0, (layout.area.y0 + layout.area.y1) / 2);
  const fv::PlotPoint p = fv::to_screen(layout, 100, 1e-5 * std::sqrt(10.0));
  EXPECT_NEAR(p.x, layout.area.x0, 1e-3);
  EXPECT_NEAR(p.y, layout.area.y1, 1e-3);
  EXPECT_TRUE(std::isnan(fv::to_screen(layout, -1, 1).x));
}

// Issue 21 point 4: spread bars on every point, reference lines named at their ends, and no
// two labels (annotations, end labels) over each other, the legend or the axes' labels.
TEST(PlotLayout, SpreadBarsAndLabelsThatNeverOverlap) {
  fv::PlotSpec spec = scaling_spec();
  spec.series[0].y_lo = {0.8e-4, 2e-4, 0.9e-3, 3e-3};
  spec.series[0].y_hi = {3e-4, 5e-4, 2e-3, 9e-3};
  spec.series.push_back(fv::power_law("O(N)", 256, 65536, 256, 5e-5, 1, 0));
  spec.series.push_back(fv::power_law("O(N log N)", 256, 65536, 256, 5e-5, 1, 1));
  // Three notes at nearly the same point, and one at the area's left edge.
  for (const char* t : {"fma faster than sdpa from N = 4096", "fma faster than local from N = 4096", "third"}) {
    spec.annotations.push_back({4096, 1.1e-3, t});
  }
  spec.annotations.push_back({256, 1e-4, "at the left edge, over the y labels if unplaced"});
  fv::PlotState state;
  fv::prepare_view(spec, state);
  const fv::TextMetrics text{[](const std::string& s) { return 7.0f * s.size(); }, 15};
  const fv::PlotLayout layout = fv::layout_plot(spec, state, {0, 0, 640, 400}, text);
  const std::vector<fv::PlotShape> shapes = fv::plot_shapes(spec, state, layout, fv::dark_plot_theme(), text);
  int spreads = 0;
  std::vector<fv::PlotRect> boxes;
  std::vector<std::string> ends;
  for (const fv::PlotShape& s : shapes) {
    const std::string role = s.role;
    if (role == "spread") ++spreads;
    if (role == "annotation" && s.kind == fv::PlotShape::Kind::fill_rect) {
      boxes.push_back({s.points[0].x, s.points[0].y, s.points[1].x, s.points[1].y});
    }
    if (role == "end label") {
      ends.push_back(s.text);
      boxes.push_back({s.points[0].x - 2, s.points[0].y, s.points[0].x + 2 + text.width(s.text), s.points[0].y + 15});
    }
  }
  EXPECT_EQ(spreads, 4 * 3);  // a bar and two caps per point
  EXPECT_EQ(ends, (std::vector<std::string>{"O(N^2)", "O(N)", "O(N log N)"}));
  ASSERT_EQ(boxes.size(), 5u + 3u);  // scaling_spec has one note already
  const fv::PlotRect& a = layout.area;
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const fv::PlotRect& b = boxes[i];
    EXPECT_TRUE(b.x0 >= a.x0 && b.x1 <= a.x1 && b.y0 >= a.y0 && b.y1 <= a.y1) << "label " << i << " leaves the area";
    const fv::PlotRect& l = layout.legend;
    EXPECT_FALSE(b.x0 < l.x1 && l.x0 < b.x1 && b.y0 < l.y1 && l.y0 < b.y1) << "label " << i << " is over the legend";
    for (std::size_t j = 0; j < i; ++j) {
      const fv::PlotRect& c = boxes[j];
      EXPECT_FALSE(b.x0 < c.x1 - 0.5f && c.x0 + 0.5f < b.x1 && b.y0 < c.y1 - 0.5f && c.y0 + 0.5f < b.y1)
          << "labels " << j << " and " << i << " overlap";
    }
  }
}

// ---- SVG ----

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

TEST(PlotSvg, WritesSeriesLegendAndEscapedText) {
  fv::PlotSpec spec = scaling_spec();
  const std::string path = temp_path("fmav_test_plot.svg");
  fv::write_plot_svg(path, spec, fv::PlotState{});
  const std::string svg = read_text(path);
  std::filesystem::remove(path);
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // FMA: one polyline of four points and four circles; SDPA: broken by its NaN into two
  // single segments, three squares (rects) and its out-of-memory 'x' (two lines).
  EXPECT_NE(svg.find("points=\"", svg.find("class=\"series\"")), std::string::npos);
  EXPECT_EQ(count(svg, "<circle class=\"marker\""), 4u);
  EXPECT_EQ(count(svg, "<rect class=\"marker\""), 3u);
  EXPECT_EQ(count(svg, "class=\"edge\""), 2u);
  EXPECT_EQ(count(svg, "<polyline class=\"series\""), 3u);  // FMA, SDPA up to its NaN, O(N^2)
  EXPECT_EQ(count(svg, "stroke-dasharray"), 2u);  // the reference line and its legend sample
  const std::size_t fma = svg.find("<polyline class=\"series\"");
  const std::string points = svg.substr(fma, svg.find("/>", fma) - fma);
  EXPECT_EQ(count(points, ","), 4u);  // one comma per point
  EXPECT_NE(svg.find(">FMA</text>"), std::string::npos);
  EXPECT_NE(svg.find(">SDPA &lt;dense&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find(">O(N^2)</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>Latency &lt;vs&gt; N &amp; memory</title>"), std::string::npos);
  EXPECT_NE(svg.find(">FMA overtakes SDPA at N = 4096</text>"), std::string::npos);
  EXPECT_NE(svg.find(">10 ms</text>"), std::string::npos);
  EXPECT_EQ(svg.find("<dense>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(PlotSvg, HeatMapCells) {
  fv::PlotSpec spec;
  spec.x.title = "p";
  spec.y.title = "r";
  fv::HeatMap& map = spec.heat_map;
  map.rows = 3, map.cols = 4;
  map.row_labels = {"16", "32", "64"};
  map.col_labels = {"1", "2", "4", "8"};
  map.values = {0.1, 0.2, 0.3, 0.4, 0.5, NAN, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2};
  map.color = [](double v) { return fmav::viewer::Rgba8{static_cast<std::uint8_t>(v * 200), 0, 0, 255}; };
  map.color_lo = 0, map.color_hi = 1.2;
  map.selected_row = 2, map.selected_col = 3;
  const std::string path = temp_path("fmav_test_heat.svg");
  fv::write_plot_svg(path, spec, fv::PlotState{}, 500, 300);
  const std::string svg = read_text(path);
  std::filesystem::remove(path);
  EXPECT_EQ(count(svg, "<rect class=\"cell\""), 12u);
  EXPECT_EQ(count(svg, "class=\"missing\""), 1u);
  EXPECT_EQ(count(svg, "class=\"selected\""), 1u);
  EXPECT_EQ(count(svg, "class=\"value\""), 11u);  // every cell but the missing one is written
  EXPECT_NE(svg.find(">0.7</text>"), std::string::npos);
  for (const char* label : {">16<", ">32<", ">64<", ">1<", ">2<", ">4<", ">8<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  EXPECT_GT(count(svg, "class=\"bar\""), 64u);  // the colour bar's strips and frame
  EXPECT_EQ(count(svg, "class=\"grid\""), 0u);
}

TEST(PlotSvg, ChecksItsArguments) {
  try {
    fv::write_plot_svg("/nonexistent-dir/x.svg", scaling_spec(), fv::PlotState{});
    FAIL() << "expected fmav::Error";
  } catch (const fmav::Error& e) {
    EXPECT_STREQ(e.what(), "cannot write the SVG plot to '/nonexistent-dir/x.svg'");
  }
  try {
    fv::write_plot_svg(temp_path("fmav_small.svg"), scaling_spec(), fv::PlotState{}, 50, 50);
    FAIL() << "expected fmav::Error";
  } catch (const fmav::Error& e) {
    EXPECT_STREQ(e.what(), "the SVG plot must be at least 100 x 80 pixels, got 50 x 50");
  }
}

}  // namespace

namespace {

// CIELAB (D65) of an sRGB colour, for colour differences as the eye sees them.
std::array<double, 3> cielab(fmav::viewer::Rgba8 c) {
  const auto linear = [](std::uint8_t v) {
    const double x = v / 255.0;
    return x <= 0.04045 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4);
  };
  const double r = linear(c.r), g = linear(c.g), b = linear(c.b);
  const double xyz[3] = {(0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
                         (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883};
  double f[3];
  for (int i = 0; i < 3; ++i) f[i] = xyz[i] > 0.008856 ? std::cbrt(xyz[i]) : 7.787 * xyz[i] + 16.0 / 116.0;
  return {116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])};
}

double delta_e(fmav::viewer::Rgba8 a, fmav::viewer::Rgba8 b) {
  const auto p = cielab(a), q = cielab(b);
  return std::hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

// Issue 21: near vs L5 and L2 vs L7 looked alike. Every pair of the 16 level colours, and each
// against the masked grey, the NaN magenta and the viewer's dark background, differ by
// ΔE*ab >= 30 (a just-noticeable difference is ~2.3).
TEST(LevelColors, SixteenDistinctColours) {
  using fmav::viewer::level_color;
  using fmav::viewer::Rgba8;
  const Rgba8 others[] = {fmav::viewer::kMaskedColor, Rgba8{255, 0, 255, 255}, Rgba8{15, 15, 15, 255}};
  double closest = 1e9;
  for (int a = 0; a < fmav::viewer::kLevelColorCount; ++a) {
    for (int b = a + 1; b < fmav::viewer::kLevelColorCount; ++b) {
      const double d = delta_e(level_color(a), level_color(b));
      EXPECT_GE(d, 30.0) << "levels " << a << " and " << b;
      closest = std::min(closest, d);
    }
    for (const Rgba8& other : others) EXPECT_GE(delta_e(level_color(a), other), 30.0) << "level " << a;
  }
  EXPECT_GT(closest, 0.0);
  const Rgba8 first = level_color(0), again = level_color(fmav::viewer::kLevelColorCount);
  EXPECT_TRUE(first.r == again.r && first.g == again.g && first.b == again.b);  // repeats after 16
}

}  // namespace
