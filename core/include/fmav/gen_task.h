#pragma once
// Synthetic data made by the project (no downloads), deterministic for a seed on every
// platform: byte-level text tasks whose answers need distant tokens, a small image
// classification set of shapes, and the viewer's default picture.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmav/input.h"

namespace fmav {

// A text and which of its bytes are answers (what a model is scored on).
struct TextTask {
  std::string text;
  std::vector<std::uint8_t> answer_mask;  // (text.size(),), 1 on every answer byte, else 0
};

// Key-value recall: `records` records of exactly `record_len` printable ASCII bytes, each
// ending in '\n'. A record lists key=value pairs (`k3f9=81ac;`, keys unique within it), then
// '.' filler, then a few queries (`?k3f9>81ac;`) whose value bytes are the answers; every
// queried pair starts at least record_len / 4 bytes before its query, so local attention
// can not answer. Throws fmav::Error for records < 1, record_len < 64, or more than 1 GiB.
TextTask make_kv_recall(std::int64_t records, std::int64_t record_len, std::uint64_t seed);

// Copying: each record is a random lowercase string of (record_len - 2) / 2 bytes, a '|'
// separator (two when record_len is odd), the same string again (the answers) and '\n'; each
// answer byte's source lies about record_len / 2 bytes before it. Throws fmav::Error like
// make_kv_recall.
TextTask make_copy_task(std::int64_t records, std::int64_t record_len, std::uint64_t seed);

// The shape classes, sorted (as list_image_folder reports them).
const std::vector<std::string>& shape_classes();

// Writes root/{circle,cross,square,triangle}/NNNN.png (0000 .. per_class - 1): one filled
// shape of random position, size and colour on a noisy background of another random colour,
// size x size pixels. Creates the folders; each file is written atomically. Throws
// fmav::Error for per_class outside 1..100000, size outside 8..1024, or when writing fails.
// `progress`, when given, is called after each image with the images written and in all.
void make_shapes_dataset(const std::string& root, std::int64_t per_class, std::int64_t size,
                         std::uint64_t seed,
                         const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

// A deterministic picture for the viewer's default image: soft shapes over a colour
// gradient with ripples and grain, size x size. Throws fmav::Error for size outside 8..4096.
Image make_sample_image(std::int64_t size, std::uint64_t seed);

}  // namespace fmav
