// The segmenter's configuration (fmav/model_config.h; docs/DESIGN.md "Segmentation"): four
// stages at strides 4, 8, 16, 32 over overlapping patch embeddings, Mix-FFN blocks, an
// all-MLP decoder; their checks, tensors, per-stage attention and presets.

#include "segmenter_config.h"

#include <algorithm>

#include "fmav/error.h"
#include "fmav/fma2d.h"

namespace fmav {
namespace {

using Shapes = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

void add_linear(const std::string& name, std::int64_t out, std::int64_t in, Shapes* shapes) {
  shapes->push_back({name + ".weight", {out, in}});
  shapes->push_back({name + ".bias", {out}});
}

void add_norm(const std::string& name, std::int64_t width, Shapes* shapes) {
  shapes->push_back({name + ".weight", {width}});
  shapes->push_back({name + ".bias", {width}});
}

// One block of stage `stage`: attention (with FMA2D's learned row and column summaries per
// level when it has them) and Mix-FFN (fc1, a 3 x 3 depthwise conv, fc2).
void add_block(const ModelConfig& c, int stage, std::int64_t block, Shapes* out) {
  const std::int64_t w = c.stage_widths[stage], hidden = c.mlp_ratio * w;
  const std::string b = "stages." + std::to_string(stage) + ".blocks." + std::to_string(block) + ".";
  add_norm(b + "ln1", w, out);
  add_linear(b + "attn.qkv", 3 * w, w, out);
  add_linear(b + "attn.out", w, w, out);
  add_norm(b + "ln2", w, out);
  add_linear(b + "mlp.fc1", hidden, w, out);
  out->push_back({b + "mlp.dw.weight", {hidden, 1, 3, 3}});
  out->push_back({b + "mlp.dw.bias", {hidden}});
  add_linear(b + "mlp.fc2", w, hidden, out);
  const ModelAttention& a = c.attention;
  if (!is_fma_kind(a.kind) || a.downsample == Downsample::average) return;
  const FmaConfig f = segmenter_stage_fma(c, stage);
  const std::int64_t grid = segmenter_grid(c, stage);
  const std::int64_t pd = a.rank * (w / c.stage_heads[stage]);
  for (int l = 1; l <= num_levels(f, grid * grid); ++l) {
    const std::int64_t width = f.block_size << (l - 1);
    for (const char* s : {"k", "q", "v"}) {
      if (*s == 'q' && a.kind != AttentionKind::fma_linear) continue;
      const std::string p = b + "attn.level" + std::to_string(l) + "." + s + ".";
      out->push_back({p + "row.weight", {pd, 1, width}});
      out->push_back({p + "col.weight", {pd, 1, width}});
      out->push_back({p + "bias", {pd}});
    }
  }
}

}  // namespace

std::int64_t segmenter_grid(const ModelConfig& c, int stage) {
  FMAV_ASSERT(stage >= 0 && stage < kSegmenterStages, "segmenter stage ", stage);
  return c.image_size / (std::int64_t{4} << stage);
}

FmaConfig segmenter_stage_fma(const ModelConfig& c, int stage) {
  FmaConfig f = fma_config(c);
  f.grid_height = f.grid_width = segmenter_grid(c, stage);
  f.block_size = std::min(c.attention.block_size, f.grid_height);
  return f;
}

int segmenter_stage_of(const ModelConfig& c, int layer, int* block) {
  int first = 0;
  for (int s = 0; s < kSegmenterStages; ++s) {
    if (layer < first + c.stage_depths[s]) {
      if (block != nullptr) *block = layer - first;
      return s;
    }
    first += static_cast<int>(c.stage_depths[s]);
  }
  throw Error("layer " + std::to_string(layer) + " is past the segmenter's " + std::to_string(first) + " blocks");
}

std::int64_t layer_heads(const ModelConfig& c, int layer) {
  return c.is_segmenter() ? c.stage_heads[segmenter_stage_of(c, layer)] : c.heads;
}

void validate_segmenter(const ModelConfig& c) {
  FMAV_CHECK(c.image_size >= 32 && c.image_size % 32 == 0, "a segmenter's image_size must be a multiple of 32 "
             "(its deepest stage has stride 32), got ", c.image_size);
  FMAV_CHECK(c.stage_widths.size() == kSegmenterStages && c.stage_depths.size() == kSegmenterStages &&
                 c.stage_heads.size() == kSegmenterStages,
             "a segmenter needs ", kSegmenterStages, " stage widths, depths and heads, got ", c.stage_widths.size(),
             ", ", c.stage_depths.size(), " and ", c.stage_heads.size());
  std::int64_t blocks = 0;
  for (int s = 0; s < kSegmenterStages; ++s) {
    const std::int64_t w = c.stage_widths[s], h = c.stage_heads[s];
    FMAV_CHECK(w >= 1 && h >= 1 && c.stage_depths[s] >= 1, "stage ", s + 1, ": width, depth and heads must be >= 1, "
               "got ", w, ", ", c.stage_depths[s], ", ", h);
    FMAV_CHECK(w % h == 0, "stage ", s + 1, ": heads (", h, ") must divide its width (", w, ")");
    blocks += c.stage_depths[s];
  }
  FMAV_CHECK(c.layers == blocks, "a segmenter's layers must be its blocks in all (", blocks, "), got ", c.layers);
  FMAV_CHECK(c.mlp_ratio >= 1 && c.mlp_ratio <= 16, "mlp_ratio must be in 1..16, got ", c.mlp_ratio);
  FMAV_CHECK(c.d_model >= 1, "decoder_width must be >= 1, got ", c.d_model);
  FMAV_CHECK(c.classes.size() >= 2, "a segmenter needs >= 2 classes, got ", c.classes.size());
  const AttentionKind k = c.attention.kind;
  FMAV_CHECK(is_fma_kind(k) || k == AttentionKind::full || k == AttentionKind::swin || k == AttentionKind::linear,
             "a segmenter's attention must be fma, fma-linear, full, swin or linear, got ", to_string(k));
}

void add_segmenter_shapes(const ModelConfig& c, Shapes* out) {
  for (int s = 0; s < kSegmenterStages; ++s) {
    const std::string p = "stages." + std::to_string(s) + ".";
    const std::int64_t w = c.stage_widths[s], in = s == 0 ? 3 : c.stage_widths[s - 1], k = s == 0 ? 7 : 3;
    out->push_back({p + "embed.weight", {w, in, k, k}});
    out->push_back({p + "embed.bias", {w}});
    add_norm(p + "embed.ln", w, out);
    for (std::int64_t b = 0; b < c.stage_depths[s]; ++b) add_block(c, s, b, out);
    add_norm(p + "ln", w, out);
    add_linear("decode.linear" + std::to_string(s), c.d_model, w, out);
  }
  add_linear("decode.fuse", c.d_model, kSegmenterStages * c.d_model, out);
  add_norm("decode.ln", c.d_model, out);
  add_linear("decode.cls", static_cast<std::int64_t>(c.classes.size()), c.d_model, out);
}

ModelConfig segmenter_preset(const std::string& name) {
  ModelConfig c;
  c.architecture = Architecture::segmenter;
  c.image_size = 64, c.patch_size = 4;
  if (name == "seg-b0") {
    c.stage_widths = {16, 32, 80, 128};
  } else if (name == "seg-b1") {
    c.stage_widths = {32, 64, 160, 256};
  } else {
    throw Error("segmenter preset must be seg-b0 or seg-b1, got '" + name + "'");
  }
  c.stage_depths = {2, 2, 2, 2};
  c.stage_heads = {1, 2, 5, 8};
  c.layers = 8;
  c.mlp_ratio = 4;
  c.d_model = 128;
  c.heads = 1, c.d_mlp = 1;  // unused by a segmenter
  c.attention.kind = AttentionKind::fma;
  c.attention.block_size = 2, c.attention.rank = 1;
  c.classes = {"class0", "class1"};
  return c;
}

}  // namespace fmav
