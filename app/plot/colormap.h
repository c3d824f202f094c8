#pragma once
// Colour maps of fma-viewer: a viridis-like sequential map for probabilities, a blue-white-red
// diverging map for differences and categorical colours for the level map (docs/DESIGN.md §2).

#include <cstddef>
#include <cstdint>
#include <string>

namespace fmav::viewer {

struct Rgba8 {
  std::uint8_t r = 0, g = 0, b = 0, a = 255;
};

// Colour of the masked pairs (padding, the causal future) in every map.
constexpr Rgba8 kMaskedColor{48, 48, 52, 255};

// The sequential maps for probabilities: `standard` dark purple -> blue -> green -> yellow
// (viridis-like), `magma` black -> purple -> orange -> pale yellow, `gray` black -> white.
enum class Colormap { standard, magma, gray };
const char* to_string(Colormap map);  // "standard" | "magma" | "gray"
// The map named by to_string; false (and *map unchanged) for any other name.
bool parse_colormap(const std::string& name, Colormap* map);

// The sequential map's colour at t, clamped to [0, 1].
Rgba8 sequential_color(float t, Colormap map = Colormap::standard);
// Blue (t = -1) -> white (0) -> red (+1); t is clamped to [-1, 1].
Rgba8 diverging_color(float t);
// Categorical colour of a level: 0 near field, 1.. coarse levels, -1 masked; 16 distinct
// colours (kLevelColorCount), repeating after.
constexpr int kLevelColorCount = 16;
Rgba8 level_color(int level);

// Colours count values into rgba (count * 4 bytes): (v - lo) / (hi - lo) on the sequential
// map; with log10, v is first mapped to log10(max(v, 10^lo)), so lo and hi are exponents.
// Pairs where masked[i] < 0 get kMaskedColor; masked may be null.
void colorize_sequential(const double* values, std::size_t count, double lo, double hi, bool log10,
                         const std::int8_t* masked, std::uint8_t* rgba, Colormap map = Colormap::standard);
// Colours values on the diverging map over the symmetric range [-limit, +limit]: linearly
// when decades == 0, else symmetric-log, |v| from limit * 10^-decades up to limit (smaller
// magnitudes are white), so that small departures stay visible.
void colorize_diverging(const double* values, std::size_t count, double limit, int decades,
                        const std::int8_t* masked, std::uint8_t* rgba);
// Where v falls on the diverging map, in [-1, 1], as colorize_diverging places it.
float diverging_position(double value, double limit, int decades);
// Colours a level map (0 near, l coarse, -1 masked) with level_color.
void colorize_levels(const std::int8_t* levels, std::size_t count, std::uint8_t* rgba);

}  // namespace fmav::viewer
