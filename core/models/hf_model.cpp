// Hugging Face checkpoints (fmav/hf_model.h): the weights read from safetensors by the
// project's hardened reader, checked name by name against the architecture; the gpt2 and
// llama families' forward pass in float32 LibTorch ops, written from the families'
// definitions; the layers' attention and the scores every kind shares (docs/DESIGN.md §7.6).
// bert and roberta live in hf_bert.cpp, vit in hf_vit.cpp.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "attention/convert_view.h"
#include "attention/fma_internal.h"
#include "attention/peers.h"
#include "fmav/error.h"
#include "fmav/finite.h"
#include "fmav/hf_model.h"
#include "fmav/tensor_io.h"
#include "io/json_util.h"
#include "models/hf_internal.h"

namespace fmav {
namespace {

using hf::layer_norm;
using hf::optional_param;
using hf::param;

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxIndexBytes = 64u << 20;

// Every tensor the architecture needs, with its shape.
std::map<std::string, std::vector<std::int64_t>> expected_tensors(const HfConfig& c) {
  if (c.family == HfFamily::bert) return hf::bert_tensors(c);
  if (c.family == HfFamily::vit) return hf::vit_tensors(c);
  std::map<std::string, std::vector<std::int64_t>> out;
  const std::int64_t d = c.hidden, ff = c.intermediate;
  if (c.family == HfFamily::gpt2) {
    out["wte.weight"] = {c.vocab, d};
    out["wpe.weight"] = {c.max_positions, d};
    out["ln_f.weight"] = out["ln_f.bias"] = {d};
    for (std::int64_t i = 0; i < c.layers; ++i) {
      const std::string h = "h." + std::to_string(i) + ".";
      for (const char* ln : {"ln_1", "ln_2"}) out[h + ln + ".weight"] = out[h + ln + ".bias"] = {d};
      out[h + "attn.c_attn.weight"] = {d, 3 * d}, out[h + "attn.c_attn.bias"] = {3 * d};
      out[h + "attn.c_proj.weight"] = {d, d}, out[h + "attn.c_proj.bias"] = {d};
      out[h + "mlp.c_fc.weight"] = {d, ff}, out[h + "mlp.c_fc.bias"] = {ff};
      out[h + "mlp.c_proj.weight"] = {ff, d}, out[h + "mlp.c_proj.bias"] = {d};
    }
  } else {
    const std::int64_t q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
    out["embed_tokens.weight"] = {c.vocab, d};
    out["norm.weight"] = {d};
    for (std::int64_t i = 0; i < c.layers; ++i) {
      const std::string l = "layers." + std::to_string(i) + ".";
      out[l + "input_layernorm.weight"] = out[l + "post_attention_layernorm.weight"] = {d};
      out[l + "self_attn.q_proj.weight"] = {q, d};
      out[l + "self_attn.k_proj.weight"] = out[l + "self_attn.v_proj.weight"] = {kv, d};
      out[l + "self_attn.o_proj.weight"] = {d, q};
      if (c.attention_bias) {
        out[l + "self_attn.q_proj.bias"] = {q};
        out[l + "self_attn.k_proj.bias"] = out[l + "self_attn.v_proj.bias"] = {kv};
      }
      out[l + "mlp.gate_proj.weight"] = out[l + "mlp.up_proj.weight"] = {ff, d};
      out[l + "mlp.down_proj.weight"] = {d, ff};
    }
  }
  if (!c.tie_embeddings) out["lm_head.weight"] = {c.vocab, d};
  return out;
}

// The checkpoint's name without the base model's prefix, or "" for a tensor that carries no
// weight the forward needs (GPT-2's causal-mask buffers, old RoPE caches, a tied head).
std::string canonical_name(const HfConfig& c, std::string name) {
  if (c.family == HfFamily::bert) return hf::bert_name(c, name);
  if (c.family == HfFamily::vit) return hf::vit_name(c, name);
  for (const char* prefix : {"transformer.", "model."}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  }
  const auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (c.family == HfFamily::gpt2 && (ends_with(".attn.bias") || ends_with(".attn.masked_bias"))) return "";
  if (ends_with("rotary_emb.inv_freq")) return "";
  if (name == "lm_head.weight" && c.tie_embeddings) return "";
  return name;
}

// The safetensors files of a folder: model.safetensors, or the shards its index names.
std::vector<fs::path> weight_files(const fs::path& folder) {
  const fs::path single = folder / "model.safetensors", index = folder / "model.safetensors.index.json";
  if (fs::exists(single)) return {single};
  FMAV_CHECK(fs::exists(index), folder.string(), ": no model.safetensors or model.safetensors.index.json");
  const std::string text = read_file_bytes(index.string(), kMaxIndexBytes);
  const Json j = parse_json_text(text, index.string(), kMaxIndexBytes, 8);
  FMAV_CHECK(j.is_object() && j.contains("weight_map") && j.at("weight_map").is_object(), index.string(),
             ": must be an object with a \"weight_map\" object");
  // Only the shard files matter here: each shard's own header says what it holds.
  std::set<std::string> shards;
  for (const auto& [name, file] : j.at("weight_map").items()) {
    FMAV_CHECK(file.is_string(), index.string(), ": weight_map[\"", name, "\"] must be a file name");
    const std::string f = file.get<std::string>();
    FMAV_CHECK(!f.empty() && f.find('/') == std::string::npos && f.find('\\') == std::string::npos && f != ".." &&
                   f != ".",
               index.string(), ": shard \"", f, "\" is not a file name in the folder");
    shards.insert(f);
  }
  FMAV_CHECK(!shards.empty(), index.string(), ": the weight_map names no .safetensors file");
  std::vector<fs::path> out;
  for (const std::string& s : shards) out.push_back(folder / s);
  return out;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
}

// RoPE frequencies as the llama family computes them, in float32: base^(-2i/d), rescaled by
// the linear or llama3 kinds.
at::Tensor rope_frequencies(const HfConfig& c) {
  const at::Tensor index = at::arange(0, c.head_dim, 2, at::kLong).to(at::kFloat);
  at::Tensor inv = 1.0 / at::pow(c.rope_theta, index / static_cast<double>(c.head_dim));
  if (c.rope_type == "linear") inv = inv / c.rope_factor;
  if (c.rope_type == "llama3") {
    const double old_len = static_cast<double>(c.original_max_positions);
    const double low_wavelen = old_len / c.low_freq_factor, high_wavelen = old_len / c.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / inv;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv / c.rope_factor, inv);
    const at::Tensor smooth = (old_len / wavelen - c.low_freq_factor) / (c.high_freq_factor - c.low_freq_factor);
    const at::Tensor smoothed = (1 - smooth) * scaled / c.rope_factor + smooth * scaled;
    const at::Tensor medium = at::logical_not(wavelen < high_wavelen).logical_and(at::logical_not(wavelen > low_wavelen));
    inv = at::where(medium, smoothed, scaled);
  }
  return inv;
}

at::Tensor rotate_half(const at::Tensor& x) {
  const std::int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

// Softmax attention of (H, N, hd) heads, causal (and sliding-window) or bidirectional; the
// probabilities too. The scores are scaled as each family does it, to the last rounding:
// gpt2 divides by sqrt(hd), the others multiply by hd^-1/2.
std::pair<at::Tensor, at::Tensor> attend_heads(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               std::int64_t window, HfFamily family, bool causal) {
  const std::int64_t n = q.size(1);
  const double hd = static_cast<double>(q.size(2));
  const at::Tensor raw = at::matmul(q, k.transpose(1, 2));
  at::Tensor scores = family == HfFamily::gpt2 ? raw / std::sqrt(hd) : raw * std::pow(hd, -0.5);
  if (causal) {
    const at::Tensor pos = at::arange(n, at::kLong);
    at::Tensor masked = pos.unsqueeze(0) > pos.unsqueeze(1);  // (query, key): key in the future
    if (window > 0) masked = masked.logical_or(pos.unsqueeze(1) - pos.unsqueeze(0) >= window);
    scores = scores.masked_fill(masked, -std::numeric_limits<float>::infinity());
  }
  const at::Tensor probs = at::softmax(scores, -1);
  return {at::matmul(probs, v), probs};
}

// x (n, d) times head (vocab, d) transposed, written straight into the host tensor the
// caller gets: one (n, vocab) buffer where a LibTorch result and its copy took two (at 1024
// tokens and a 32000-token vocabulary, 131 MB less to allocate, fault in and copy per
// forward; found by profiling `fmav bench-model`).
HostTensor logits_to_host(const at::Tensor& x, const at::Tensor& head) {
  HostTensor out = make_host_tensor(DType::f32, {x.size(0), head.size(0)});
  at::Tensor into = at::from_blob(out.data.data(), {x.size(0), head.size(0)}, at::kFloat);
  at::mm_out(into, x, head.t());
  return out;
}

// Scores (count, classes) against targets (count): the mean cross-entropy and top-1 accuracy.
HfEval score(const at::Tensor& scores, const at::Tensor& target) {
  HfEval e;
  e.tokens = target.size(0);
  e.loss = at::cross_entropy_loss(scores.to(at::kDouble), target).item<double>();
  e.perplexity = std::exp(e.loss);
  e.bits_per_token = e.loss / std::log(2.0);
  e.accuracy = (scores.argmax(1) == target).to(at::kDouble).mean().item<double>();
  return e;
}

}  // namespace

// ---- shared by the families (models/hf_internal.h) ----

namespace hf {

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

at::Tensor activation(const at::Tensor& x, const std::string& name) {
  if (name == "relu") return at::relu(x);
  if (name == "gelu") return at::gelu(x, "none");
  return at::gelu(x, "tanh");  // gelu_new, gelu_pytorch_tanh (parse_hf_config admits no other)
}

LayerAttention::LayerAttention(const HfConfig& c, std::int64_t n, bool causal, bool with_maps, const HfSwap* swap,
                               HfForward* out)
    : m_config(c), m_causal(causal), m_with_maps(with_maps), m_swap(swap), m_out(out) {
  if (swap == nullptr) return;
  m_options = swap->options;
  m_options.fma.causal = causal;
  FMAV_CHECK(m_options.method != Method::fma || (!m_options.fma.is_2d() && !m_options.fma.linear),
             c.kind == HfKind::causal_lm ? "a language model's swapped attention is 1D causal FMA or a 1D peer, got "
             : c.kind == HfKind::masked_lm
                 ? "a masked LM's swapped attention is 1D bidirectional FMA or a 1D peer, got "
                 : "a vit's swapped attention is 1D bidirectional FMA over its tokens (CLS, then the patches row by "
                   "row) or a 1D peer; 2D FMA over the patch grid is not supported; got ",
             method_name(m_options));
  if (m_options.method == Method::fma) {
    validate(m_options.fma);
    // One set per swapped layer: a fitted folder's own (HfSwap::layer_weights), else the shared one.
    for (int layer : swap->layers) {
      const auto own = swap->layer_weights.find(layer);
      m_weights[layer] = to_fma_weights(own == swap->layer_weights.end() ? swap->weights : own->second, m_options.fma,
                                        c.head_dim, num_levels(m_options.fma, n), at::kFloat);
    }
  } else if (is_peer(m_options.method)) {
    validate_peer(m_options, n);
  }
}

bool LayerAttention::is_swapped(std::int64_t layer) const {
  return m_swap != nullptr && std::find(m_swap->layers.begin(), m_swap->layers.end(), layer) != m_swap->layers.end();
}

at::Tensor LayerAttention::swapped(std::int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                   const at::Tensor& v) const {
  const at::Tensor q4 = q.unsqueeze(0).contiguous(), k4 = k.unsqueeze(0).contiguous(), v4 = v.unsqueeze(0).contiguous();
  if (m_options.method == Method::full) return full_attention_sdpa(q4, k4, v4, m_causal)[0];
  if (is_peer(m_options.method)) return peer_attention(q4, k4, v4, m_options)[0];
  return fma_fused(q4, k4, v4, m_options.fma, m_weights.at(layer))[0];
}

at::Tensor LayerAttention::operator()(std::int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                      const at::Tensor& v, std::int64_t window) const {
  at::Tensor o;
  if (m_with_maps || window > 0) {
    auto [own, probs] = attend_heads(q, k, v, window, m_config.family, m_causal);
    if (m_with_maps) {
      m_out->q.push_back(to_host(q.contiguous())), m_out->k.push_back(to_host(k.contiguous()));
      m_out->v.push_back(to_host(v.contiguous())), m_out->probs.push_back(to_host(probs.contiguous()));
    }
    o = own;
  } else if (!is_swapped(layer)) {
    o = full_attention_sdpa(q.unsqueeze(0).contiguous(), k.unsqueeze(0).contiguous(), v.unsqueeze(0).contiguous(),
                            m_causal)[0];
  }
  return is_swapped(layer) ? swapped(layer, q, k, v) : o;
}

}  // namespace hf

HfModel HfModel::load(const std::string& folder_name) {
  const fs::path folder(folder_name);
  FMAV_CHECK(fs::is_directory(folder), folder_name, ": not a folder (a Hugging Face model is a folder with "
             "config.json and model.safetensors)");
  const fs::path config_path = folder / "config.json";
  HfModel model;
  model.m_config = parse_hf_config(read_file_bytes(config_path.string(), 1u << 20), config_path.string());
  const HfConfig& c = model.m_config;
  const std::map<std::string, std::vector<std::int64_t>> expected = expected_tensors(c);
  auto state = std::make_shared<HfState>();
  for (const fs::path& file : weight_files(folder)) {
    const MappedSafetensors mapped(file.string());  // read-only mmap: each tensor's bytes are copied once
    for (const auto& [raw, host] : mapped.tensors()) {
      const std::string name = canonical_name(c, raw);
      if (name.empty()) continue;
      const auto want = expected.find(name);
      FMAV_CHECK(want != expected.end(), file.string(), ": tensor \"", raw, "\" is not part of a ", c.model_type,
                 " model with this config");
      FMAV_CHECK(host.shape == want->second, file.string(), ": tensor \"", raw, "\" has shape ", shape_str(host.shape),
                 ", expected ", shape_str(want->second));
      FMAV_CHECK(host.dtype == DType::f32 || host.dtype == DType::bf16 || host.dtype == DType::f16, file.string(),
                 ": tensor \"", raw, "\" has dtype ", dtype_name(host.dtype), "; weights must be F32, BF16 or F16");
      FMAV_CHECK(state->params.count(name) == 0, file.string(), ": tensor \"", raw, "\" appears twice");
      check_finite(host.dtype, host.shape, host.data, "weight \"" + raw + "\" (" + file.string() + ")");
      state->params[name] = to_tensor(host).to(at::kFloat);
    }
  }
  for (const auto& [name, shape] : expected) {
    FMAV_CHECK(state->params.count(name) != 0, folder_name, ": the weights lack \"", name, "\" (", shape_str(shape),
               ")");
  }
  if (c.family == HfFamily::llama) state->inv_freq = rope_frequencies(c);
  model.m_state = state;
  if (c.kind == HfKind::masked_lm) model.m_masking = read_hf_masking(folder_name, c);
  if (c.kind == HfKind::image_classifier && fs::exists(folder / "preprocessor_config.json")) {
    const fs::path p = folder / "preprocessor_config.json";
    model.m_processor = parse_hf_image_processor(read_file_bytes(p.string(), 1u << 20), p.string());
  }
  return model;
}

std::vector<int> parse_layer_list(const std::string& text, std::int64_t layers) {
  std::vector<int> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, comma - at);
    const std::size_t dash = part.find('-');
    try {
      std::size_t used = 0;
      const int first = std::stoi(part.substr(0, dash), &used);
      FMAV_CHECK(used == (dash == std::string::npos ? part.size() : dash), "");
      int last = first;
      if (dash != std::string::npos) {
        last = std::stoi(part.substr(dash + 1), &used);
        FMAV_CHECK(used == part.size() - dash - 1, "");
      }
      FMAV_CHECK(first <= last, "");
      for (int l = first; l <= last; ++l) out.push_back(l);
    } catch (const std::exception&) {
      throw Error("layers must be like 4-11, 0,2,5 or 3, got '" + text + "'");
    }
    at = comma + 1;
  }
  std::sort(out.begin(), out.end());
  FMAV_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "layers '", text, "' name a layer twice");
  FMAV_CHECK(out.front() >= 0 && out.back() < layers, "layers '", text, "' must lie in [0, ", layers, ")");
  return out;
}

HfEval HfModel::evaluate(const std::vector<std::int64_t>& ids, const HfSwap* swap) const {
  FMAV_CHECK(m_config.kind != HfKind::image_classifier, "a ", m_config.model_type,
             " model classifies images: score it on an image (evaluate_image)");
  if (m_config.kind == HfKind::masked_lm) return evaluate_masked(ids, m_masking, swap);
  FMAV_CHECK(ids.size() >= 2, "scoring needs at least 2 tokens, got ", ids.size());
  at::AutoGradMode no_grad(false);
  const at::Tensor logits = to_tensor(forward(ids, false, swap).logits);
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  return score(logits.narrow(0, 0, n - 1), at::tensor(ids, at::kLong).narrow(0, 1, n - 1));
}

HfEval HfModel::evaluate_masked(const std::vector<std::int64_t>& ids, const HfMasking& masking,
                                const HfSwap* swap) const {
  FMAV_CHECK(m_config.kind == HfKind::masked_lm, "a ", m_config.model_type, " model is not a masked LM");
  FMAV_CHECK(masking.mask_id >= 0, "the mask token is unknown: the folder has no tokenizer.json with a special "
             "[MASK] or <mask> token; give its id (--mask-id)");
  FMAV_CHECK(masking.mask_id < m_config.vocab, "the mask token id ", masking.mask_id,
             " is outside the vocabulary [0, ", m_config.vocab, ")");
  const std::vector<std::int64_t> positions = hf_masked_positions(ids, masking);
  FMAV_CHECK(!positions.empty(), "the masking rule (every ", masking.every, "th non-special token) masks none of the ",
             ids.size(), " tokens");
  std::vector<std::int64_t> masked = ids, targets;
  for (std::int64_t p : positions) targets.push_back(ids[p]), masked[p] = masking.mask_id;
  at::AutoGradMode no_grad(false);
  const at::Tensor logits = to_tensor(forward(masked, false, swap).logits);
  return score(logits.index_select(0, at::tensor(positions, at::kLong)), at::tensor(targets, at::kLong));
}

HostTensor HfModel::pixels(const Image& image) const {
  FMAV_CHECK(m_config.kind == HfKind::image_classifier, "a ", m_config.model_type, " model does not read images");
  at::AutoGradMode no_grad(false);
  return to_host(hf::vit_pixels(m_config, m_processor, image));
}

HfForward HfModel::forward_pixels(const HostTensor& pixels, bool with_maps, const HfSwap* swap) const {
  const HfConfig& c = m_config;
  FMAV_CHECK(c.kind == HfKind::image_classifier, "a ", c.model_type, " model does not read images");
  const std::vector<std::int64_t> want{3, c.image_height, c.image_width};
  FMAV_CHECK(pixels.dtype == DType::f32 && pixels.shape == want, "pixels must be F32 ", shape_str(want),
             ", got ", dtype_name(pixels.dtype), " ", shape_str(pixels.shape));
  at::AutoGradMode no_grad(false);
  HfForward out;
  const hf::LayerAttention attention(c, c.max_positions, false, with_maps, swap, &out);
  out.logits = to_host(hf::vit_forward(c, *m_state, to_tensor(pixels), attention).contiguous());
  return out;
}

HfEval HfModel::evaluate_image(const Image& image, std::int64_t label, const HfSwap* swap) const {
  const std::int64_t classes = static_cast<std::int64_t>(m_config.labels.size());
  FMAV_CHECK(m_config.kind == HfKind::image_classifier, "a ", m_config.model_type, " model does not read images");
  FMAV_CHECK(label >= 0 && label < classes, "label ", label, " is outside the model's classes [0, ", classes, ")");
  at::AutoGradMode no_grad(false);
  const at::Tensor logits = to_tensor(forward_image(image, false, swap).logits);
  return score(logits.unsqueeze(0), at::full({1}, label, at::kLong));
}

namespace {

void check_token_ids(const HfConfig& c, const std::vector<std::int64_t>& ids) {
  FMAV_CHECK(!ids.empty(), "the input has no tokens");
  FMAV_CHECK(static_cast<std::int64_t>(ids.size()) <= c.max_positions, "the input has ", ids.size(),
             " tokens; this model takes at most ", c.max_positions);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    FMAV_CHECK(ids[i] >= 0 && ids[i] < c.vocab, "token ", i, " has id ", ids[i], ", outside the vocabulary [0, ",
               c.vocab, ")");
  }
}

// One layer's attention as the caller wants it: (H, n, hd) q, k, v in, (H, n, hd) out.
using AttendFn = std::function<at::Tensor(int layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                          std::int64_t window)>;

// The decoder families' layers (gpt2, llama) over `ids`, layers 0..last: each layer's q, k, v
// (after RoPE; grouped-query K, V expanded per head) go to `attend`, whose output the layer
// goes on with. An undefined output stops the stack there: the caller wanted q, k, v only.
// Returns the hidden states (n, d) before the final norm.
at::Tensor decoder_layers(const HfConfig& c, const HfState& s, const std::vector<std::int64_t>& ids, int last,
                          const AttendFn& attend) {
  const std::int64_t n = static_cast<std::int64_t>(ids.size()), H = c.heads, hd = c.head_dim;
  const at::Tensor index = at::tensor(ids, at::kLong);
  const auto heads = [&](const at::Tensor& x, std::int64_t count) { return x.view({n, count, hd}).transpose(0, 1); };
  at::Tensor x;
  if (c.family == HfFamily::gpt2) {
    x = param(s, "wte.weight").index_select(0, index) + param(s, "wpe.weight").narrow(0, 0, n);
    const std::string act = c.activation == "gelu" ? "none" : "tanh";
    const std::int64_t d = c.hidden;
    for (int i = 0; i <= last; ++i) {
      const std::string h = "h." + std::to_string(i) + ".";
      const at::Tensor a = layer_norm(x, s, h + "ln_1", c.norm_eps);
      // Conv1D: weight (in, out).
      const at::Tensor qkv = at::addmm(param(s, h + "attn.c_attn.bias"), a, param(s, h + "attn.c_attn.weight"));
      const at::Tensor q = heads(qkv.narrow(1, 0, d), H), k = heads(qkv.narrow(1, d, d), H);
      const at::Tensor v = heads(qkv.narrow(1, 2 * d, d), H);
      const at::Tensor o = attend(i, q, k, v, 0);
      if (!o.defined()) return x;
      x = x + at::addmm(param(s, h + "attn.c_proj.bias"), o.transpose(0, 1).reshape({n, d}),
                        param(s, h + "attn.c_proj.weight"));
      const at::Tensor m = at::gelu(at::addmm(param(s, h + "mlp.c_fc.bias"), layer_norm(x, s, h + "ln_2", c.norm_eps),
                                              param(s, h + "mlp.c_fc.weight")),
                                    act);
      x = x + at::addmm(param(s, h + "mlp.c_proj.bias"), m, param(s, h + "mlp.c_proj.weight"));
    }
    return x;
  }
  x = param(s, "embed_tokens.weight").index_select(0, index);
  const at::Tensor freqs = at::outer(at::arange(n, at::kLong).to(at::kFloat), s.inv_freq);
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  const at::Tensor cos = emb.cos(), sin = emb.sin();  // (n, hd), broadcast over heads
  const std::int64_t groups = H / c.kv_heads;
  for (int i = 0; i <= last; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    const at::Tensor a = rms_norm(x, param(s, l + "input_layernorm.weight"), c.norm_eps);
    const auto proj = [&](const char* name) {
      return at::linear(a, param(s, l + "self_attn." + name + ".weight"),
                        optional_param(s, l + "self_attn." + name + ".bias"));
    };
    at::Tensor q = heads(proj("q_proj"), H), k = heads(proj("k_proj"), c.kv_heads), v = heads(proj("v_proj"), c.kv_heads);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    // Grouped-query attention: each K, V head serves `groups` consecutive query heads.
    k = k.repeat_interleave(groups, 0), v = v.repeat_interleave(groups, 0);
    const at::Tensor o = attend(i, q, k, v, c.sliding_window);
    if (!o.defined()) return x;
    x = x + at::linear(o.transpose(0, 1).reshape({n, H * hd}), param(s, l + "self_attn.o_proj.weight"));
    const at::Tensor b = rms_norm(x, param(s, l + "post_attention_layernorm.weight"), c.norm_eps);
    const at::Tensor gated = at::silu(at::linear(b, param(s, l + "mlp.gate_proj.weight"))) *
                             at::linear(b, param(s, l + "mlp.up_proj.weight"));
    x = x + at::linear(gated, param(s, l + "mlp.down_proj.weight"));
  }
  return x;
}

// A causal layer's attention output (H, n, hd) without keeping its probabilities: fused
// attention, or the eager one (probabilities freed at once) within a sliding window.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t window,
                            HfFamily family) {
  if (window > 0) return attend_heads(q, k, v, window, family, true).first;
  return full_attention_sdpa(q.unsqueeze(0).contiguous(), k.unsqueeze(0).contiguous(), v.unsqueeze(0).contiguous(),
                             true)[0];
}

}  // namespace

HfForward HfModel::forward(const std::vector<std::int64_t>& ids, bool with_maps, const HfSwap* swap) const {
  const HfConfig& c = m_config;
  const HfState& s = *m_state;
  FMAV_CHECK(c.kind != HfKind::image_classifier, "a ", c.model_type, " model reads images, not token ids");
  check_token_ids(c, ids);
  at::AutoGradMode no_grad(false);
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  HfForward out;
  const hf::LayerAttention layer_attention(c, n, causal(), with_maps, swap, &out);
  if (c.family == HfFamily::bert) {
    out.logits = to_host(hf::bert_forward(c, s, ids, layer_attention).contiguous());
    return out;
  }
  at::Tensor x = decoder_layers(c, s, ids, static_cast<int>(c.layers) - 1,
                                [&](int i, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    std::int64_t window) { return layer_attention(i, q, k, v, window); });
  at::Tensor head;  // the output projection (vocab, d)
  if (c.family == HfFamily::gpt2) {
    x = layer_norm(x, s, "ln_f", c.norm_eps);
    head = c.tie_embeddings ? param(s, "wte.weight") : param(s, "lm_head.weight");
  } else {
    x = rms_norm(x, param(s, "norm.weight"), c.norm_eps);
    head = c.tie_embeddings ? param(s, "embed_tokens.weight") : param(s, "lm_head.weight");
  }
  out.logits = logits_to_host(x, head);
  return out;
}

// q, k, v of chosen layers without the probability maps (the viewer, sweep, attend). forward()
// keeps every layer's (H, N, N) probabilities when asked for maps; at the lengths the viewer's
// overview shows (N = 16384) that is 1 GiB per head and layer. This runs the same layers with
// LibTorch's fused attention up to the last layer asked for and keeps only their q, k, v.
void HfModel::check_window_covers(std::int64_t tokens, const std::string& who) const {
  const std::int64_t w = m_config.sliding_window;
  FMAV_CHECK(w == 0 || tokens <= w, who, m_config.model_type, " attends within a sliding window of ", w,
             " tokens, which full attention here does not model; the input has ", tokens,
             " tokens (give at most ", w, ")");
}

HfForward HfModel::layer_qkv(const std::vector<std::int64_t>& ids, const std::vector<int>& layers) const {
  const HfConfig& c = m_config;
  const HfState& s = *m_state;
  FMAV_CHECK(c.kind != HfKind::image_classifier, "a ", c.model_type, " model reads images, not token ids");
  FMAV_CHECK(!layers.empty(), "no layer asked for");
  for (int l : layers) {
    FMAV_CHECK(l >= 0 && l < c.layers, "layer ", l, " is not in [0, ", c.layers, ") of this ", c.model_type, " model");
  }
  check_token_ids(c, ids);
  if (c.family == HfFamily::bert) {
    // An encoder's input is short (max_positions, 512 for BERT): every layer's maps are cheap
    // there, so the forward with maps gives q, k, v, and its probabilities are dropped.
    HfForward all = forward(ids, true);
    HfForward out;
    for (int l : layers) out.q.push_back(all.q[l]), out.k.push_back(all.k[l]), out.v.push_back(all.v[l]);
    return out;
  }
  at::AutoGradMode no_grad(false);
  const int last = *std::max_element(layers.begin(), layers.end());
  std::map<int, std::array<at::Tensor, 3>> kept;
  decoder_layers(c, s, ids, last,
                 [&](int i, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t window) {
                   if (std::find(layers.begin(), layers.end(), i) != layers.end()) kept[i] = {q, k, v};
                   return i == last ? at::Tensor() : causal_attention(q, k, v, window, c.family);
                 });
  HfForward out;
  for (int l : layers) {
    const std::array<at::Tensor, 3>& t = kept.at(l);
    out.q.push_back(to_host(t[0].contiguous())), out.k.push_back(to_host(t[1].contiguous()));
    out.v.push_back(to_host(t[2].contiguous()));
  }
  return out;
}

}  // namespace fmav
