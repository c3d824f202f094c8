#pragma once
// Hugging Face checkpoints (docs/DESIGN.md §7.6): a folder saved by `transformers`
// (`config.json` and `model.safetensors`, or shards named by `model.safetensors.index.json`)
// of the families whose architecture the engine implements: `gpt2`, and `llama` with its
// kin `mistral` and `qwen2` (RoPE with the default, `linear` or `llama3` frequencies,
// grouped-query attention, RMSNorm, SwiGLU, optional q/k/v bias, tied or separate
// embeddings, Mistral's sliding window); the masked LMs `bert` and `roberta` (post-LayerNorm
// encoders with the MLM head); and the image classifier `vit` (ViTForImageClassification, with
// its preprocessor_config.json). Weights in float32, bfloat16 or float16 are computed in
// float32 on the CPU. Loading never executes code. No LibTorch in this header.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmav/attend.h"
#include "fmav/input.h"
#include "fmav/tensor.h"

namespace fmav {

enum class HfFamily { gpt2, llama, bert, vit };  // bert: also roberta
// What the model's head predicts: the next token (causal attention), masked tokens
// (bidirectional), or the class of an image (bidirectional, over the patches and CLS).
enum class HfKind { causal_lm, masked_lm, image_classifier };

// What the engine reads of a checkpoint's config.json; everything else in the file is
// ignored, an unsupported value of a field it reads is an error naming it.
struct HfConfig {
  std::string model_type;  // "gpt2" | "llama" | "mistral" | "qwen2" | "bert" | "roberta" | "vit"
  HfFamily family = HfFamily::llama;
  HfKind kind = HfKind::causal_lm;
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
  std::string activation;       // gpt2: "gelu_new" | "gelu"...; llama: "silu"; bert, vit: hidden_act
  // bert / roberta. max_positions is what the input may hold: roberta's positions start at
  // position_offset = pad_token_id + 1, so it is position_table - position_offset.
  std::int64_t type_vocab = 0;       // token-type embeddings (every token has type 0)
  std::int64_t position_table = 0;   // rows of the position embedding (max_position_embeddings)
  std::int64_t position_offset = 0;  // roberta: pad_token_id + 1
  std::int64_t pad_token_id = -1;    // -1: none
  std::vector<std::int64_t> special_ids;  // pad, bos, eos, cls, sep ids config.json names
  // vit: the image the model takes (channels: 3), its patches, and the class names (id2label;
  // "LABEL_k" where the file names none). attention_bias is qkv_bias; max_positions is the
  // token count, 1 + patches.
  std::int64_t image_height = 0, image_width = 0, patch_height = 0, patch_width = 0;
  std::vector<std::string> labels;
};

// What the engine reads of a vit's preprocessor_config.json (the rest of the file is
// ignored): resize to height x width (bilinear), multiply the 8-bit values by rescale_factor,
// normalize by mean and std per channel. Without the file: ViTImageProcessor's defaults at
// the model's size (mean = std = 0.5).
struct HfImageProcessor {
  bool do_resize = true, do_rescale = true, do_normalize = true;
  std::int64_t height = 0, width = 0;  // 0: the model's image size
  int resample = 2;                    // PIL's code; 2 = bilinear, the only one implemented
  double rescale_factor = 1.0 / 255;
  double mean[3] = {0.5, 0.5, 0.5}, std[3] = {0.5, 0.5, 0.5};
};
// Parses preprocessor_config.json's text (`where` names it). Throws fmav::Error for a size
// given as shortest_edge, a center crop, a mean or std that is not 3 numbers (std > 0).
HfImageProcessor parse_hf_image_processor(const std::string& text, const std::string& where);

// The masked LMs' scoring rule (HfModel::evaluate_masked): the non-special tokens are counted
// in order from 0, and those whose count is a multiple of `every` (the 1st, 8th, 15th...) are
// replaced by mask_id and predicted; the loss is over them alone. Special tokens (the
// config's pad/bos/eos/cls/sep ids, the special added tokens of tokenizer.json, the mask
// itself) are never masked.
struct HfMasking {
  std::int64_t mask_id = -1;  // -1: unknown (no tokenizer.json naming [MASK] or <mask>)
  std::vector<std::int64_t> special_ids;
  std::int64_t every = 7;
};
// The positions the rule masks in ids, ascending.
std::vector<std::int64_t> hf_masked_positions(const std::vector<std::int64_t>& ids, const HfMasking& masking);
// The folder's masking: special_ids from the config and folder/tokenizer.json's special added
// tokens, mask_id from its "[MASK]" or "<mask>" token. Throws fmav::Error for a tokenizer.json
// that is not JSON.
HfMasking read_hf_masking(const std::string& folder, const HfConfig& config);

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

// A causal LM's score on ids: every token after the first predicted from those before it. A
// masked LM's: the masked tokens (HfMasking). An image classifier's: the image's label.
struct HfEval {
  std::int64_t tokens = 0;  // predicted tokens (N - 1; masked tokens; 1 image)
  double loss = 0;          // mean cross-entropy, nats per predicted token
  double perplexity = 0;    // exp(loss)
  double bits_per_token = 0;
  double accuracy = 0;      // top-1
};

// One forward pass over token ids: the next-token logits (N, vocab) (a masked LM's: each
// position's token), or an image's class logits (classes); and per layer the attention
// probabilities (H, N, N) and the q, k, v the attention saw (H, N, head_dim; k after RoPE,
// grouped-query K and V repeated per head; a vit's N tokens are CLS then the patches row by
// row), all float32.
struct HfForward {
  HostTensor logits;
  std::vector<HostTensor> probs, q, k, v;
};

// Attention swapped into chosen layers: FMA (or a peer) on the layer's own q, k, v, causal
// for a causal LM and bidirectional otherwise (1D: a vit's tokens in sequence order), with
// `weights` for learned or dense down-sampling (random_downsample_weights of the
// config at the model's head dimension and the run's levels; none for average).
struct HfSwap {
  std::vector<int> layers;  // 0-based, distinct
  AttendOptions options;    // method, and its FmaConfig / PeerOptions; causal is set by the model
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
  HfKind kind() const { return m_config.kind; }
  // Whether the model's attention is causal (causal LMs) or bidirectional (the others).
  bool causal() const { return m_config.kind == HfKind::causal_lm; }
  // Throws fmav::Error, prefixed with `who`, when the model attends within a sliding window
  // (mistral) shorter than `tokens`: there its attention is not the plain causal attention
  // the maps and methods here compare with. At most `window` tokens, the window masks nothing.
  void check_window_covers(std::int64_t tokens, const std::string& who) const;
  // Runs the model on ids (each < vocab; at most max_positions of them). Throws fmav::Error
  // naming a bad id or length, or for an image classifier. with_maps: also fill probs, q, k, v.
  // swap: attention replaced in those layers (the maps and q, k, v are still the model's).
  HfForward forward(const std::vector<std::int64_t>& ids, bool with_maps, const HfSwap* swap = nullptr) const;
  // Scores the model on ids, with attention swapped when swap is given: a causal LM on every
  // next token (at least 2 ids), a masked LM by evaluate_masked with masking(). Throws
  // fmav::Error for an image classifier, or a masked LM whose mask token is unknown.
  HfEval evaluate(const std::vector<std::int64_t>& ids, const HfSwap* swap = nullptr) const;
  // The q, k (after RoPE), v of `layers` (0-based, in that order) on ids, as forward's with
  // maps (H, N, head_dim, grouped K, V repeated per head) but without any N x N probabilities:
  // the layers before run fused attention and the model stops after the last one asked for.
  // Returns q, k, v[i] of layers[i]; logits and probs empty. Encoders (bert, roberta: at most
  // max_positions tokens) run the forward with maps and keep the asked layers' q, k, v.
  // Throws fmav::Error naming a layer outside [0, layers), a bad id or length, or an image model.
  HfForward layer_qkv(const std::vector<std::int64_t>& ids, const std::vector<int>& layers) const;

  // ---- masked LMs ----
  const HfMasking& masking() const { return m_masking; }
  // The masked tokens' score (HfMasking's rule). Throws fmav::Error when the rule masks
  // nothing, mask_id is unknown or outside the vocabulary, or the model is not a masked LM.
  HfEval evaluate_masked(const std::vector<std::int64_t>& ids, const HfMasking& masking,
                         const HfSwap* swap = nullptr) const;

  // ---- image classifiers ----
  const HfImageProcessor& image_processor() const { return m_processor; }
  // The image as the model's input (3, H, W) float32: resized to the processor's size when it
  // differs (bilinear, antialiased when shrinking, as torchvision's tensor resize: an
  // approximation of PIL's 8-bit resize, exact at the model's size), rescaled, normalized.
  // Throws fmav::Error for a processor size other than the model's image size.
  HostTensor pixels(const Image& image) const;
  // The class logits (classes) of pixels (3, H, W) at the model's size, with maps and swap as
  // forward's. Throws fmav::Error for another shape or a model that is not an image classifier.
  HfForward forward_pixels(const HostTensor& pixels, bool with_maps, const HfSwap* swap = nullptr) const;
  HfForward forward_image(const Image& image, bool with_maps, const HfSwap* swap = nullptr) const {
    return forward_pixels(pixels(image), with_maps, swap);
  }
  // The image's score against label (cross-entropy in nats, accuracy 0 or 1; tokens 1).
  // Throws fmav::Error for a label outside [0, classes).
  HfEval evaluate_image(const Image& image, std::int64_t label, const HfSwap* swap = nullptr) const;

 private:
  HfConfig m_config;
  HfMasking m_masking;            // masked LMs
  HfImageProcessor m_processor;   // image classifiers
  std::shared_ptr<const HfState> m_state;
};

}  // namespace fmav
