// Peak tensor memory and time of a segmenter's training step and forward pass per attention
// and input size (docs/BENCHMARKS.md "Segmentation"), counted by the project's tracker
// (core/attention/memory_tracker.h), next to what train_bytes / eval_bytes predict. A
// benchmark, not a test: `bench_segmenter [batch] [preset] [sizes...]`, a table on stdout.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attention/memory_tracker.h"
#include "fmav/memory_estimate.h"
#include "fmav/segments.h"
#include "models/model_internal.h"

namespace {

using namespace fmav;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Median of three runs of fn, in seconds.
template <typename Fn>
double median3(Fn&& fn) {
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[1];
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t batch = argc > 1 ? std::atoll(argv[1]) : 1;
  const std::string preset = argc > 2 ? argv[2] : "seg-b0";
  std::vector<std::int64_t> sizes;
  for (int i = 3; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {64, 128, 256};
  install_memory_tracker();
  std::printf("%-6s %5s %12s %12s %12s %12s %10s %10s\n", "attn", "size", "train MiB", "predicted", "infer MiB",
              "predicted", "step s", "forward s");
  for (const char* kind : {"fma", "full", "swin"}) {
    for (std::int64_t size : sizes) {
      ModelConfig c = segmenter_preset(preset);
      c.image_size = size;
      c.classes = segment_classes();
      parse_attention(kind, &c.attention);
      if (c.attention.kind == AttentionKind::swin) c.attention.block_size = 4;  // as the trained comparison
      Model m = Model::create(c, 1);
      const at::Tensor pixels = at::rand({batch, size, size, 3});
      const at::Tensor targets = at::randint(0, 6, {batch, size, size}, at::kLong);
      for (auto& [name, p] : m.state().params) p.requires_grad_(true);
      const auto step = [&] {
        const at::Tensor loss = at::cross_entropy_loss(segmenter_logits(m, pixels), targets);
        loss.backward();
        for (auto& [name, p] : m.state().params) p.mutable_grad() = at::Tensor();
      };
      step();  // warm-up
      const std::int64_t base = tracked_live_bytes();
      reset_tracked_peak();
      step();
      const double train_mib = static_cast<double>(tracked_peak_bytes() - base) / (1 << 20);
      const double step_s = median3(step);
      at::NoGradGuard no_grad;
      const auto forward = [&] { segmenter_logits(m, pixels); };
      forward();
      const std::int64_t base2 = tracked_live_bytes();
      reset_tracked_peak();
      forward();
      const double infer_mib = static_cast<double>(tracked_peak_bytes() - base2) / (1 << 20);
      const double forward_s = median3(forward);
      std::printf("%-6s %5lld %12.1f %12.1f %12.1f %12.1f %10.3f %10.3f\n", kind, static_cast<long long>(size),
                  train_mib, train_bytes(c, batch) / (1 << 20), infer_mib, eval_bytes(c, batch) / (1 << 20), step_s,
                  forward_s);
      std::fflush(stdout);
    }
  }
  return 0;
}
