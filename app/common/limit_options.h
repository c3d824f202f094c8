#pragma once
// The readers' limits (docs/HARDENING.md) as command-line flags, shared by fmav and
// fma-viewer: --max-tensor-mib, --max-header-mib, --max-text-mib, --max-image-file-mib,
// --max-image-side, --max-image-mpixels; --allow-nonfinite (fmav/finite.h); and --max-memory,
// the memory a command may plan to use (fmav/memory_budget.h).

#include <CLI/CLI.hpp>

#include <cstdint>

namespace fmav::app {

struct LimitArgs {
  std::uint64_t tensor_mib = 0, header_mib = 0, text_mib = 0, image_file_mib = 0;  // 0: the default
  std::int64_t image_side = 0, image_mpixels = 0;
  bool allow_nonfinite = false;  // let NaN and Inf in inputs, weights and activations through
  std::uint64_t memory_mib = 0;  // 0: the machine's available memory
};

// Adds the flags to `app` (their help gives the defaults).
void add_limit_options(CLI::App& app, LimitArgs* args);
// Sets the process-wide limits from the flags given; call once, before any read.
void apply_limits(const LimitArgs& args);

}  // namespace fmav::app
