#pragma once
// The token-index axes of the attention maps (issue 21 point 3): where the ticks of a visible
// span of tokens go, and what they read (a token index; on image inputs the patch's row and
// column). Plain arithmetic (no ImGui), so it is unit-tested.

#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

// The tokens in [lo, hi) that carry ticks when the span is drawn over `pixels` pixels, at
// least `min_gap_px` apart: multiples of the smallest step 1, 2 or 5 x 10^k that keeps them
// apart; with `grid_width` > 1, once a step reaches an image row, 1, 2 or 5 x 10^k rows.
// Empty when the span or the pixels are empty.
std::vector<std::int64_t> axis_ticks(double lo, double hi, double pixels, double min_gap_px,
                                     std::int64_t grid_width = 0);

// What a tick at token `t` reads: "t", or on an image of `grid_width` patches a row "r,c".
std::string tick_label(std::int64_t t, std::int64_t grid_width);

}  // namespace fmav::viewer
