// `fmav gen-task`: synthetic data made by the project (fmav/gen_task.h) — the kv-recall and
// copy text tasks with their answer masks, the shapes image set, the sample image, and the
// viewer's synthetic q, k, v as a file (for `fma-viewer --qkv`, `fmav attend`, `fmav inspect`).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "commands.h"
#include "fmav/gen_task.h"
#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/sample.h"
#include "fmav/segments.h"
#include "fmav/tensor.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

struct GenTaskArgs {
  std::int64_t records = 200, length = 512;
  std::int64_t per_class = 100, shape_size = 32, image_size = 256, count = 200, segment_size = 64;
  std::int64_t tokens = 512, heads = 1, head_dim = 64;
  std::uint64_t seed = 1;
  std::string out;
};

// "task.txt" -> "task.answers.npy"; a name without an extension just gets the suffix.
std::string answers_path(const std::string& out) {
  const std::size_t slash = out.find_last_of('/');
  const std::size_t name = slash == std::string::npos ? 0 : slash + 1;
  const std::size_t dot = out.find_last_of('.');
  const bool has_extension = dot != std::string::npos && dot > name;
  return (has_extension ? out.substr(0, dot) : out) + ".answers.npy";
}

int write_text_task(const char* task_name, const TextTask& task, const GenTaskArgs& a) {
  write_file_atomic(a.out, task.text);
  HostTensor mask =
      make_host_tensor(DType::u8, {static_cast<std::int64_t>(task.answer_mask.size())});
  mask.data = task.answer_mask;
  const std::string answers = answers_path(a.out);
  write_npy(answers, mask);
  std::int64_t answer_bytes = 0;
  for (std::uint8_t m : task.answer_mask) answer_bytes += m;
  std::printf("wrote %s: %s, %lld records of %lld bytes (%zu bytes, %lld answer bytes), and %s\n",
              a.out.c_str(), task_name, static_cast<long long>(a.records),
              static_cast<long long>(a.length), task.text.size(),
              static_cast<long long>(answer_bytes), answers.c_str());
  return 0;
}

void add_text_options(CLI::App* cmd, GenTaskArgs& a) {
  cmd->add_option("--records", a.records, "records to write")->capture_default_str();
  cmd->add_option("--length", a.length, "bytes per record, >= 64 (a model's context)")
      ->capture_default_str();
  cmd->add_option("--seed", a.seed, "random seed (the same seed gives the same bytes)")
      ->capture_default_str();
  cmd->add_option("--out,-o", a.out,
                  "the text file to write; the answer mask goes next to it as\n"
                  "<name>.answers.npy (uint8, one per byte, 1 on answer bytes)")
      ->required();
}

// q, k, v of sample_qkv, (1, H, N, D) float32, head h drawn with seed + h, in one
// .safetensors under the names q, k and v.
int write_sample_qkv(const GenTaskArgs& a) {
  const std::size_t ext = a.out.size() >= 12 ? a.out.size() - 12 : 0;
  FMAV_CHECK(a.out.size() > 12 && a.out.compare(ext, 12, ".safetensors") == 0,
             "--out must be a .safetensors file, got '", a.out, "'");
  check_memory("gen-task sample-qkv:", sample_qkv_bytes(a.heads, a.tokens, a.head_dim));
  TensorMap qkv;
  for (const char* name : {"q", "k", "v"}) {
    qkv[name] = make_host_tensor(DType::f32, {1, a.heads, a.tokens, a.head_dim});
  }
  const std::size_t head_bytes = static_cast<std::size_t>(a.tokens * a.head_dim) * sizeof(float);
  for (std::int64_t h = 0; h < a.heads; ++h) {
    const SampleQkv sample = sample_qkv(a.tokens, a.head_dim, a.seed + static_cast<std::uint64_t>(h));
    for (const auto& [name, tensor] : {std::pair{"q", &sample.q}, std::pair{"k", &sample.k},
                                       std::pair{"v", &sample.v}}) {
      std::copy(tensor->data.begin(), tensor->data.end(), qkv[name].data.begin() + h * head_bytes);
    }
  }
  write_safetensors(a.out, qkv);
  std::printf("wrote %s: q, k, v (1, %lld, %lld, %lld) float32 (seed %llu)\n", a.out.c_str(),
              static_cast<long long>(a.heads), static_cast<long long>(a.tokens),
              static_cast<long long>(a.head_dim), static_cast<unsigned long long>(a.seed));
  return 0;
}

}  // namespace

std::function<int()> add_gen_task(CLI::App& app) {
  auto a = std::make_shared<GenTaskArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gen-task",
      "Write synthetic data: text tasks whose answers need distant tokens, a shapes\n"
      "image set, the viewer's sample image, or its synthetic q, k, v (docs/INPUTS.md).");
  cmd->require_subcommand(1);

  CLI::App* kv = cmd->add_subcommand(
      "kv-recall",
      "Records of key=value pairs, then queries ?key>value whose values are the\n"
      "answers; each queried pair lies at least a quarter record before its query.");
  add_text_options(kv, *a);
  CLI::App* copy = cmd->add_subcommand(
      "copy",
      "Records of a random lowercase string, a '|', and the same string again (the\n"
      "answers, each half a record after its source).");
  add_text_options(copy, *a);

  CLI::App* shapes = cmd->add_subcommand(
      "shapes",
      "An image classification set: OUT/{circle,cross,square,triangle}/NNNN.png, one\n"
      "shape of random position, size and colour on a noisy background.");
  shapes->add_option("--per-class", a->per_class, "images per class, 1..100000")
      ->capture_default_str();
  shapes->add_option("--size", a->shape_size, "image side in pixels, 8..1024")
      ->capture_default_str();
  shapes->add_option("--seed", a->seed, "random seed")->capture_default_str();
  shapes->add_option("--out,-o", a->out, "the folder to write (created)")->required();

  CLI::App* segments = cmd->add_subcommand(
      "segments",
      "A segmentation set in the ADE20K layout: OUT/images/{training,validation}/NNNN.png,\n"
      "OUT/annotations/{...}/NNNN.png (8-bit labels: 0 background, 1 circle, 2 square,\n"
      "3 triangle, 4 cross, 5 stripes) and OUT/classes.json; overlapping textured shapes.");
  segments->add_option("--count", a->count, "training images, 1..100000 (validation: max(2, count / 5))")
      ->capture_default_str();
  segments->add_option("--size", a->segment_size, "image side in pixels, 16..1024")->capture_default_str();
  segments->add_option("--seed", a->seed, "random seed")->capture_default_str();
  segments->add_option("--out,-o", a->out, "the folder to write (created)")->required();

  CLI::App* sample = cmd->add_subcommand(
      "sample-image", "The viewer's default picture: soft shapes over a gradient, as a PNG.");
  sample->add_option("--size", a->image_size, "image side in pixels, 8..4096")
      ->capture_default_str();
  sample->add_option("--seed", a->seed, "random seed")->capture_default_str();
  sample->add_option("--out,-o", a->out, "the PNG to write")->required();

  CLI::App* qkv = cmd->add_subcommand(
      "sample-qkv",
      "The viewer's synthetic input (sinusoidal positions, a few landmark keys) as raw\n"
      "q, k, v (1, H, N, D) float32 in one .safetensors, head h drawn with seed + h.");
  qkv->add_option("--n", a->tokens, "tokens N, 1..1048576")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20))
      ->capture_default_str();
  qkv->add_option("--heads", a->heads, "heads H, 1..64")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{64}))
      ->capture_default_str();
  qkv->add_option("--dim", a->head_dim, "head dimension D, 2..1024")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{1024}))
      ->capture_default_str();
  qkv->add_option("--seed", a->seed, "random seed")->capture_default_str();
  qkv->add_option("--out,-o", a->out, "the .safetensors to write")->required();

  return [a, kv, copy, shapes, segments, qkv] {
    if (qkv->parsed()) return write_sample_qkv(*a);
    // The text task's memory, checked before it is made (fmav/memory_budget.h).
    if (kv->parsed() || copy->parsed()) check_memory("gen-task:", text_task_bytes(a->records, a->length));
    if (kv->parsed())
      return write_text_task("kv-recall", make_kv_recall(a->records, a->length, a->seed), *a);
    if (copy->parsed())
      return write_text_task("copy", make_copy_task(a->records, a->length, a->seed), *a);
    if (shapes->parsed()) {
      int reported = 0;  // tenths written, on stderr
      make_shapes_dataset(a->out, a->per_class, a->shape_size, a->seed, [&](std::int64_t done, std::int64_t total) {
        const int tenth = static_cast<int>(10 * done / total);
        if (tenth > reported) std::fprintf(stderr, "writing images: %d%%\n", 10 * tenth), reported = tenth;
      });
      std::printf(
          "wrote %s: %lld images (%zu classes x %lld) of %lldx%lld pixels\n", a->out.c_str(),
          static_cast<long long>(a->per_class) * static_cast<long long>(shape_classes().size()),
          shape_classes().size(), static_cast<long long>(a->per_class),
          static_cast<long long>(a->shape_size), static_cast<long long>(a->shape_size));
      return 0;
    }
    if (segments->parsed()) {
      int reported = 0;  // tenths written, on stderr
      std::int64_t written = 0;
      make_segments_dataset(a->out, a->count, a->segment_size, a->seed, [&](std::int64_t done, std::int64_t total) {
        const int tenth = static_cast<int>(10 * done / total);
        if (tenth > reported) std::fprintf(stderr, "writing images: %d%%\n", 10 * tenth), reported = tenth;
        written = total;
      });
      std::printf("wrote %s: %lld images with label maps (%lld training, %lld validation) of %lldx%lld pixels, "
                  "%zu classes (0 = background)\n", a->out.c_str(), static_cast<long long>(written),
                  static_cast<long long>(a->count), static_cast<long long>(written - a->count),
                  static_cast<long long>(a->segment_size), static_cast<long long>(a->segment_size),
                  segment_classes().size());
      return 0;
    }
    write_png(a->out, make_sample_image(a->image_size, a->seed));
    std::printf("wrote %s: %lldx%lld sample image (seed %llu)\n", a->out.c_str(),
                static_cast<long long>(a->image_size), static_cast<long long>(a->image_size),
                static_cast<unsigned long long>(a->seed));
    return 0;
  };
}

}  // namespace fmav::cli
