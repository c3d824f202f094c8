// The models (fmav/model.h): parameter creation, loading and saving of the model folder,
// the forward passes of the LMs and the image classifier, and one layer's capture.

#include "model_internal.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "fmav/error.h"
#include "fmav/finite.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"
#include "attention/cuda_backend.h"
#include "attention/peers.h"
#include "base/random.h"

namespace fmav {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr double kInitStd = 0.02;  // GPT-2's initialisation

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_downsample_weight(const std::string& name) { return name.find(".attn.level") != std::string::npos; }

// A learned summary starts as its sub-window's average (§2: the `average` basis) plus a little
// noise so the p summaries of a group can learn different things; 2D kernels start as the
// cell's mean (row and column kernels 1/c each).
void init_downsample(const std::string& name, const std::vector<std::int64_t>& shape, const ModelConfig& c,
                     SplitMix64& rng, float* out) {
  const std::int64_t rows = shape[0], in = shape.size() == 3 ? shape[1] : 1, width = shape.back();
  if (ends_with(name, "bias")) return;  // zeros
  const std::int64_t p = c.attention.rank, sub = std::max<std::int64_t>(1, width / p);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t channel = r / p, j = r % p;
    for (std::int64_t i = 0; i < in; ++i) {
      for (std::int64_t t = 0; t < width; ++t) {
        double w = 0;
        if (!c.is_lm()) {
          w = 1.0 / static_cast<double>(width);
        } else if (in == 1 || i == channel) {
          const bool inside = width >= p ? t / sub == std::min(j, width / sub - 1) : true;
          w = inside ? 1.0 / static_cast<double>(width >= p ? sub : width) : 0.0;
        }
        out[(r * in + i) * width + t] = static_cast<float>(w + 0.1 * kInitStd * rng.normal());
      }
    }
  }
}

at::Tensor make_param(const std::string& name, const std::vector<std::int64_t>& shape, const ModelConfig& c,
                      SplitMix64& rng) {
  at::Tensor t = at::zeros(shape, at::kFloat);
  float* data = t.data_ptr<float>();
  const std::int64_t n = t.numel();
  if (is_downsample_weight(name)) {
    init_downsample(name, shape, c, rng, data);
  } else if (ends_with(name, "ln1.weight") || ends_with(name, "ln2.weight") || name == "ln_f.weight" ||
             ends_with(name, ".ln.weight")) {
    t.fill_(1.0);
  } else if (!ends_with(name, "bias")) {
    // Residual projections are scaled down by depth (GPT-2) so the stream starts small; the
    // segmenter's depthwise convs by their fan-out (9), as SegFormer's, so Mix-FFN passes signal.
    const bool residual = ends_with(name, "attn.out.weight") || ends_with(name, "mlp.fc2.weight");
    double std = residual ? kInitStd / std::sqrt(2.0 * static_cast<double>(c.layers)) : kInitStd;
    if (ends_with(name, "mlp.dw.weight")) std = std::sqrt(2.0 / 9.0);
    for (std::int64_t e = 0; e < n; ++e) data[e] = static_cast<float>(std * rng.normal());
  }
  return t;
}

// Resolves a model path (folder, or its config.json or model.safetensors) to the folder.
fs::path model_folder(const std::string& path) {
  FMAV_CHECK(!path.empty(), "model path is empty");
  fs::path p(path);
  std::error_code ec;
  FMAV_CHECK(fs::exists(p, ec), "model ", path, " does not exist (expected a folder with config.json and "
             "model.safetensors)");
  if (fs::is_directory(p, ec)) return p;
  const std::string file = p.filename().string();
  FMAV_CHECK(file == "config.json" || file == "model.safetensors", "model ", path,
             " must be a folder holding config.json and model.safetensors, or one of those two files");
  return p.parent_path().empty() ? fs::path(".") : p.parent_path();
}

at::Tensor layer_norm(const at::Tensor& x, const ModelState& s, const std::string& name) {
  return at::layer_norm(x, {x.size(-1)}, s.params.at(name + ".weight"), s.params.at(name + ".bias"), 1e-5);
}

at::Tensor linear(const at::Tensor& x, const ModelState& s, const std::string& name) {
  return at::linear(x, s.params.at(name + ".weight"), s.params.at(name + ".bias"));
}

// q, k, v (B, H, N, D) in the dtype the attention computes in: as they come where the
// CUDA kernels (or SDPA, `full`) take them; else float32 (bf16 autocast hands bfloat16 to
// paths that compute in float32: the CPU's fused loops, the tensor-op paths).
bool keeps_dtype(const at::Tensor& q, Method method) {
  if (q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble) return true;
  return q.is_cuda() && (method == Method::full || cuda_kernels_take(q.scalar_type(), q.size(3)));
}

// Whether a method runs where q is: everything on the CPU; on CUDA, full attention (SDPA),
// FMA-1D and local where the kernels take the dtype and head dimension, and the peers whose
// fast paths are device-independent tensor ops (htransformer, linear). FMA-linear's and
// FMA2D's blocked parts and the kernels' missing head sizes build index lists on the host
// (never run on a GPU here): a host copy.
bool runs_on_device(const at::Tensor& q, const AttendOptions& options) {
  if (q.is_cpu()) return true;
  switch (options.method) {
    case Method::full:
    case Method::htransformer:
    case Method::linear: return true;
    case Method::fma:
      return !options.fma.is_2d() && !options.fma.linear && cuda_kernels_take(q.scalar_type(), q.size(3));
    case Method::local: return cuda_kernels_take(q.scalar_type(), q.size(3));
    case Method::reformer:
    case Method::swin: return false;
  }
  return false;
}

// The attention of one layer on q, k, v (B, H, N, D), on their device: the fused kernels (CPU
// or CUDA) where they run, else LibTorch ops there; the rest (reformer, swin, FMA-linear,
// FMA2D) on a host copy, the output back on the device. Gradients flow through every route.
at::Tensor layer_attention(at::Tensor q, at::Tensor k, at::Tensor v, const AttendOptions& options,
                           const FmaWeights& weights) {
  if (!keeps_dtype(q, options.method)) q = q.to(at::kFloat), k = k.to(at::kFloat), v = v.to(at::kFloat);
  if (!runs_on_device(q, options)) {
    const at::Device device = q.device();
    return layer_attention(q.cpu(), k.cpu(), v.cpu(), options, weights_to(weights, at::TensorOptions().device(at::kCPU)))
        .to(device);
  }
  const FmaConfig& f = options.fma;
  if (options.method == Method::full) return full_attention_sdpa(q, k, v, f.causal);
  if (is_peer(options.method)) return peer_attention(q, k, v, options);
  if (f.is_2d()) return fma_blocked(q, k, v, f, weights);
  return f.linear ? fma_linear_fused(q, k, v, f, weights) : fma_fused(q, k, v, f, weights);
}

// One block's attention on x (B, N, d): the model's kind on (B, H, N, D) heads.
at::Tensor attention(const Model& model, int layer, const at::Tensor& x, LayerTap* tap) {
  const ModelConfig& c = model.config();
  const std::string b = "blocks." + std::to_string(layer) + ".attn.";
  const std::int64_t B = x.size(0), N = x.size(1), H = c.heads, D = c.head_dim();
  const at::Tensor qkv = linear(x, model.state(), b + "qkv").view({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
  const at::Tensor q = qkv[0].contiguous(), k = qkv[1].contiguous(), v = qkv[2].contiguous();
  if (tap != nullptr && tap->all) tap->qs.push_back(q), tap->ks.push_back(k), tap->vs.push_back(v);
  if (tap != nullptr && tap->layer == layer) tap->q = q, tap->k = k, tap->v = v;
  const AttendOptions options = layer_attend_options(c, layer);
  const at::Tensor o = layer_attention(q, k, v, options, layer_fma_weights(model, layer));
  return linear(o.transpose(1, 2).reshape({B, N, c.d_model}), model.state(), b + "out");
}

// The blocks and the final norm over embedded tokens x (B, N, d).
at::Tensor trunk(const Model& model, at::Tensor x, LayerTap* tap) {
  const ModelState& s = model.state();
  for (int i = 0; i < model.config().layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    x = x + attention(model, i, layer_norm(x, s, b + "ln1"), tap);
    x = x + linear(at::gelu(linear(layer_norm(x, s, b + "ln2"), s, b + "mlp.fc1")), s, b + "mlp.fc2");
  }
  return layer_norm(x, s, "ln_f");
}

HostTensor host_f32(const at::Tensor& t) { return to_host(t.detach().to(at::kCPU, at::kFloat).contiguous()); }

LayerCapture make_capture(const Model& model, int layer, const at::Tensor& q, const at::Tensor& k,
                          const at::Tensor& v) {
  const ModelConfig& c = model.config();
  LayerCapture out;
  out.q = host_f32(q), out.k = host_f32(k), out.v = host_f32(v);
  out.tokens = q.size(2);
  // A segmenter's block attends on its stage's grid, with that stage's cells (segmenter.cpp).
  if (c.is_segmenter()) out.stage = segmenter_stage_of(c, layer, &out.block);
  const AttendOptions options = layer_attend_options(c, layer);
  out.fma = c.is_segmenter() ? segmenter_stage_fma(c, out.stage) : fma_config(c);
  const AttentionKind kind = c.attention.kind;
  if (is_peer(options.method)) {  // the peer's own map against full attention
    out.method = options.method, out.peer = options.peer, out.fma = options.fma;
    return out;
  }
  if (kind == AttentionKind::full) {
    // No learned summaries: compare against FMA with the fixed average basis.
    out.fma.downsample = Downsample::average;
    out.fma.linear = false;
    if (out.fma.block_size % out.fma.rank != 0) out.fma.rank = 1;
    return out;
  }
  const std::string prefix = c.is_segmenter() ? "stages." + std::to_string(out.stage) + ".blocks." +
                                                    std::to_string(out.block) + ".attn."
                                              : "blocks." + std::to_string(layer) + ".attn.";
  for (const auto& [name, t] : model.state().params) {
    if (name.compare(0, prefix.size(), prefix) == 0 && is_downsample_weight(name)) {
      out.weights[name.substr(prefix.size())] = host_f32(t);
    }
  }
  return out;
}

void check_layer(const Model& model, int layer) {
  FMAV_CHECK(!model.empty(), "no model is loaded");
  const ModelConfig& c = model.config();
  FMAV_CHECK(layer >= 0 && layer < c.layers, "layer must be in [0, ", c.layers, "), got ", layer,
             c.is_segmenter() ? " (a segmenter's blocks are counted over all its stages)" : "");
}

}  // namespace

// ---- Model ----

Model Model::create(const ModelConfig& config, std::uint64_t seed) {
  validate(config);
  Model model;
  model.m_config = config;
  model.m_state = std::make_shared<ModelState>();
  SplitMix64 rng(seed);
  for (const auto& [name, shape] : model_tensor_shapes(config)) {
    model.m_state->params[name] = make_param(name, shape, config, rng);
  }
  return model;
}

Model Model::load(const std::string& path) {
  const fs::path folder = model_folder(path);
  const std::string config_path = (folder / "config.json").string();
  const std::string weights_path = (folder / "model.safetensors").string();
  FMAV_CHECK(fs::exists(config_path), "model folder ", folder.string(), " has no config.json");
  FMAV_CHECK(fs::exists(weights_path), "model folder ", folder.string(), " has no model.safetensors");
  Model model;
  model.m_config = parse_model_config(read_file_bytes(config_path, kMaxConfigBytes), config_path);
  const TensorMap tensors = read_safetensors(weights_path);
  model.m_state = std::make_shared<ModelState>();
  const auto shapes = model_tensor_shapes(model.m_config);
  for (const auto& [name, shape] : shapes) {
    const auto it = tensors.find(name);
    FMAV_CHECK(it != tensors.end(), weights_path, ": missing tensor \"", name, "\" ", shape_str(shape),
               " that config.json implies");
    FMAV_CHECK(it->second.dtype == DType::f32, weights_path, ": tensor \"", name, "\" must be F32, got ",
               dtype_name(it->second.dtype));
    FMAV_CHECK(it->second.shape == shape, weights_path, ": tensor \"", name, "\" must be ", shape_str(shape),
               " for config.json, got ", shape_str(it->second.shape));
    check_finite(it->second, "weight \"" + name + "\" (" + weights_path + ")");
    model.m_state->params[name] = to_tensor(it->second);
  }
  for (const auto& [name, t] : tensors) {
    FMAV_CHECK(model.m_state->params.count(name) == 1, weights_path, ": unknown tensor \"", name,
               "\" (not part of a ", to_string(model.m_config.architecture), " with ",
               attention_name(model.m_config.attention), " attention)");
  }
  return model;
}

void Model::save(const std::string& folder) const {
  FMAV_CHECK(!empty(), "no model to save");
  std::error_code ec;
  fs::create_directories(folder, ec);
  FMAV_CHECK(!ec && fs::is_directory(folder), "cannot create the model folder ", folder, ": ", ec.message());
  write_safetensors((fs::path(folder) / "model.safetensors").string(), tensors(), {{"format", "fmav-model"}});
  write_file_atomic((fs::path(folder) / "config.json").string(), model_config_json(m_config));
}

const ModelConfig& Model::config() const {
  FMAV_CHECK(!empty(), "no model is loaded");
  return m_config;
}

ModelState& Model::state() const {
  FMAV_CHECK(!empty(), "no model is loaded");
  return *m_state;
}

std::map<std::string, HostTensor> Model::tensors() const {
  std::map<std::string, HostTensor> out;
  for (const auto& [name, t] : state().params) out[name] = host_f32(t);
  return out;
}

Model Model::with_attention(const ModelAttention& attention) const {
  ModelConfig c = config();
  c.attention = attention;
  validate(c);
  Model model;
  model.m_config = c;
  model.m_state = std::make_shared<ModelState>();
  for (const auto& [name, shape] : model_tensor_shapes(c)) {
    const auto it = m_state->params.find(name);
    FMAV_CHECK(it != m_state->params.end() && it->second.sizes().vec() == shape, "attention ",
               attention_name(attention), " needs down-sampling weights ", name, " ", shape_str(shape),
               " that this ", attention_name(m_config.attention), " model does not have");
    model.m_state->params[name] = it->second;
  }
  return model;
}

// ---- forward passes ----

FmaWeights layer_fma_weights(const Model& model, int layer) {
  const ModelConfig& c = model.config();
  FmaWeights out;
  if (c.attention.downsample == Downsample::average) return out;
  if (!is_fma_kind(c.attention.kind)) return out;
  const auto& p = model.state().params;
  const std::string b = "blocks." + std::to_string(layer) + ".attn.level";
  for (int l = 1; l <= model_levels(c); ++l) {
    LevelWeights lw;
    for (Stream s : {Stream::k, Stream::v, Stream::q}) {
      if (s == Stream::q && c.attention.kind != AttentionKind::fma_linear) continue;
      const std::string n = b + std::to_string(l) + "." + (s == Stream::k ? "k" : s == Stream::v ? "v" : "q") + ".";
      Summarizer& sum = lw.of(s);
      sum.weight = p.at(n + (c.is_lm() ? "weight" : "row.weight"));
      if (!c.is_lm()) sum.col_weight = p.at(n + "col.weight");
      sum.bias = p.at(n + "bias");
    }
    out.push_back(lw);
  }
  return out;
}

at::Tensor lm_logits(const Model& model, const at::Tensor& tokens, LayerTap* tap) {
  const ModelConfig& c = model.config();
  FMAV_CHECK(c.is_lm(), "a ", to_string(c.architecture), " takes images, not tokens");
  FMAV_CHECK(tokens.dim() == 2 && tokens.size(1) >= 1 && tokens.size(1) <= c.context,
             "tokens must be (B, N) with 1 <= N <= context ", c.context, ", got ", shape_str(tokens.sizes().vec()));
  const ModelState& s = model.state();
  const std::int64_t N = tokens.size(1);
  const at::Tensor& embed = s.params.at("embed.weight");
  at::Tensor x = at::embedding(embed, tokens.to(embed.device())) + s.params.at("pos.weight").slice(0, 0, N);
  x = trunk(model, x, tap);
  return at::matmul(x, embed.slice(0, 0, kByteVocab).t());  // tied output embedding
}

at::Tensor image_logits(const Model& model, const at::Tensor& pixels, LayerTap* tap) {
  const ModelConfig& c = model.config();
  FMAV_CHECK(c.architecture == Architecture::image_classifier, "a ", to_string(c.architecture),
             " does not classify images");
  const std::int64_t S = c.image_size, P = c.patch_size, G = c.grid_side();
  FMAV_CHECK(pixels.dim() == 4 && pixels.size(1) == S && pixels.size(2) == S && pixels.size(3) == 3,
             "pixels must be (B, ", S, ", ", S, ", 3), got ", shape_str(pixels.sizes().vec()));
  const std::int64_t B = pixels.size(0);
  // Per-image standardisation (each channel minus the image's mean, over the image's
  // standard deviation), so a shape stands out against its background whatever the colours.
  const ModelState& s = model.state();
  const at::Tensor on_device = pixels.to(s.params.at("pos.weight").device());
  const at::Tensor centred = on_device - on_device.mean({1, 2}, true);
  const at::Tensor x0 = centred / (centred.pow(2).mean({1, 2, 3}, true).sqrt() + 1e-3);
  // Patches in row-major grid order, each flattened as (row, column, channel).
  const at::Tensor patches = x0
                                 .view({B, G, P, G, P, 3})
                                 .permute({0, 1, 3, 2, 4, 5})
                                 .reshape({B, G * G, P * P * 3});
  at::Tensor x = linear(patches, s, "patch") + s.params.at("pos.weight");
  x = trunk(model, x, tap);
  return linear(x.mean(1), s, "head");
}

at::Tensor byte_tokens(const std::string& bytes, std::int64_t begin, std::int64_t n) {
  at::Tensor t = at::empty({n}, at::kLong);
  std::int64_t* p = t.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(bytes[begin + i]);
  return t;
}

namespace {

// The checked model inputs, as a batch of one: text bytes (B = 1, N) and pixels (1, S, S, 3).
at::Tensor text_input(const Model& model, const std::string& tokens) {
  const ModelConfig& c = model.config();
  FMAV_CHECK(c.is_lm(), "this model is an ", to_string(c.architecture), "; give it an image, not text");
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  FMAV_CHECK(n >= 1 && n <= c.context, "text must have 1..", c.context, " bytes (the model's context), got ", n);
  return byte_tokens(tokens, 0, n).unsqueeze(0);
}

at::Tensor image_input(const Model& model, const std::vector<float>& rgb) {
  const ModelConfig& c = model.config();
  FMAV_CHECK(!c.is_lm(), "this model is a ", to_string(c.architecture), "; give it text, not an image");
  const std::int64_t S = c.image_size;
  FMAV_CHECK(static_cast<std::int64_t>(rgb.size()) == S * S * 3, "image must be ", S, " x ", S,
             " x 3 values for this model, got ", rgb.size());
  return at::from_blob(const_cast<float*>(rgb.data()), {1, S, S, 3}, at::kFloat).clone();
}

// One forward pass without gradients that fills `tap`.
void run_tapped(const Model& model, const at::Tensor& input, LayerTap* tap) {
  at::NoGradGuard no_grad;
  const ModelConfig& c = model.config();
  c.is_lm() ? lm_logits(model, input, tap) : c.is_segmenter() ? segmenter_logits(model, input, tap)
                                                                : image_logits(model, input, tap);
}

LayerCapture capture_layer(const Model& model, const at::Tensor& input, int layer) {
  LayerTap tap;
  tap.layer = layer;
  run_tapped(model, input, &tap);
  return make_capture(model, layer, tap.q, tap.k, tap.v);
}

// What the model sees of a file: the text window of `context` bytes from `offset`, or the
// image fitted to the model's size; filled into a capture's text or image.
void read_model_input(const Model& model, const std::string& path, std::int64_t offset, LayerCapture* into) {
  const ModelConfig& c = model.config();
  if (!c.is_lm()) {
    FMAV_CHECK(offset == 0, "an offset is for text inputs, not images");
    into->image = fit_image(read_image(path), c.image_size, c.image_size);
    return;
  }
  const std::string text = read_text(path);
  const std::int64_t size = static_cast<std::int64_t>(text.size());
  FMAV_CHECK(offset >= 0 && offset < size, "offset must be in [0, ", size, ") for ", path, ", got ", offset);
  into->text = text.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(c.context));
}

at::Tensor input_of(const Model& model, const LayerCapture& seen) {
  return model.config().is_lm() ? text_input(model, seen.text) : image_input(model, seen.image.rgb);
}

}  // namespace

LayerCapture capture_text(const Model& model, const std::string& tokens, int layer) {
  check_layer(model, layer);
  return capture_layer(model, text_input(model, tokens), layer);
}

LayerCapture capture_image(const Model& model, const std::vector<float>& rgb, int layer) {
  check_layer(model, layer);
  return capture_layer(model, image_input(model, rgb), layer);
}

LayerCapture capture_file(const Model& model, const std::string& path, int layer, std::int64_t offset) {
  check_layer(model, layer);
  LayerCapture seen;
  read_model_input(model, path, offset, &seen);
  LayerCapture out = capture_layer(model, input_of(model, seen), layer);
  out.text = std::move(seen.text), out.image = std::move(seen.image);
  return out;
}

std::vector<LayerCapture> capture_file_layers(const Model& model, const std::string& path, std::int64_t offset) {
  check_layer(model, 0);
  LayerCapture seen;
  read_model_input(model, path, offset, &seen);
  LayerTap tap;
  tap.all = true;
  run_tapped(model, input_of(model, seen), &tap);
  std::vector<LayerCapture> out;
  for (std::size_t l = 0; l < tap.qs.size(); ++l) {
    out.push_back(make_capture(model, static_cast<int>(l), tap.qs[l], tap.ks[l], tap.vs[l]));
    out.back().text = seen.text, out.back().image = seen.image;
  }
  return out;
}

std::vector<std::int32_t> predict_segments(const Model& model, const std::vector<float>& rgb) {
  FMAV_CHECK(!model.empty(), "no model is loaded");
  FMAV_CHECK(model.config().is_segmenter(), "a ", to_string(model.config().architecture),
             " does not segment images; give a segmenter");
  at::NoGradGuard no_grad;
  const at::Tensor classes = segmenter_logits(model, image_input(model, rgb)).argmax(1)[0].to(at::kCPU, at::kInt);
  const std::int32_t* p = classes.contiguous().data_ptr<std::int32_t>();
  return std::vector<std::int32_t>(p, p + classes.numel());
}

std::string default_model_path() { return (fs::path(assets_dir()) / "models" / "lm-fma").string(); }
std::string default_input_path() { return (fs::path(assets_dir()) / "sample.txt").string(); }

std::string assets_dir() {
  const char* env = std::getenv("FMAV_ASSETS");
  if (env != nullptr && *env != '\0') return env;
  return FMAV_ASSETS_DIR;
}

}  // namespace fmav
