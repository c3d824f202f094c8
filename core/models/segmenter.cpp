// The segmenter's forward pass (docs/DESIGN.md "Segmentation"), after SegFormer (Xie et al.
// 2021): overlapping patch embeddings (7 x 7 stride 4, then 3 x 3 stride 2), four stages of
// blocks whose attention is the model's 2D kind on the stage's grid and whose MLP is Mix-FFN
// (a 3 x 3 depthwise conv between its two linears, in place of positional embeddings), and
// the all-MLP decoder: each stage projected to one width, upsampled to stride 4, concatenated,
// fused, classified, and the logits upsampled to the input's size.

#include "model_internal.h"

#include "fmav/error.h"
#include "attention/peers.h"

namespace fmav {
namespace {

at::Tensor norm(const at::Tensor& x, const ModelState& s, const std::string& name) {
  return at::layer_norm(x, {x.size(-1)}, s.params.at(name + ".weight"), s.params.at(name + ".bias"), 1e-5);
}

at::Tensor dense(const at::Tensor& x, const ModelState& s, const std::string& name) {
  return at::linear(x, s.params.at(name + ".weight"), s.params.at(name + ".bias"));
}

// Block `block` of stage `stage`'s learned down-sampling weights (empty for average and the
// other kinds).
FmaWeights stage_fma_weights(const Model& model, int stage, int block) {
  const ModelConfig& c = model.config();
  FmaWeights out;
  if (!is_fma_kind(c.attention.kind) || c.attention.downsample == Downsample::average) return out;
  const auto& p = model.state().params;
  const std::string b = "stages." + std::to_string(stage) + ".blocks." + std::to_string(block) + ".attn.level";
  const std::int64_t grid = segmenter_grid(c, stage);
  for (int l = 1; l <= num_levels(segmenter_stage_fma(c, stage), grid * grid); ++l) {
    LevelWeights lw;
    for (Stream s : {Stream::k, Stream::v, Stream::q}) {
      if (s == Stream::q && c.attention.kind != AttentionKind::fma_linear) continue;
      const std::string n = b + std::to_string(l) + "." + (s == Stream::k ? "k" : s == Stream::v ? "v" : "q") + ".";
      Summarizer& sum = lw.of(s);
      sum.weight = p.at(n + "row.weight");
      sum.col_weight = p.at(n + "col.weight");
      sum.bias = p.at(n + "bias");
    }
    out.push_back(lw);
  }
  return out;
}

// Attention of block `block` of stage `stage` (global index `layer`) on x (B, N, w).
at::Tensor stage_attention(const Model& model, int stage, int block, int layer, const at::Tensor& x, LayerTap* tap) {
  const ModelConfig& c = model.config();
  const std::string b = "stages." + std::to_string(stage) + ".blocks." + std::to_string(block) + ".attn.";
  const std::int64_t B = x.size(0), N = x.size(1), W = c.stage_widths[stage], H = c.stage_heads[stage];
  const at::Tensor qkv = dense(x, model.state(), b + "qkv").view({B, N, 3, H, W / H}).permute({2, 0, 3, 1, 4});
  const at::Tensor q = qkv[0].contiguous(), k = qkv[1].contiguous(), v = qkv[2].contiguous();
  if (tap != nullptr && tap->all) tap->qs.push_back(q), tap->ks.push_back(k), tap->vs.push_back(v);
  if (tap != nullptr && tap->layer == layer) tap->q = q, tap->k = k, tap->v = v;
  const AttendOptions options = layer_attend_options(c, layer);  // the stage's grid
  at::Tensor o;
  if (options.method == Method::full) {
    o = full_attention_sdpa(q, k, v, false);
  } else if (is_peer(options.method)) {
    o = peer_attention(q, k, v, options);
  } else {
    o = fma_blocked(q, k, v, options.fma, stage_fma_weights(model, stage, block));
  }
  if (tap != nullptr && tap->layer == layer) tap->o = o;
  return dense(o.transpose(1, 2).reshape({B, N, W}), model.state(), b + "out");
}

// Mix-FFN on x (B, G * G, w): fc1, the depthwise 3 x 3 conv on the grid, GELU, fc2.
at::Tensor mix_ffn(const ModelState& s, const std::string& b, const at::Tensor& x, std::int64_t grid) {
  const std::int64_t B = x.size(0);
  const at::Tensor h = dense(x, s, b + "fc1");
  const std::int64_t hidden = h.size(-1);
  const at::Tensor spatial = h.transpose(1, 2).reshape({B, hidden, grid, grid});
  const at::Tensor mixed = at::conv2d(spatial, s.params.at(b + "dw.weight"), s.params.at(b + "dw.bias"), {1, 1},
                                      {1, 1}, {1, 1}, hidden);
  return dense(at::gelu(mixed.flatten(2).transpose(1, 2)), s, b + "fc2");
}

at::Tensor resize(const at::Tensor& x, std::int64_t side) {
  if (x.size(-1) == side && x.size(-2) == side) return x;
  return at::upsample_bilinear2d(x, {side, side}, false, std::nullopt, std::nullopt);
}

}  // namespace

at::Tensor segmenter_logits(const Model& model, const at::Tensor& pixels, LayerTap* tap) {
  const ModelConfig& c = model.config();
  FMAV_CHECK(c.is_segmenter(), "a ", to_string(c.architecture), " does not segment images");
  const std::int64_t S = c.image_size;
  FMAV_CHECK(pixels.dim() == 4 && pixels.size(1) == S && pixels.size(2) == S && pixels.size(3) == 3,
             "pixels must be (B, ", S, ", ", S, ", 3), got ", shape_str(pixels.sizes().vec()));
  const ModelState& s = model.state();
  const std::int64_t B = pixels.size(0);
  // Per-image standardisation, as the image classifier's.
  const at::Tensor on_device = pixels.to(s.params.at("stages.0.embed.weight").device());
  const at::Tensor centred = on_device - on_device.mean({1, 2}, true);
  at::Tensor x = (centred / (centred.pow(2).mean({1, 2, 3}, true).sqrt() + 1e-3)).permute({0, 3, 1, 2});
  std::vector<at::Tensor> features;
  int layer = 0;
  for (int stage = 0; stage < kSegmenterStages; ++stage) {
    const std::string p = "stages." + std::to_string(stage) + ".";
    const std::int64_t stride = stage == 0 ? 4 : 2, pad = stage == 0 ? 3 : 1, grid = segmenter_grid(c, stage);
    x = at::conv2d(x, s.params.at(p + "embed.weight"), s.params.at(p + "embed.bias"), {stride, stride}, {pad, pad});
    FMAV_ASSERT(x.size(2) == grid && x.size(3) == grid, "stage ", stage, " grid ", x.size(2), " != ", grid);
    at::Tensor t = norm(x.flatten(2).transpose(1, 2), s, p + "embed.ln");  // (B, G * G, w)
    for (int block = 0; block < c.stage_depths[stage]; ++block, ++layer) {
      const std::string b = p + "blocks." + std::to_string(block) + ".";
      t = t + stage_attention(model, stage, block, layer, norm(t, s, b + "ln1"), tap);
      t = t + mix_ffn(s, b + "mlp.", norm(t, s, b + "ln2"), grid);
    }
    t = norm(t, s, p + "ln");
    x = t.transpose(1, 2).reshape({B, c.stage_widths[stage], grid, grid});
    features.push_back(x);
  }
  // The all-MLP decoder at stride 4.
  const std::int64_t fine = segmenter_grid(c, 0);
  std::vector<at::Tensor> projected;
  for (int stage = 0; stage < kSegmenterStages; ++stage) {
    const at::Tensor f = dense(features[stage].permute({0, 2, 3, 1}), s, "decode.linear" + std::to_string(stage));
    projected.push_back(resize(f.permute({0, 3, 1, 2}), fine));
  }
  at::Tensor y = at::cat(projected, 1).permute({0, 2, 3, 1});  // (B, G, G, 4 D)
  y = at::relu(norm(dense(y, s, "decode.fuse"), s, "decode.ln"));
  const at::Tensor logits = dense(y, s, "decode.cls").permute({0, 3, 1, 2});  // (B, K, G, G)
  return resize(logits.contiguous(), S);
}

}  // namespace fmav
