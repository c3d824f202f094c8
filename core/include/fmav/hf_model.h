#pragma once
// Hugging Face checkpoints (docs/DESIGN.md §7.6): a folder saved by `transformers`
// (`config.json` and `model.safetensors`, or shards named by `model.safetensors.index.json`)
// of the families whose architecture the engine implements: `gpt2`, and `llama` with its
// kin `mistral` and `qwen2` (RoPE with the default, `linear` or `llama3` frequencies,
// grouped-query attention, RMSNorm, SwiGLU, optional q/k/v bias, tied or separate
// embeddings, Mistral's sliding window). Weights in float32, bfloat16 or float16 are computed
// in float32 on the CPU. Loading never executes code. No LibTorch in this header.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmav/attend.h"
#include "fmav/tensor.h"

namespace fmav {

enum class HfFamily { gpt2, llama };

// What the engine reads of a checkpoint's config.json; everything else in the file is
// ignored, an unsupported value of a field it reads is an error naming it.
struct HfConfig {
  std::string model_type;  // "gpt2" | "llama" | "mistral" | "qwen2"
  HfFamily family = HfFamily::llama;
  std::int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0;
  std::int64_t max_positions = 0;
  double norm_eps = 1e-5;
  // RoPE (llama family): base, and the scaling kind "default" | "linear" | "llama3".
  double rope_theta = 10000;
  std::string rope_type = "default";
  double rope_factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  std::int64_t original_max_positions = 0;
  bool attention_bias = false;  // q, k, v projections have biases (qwen2: always)
  bool tie_embeddings = true;   // the output projection is the token embedding
  std::int64_t sliding_window = 0;  // mistral: keys at most this far back (0: none)
  std::string activation;       // gpt2: "gelu_new" | "gelu"...; llama: "silu"
};

// Parses a config.json's text (`where` names it in errors). Throws fmav::Error for an
// unsupported model_type, a missing or out-of-range size, or an option the engine does not
// implement (naming it).
HfConfig parse_hf_config(const std::string& text, const std::string& where);
// Whether `path` is a folder whose config.json names a "model_type" (a Hugging Face
// checkpoint; the project's own models have none). Reads only that file; false when unsure.
bool is_hf_model_folder(const std::string& path);
// Token ids from a .npy or one-tensor .safetensors file: int64 or int32, shaped (N) or (1, N).
// Throws fmav::Error naming the file, its dtype or shape.
std::vector<std::int64_t> read_token_ids(const std::string& path);

// A causal LM's score on ids: every token after the first predicted from those before it.
struct HfEval {
  std::int64_t tokens = 0;  // predicted tokens (N - 1)
  double loss = 0;          // mean cross-entropy, nats per predicted token
  double perplexity = 0;    // exp(loss)
  double bits_per_token = 0;
  double accuracy = 0;      // top-1
};

// One forward pass over token ids: the next-token logits (N, vocab), and per layer the
// attention probabilities (H, N, N) and the q, k, v the attention saw (H, N, head_dim; k
// after RoPE, grouped-query K and V repeated per head), all float32.
struct HfForward {
  HostTensor logits;
  std::vector<HostTensor> probs, q, k, v;
};

// Attention swapped into chosen layers: FMA (or a peer) on the layer's own q, k, v, causal,
// with `weights` for learned or dense down-sampling (random_downsample_weights of the
// config at the model's head dimension and the run's levels; none for average).
struct HfSwap {
  std::vector<int> layers;  // 0-based, distinct
  AttendOptions options;    // method, and its FmaConfig / PeerOptions; causal is forced on
  WeightSet weights;
  // Per-layer weights (fmav fit): a layer found here uses its own set instead of `weights`.
  std::map<int, WeightSet> layer_weights;
};
// "4-11", "0,2,5" or "3" into layers in [0, layers); throws fmav::Error naming the text.
std::vector<int> parse_layer_list(const std::string& text, std::int64_t layers);

struct HfState;  // LibTorch parameters, inside core

class HfModel {
 public:
  // Reads folder/config.json and the folder's safetensors (one file, or the shards the index
  // names). Every tensor the architecture needs must be there with its shape; unknown
  // tensors are refused by name (a wrong family would otherwise load half its weights).
  static HfModel load(const std::string& folder);
  const HfConfig& config() const { return m_config; }
  // Runs the model on ids (each < vocab; at most max_positions of them for gpt2). Throws
  // fmav::Error naming a bad id or length. with_maps: also fill probs, q, k, v.
  // swap: attention replaced in those layers (the maps and q, k, v are still the model's).
  HfForward forward(const std::vector<std::int64_t>& ids, bool with_maps, const HfSwap* swap = nullptr) const;
  // Scores the model on ids (at least 2 of them), with attention swapped when swap is given.
  HfEval evaluate(const std::vector<std::int64_t>& ids, const HfSwap* swap = nullptr) const;

 private:
  HfConfig m_config;
  std::shared_ptr<const HfState> m_state;
};

}  // namespace fmav
