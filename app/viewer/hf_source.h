#pragma once
// A Hugging Face model as a source of fma-viewer's maps (docs/DESIGN.md §7.6): the model's
// own q and k of a layer (after RoPE, grouped-query K and V repeated per head) on a text
// tokenized by the folder's tokenizer.json, on token ids from a .npy, or (a vit) on an image,
// compared with FMA (or a peer) at the sidebar's settings, causal for a causal LM and
// bidirectional for a masked LM (bert, roberta) or an image classifier (vit: CLS, then the
// patches row by row). Its full map is the model's own attention. A fitted folder
// (fmav fit) lends its swapped layers' fitted weights to FMA at the fit's settings. No ImGui
// here: the map worker and the heads overview read it.

#include "map_params.h"

#include "fmav/attend.h"
#include "fmav/hf_model.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fmav::viewer {

// Whether `path` is a Hugging Face model folder (fmav::is_hf_model_folder), remembered per
// path so the sidebar may ask every frame without reading config.json each time.
bool is_hf_folder(const std::string& path);
// Whether the Hugging Face folder's model attends causally (a causal LM) rather than both ways,
// from its config.json (remembered per path; true when config.json cannot be read).
bool hf_folder_causal(const std::string& path);

// The model's input: token ids (a .npy / .safetensors of ids, or the text through the
// folder's tokenizer.json) from token `offset` on, at most min(max_positions, kMaxTokens)
// of them, and each token's text piece (for the query view); for an image classifier, the
// image's pixels as the model takes them and its tokens' names ("[CLS]", "patch 2,5").
struct HfTokens {
  std::vector<std::int64_t> ids;    // empty for an image
  HostTensor pixels;                // (3, H, W) for an image, else empty
  std::vector<std::string> pieces;  // empty for ids from a file when there is no tokenizer.json
  std::int64_t count = 0;           // the tokens the maps show
  std::int64_t total = 0;           // tokens of the whole input, before the window
};

// q, k, v of some layers of the model on its input, and the settings they are compared under.
struct HfLayers {
  std::shared_ptr<const HfModel> model;
  std::shared_ptr<const HfTokens> tokens;
  std::vector<int> layers;            // as asked
  std::vector<HostTensor> q, k, v;    // of layers[i], (H, N, head_dim) float32
  AttendOptions options;              // the sidebar's method, causal as the model is
  WeightSet weights;                  // FMA's learned / dense weights drawn from the seed
  std::map<int, WeightSet> fitted;    // a fitted folder's own weights, per swapped layer
  std::string weights_note;           // where FMA's weights come from, for the header
  // The weights FMA uses on `layer`: the fitted ones where there are, else `weights`.
  const WeightSet& weights_of(int layer) const {
    const auto found = fitted.find(layer);
    return found == fitted.end() ? weights : found->second;
  }
};

// Whether an input path holds token ids (.npy or .safetensors) rather than text.
bool is_ids_file(const std::string& path);

// The model at params.model (kept between calls: a layer or head change reloads nothing).
std::shared_ptr<const HfModel> load_hf_model(const std::string& folder);
// The tokens params.model reads of params.input from params.offset (kept while unchanged).
// Throws fmav::Error naming the file, a missing tokenizer.json or an offset past the end.
std::shared_ptr<const HfTokens> load_hf_tokens(const MapParams& params, const HfModel& model);

// The sidebar's method for n tokens of the model: FMA at m, p, down-sampling and multiplicity,
// or a peer, causal as the model is (the checkbox does not apply). Throws fmav::Error for
// settings validate() refuses.
AttendOptions hf_options(const MapParams& params, std::int64_t n, bool causal);

// q, k, v of `layers` of params.model on its input without any N x N probabilities
// (HfModel::layer_qkv; an image classifier's short sequence runs the forward with maps),
// under hf_options. Throws fmav::Error naming a bad layer, the input, or an input longer than
// the model's sliding window (HfModel::check_window_covers).
HfLayers hf_layers(const MapParams& params, const std::vector<int>& layers);

// A token's piece as the query view shows it: valid UTF-8 kept, a newline as a pilcrow, a
// tab as », other control bytes and broken UTF-8 as a middle dot.
std::string piece_label(const std::string& piece);

}  // namespace fmav::viewer
