#pragma once
// The segmenter's part of the model configuration (fmav/model_config.h): its checks and the
// tensors of its model.safetensors (core only).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fmav/model_config.h"

namespace fmav {

// Throws fmav::Error naming the first bad segmenter field.
void validate_segmenter(const ModelConfig& config);
// Appends the segmenter's tensors (name, shape), unsorted.
void add_segmenter_shapes(const ModelConfig& config,
                          std::vector<std::pair<std::string, std::vector<std::int64_t>>>* out);

}  // namespace fmav
