// Colour maps: a few control points chosen for this project, linearly interpolated in sRGB.

#include "colormap.h"

#include <algorithm>
#include <cmath>

namespace fmav::viewer {
namespace {

struct ControlPoint {
  float t;
  float r, g, b;
};

// Perceptually ordered dark-to-light ramp in the spirit of viridis (own control points).
constexpr ControlPoint kSequential[] = {
    {0.00f, 0.27f, 0.00f, 0.33f}, {0.15f, 0.28f, 0.17f, 0.48f}, {0.30f, 0.23f, 0.32f, 0.55f},
    {0.45f, 0.16f, 0.46f, 0.56f}, {0.60f, 0.13f, 0.58f, 0.54f}, {0.75f, 0.30f, 0.72f, 0.42f},
    {0.88f, 0.62f, 0.85f, 0.22f}, {1.00f, 0.99f, 0.91f, 0.15f},
};

// Black -> purple -> orange -> pale yellow, in the spirit of magma (own control points).
constexpr ControlPoint kMagma[] = {
    {0.00f, 0.00f, 0.00f, 0.02f}, {0.20f, 0.17f, 0.07f, 0.36f}, {0.40f, 0.45f, 0.12f, 0.50f},
    {0.60f, 0.74f, 0.22f, 0.45f}, {0.80f, 0.98f, 0.48f, 0.33f}, {1.00f, 0.99f, 0.93f, 0.70f},
};

constexpr ControlPoint kGray[] = {{0.00f, 0.04f, 0.04f, 0.04f}, {1.00f, 1.00f, 1.00f, 1.00f}};

// Blue -> white -> red, symmetric around t = 0.5 (own control points).
constexpr ControlPoint kDiverging[] = {
    {0.00f, 0.12f, 0.25f, 0.65f}, {0.25f, 0.45f, 0.65f, 0.88f}, {0.50f, 0.97f, 0.97f, 0.97f},
    {0.75f, 0.93f, 0.55f, 0.45f}, {1.00f, 0.68f, 0.08f, 0.15f},
};

// Near field first, then the coarse levels from fine to coarse: 16 colours whose every pair is
// at least 36 apart in CIELAB (ΔE*ab; 2.3 is a just-noticeable difference), as are each and
// the masked grey, the NaN magenta and the dark background (the first four are the original
// picks; each next one the candidate farthest from those before it, lightness 50-88, so the
// coarsest levels differ most from the near field). tests/plot/test_plot.cpp checks this.
constexpr Rgba8 kLevelColors[] = {
    {242, 170, 40, 255},  {80, 160, 230, 255},  {60, 180, 120, 255},  {210, 110, 180, 255},
    {30, 240, 30, 255},   {240, 30, 45, 255},   {240, 210, 195, 255}, {105, 105, 240, 255},
    {195, 225, 45, 255},  {45, 225, 240, 255},  {135, 120, 60, 255},  {225, 120, 105, 255},
    {240, 30, 120, 255},  {225, 225, 135, 255}, {75, 135, 135, 255},  {105, 150, 30, 255},
};

std::uint8_t to_byte(float x) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(x, 0.0f, 1.0f) * 255.0f));
}

template <std::size_t N>
Rgba8 interpolate(const ControlPoint (&points)[N], float t) {
  if (!(t >= 0.0f)) t = 0.0f;  // also catches NaN
  t = std::min(t, 1.0f);
  std::size_t i = 1;
  while (i + 1 < N && points[i].t < t) ++i;
  const ControlPoint& a = points[i - 1];
  const ControlPoint& b = points[i];
  const float u = (t - a.t) / (b.t - a.t);
  return Rgba8{to_byte(a.r + u * (b.r - a.r)), to_byte(a.g + u * (b.g - a.g)),
               to_byte(a.b + u * (b.b - a.b)), 255};
}

void put(std::uint8_t* rgba, std::size_t i, Rgba8 c) {
  rgba[4 * i + 0] = c.r;
  rgba[4 * i + 1] = c.g;
  rgba[4 * i + 2] = c.b;
  rgba[4 * i + 3] = c.a;
}

bool is_masked(const std::int8_t* masked, std::size_t i) { return masked && masked[i] < 0; }

}  // namespace

const char* to_string(Colormap map) {
  switch (map) {
    case Colormap::standard: return "standard";
    case Colormap::magma: return "magma";
    case Colormap::gray: return "gray";
  }
  return "?";
}

bool parse_colormap(const std::string& name, Colormap* map) {
  for (Colormap m : {Colormap::standard, Colormap::magma, Colormap::gray}) {
    if (name == to_string(m)) {
      *map = m;
      return true;
    }
  }
  return false;
}

Rgba8 sequential_color(float t, Colormap map) {
  switch (map) {
    case Colormap::magma: return interpolate(kMagma, t);
    case Colormap::gray: return interpolate(kGray, t);
    case Colormap::standard: break;
  }
  return interpolate(kSequential, t);
}

Rgba8 diverging_color(float t) { return interpolate(kDiverging, 0.5f * (t + 1.0f)); }

Rgba8 level_color(int level) {
  if (level < 0) return kMaskedColor;
  static_assert(sizeof(kLevelColors) / sizeof(kLevelColors[0]) == kLevelColorCount);
  return kLevelColors[level % kLevelColorCount];
}

void colorize_sequential(const double* values, std::size_t count, double lo, double hi, bool log10,
                         const std::int8_t* masked, std::uint8_t* rgba, Colormap map) {
  const double span = hi > lo ? hi - lo : 1.0;
  const double floor_value = std::pow(10.0, lo);
  for (std::size_t i = 0; i < count; ++i) {
    if (is_masked(masked, i)) {
      put(rgba, i, kMaskedColor);
      continue;
    }
    double v = values[i];
    if (log10) v = std::log10(std::max(v, floor_value));
    put(rgba, i, sequential_color(static_cast<float>((v - lo) / span), map));
  }
}

float diverging_position(double value, double limit, int decades) {
  if (!(limit > 0)) return 0.0f;
  if (decades <= 0) return static_cast<float>(value / limit);
  const double magnitude = std::abs(value) / limit;  // <= 1
  const double t = std::max(0.0, 1.0 + std::log10(std::max(magnitude, 1e-300)) / decades);
  return static_cast<float>(value < 0 ? -t : t);
}

void colorize_diverging(const double* values, std::size_t count, double limit, int decades,
                        const std::int8_t* masked, std::uint8_t* rgba) {
  for (std::size_t i = 0; i < count; ++i) {
    if (is_masked(masked, i)) {
      put(rgba, i, kMaskedColor);
      continue;
    }
    put(rgba, i, diverging_color(diverging_position(values[i], limit, decades)));
  }
}

void colorize_levels(const std::int8_t* levels, std::size_t count, std::uint8_t* rgba) {
  for (std::size_t i = 0; i < count; ++i) put(rgba, i, level_color(levels[i]));
}

}  // namespace fmav::viewer
