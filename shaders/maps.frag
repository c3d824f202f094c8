#version 330 core
// Colours an attention map from its float values (docs/DESIGN.md §2): probabilities on a
// sequential colormap (linear, or log10 clamped to [10^lo, 10^hi]), differences on a
// diverging map (linear or symmetric-log over `decades`), or the level map's categories.
// The colours come from a 256 x 3 table made by app/plot/colormap.cpp (row 0 sequential, row 1
// diverging, row 2 levels), so the legends drawn on the CPU match exactly. The level
// texture holds level + 1 as a normalised byte; 0 (level -1) marks masked pairs. NaN and Inf
// values (from non-finite inputs let through) are drawn magenta, as kNonFiniteColor in
// app/viewer/map_colors.h.

in vec2 v_uv;
out vec4 color;

uniform sampler2D u_values;  // R32F, mipmapped by block means
uniform sampler2D u_levels;  // R8, nearest
uniform sampler2D u_colors;  // RGBA8 256 x 3
uniform int u_shading;       // 0 sequential, 1 diverging, 2 levels
uniform bool u_log10;
uniform float u_lo, u_hi;    // sequential range (exponents with log10)
uniform float u_limit;       // diverging: |values| up to u_limit
uniform int u_decades;       // diverging: 0 linear, else symmetric-log decades
uniform vec4 u_masked;

const float kLn10 = 2.302585093;
const vec4 kNonFinite = vec4(1.0, 0.0, 1.0, 1.0);

vec4 table(int row, float t) {
  return texture(u_colors, vec2((clamp(t, 0.0, 1.0) * 255.0 + 0.5) / 256.0, (float(row) + 0.5) / 3.0));
}

float diverging_position(float value) {
  if (!(u_limit > 0.0)) return 0.0;
  if (u_decades <= 0) return value / u_limit;
  float magnitude = abs(value) / u_limit;
  float t = max(0.0, 1.0 + log(max(magnitude, 1e-30)) / kLn10 / float(u_decades));
  return value < 0.0 ? -t : t;
}

void main() {
  int level = int(texture(u_levels, v_uv).r * 255.0 + 0.5) - 1;
  if (level < 0) {
    color = u_masked;
    return;
  }
  if (u_shading == 2) {
    color = texelFetch(u_colors, ivec2(min(level, 255), 2), 0);
    return;
  }
  float v = texture(u_values, v_uv).r;
  if (isnan(v) || isinf(v)) {
    color = kNonFinite;
    return;
  }
  if (u_shading == 1) {
    color = table(1, 0.5 * (diverging_position(v) + 1.0));
    return;
  }
  if (u_log10) v = log(max(v, exp(u_lo * kLn10))) / kLn10;
  float span = u_hi > u_lo ? u_hi - u_lo : 1.0;
  color = table(0, (v - u_lo) / span);
}
