// fmav_swap.json, the file `fmav fit` adds to a Hugging Face folder (fmav/hf_fit.h): read
// strictly, every key known and in range, errors naming the file and the field. No LibTorch
// (fmav_io), so the fuzz target reads it too.

#include <limits>
#include <set>

#include "fmav/error.h"
#include "fmav/hf_fit.h"
#include "io/json_util.h"

namespace fmav {

HfFittedSwap parse_hf_swap(const std::string& text, const std::string& where, const HfConfig& c) {
  const Json j = parse_json_object(text, where, kHfSwapFormat, kHfSwapVersion, 1u << 20, 8);
  json_check_keys(j, {"format", "format_version", "method", "layers", "block_size", "rank", "downsample",
                      "count_multiplicity", "tokens", "weights", "base", "steps", "loss", "fit"},
                  where);
  HfFittedSwap s;
  FMAV_CHECK(json_string(j, "method", where) == "fma", where, ": \"method\" must be \"fma\", got ",
             j.at("method").dump());
  const Json& layers = json_key(j, "layers", where);
  FMAV_CHECK(layers.is_array() && !layers.empty(), where, ": \"layers\" must be a non-empty list of layers");
  std::set<int> seen;
  for (const Json& l : layers) {
    FMAV_CHECK(l.is_number_integer() && l.get<std::int64_t>() >= 0 && l.get<std::int64_t>() < c.layers, where,
               ": \"layers\" holds ", l.dump(), "; the model's layers are 0..", c.layers - 1);
    FMAV_CHECK(seen.insert(l.get<int>()).second, where, ": \"layers\" names layer ", l.dump(), " twice");
    s.swap.layers.push_back(l.get<int>());
  }
  AttendOptions& a = s.swap.options;
  a.method = Method::fma;
  a.fma.causal = true;
  a.fma.block_size = json_int(j, "block_size", 1, 1 << 20, where);
  a.fma.rank = json_int(j, "rank", 1, 1 << 20, where);
  try {
    a.fma.downsample = parse_downsample(json_string(j, "downsample", where));
    validate(a.fma);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  FMAV_CHECK(a.fma.downsample != Downsample::average, where, ": \"downsample\" must be learned or dense (fitted "
             "weights), got average");
  a.fma.count_multiplicity = json_bool(j, "count_multiplicity", where);
  s.tokens = json_int(j, "tokens", 2, c.max_positions, where);
  FMAV_CHECK(json_string(j, "weights", where) == kHfSwapWeights, where, ": \"weights\" must be \"", kHfSwapWeights,
             "\", got ", j.at("weights").dump());
  s.base = json_string(j, "base", where);
  s.steps = json_int(j, "steps", 0, std::numeric_limits<std::int64_t>::max(), where);
  s.loss = json_number(j, "loss", where);
  const Json& f = json_key(j, "fit", where);
  FMAV_CHECK(f.is_object(), where, ": \"fit\" must be an object");
  return s;
}

}  // namespace fmav
