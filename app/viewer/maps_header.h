#pragma once
// The maps' header (issue 21 points 1 and 5): the settings of the maps on screen, never the
// sidebar's pending ones; what the model was trained with and so which map is the
// counterfactual; the mass per level of both maps; an engine error of newer settings beside
// the last good maps, which stay until new ones replace them.

#include "maps_worker.h"

#include <string>

namespace fmav::viewer {

struct Shared;

// The settings a run computed, in one line: "n = 512   r = 32   p = 4   bidirectional   average
// down-sampling" (FMA) or "n = 512   Local windows: blocks of 32 (b-1, b, b+1)   causal" (a
// peer); n is left out when the run has no tokens (it failed before reading its input).
std::string settings_line(const MapJob& job);
// Which attention the model was trained with and which of the two maps is therefore the
// counterfactual; for the synthetic input and q/k/v files, that no model was trained.
std::string comparison_line(const MapJob& job);
// The header over the four maps: source line, settings_line, comparison_line, busy state,
// a newer run's engine error, pooling note, metrics, and the mass per level of both maps.
void draw_maps_header(const Shared& shared);

}  // namespace fmav::viewer
