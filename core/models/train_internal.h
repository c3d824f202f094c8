#pragma once
// Training data for the models: a text's bytes and splits, or an image folder decoded to the
// model's size, and the batches drawn from them (core only).

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/model.h"
#include "fmav/train.h"

namespace fmav {

struct Dataset {
  bool is_text = true;
  // text: the bytes, the optional answer mask (gen-task) and each split's [begin, end)
  std::string bytes;
  std::vector<std::uint8_t> answers;
  std::int64_t begin[4] = {0, 0, 0, 0}, end[4] = {0, 0, 0, 0};  // by Split
  // images: (M, S, S, 3) float32 in [0, 1], labels (M) int64, indices of each split
  std::vector<std::string> classes;
  at::Tensor pixels, labels;
  std::vector<std::int64_t> train_items, valid_items;
  // segmentation folders: per-pixel classes (M, S, S) int16, kIgnoreClass (-1) where ignored
  bool is_segments = false;
  at::Tensor masks;
};

// Reads a text file (UTF-8) or an image folder for `config` (images fitted to its size).
// `answers` (text only, may be empty) must have one byte per text byte. Split boundaries of a
// text with answers are rounded down to multiples of `align` so records stay whole.
// Throws fmav::Error naming what is unusable.
Dataset load_dataset(const std::string& path, const ModelConfig& config, const std::string& answers,
                     std::int64_t align, const ProgressFn& progress);

// One training batch for step `step` (deterministic in seed and step, so a resumed run sees
// the same batches): inputs and targets. Causal LM: tokens (B, n), next bytes (B, n). Masked
// LM: masked tokens (B, n), original bytes at masked positions and -100 elsewhere. Images:
// pixels (B, S, S, 3), labels (B); segmentation: pixels and classes (B, S, S), -1 ignored.
struct Batch {
  at::Tensor inputs, targets;
};
Batch train_batch(const Dataset& data, const ModelConfig& config, const TrainOptions& options,
                  std::int64_t step);

// Mean cross-entropy (nats) of a batch, differentiable (segmentation: per scored pixel).
at::Tensor batch_loss(const Model& model, const Batch& batch);

}  // namespace fmav
