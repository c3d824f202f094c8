// The readers' limits as flags (limit_options.h).

#include "limit_options.h"

#include <string>

#include "fmav/finite.h"
#include "fmav/input.h"
#include "fmav/memory_budget.h"
#include "fmav/tensor_io.h"

namespace fmav::app {

void add_limit_options(CLI::App& app, LimitArgs* a) {
  const CLI::Range kMib(std::uint64_t{1}, std::uint64_t{1} << 40);  // MiB; << 20 stays in range
  const IoLimits io;
  const ImageLimits image;
  const TextLimits text;
  const auto mib = [](std::uint64_t bytes) { return " (default " + std::to_string(bytes >> 20) + ")"; };
  app.add_option("--max-tensor-mib", a->tensor_mib, "limit: one tensor's bytes read from .npy/.safetensors, MiB" +
                 mib(io.max_tensor_bytes))->check(kMib);
  app.add_option("--max-header-mib", a->header_mib, "limit: a tensor file's header, MiB" + mib(io.max_header_bytes))
      ->check(kMib);
  app.add_option("--max-text-mib", a->text_mib, "limit: a text input, MiB" + mib(text.max_bytes))->check(kMib);
  app.add_option("--max-image-file-mib", a->image_file_mib, "limit: an image file, MiB" + mib(image.max_file_bytes))
      ->check(kMib);
  app.add_option("--max-image-side", a->image_side, "limit: an image's side in pixels (default " +
                 std::to_string(image.max_side) + ")")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_option("--max-image-mpixels", a->image_mpixels, "limit: an image's pixels, millions (default " +
                 std::to_string(image.max_pixels / 1000000) + ")")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_flag("--allow-nonfinite", a->allow_nonfinite,
               "let NaN and Inf in input tensors, weights and activations through, to study them\n"
               "(refused by default, naming the tensor, the counts and the first position; metrics\n"
               "over them are reported undefined)");
  app.add_option("--max-memory", a->memory_mib, "limit: the memory a command may plan to use, MiB (default: the "
                 "machine's available memory;\nover it a command refuses, a sweep or bench records the point as oom)")
      ->check(kMib);
}

void apply_limits(const LimitArgs& a) {
  IoLimits io = io_limits();
  if (a.tensor_mib > 0) io.max_tensor_bytes = a.tensor_mib << 20;
  if (a.header_mib > 0) io.max_header_bytes = a.header_mib << 20;
  set_io_limits(io);
  TextLimits text = text_limits();
  if (a.text_mib > 0) text.max_bytes = a.text_mib << 20;
  set_text_limits(text);
  ImageLimits image = image_limits();
  if (a.image_file_mib > 0) image.max_file_bytes = a.image_file_mib << 20;
  if (a.image_side > 0) image.max_side = a.image_side;
  if (a.image_mpixels > 0) image.max_pixels = a.image_mpixels * 1000000;
  set_image_limits(image);
  set_allow_nonfinite(a.allow_nonfinite);
  set_max_memory(static_cast<std::int64_t>(a.memory_mib << 20));
}

}  // namespace fmav::app
