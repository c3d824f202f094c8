// The commands' predicted peak memory (fmav/memory_estimate.h).

#include "fmav/memory_estimate.h"

#include <algorithm>

#include "fmav/model_config.h"

namespace fmav {
namespace {

struct Dims {
  double heads = 1, n = 0, d = 0;  // heads: every leading dim (B x H)
};

Dims dims_of(const std::vector<std::int64_t>& shape) {
  Dims out;
  if (shape.size() < 2) return out;
  for (std::size_t i = 0; i + 2 < shape.size(); ++i) out.heads *= static_cast<double>(shape[i]);
  out.n = static_cast<double>(shape[shape.size() - 2]), out.d = static_cast<double>(shape.back());
  return out;
}

// Floats one token keeps per layer: the residual stream and norms (about 8 d_model), q, k, v
// and the attention output (4 d_model), the MLP (2 d_mlp), and each head's probabilities
// over the keys a query sees (all of them for full attention; FMA's near blocks and the
// coarse slots of every level otherwise).
double layer_floats_per_token(const ModelConfig& c) {
  const double tokens = static_cast<double>(c.tokens());
  const double seen = c.attention.kind == AttentionKind::full
                          ? tokens
                          : std::min(tokens, 3.0 * c.attention.block_size + 2.0 * c.attention.rank * model_levels(c));
  return 12.0 * c.d_model + 2.0 * c.d_mlp + 2.0 * c.heads * seen;
}

// A segmenter's activations kept per image (floats): per stage and block, each token's
// stream and norms (8 w), q, k, v and output (4 w), Mix-FFN's hidden (3 mlp_ratio w: fc1,
// conv, GELU) and its heads' probabilities over the keys a query sees; the decoder's
// stride-4 maps (4 D projected, D fused, normed, activated); the logits at full size. Full
// attention runs through SDPA, whose flash kernels keep one logsumexp per query and head,
// never the N x N scores (docs/BENCHMARKS.md "Segmentation": 181 MiB measured at 512 px).
double segmenter_floats(const ModelConfig& c) {
  double floats = 0;
  for (int s = 0; s < kSegmenterStages; ++s) {
    const double grid = static_cast<double>(segmenter_grid(c, s)), tokens = grid * grid;
    const double w = static_cast<double>(c.stage_widths[s]);
    const double cell = static_cast<double>(segmenter_stage_fma(c, s).block_size);
    const double seen = c.attention.kind == AttentionKind::full ? 1.0
                                                                : std::min(tokens, 9.0 * cell * cell + 27.0 * 4);
    const double per_token = 12.0 * w + 3.0 * c.mlp_ratio * w + 2.0 * c.stage_heads[s] * seen;
    floats += tokens * static_cast<double>(c.stage_depths[s]) * per_token + tokens * w * 3;
  }
  const double fine = static_cast<double>(segmenter_grid(c, 0));
  floats += fine * fine * 8.0 * static_cast<double>(c.d_model);
  const double pixels = static_cast<double>(c.image_size) * static_cast<double>(c.image_size);
  return floats + 3.0 * pixels * static_cast<double>(c.classes.size());
}

double logits_bytes(const ModelConfig& c, std::int64_t batch) {
  const double classes = c.is_lm() ? kByteVocab + 1 : static_cast<double>(std::max<std::size_t>(c.classes.size(), 1));
  return 3.0 * batch * (c.is_lm() ? c.tokens() : 1) * classes * 4;
}

}  // namespace

double train_bytes(const ModelConfig& c, std::int64_t batch) {
  const double parameters = static_cast<double>(count_parameters(c));
  if (c.is_segmenter()) return 16 * parameters + 2.0 * batch * segmenter_floats(c) * 4;
  const double activations = 2.0 * batch * c.tokens() * c.layers * layer_floats_per_token(c) * 4;
  return 16 * parameters + activations + logits_bytes(c, batch);
}

double eval_bytes(const ModelConfig& c, std::int64_t batch) {
  const double parameters = static_cast<double>(count_parameters(c));
  if (c.is_segmenter()) return 4 * parameters + 0.5 * batch * segmenter_floats(c) * 4;
  return 4 * parameters + 2.0 * batch * c.tokens() * layer_floats_per_token(c) * 4 + logits_bytes(c, batch);
}

double text_task_bytes(std::int64_t records, std::int64_t length) { return 3.0 * records * length; }

double sample_qkv_bytes(std::int64_t heads, std::int64_t n, std::int64_t d) {
  return 3.0 * heads * n * d * 4 + 3.0 * n * d * 4;
}

double attend_work_bytes(const std::vector<std::int64_t>& q_shape, DType dtype, const AttendOptions& o) {
  const Dims s = dims_of(q_shape);
  const double element = static_cast<double>(dtype_size(dtype));
  const double output = s.heads * s.n * s.d * element;
  const bool dense = o.impl == Impl::reference || (o.method == Method::full && o.impl == Impl::math);
  // The references compute in float64; the math path in the input's dtype.
  const double cell = o.impl == Impl::reference ? 8 : element;
  return output + (dense ? 2 * s.heads * s.n * s.n * cell : 0);
}

double map_bytes(const std::vector<std::int64_t>& q_shape, bool map) {
  const Dims s = dims_of(q_shape);
  const double tile = std::min(s.n * s.n, static_cast<double>(std::int64_t{1} << 24));
  return (map ? s.heads * s.n * s.n * 8 : 0) + s.n * s.n * 4 + 3 * tile * 8;
}

double inspect_bytes(std::int64_t rows, std::int64_t cols, std::int64_t n, std::int64_t d) {
  return 2.0 * rows * cols * (8 + 8 + 4) + 5.0 * n * d * 8;
}

std::int64_t sweep_point_bytes(const SweepSpec& s, const SweepPoint& p) {
  return 8 * 8 * s.heads * p.n * s.dim + (std::int64_t{2} << 22) * 8;
}

}  // namespace fmav
