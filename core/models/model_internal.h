#pragma once
// The models' forward passes on LibTorch tensors, for training, evaluation and capture
// (core only; the public API is fmav/model.h).

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "attention/fma_internal.h"
#include "fmav/model.h"

namespace fmav {

// A model's parameters: float32 CPU tensors by their model.safetensors names.
struct ModelState {
  std::map<std::string, at::Tensor> params;
};

// Asks a forward pass to keep one layer's attention inputs q, k, v (B, H, N, D), or with
// `all` every layer's, in order.
struct LayerTap {
  int layer = -1;
  bool all = false;
  at::Tensor q, k, v;
  at::Tensor o;  // the segmenter's: layer `layer`'s attention output (B, H, N, D), before its projection
  std::vector<at::Tensor> qs, ks, vs;
};

// The causal or masked LM on tokens (B, N) int64 (N <= context; values < vocab): next-byte
// (causal) or masked-byte logits over the 256 bytes, (B, N, 256).
at::Tensor lm_logits(const Model& model, const at::Tensor& tokens, LayerTap* tap = nullptr);
// The image classifier on pixels (B, S, S, 3) float32 in [0, 1], S = image_size: (B, classes).
at::Tensor image_logits(const Model& model, const at::Tensor& pixels, LayerTap* tap = nullptr);

// The segmenter on pixels (B, S, S, 3) float32 in [0, 1]: per-pixel class logits
// (B, classes, S, S). `tap` indexes its blocks over all stages (core/models/segmenter.cpp).
at::Tensor segmenter_logits(const Model& model, const at::Tensor& pixels, LayerTap* tap = nullptr);

// Bytes [begin, begin + n) of `bytes` as token ids, (n) int64 in 0..255.
at::Tensor byte_tokens(const std::string& bytes, std::int64_t begin, std::int64_t n);

// Layer `layer`'s learned down-sampling weights as the engine takes them (empty for average,
// full and local).
FmaWeights layer_fma_weights(const Model& model, int layer);

}  // namespace fmav
