#pragma once
// What the Hugging Face families share inside core (fmav/hf_model.h): the loaded parameters,
// small ops written as the families define them, and the layers' attention (the model's own,
// with its maps kept, or swapped). Each family's file (hf_model.cpp: gpt2, llama;
// hf_bert.cpp: bert, roberta; hf_vit.cpp: vit) uses them.

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "fmav/hf_model.h"
#include "attention/fma_internal.h"

namespace fmav {

struct HfState {
  std::map<std::string, at::Tensor> params;  // float32, names without the base model's prefix
  at::Tensor inv_freq;                       // llama family: RoPE frequencies (head_dim / 2)
};

namespace hf {

using Shapes = std::map<std::string, std::vector<std::int64_t>>;

inline at::Tensor param(const HfState& s, const std::string& name) { return s.params.at(name); }
inline at::Tensor optional_param(const HfState& s, const std::string& name) {
  const auto found = s.params.find(name);
  return found == s.params.end() ? at::Tensor() : found->second;
}
inline at::Tensor layer_norm(const at::Tensor& x, const HfState& s, const std::string& name, double eps) {
  return at::layer_norm(x, {x.size(-1)}, param(s, name + ".weight"), param(s, name + ".bias"), eps);
}
inline at::Tensor linear(const at::Tensor& x, const HfState& s, const std::string& name) {
  return at::linear(x, param(s, name + ".weight"), optional_param(s, name + ".bias"));
}
// hidden_act of the encoders: gelu (erf), the tanh approximations, relu.
at::Tensor activation(const at::Tensor& x, const std::string& name);
bool ends_with(const std::string& text, const std::string& tail);

// A forward's attention, layer by layer: the model's own (eager with the maps kept in `out`;
// without maps and window, LibTorch's fused attention, no n x n tensor), or the swapped method
// in swap's layers, causal or not as the model is. Checks the swap once, for n tokens.
class LayerAttention {
 public:
  LayerAttention(const HfConfig& c, std::int64_t n, bool causal, bool with_maps, const HfSwap* swap, HfForward* out);
  // (H, n, hd) heads in, (H, n, hd) out; window > 0: keys at most that far back (mistral).
  at::Tensor operator()(std::int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        std::int64_t window = 0) const;

 private:
  at::Tensor swapped(std::int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) const;
  bool is_swapped(std::int64_t layer) const;
  const HfConfig& m_config;
  bool m_causal, m_with_maps;
  const HfSwap* m_swap;
  HfForward* m_out;
  AttendOptions m_options;
  std::map<std::int64_t, FmaWeights> m_weights;  // per swapped FMA layer
};

// ---- bert, roberta (hf_bert.cpp) ----
Shapes bert_tensors(const HfConfig& c);
// The checkpoint's name as bert_tensors writes it, or "" for what the masked LM does not use.
std::string bert_name(const HfConfig& c, std::string name);
// The MLM logits (n, vocab) of ids (checked by the caller).
at::Tensor bert_forward(const HfConfig& c, const HfState& s, const std::vector<std::int64_t>& ids,
                        const LayerAttention& attention);

// ---- vit (hf_vit.cpp) ----
Shapes vit_tensors(const HfConfig& c);
std::string vit_name(const HfConfig& c, std::string name);
// The class logits (classes) of pixels (3, H, W) at the model's size.
at::Tensor vit_forward(const HfConfig& c, const HfState& s, const at::Tensor& pixels, const LayerAttention& attention);
// The processor's steps on an RGB image in [0, 1]: (3, H, W) float32.
at::Tensor vit_pixels(const HfConfig& c, const HfImageProcessor& p, const Image& image);

}  // namespace hf
}  // namespace fmav
