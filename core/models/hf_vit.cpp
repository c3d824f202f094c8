// The image classifier vit (fmav/hf_model.h), written from ViTForImageClassification: the
// image cut into patches by a strided convolution, the CLS token in front, learned
// positions, pre-norm encoder layers with bidirectional attention, a final LayerNorm and the
// classifier on CLS. The processor's steps are ViTImageProcessor's (docs/DESIGN.md §7.6).

#include <ATen/ATen.h>

#include "fmav/error.h"
#include "models/hf_internal.h"

namespace fmav::hf {
namespace {

std::string layer_prefix(std::int64_t i) { return "encoder.layer." + std::to_string(i) + "."; }

}  // namespace

Shapes vit_tensors(const HfConfig& c) {
  Shapes out;
  const std::int64_t d = c.hidden, ff = c.intermediate;
  const auto dense = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    out[name + ".weight"] = {rows, cols}, out[name + ".bias"] = {rows};
  };
  const auto norm = [&](const std::string& name) { out[name + ".weight"] = out[name + ".bias"] = {d}; };
  out["embeddings.cls_token"] = {1, 1, d};
  out["embeddings.position_embeddings"] = {1, c.max_positions, d};
  out["embeddings.patch_embeddings.projection.weight"] = {d, 3, c.patch_height, c.patch_width};
  out["embeddings.patch_embeddings.projection.bias"] = {d};
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string l = layer_prefix(i);
    norm(l + "layernorm_before");
    norm(l + "layernorm_after");
    for (const char* p : {"query", "key", "value"}) {
      out[l + "attention.attention." + p + ".weight"] = {d, d};
      if (c.attention_bias) out[l + "attention.attention." + p + ".bias"] = {d};
    }
    dense(l + "attention.output.dense", d, d);
    dense(l + "intermediate.dense", ff, d);
    dense(l + "output.dense", d, ff);
  }
  norm("layernorm");
  dense("classifier", static_cast<std::int64_t>(c.labels.size()), d);
  return out;
}

std::string vit_name(const HfConfig&, std::string name) {
  if (name.rfind("vit.", 0) == 0) name = name.substr(4);
  // ViTModel's pooler: saved by some checkpoints, unused by the classifier (it reads CLS).
  if (name.rfind("pooler.", 0) == 0) return "";
  return name;
}

at::Tensor vit_forward(const HfConfig& c, const HfState& s, const at::Tensor& pixels, const LayerAttention& attention) {
  const std::int64_t n = c.max_positions, d = c.hidden, H = c.heads, hd = c.head_dim;
  // Patches by the strided convolution (a remainder of the image past the last whole patch
  // is not read, as in transformers), row by row after CLS.
  const at::Tensor patches = at::conv2d(pixels.unsqueeze(0), param(s, "embeddings.patch_embeddings.projection.weight"),
                                        param(s, "embeddings.patch_embeddings.projection.bias"),
                                        {c.patch_height, c.patch_width});
  at::Tensor x = at::cat({param(s, "embeddings.cls_token").view({1, d}), patches.flatten(2)[0].t()}, 0);
  x = x + param(s, "embeddings.position_embeddings").view({n, d});
  const auto heads = [&](const at::Tensor& t) { return t.view({n, H, hd}).transpose(0, 1); };
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string l = layer_prefix(i);
    const at::Tensor a = layer_norm(x, s, l + "layernorm_before", c.norm_eps);
    const at::Tensor q = heads(linear(a, s, l + "attention.attention.query"));
    const at::Tensor k = heads(linear(a, s, l + "attention.attention.key"));
    const at::Tensor v = heads(linear(a, s, l + "attention.attention.value"));
    const at::Tensor o = attention(i, q, k, v).transpose(0, 1).reshape({n, d});
    x = x + linear(o, s, l + "attention.output.dense");
    const at::Tensor m = activation(linear(layer_norm(x, s, l + "layernorm_after", c.norm_eps), s,
                                           l + "intermediate.dense"), c.activation);
    x = x + linear(m, s, l + "output.dense");
  }
  x = layer_norm(x, s, "layernorm", c.norm_eps);
  return linear(x[0], s, "classifier");
}

at::Tensor vit_pixels(const HfConfig& c, const HfImageProcessor& p, const Image& image) {
  FMAV_CHECK(image.height >= 1 && image.width >= 1 &&
                 image.rgb.size() == static_cast<std::size_t>(image.height * image.width * 3),
             "the image is empty or its pixels do not match its size");
  const std::int64_t h = p.height > 0 ? p.height : c.image_height, w = p.width > 0 ? p.width : c.image_width;
  FMAV_CHECK(h == c.image_height && w == c.image_width, "preprocessor_config.json resizes to ", h, "x", w,
             ", but the model takes ", c.image_height, "x", c.image_width, " images");
  // The 8-bit values the processor starts from (the reader gives byte / 255).
  const at::Tensor rgb = at::from_blob(const_cast<float*>(image.rgb.data()), {image.height, image.width, 3}, at::kFloat);
  at::Tensor x = at::round(rgb.permute({2, 0, 1}) * 255.0);
  if (image.height != h || image.width != w) {
    FMAV_CHECK(p.do_resize, "the image is ", image.height, "x", image.width, "; the model takes ", h, "x", w,
               " and preprocessor_config.json says do_resize: false");
    FMAV_CHECK(p.resample == 2, "the image is ", image.height, "x", image.width, " and needs resizing to ", h, "x", w,
               ", but preprocessor_config.json's resample ", p.resample, " is not supported (2: bilinear)");
    // Antialiased bilinear, as torchvision resizes a tensor; PIL's 8-bit resize rounds
    // each pass, so this approximates transformers there (within about one 8-bit step).
    x = at::_upsample_bilinear2d_aa(x.unsqueeze(0), {h, w}, false, std::nullopt, std::nullopt)[0];
  }
  if (p.do_rescale) x = x * p.rescale_factor;
  if (p.do_normalize) {
    const at::Tensor mean = at::tensor(std::vector<double>(p.mean, p.mean + 3), at::kDouble).to(at::kFloat);
    const at::Tensor std = at::tensor(std::vector<double>(p.std, p.std + 3), at::kDouble).to(at::kFloat);
    x = (x - mean.view({3, 1, 1})) / std.view({3, 1, 1});
  }
  return x.contiguous();
}

}  // namespace fmav::hf
