#pragma once
// Transformer models with selectable attention (docs/DESIGN.md §1, §5): a causal byte-level LM,
// a masked byte-level LM, a ViT-style image classifier over a patch grid and a segmenter, stored as a
// folder of config.json (fmav/model_config.h) + model.safetensors; one layer's attention
// inputs captured for inspection. No LibTorch in this header.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmav/attend.h"
#include "fmav/device.h"
#include "fmav/input.h"
#include "fmav/model_config.h"
#include "fmav/tensor.h"

namespace fmav {

struct ModelState;  // LibTorch parameters, inside core

// A model: its configuration and float32 parameters. Copies share the parameters.
class Model {
 public:
  Model() = default;
  // Fresh parameters drawn from `seed` (GPT-2-style normal(0, 0.02), residual projections
  // scaled by 1/sqrt(2 layers); learned down-sampling starts as the sub-window average).
  static Model create(const ModelConfig& config, std::uint64_t seed);
  // Reads folder/config.json and folder/model.safetensors (`path` may also name either
  // file). Never executes code; every tensor's name, dtype and shape is checked against the
  // config. Throws fmav::Error naming the file and what is wrong.
  static Model load(const std::string& path);
  // Writes folder/config.json and folder/model.safetensors, each atomically.
  void save(const std::string& folder) const;

  bool empty() const { return m_state == nullptr; }
  const ModelConfig& config() const;
  // The parameters by name (float32 host copies), as in model.safetensors.
  std::map<std::string, HostTensor> tensors() const;
  // The same model with another attention kind (e.g. full attention over an FMA model's
  // weights, for comparison); learned down-sampling weights are kept when the new kind
  // uses them with the same shapes, else the kind must not need them. Throws otherwise.
  Model with_attention(const ModelAttention& attention) const;
  // The same model with its parameters on `device` (resolve_device's rules: cuda without one
  // throws naming why; auto falls back to cpu). On the CPU it shares this one's parameters.
  Model on_device(Device device) const;

  // Replaces config().training_json (how the model was trained; must be a JSON object).
  void set_training_json(const std::string& json) { m_config.training_json = json; }

  ModelState& state() const;  // for core

 private:
  ModelConfig m_config;
  std::shared_ptr<ModelState> m_state;
};

// One layer's attention inputs on one input: q, k, v (1, H, N, D) float32 as the layer's
// attention sees them, the FMA config (with the grid for images) and that layer's
// down-sampling weights, ready for attend() and inspect().
struct LayerCapture {
  HostTensor q, k, v;
  FmaConfig fma;
  WeightSet weights;
  // The layer's method and its peer settings (fma for FMA, full and local-free models: the
  // comparison FMA above; a peer model: its own method).
  Method method = Method::fma;
  PeerOptions peer;
  AttendOptions options() const { return {method, Impl::automatic, fma, peer}; }
  std::int64_t tokens = 0;  // N
  // A segmenter's layer is block `block` of stage `stage` (0-based; -1 for the other models);
  // fma's grid is that stage's (image_size / (4 << stage) per side).
  int stage = -1, block = -1;
  // The input the model saw: the text window (LMs) or the fitted image (image models).
  std::string text;
  Image image;
};

// Runs the model on `tokens` (bytes; at most context of them; the masked LM sees them
// unmasked) and captures layer `layer` (0-based). Throws naming a bad layer or input.
LayerCapture capture_text(const Model& model, const std::string& tokens, int layer);
// Runs the image model on an (image_size x image_size) RGB image (values in [0, 1],
// (H, W, 3) row-major floats) and captures layer `layer` (a segmenter: its blocks counted
// over all four stages; the capture is that block's, on its stage's grid).
LayerCapture capture_image(const Model& model, const std::vector<float>& rgb, int layer);

// Runs the model on an input file and captures layer `layer`: a text file for the LMs (the
// window of `context` bytes from byte `offset`; UTF-8 rules of fmav/input.h) or an image
// (PNG, JPEG, BMP; fitted to the model's size) for the image classifier.
LayerCapture capture_file(const Model& model, const std::string& path, int layer, std::int64_t offset = 0);
// The same for every layer at once (one forward pass), index = layer.
std::vector<LayerCapture> capture_file_layers(const Model& model, const std::string& path, std::int64_t offset = 0);

// A segmenter's class per pixel on an (image_size x image_size) RGB image (as capture_image
// takes): the argmax of its logits, (S, S) row-major. Throws fmav::Error for another
// architecture or a wrong-size image.
std::vector<std::int32_t> predict_segments(const Model& model, const std::vector<float>& rgb);

// Where the shipped defaults live: $FMAV_ASSETS if set, else the source tree's assets/.
std::string assets_dir();
// The shipped default model (assets/models/lm-fma) and input (assets/sample.txt).
std::string default_model_path();
std::string default_input_path();

}  // namespace fmav
