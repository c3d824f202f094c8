#pragma once
// The query inspector's row (panel_query.cpp) and the drawing of the model's input coloured
// by it (panel_query_input.cpp): text tokens, or the image's patches with the fine cells.

#include "colormap.h"
#include "map_colors.h"
#include "maps_worker.h"
#include "panel_query.h"

#include <cstdint>

namespace fmav::viewer {

struct Shared;

// One query row of the shown inspection and how it is drawn.
struct QueryRow {
  const Inspection* in = nullptr;  // the head's map: means over rows, levels, output error
  const Inspection* exact = nullptr;  // holds the row unpooled, at index `at` (in when unpooled)
  std::int64_t at = 0;
  const MapJob* job = nullptr;
  std::int64_t row = 0, cols = 0;  // the query token; keys 0..cols-1
  const double* full = nullptr;
  const double* fma = nullptr;
  const std::int8_t* level = nullptr;
  MapScale scale = MapScale::log10;
  Colormap map = Colormap::standard;
  double floor = kLogFloor;  // log10 scale: the lowest exponent shown
  double hi = 1;  // linear scale: the largest probability of the row
};

// A key's colour for the row: its probability on the sequential map, or its level.
Rgba8 key_color(const QueryRow& r, std::int64_t key, QueryColor color);
// The tooltip of one key of the row (name, both probabilities, level).
void key_tooltip(const QueryRow& r, std::int64_t key);

// The window's tokens wrapped in lines, each on its colour; a click selects the query.
void draw_tokens(Shared& shared, const QueryPanel& query, const QueryRow& r);
// The input image plain and with the row's attention per patch; a click selects the query.
void draw_image(Shared& shared, QueryPanel& query, const QueryRow& r);
// A segmenter's classes: colour, share of the prediction and this image's IoU, with its mIoU
// and pixel accuracy (or why there is no ground truth), in a table `height` pixels high.
void draw_segment_legend(const SegmentView& seg, float height);

}  // namespace fmav::viewer
