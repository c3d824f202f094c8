#pragma once
// Which values of the sidebar's settings the engine accepts (issue 21 point 1): the steppers
// move only between them and a typed value the engine would refuse is not applied. The rules
// are the engine's own (validate() of fmav/fma.h, validate_peer() of fmav/method.h, through
// source_options), asked, not repeated here.

#include "map_params.h"

#include <cstdint>
#include <string>

namespace fmav::viewer {

// The integer settings the sidebar's steppers change.
enum class Setting { tokens, block_size, rank, hash_rounds };

std::int64_t setting_value(const MapParams& params, Setting setting);
void set_setting(MapParams* params, Setting setting, std::int64_t value);

// Why the engine would refuse `params` on n tokens (the synthetic input: params.n), in its
// own words; empty when it accepts them. Only the method's settings are judged, not the
// source (a missing file is the run's error).
std::string settings_problem(const MapParams& params, std::int64_t n);

// The first value of `setting` after its current one, going by `stride` in `direction` (+1
// or -1), that settings_problem accepts with the other settings as they are; the current
// value when there is none within the next kMaxSteps strides or below 1.
constexpr int kMaxSteps = 4096;
std::int64_t step_setting(const MapParams& params, std::int64_t n, Setting setting, int direction,
                          std::int64_t stride = 1);

}  // namespace fmav::viewer
