#pragma once
// How the viewer colours attention probabilities: the scale, the colormap and the log10 floor
// the sidebar sets (Shared::colors), read by the maps, the query inspector and the heads.

#include "colormap.h"

namespace fmav::viewer {

// How probabilities are coloured: attention is best seen in log10, clamped to [-6, 0].
enum class MapScale { linear, log10 };
constexpr double kLogFloor = -6.0;  // log10 probabilities are clamped to [kLogFloor, 0]
constexpr int kDiffDecades = 4;     // decades of the symmetric-log difference map (log10)
inline int diff_decades(MapScale scale) { return scale == MapScale::log10 ? kDiffDecades : 0; }
// NaN and Inf cells (let through by --allow-nonfinite): a magenta none of the colormaps has.
// shaders/maps.frag draws them in the same colour (kNonFinite there).
constexpr Rgba8 kNonFiniteColor{255, 0, 255, 255};

// The colours of probabilities in the maps, the query inspector and the heads' thumbnails.
struct MapColors {
  MapScale scale = MapScale::log10;
  Colormap colormap = Colormap::standard;
  double log_floor = kLogFloor;  // log10 scale: the range shown is [10^floor, 1]
  bool operator==(const MapColors& o) const {
    return scale == o.scale && colormap == o.colormap && log_floor == o.log_floor;
  }
  bool operator!=(const MapColors& o) const { return !(*this == o); }
};

}  // namespace fmav::viewer
