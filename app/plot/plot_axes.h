#pragma once
// The arithmetic of the plot widget's axes (plot.h): linear and log10 axes, value <->
// fraction transforms, "nice" ticks and their labels, auto-range, zoom, pan. Plain arithmetic
// (no ImGui), so it is unit-tested (tests/test_plot.cpp).

#include <functional>
#include <string>
#include <vector>

namespace fmav::viewer {

enum class AxisScale { linear, log10 };

// The visible range of an axis: lo < hi; on a log10 axis 0 < lo.
struct Axis {
  AxisScale scale = AxisScale::linear;
  double lo = 0, hi = 1;
};

// How tick and readout labels are written. Without metric prefixes: "0.25", "1.5k", "2M",
// "3G", "1e-5" (k, M, G, T from 1000 on; scientific below 0.001 and from 1e15 on), then
// " " + unit when unit is set ("25 %"). With metric prefixes the unit is required and the
// prefix joins it: "1.5 ms", "10 µs", "2 GB" (p, n, µ, m, k, M, G, T).
struct LabelFormat {
  std::string unit{};
  bool metric_prefixes = false;
};

struct Tick {
  double value = 0;
  bool major = false;  // majors are labelled and get a stronger grid line
  std::string label{};  // empty for minor ticks
};

// ---- transforms ----

// Where v falls on the axis: 0 at lo, 1 at hi, outside [0, 1] when not visible. On a log10
// axis a value <= 0 (or NaN) has no place: the result is NaN, which plots treat as a gap.
double axis_fraction(const Axis& axis, double v);
// The value at fraction f (the inverse of axis_fraction).
double axis_value(const Axis& axis, double f);

// ---- ticks and labels ----

// Ticks of the visible range with at most max(2, max_labels) labelled ones, at least one.
// Linear: the finest steps of 1, 2 or 5 x 10^k that keep to that. Log10, the first that fits:
// the mantissas 1..9 (at most one decade shown); 1, 2, 5 with minor ticks at the other
// mantissas; every k-th decade labelled, the others minor (and 2..9 minor while at most 8
// decades show); 1 and 5; else linear steps (a range narrower than the mantissas). Labels:
// format_tick; but when any labelled log tick is outside its plain range (below 0.001 or
// from 1e15 on) all read "1e-6", "2e-6", "1e0". Sorted by value; empty for a non-finite
// range (or lo <= 0 on a log axis); one tick when lo == hi.
std::vector<Tick> axis_ticks(const Axis& axis, int max_labels, const LabelFormat& format = {});

// Ticks for an axis of length_px pixels whose labels (label_size(label): width along a
// horizontal axis, height along a vertical one) leave at least gap_px between neighbours:
// starts at length_px / spacing_px labels and takes fewer until they fit (or two are left).
std::vector<Tick> fit_ticks(const Axis& axis, double length_px, double spacing_px, double gap_px,
                            const std::function<double(const std::string&)>& label_size,
                            const LabelFormat& format = {});

// The label of a tick at v on a grid of `step` (step > 0 sets the decimals shown, so that
// 3 * 0.1 reads "0.3"); trailing zeros are dropped ("1", "1.5"). See LabelFormat.
std::string format_tick(double v, double step, const LabelFormat& format = {});
// A readout (hover, heat map cells) with `digits` significant digits: "0.0123", "4.1k".
std::string format_value(double v, const LabelFormat& format = {}, int digits = 3);

// ---- range, zoom and pan ----

// Widens [*lo, *hi] to take in the finite values (only the positive ones on a log10 axis);
// start from lo = +inf, hi = -inf. Whether any value counted.
bool data_extent(const std::vector<double>& values, AxisScale scale, double* lo, double* hi);
// The range to show for data spanning [lo, hi] (lo <= hi): linear with 5% of the span on
// each side (a zero span widens to +-10% of |v|, or +-1 around 0); log10 from the half
// decade at or below lo / 10^(span/50) to the one at or above hi * 10^(span/50) (a single
// value gets half a decade or more on each side). Non-finite input, or lo <= 0 on a log
// axis, gives [0, 1] or [1, 10].
Axis auto_range(AxisScale scale, double lo, double hi);
// Zooms by factor (> 1: in) about the fraction f, which keeps its value; in log space on a
// log10 axis. Spans stay within kMinRelativeSpan of the values and within [kMinLog, kMaxLog]
// on log axes; a non-positive or non-finite factor does nothing.
void zoom_axis(Axis& axis, double f, double factor);
// Moves the view by df fractions of its span (a drag: minus the mouse motion / length).
void pan_axis(Axis& axis, double df);

constexpr double kMinRelativeSpan = 1e-9;  // of max(|lo|, |hi|) on linear axes
constexpr double kMinLog = 1e-300, kMaxLog = 1e300;

}  // namespace fmav::viewer
