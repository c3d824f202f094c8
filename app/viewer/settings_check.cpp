// The sidebar's settings checked by the engine's own validation (settings_check.h).

#include "settings_check.h"
#include "qkv_source.h"

#include "fmav/error.h"

#include <algorithm>

namespace fmav::viewer {

std::int64_t setting_value(const MapParams& params, Setting setting) {
  switch (setting) {
    case Setting::tokens: return params.n;
    case Setting::block_size: return params.block_size;
    case Setting::rank: return params.rank;
    case Setting::hash_rounds: return params.hash_rounds;
  }
  return 0;
}

void set_setting(MapParams* params, Setting setting, std::int64_t value) {
  switch (setting) {
    case Setting::tokens: params->n = value; break;
    case Setting::block_size: params->block_size = value; break;
    case Setting::rank: params->rank = value; break;
    case Setting::hash_rounds: params->hash_rounds = static_cast<int>(value); break;
  }
}

std::string settings_problem(const MapParams& params, std::int64_t n) {
  if (n < 1 || n > kMaxTokens) {
    return "the viewer shows 1 to " + std::to_string(kMaxTokens) + " tokens, got n = " + std::to_string(n);
  }
  try {
    source_options(params, n);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::int64_t step_setting(const MapParams& params, std::int64_t n, Setting setting, int direction,
                          std::int64_t stride) {
  const std::int64_t from = setting_value(params, setting);
  MapParams next = params;
  for (int k = 1; k <= kMaxSteps; ++k) {
    const std::int64_t value = from + direction * k * std::max<std::int64_t>(1, stride);
    if (value < 1) break;
    set_setting(&next, setting, value);
    if (settings_problem(next, setting == Setting::tokens ? value : n).empty()) return value;
  }
  return from;
}

}  // namespace fmav::viewer
