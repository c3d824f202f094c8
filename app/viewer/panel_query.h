#pragma once
// The query inspector (panel_query.cpp, panel_query_input.cpp): one query row of the shown
// head under full attention and FMA, and the model's input coloured by it.

#include "fmav/input.h"
#include "fmav/inspect.h"

#include <cstdint>
#include <memory>

namespace fmav::viewer {

struct SegmentView;  // segment_view.h
struct Shared;

// What the query inspector colours tokens or image patches by.
enum class QueryColor { fma, full, level };

// What a segmenter's image shows over it.
enum class SegmentOverlay { none, predicted, truth };

// The query inspector's own settings and the GL texture of the input image it shows.
struct QueryPanel {
  QueryColor color = QueryColor::fma;
  // A pooled map's query row, computed exactly from the job's inspector when chosen.
  std::shared_ptr<const Inspection> exact_row;
  std::shared_ptr<const Inspection> exact_of;  // the map it belongs to
  std::int64_t exact_index = -1;
  unsigned int image_texture = 0;              // 0 = none
  std::shared_ptr<const Image> texture_image;  // the image in image_texture
  // A segmenter's image: the mask blended over it (segment_view.h), which one and how strongly.
  SegmentOverlay segment_overlay = SegmentOverlay::predicted;
  float segment_alpha = 0.5f;
  std::shared_ptr<const Image> blended;  // the image shown, for blended_of at these settings
  std::shared_ptr<const SegmentView> blended_of;
  SegmentOverlay blended_overlay = SegmentOverlay::none;
  float blended_alpha = -1;
};

// The query inspector: one query's attention over keys under full attention and FMA, the
// level of each key and the mass per level; text tokens or the image coloured by attention.
// A click on a token or patch makes it shared.query_row.
void draw_query_view(Shared& shared, QueryPanel& query);
// Frees the query inspector's image texture (at exit, with the GL context alive).
void release_query(QueryPanel& query);

}  // namespace fmav::viewer
