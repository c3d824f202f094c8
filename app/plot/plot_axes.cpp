// Axis arithmetic of the plot widget (plot_axes.h): transforms, ticks, labels, ranges.
// Tick values are built from integers (i * m / 10^k) so that they are the doubles nearest the
// decimal numbers they stand for; labels take their decimals from the grid step, never from
// the value, so float noise (0.30000000000000004) never reaches a label.

#include "plot_axes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace fmav::viewer {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLogEps = 1e-9;  // log10 of an exact power of ten may be off by an ulp

// 10^e, exact for |e| <= 22 (10^-e as 1 / 10^e, correctly rounded).
double pow10_int(int e) {
  if (e < -22 || e > 22) return std::pow(10.0, e);
  double p = 1;
  for (int i = 0; i < std::abs(e); ++i) p *= 10;
  return e >= 0 ? p : 1 / p;
}

// The decimal exponent of |v| (v != 0): 3 for 1000 even when log10 rounds down.
int exponent_of(double v) { return static_cast<int>(std::floor(std::log10(std::abs(v)) + kLogEps)); }

// i * m * 10^e as the double nearest the decimal number.
double grid_value(long long i, int m, int e) {
  const double n = static_cast<double>(i) * m;
  return e >= 0 ? n * pow10_int(e) : n / pow10_int(-e);
}

// v with `decimals` decimals, trailing zeros (and a bare point) dropped, "-0" as "0".
std::string fixed(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", std::clamp(decimals, 0, 17), v);
  std::string s = buffer;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string with_unit(std::string s, const LabelFormat& format) {
  return format.unit.empty() ? s : s + " " + format.unit;
}

// "1.5e-5": the mantissa to the step's resolution.
std::string scientific(double v, double step) {
  int e = exponent_of(v);
  const int decimals = std::clamp(e - exponent_of(step), 0, 15);
  std::string mantissa = fixed(v / pow10_int(e), decimals);
  if (std::abs(std::stod(mantissa)) >= 10) mantissa = fixed(v / pow10_int(++e), decimals);
  return mantissa + "e" + std::to_string(e);
}

// v scaled by 10^(3 j) (its digits) and the prefix of j, for 1000 <= |v| or metric
// prefixes; a prefix up when the digits would read 1000.
std::pair<std::string, std::string> prefixed(double v, double step, int j, const char* const* prefixes,
                                             int j_min, int j_max) {
  std::string digits = fixed(v / pow10_int(3 * j), std::max(0, 3 * j - exponent_of(step)));
  if (std::abs(std::stod(digits)) >= 1000 && j < j_max) {
    ++j;
    digits = fixed(v / pow10_int(3 * j), std::max(0, 3 * j - exponent_of(step)));
  }
  return {digits, prefixes[j - j_min]};
}

// ---- ticks ----

// The number of multiples of m * 10^e in [lo, hi], and the first one's index into *first.
long long grid_count(double lo, double hi, int m, int e, long long* first) {
  const double step = m * pow10_int(e);
  *first = static_cast<long long>(std::ceil(lo / step - 1e-9));
  return static_cast<long long>(std::floor(hi / step + 1e-9)) - *first + 1;
}

// At most max_labels (>= 2) labelled ticks on the finest grid of 1, 2 or 5 x 10^k over [lo, hi].
std::vector<Tick> linear_ticks(double lo, double hi, int max_labels, const LabelFormat& format,
                               bool positive_only) {
  static const int kMantissas[] = {1, 2, 5};
  const int e0 = exponent_of((hi - lo) / max_labels) - 1;  // a finer grid than needed to start
  int m = 1, e = e0;
  long long first = 0, n = 0;
  for (int k = 0; k < 12; ++k) {
    m = kMantissas[k % 3], e = e0 + k / 3;
    n = grid_count(lo, hi, m, e, &first);
    if (n <= max_labels) break;
  }
  const double step = m * pow10_int(e);
  std::vector<Tick> ticks;
  for (long long i = first; i < first + n; ++i) {
    const double v = grid_value(i, m, e);
    if (positive_only && v <= 0) continue;
    ticks.push_back({v, true, format_tick(v, step, format)});
  }
  return ticks;
}

// Whether a log label needs the "1e-6" form: a value outside the plain or prefixed range.
bool needs_scientific(double v, const LabelFormat& format) {
  return format.metric_prefixes ? v < 1e-12 || v >= 1e15 : v < 1e-3 || v >= 1e15;
}

// Log ticks with the mantissas in `labelled` labelled, the other mantissas of `minor` minor;
// decades labelled only where exponent % every == 0.
std::vector<Tick> log_ticks(double lo, double hi, const std::vector<int>& labelled, const std::vector<int>& minor,
                            int every, const LabelFormat& format) {
  const int d0 = exponent_of(lo), d1 = exponent_of(hi);
  std::vector<Tick> ticks;
  bool scientific_labels = false;
  for (int d = d0; d <= d1; ++d) {
    for (int m = 1; m <= 9; ++m) {
      const double v = grid_value(1, m, d);
      if (v < lo * (1 - 1e-12) || v > hi * (1 + 1e-12)) continue;
      const bool major = std::count(labelled.begin(), labelled.end(), m) && (m != 1 || d % every == 0);
      if (!major && !(m == 1 || std::count(minor.begin(), minor.end(), m))) continue;
      ticks.push_back({v, major, ""});
      scientific_labels = scientific_labels || (major && needs_scientific(v, format));
    }
  }
  for (Tick& t : ticks) {
    if (!t.major) continue;
    const double step = pow10_int(exponent_of(t.value));
    t.label = scientific_labels ? with_unit(scientific(t.value, step), format) : format_tick(t.value, step, format);
  }
  return ticks;
}

int count_majors(const std::vector<Tick>& ticks) {
  return static_cast<int>(std::count_if(ticks.begin(), ticks.end(), [](const Tick& t) { return t.major; }));
}

std::vector<Tick> log_axis_ticks(double lo, double hi, int max_labels, const LabelFormat& format) {
  const std::vector<int> all = {1, 2, 3, 4, 5, 6, 7, 8, 9}, one_two_five = {1, 2, 5}, one_five = {1, 5}, one = {1};
  const double decades = std::log10(hi / lo);
  if (decades <= 1 + kLogEps) {
    std::vector<Tick> ticks = log_ticks(lo, hi, all, all, 1, format);
    if (count_majors(ticks) >= 2 && count_majors(ticks) <= max_labels) return ticks;
  }
  std::vector<Tick> ticks = log_ticks(lo, hi, one_two_five, all, 1, format);
  if (count_majors(ticks) >= 2 && count_majors(ticks) <= max_labels) return ticks;
  const int labelled_decades = exponent_of(hi) - static_cast<int>(std::ceil(std::log10(lo) - kLogEps)) + 1;
  const int every = std::max(1, (labelled_decades + max_labels - 1) / max_labels);
  ticks = log_ticks(lo, hi, one, decades <= 8 ? all : one, every, format);
  if (count_majors(ticks) >= 2) return ticks;
  ticks = log_ticks(lo, hi, one_five, all, 1, format);  // about a decade, few labels
  if (count_majors(ticks) >= 2 && count_majors(ticks) <= max_labels) return ticks;
  return linear_ticks(lo, hi, max_labels, format, true);  // less than a decade, few labels
}

}  // namespace

// ---- transforms ----

double axis_fraction(const Axis& axis, double v) {
  if (axis.scale == AxisScale::linear) return (v - axis.lo) / (axis.hi - axis.lo);
  if (!(v > 0)) return kNaN;
  const double l0 = std::log10(axis.lo), l1 = std::log10(axis.hi);
  return (std::log10(v) - l0) / (l1 - l0);
}

double axis_value(const Axis& axis, double f) {
  if (axis.scale == AxisScale::linear) return axis.lo + f * (axis.hi - axis.lo);
  const double l0 = std::log10(axis.lo), l1 = std::log10(axis.hi);
  return std::pow(10.0, l0 + f * (l1 - l0));
}

// ---- ticks and labels ----

std::vector<Tick> axis_ticks(const Axis& axis, int max_labels, const LabelFormat& format) {
  max_labels = std::max(2, max_labels);
  if (!std::isfinite(axis.lo) || !std::isfinite(axis.hi)) return {};
  if (axis.scale == AxisScale::log10 && !(axis.lo > 0)) return {};
  if (!(axis.hi > axis.lo)) {  // no span: the value itself
    return {{axis.lo, true, format_value(axis.lo, format)}};
  }
  if (axis.scale == AxisScale::log10) return log_axis_ticks(axis.lo, axis.hi, max_labels, format);
  return linear_ticks(axis.lo, axis.hi, max_labels, format, false);
}

std::vector<Tick> fit_ticks(const Axis& axis, double length_px, double spacing_px, double gap_px,
                            const std::function<double(const std::string&)>& label_size,
                            const LabelFormat& format) {
  int n = std::max(2, static_cast<int>(length_px / std::max(1.0, spacing_px)));
  for (;; --n) {
    std::vector<Tick> ticks = axis_ticks(axis, n, format);
    if (n == 2) return ticks;
    bool fits = true;
    double last_end = -std::numeric_limits<double>::infinity();
    for (const Tick& t : ticks) {
      if (!t.major) continue;
      const double position = axis_fraction(axis, t.value) * length_px, half = label_size(t.label) / 2;
      fits = fits && position - half >= last_end + gap_px;
      last_end = position + half;
    }
    if (fits) return ticks;
  }
}

std::string format_tick(double v, double step, const LabelFormat& format) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (!(step > 0) || !std::isfinite(step)) step = v != 0 ? std::abs(v) : 1;
  if (std::abs(v) < step * 1e-6) return with_unit("0", format);
  const double a = std::abs(v);
  if (format.metric_prefixes) {
    static const char* const kPrefixes[] = {"p", "n", "\xC2\xB5", "m", "", "k", "M", "G", "T"};
    if (a < 1e-12 || a >= 1e15) return with_unit(scientific(v, step), format);
    const int j = std::clamp(static_cast<int>(std::floor(exponent_of(a) / 3.0)), -4, 4);
    const auto [digits, prefix] = prefixed(v, step, j, kPrefixes, -4, 4);
    return digits + " " + prefix + format.unit;
  }
  if (a < 1e-3 || a >= 1e15) return with_unit(scientific(v, step), format);
  if (a >= 1000) {
    static const char* const kSuffixes[] = {"k", "M", "G", "T"};
    const int j = std::clamp(exponent_of(a) / 3, 1, 4);
    const auto [digits, suffix] = prefixed(v, step, j, kSuffixes, 1, 4);
    return with_unit(digits + suffix, format);
  }
  return with_unit(fixed(v, -exponent_of(step)), format);
}

std::string format_value(double v, const LabelFormat& format, int digits) {
  if (v == 0 || !std::isfinite(v)) return format_tick(v, 1, format);
  return format_tick(v, pow10_int(exponent_of(v) - std::max(1, digits) + 1), format);
}

// ---- range, zoom and pan ----

bool data_extent(const std::vector<double>& values, AxisScale scale, double* lo, double* hi) {
  bool any = false;
  for (const double v : values) {
    if (!std::isfinite(v) || (scale == AxisScale::log10 && !(v > 0))) continue;
    *lo = std::min(*lo, v), *hi = std::max(*hi, v), any = true;
  }
  return any;
}

Axis auto_range(AxisScale scale, double lo, double hi) {
  if (scale == AxisScale::linear) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) return {scale, 0, 1};
    const double span = hi - lo;
    if (span <= std::max(std::abs(lo), std::abs(hi)) * kMinRelativeSpan) {
      const double d = lo == 0 ? 1 : 0.1 * std::abs(lo);
      return {scale, lo - d, hi + d};
    }
    return {scale, lo - 0.05 * span, hi + 0.05 * span};
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo > 0) || lo > hi) return {scale, 1, 10};
  const double l0 = std::log10(lo), l1 = std::log10(hi), span = l1 - l0;
  const double margin = span < 1e-9 ? 0.5 : span / 50;
  const double e0 = std::floor((l0 - margin) * 2 + kLogEps) / 2, e1 = std::ceil((l1 + margin) * 2 - kLogEps) / 2;
  const auto half_decade = [](double e) {
    return e == std::floor(e) ? pow10_int(static_cast<int>(e)) : std::pow(10.0, e);
  };
  return {scale, half_decade(std::max(e0, -300.0)), half_decade(std::min(e1, 300.0))};
}

void zoom_axis(Axis& axis, double f, double factor) {
  if (!(factor > 0) || !std::isfinite(factor) || !std::isfinite(f)) return;
  const bool log = axis.scale == AxisScale::log10;
  const double a = log ? std::log10(axis.lo) : axis.lo, b = log ? std::log10(axis.hi) : axis.hi;
  const double center = a + f * (b - a);
  const double magnitude = std::max(std::abs(a), std::abs(b));
  const double min_span = log ? kMinRelativeSpan : std::max(kMinRelativeSpan * magnitude, 1e-300);
  const double max_span = log ? 600 : 1e300;
  const double span = std::clamp((b - a) / factor, min_span, max_span);
  double lo = center - f * span, hi = lo + span;
  if (log) {  // stay inside [kMinLog, kMaxLog]
    if (lo < -300) hi += -300 - lo, lo = -300;
    if (hi > 300) lo -= hi - 300, hi = 300;
    axis.lo = std::pow(10.0, lo), axis.hi = std::pow(10.0, hi);
  } else {
    axis.lo = lo, axis.hi = hi;
  }
}

void pan_axis(Axis& axis, double df) {
  if (!std::isfinite(df)) return;
  if (axis.scale == AxisScale::linear) {
    const double shift = df * (axis.hi - axis.lo);
    axis.lo += shift, axis.hi += shift;
    return;
  }
  const double l0 = std::log10(axis.lo), l1 = std::log10(axis.hi);
  const double shift = std::clamp(df * (l1 - l0), -300 - l0, 300 - l1);
  axis.lo = std::pow(10.0, l0 + shift), axis.hi = std::pow(10.0, l1 + shift);
}

}  // namespace fmav::viewer
