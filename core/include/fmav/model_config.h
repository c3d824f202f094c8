#pragma once
// A model's configuration and its file, config.json (format "fmav-model"), without LibTorch:
// the architecture (a causal byte-level LM, a masked byte-level LM, a ViT-style image
// classifier over a patch grid), sizes, the attention of its blocks, the tensors its
// model.safetensors must hold, presets, and the strict parser. The models: fmav/model.h.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fmav/fma.h"
#include "fmav/method.h"

namespace fmav {

constexpr int kModelFormatVersion = 1;
constexpr std::int64_t kByteVocab = 256;      // byte-level LMs: tokens are bytes
constexpr std::int64_t kMaskToken = 256;      // the masked LM's extra input token

enum class Architecture { causal_lm, masked_lm, image_classifier, segmenter };
constexpr int kSegmenterStages = 4;  // strides 4, 8, 16, 32
// What each block's attention is. fma is FMA-1D for the LMs and FMA2D (on the patch grid)
// for the image classifier; fma_linear likewise (§3); local is FMA's near field alone (1D).
// The peers (fmav/method.h): htransformer, reformer (LMs), linear (both), swin (images;
// odd layers shifted by half a window).
enum class AttentionKind { fma, fma_linear, full, local, htransformer, linear, reformer, swin };

struct ModelAttention {
  AttentionKind kind = AttentionKind::fma;
  // m (r); local: the window's block; htransformer: Nr; reformer: the chunk; swin: the window
  std::int64_t block_size = 32;
  std::int64_t rank = 2;          // p
  Downsample downsample = Downsample::learned;
  bool count_multiplicity = true;
  int hash_rounds = 2;            // reformer (config.json key only for reformer)
};

struct ModelConfig {
  Architecture architecture = Architecture::causal_lm;
  std::int64_t d_model = 128;
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t d_mlp = 512;
  std::int64_t context = 512;        // LMs: most tokens per forward (positional embeddings)
  std::int64_t image_size = 32;      // image classifier: square input side in pixels
  std::int64_t patch_size = 4;       //   patch side; the grid is image_size / patch_size
  std::vector<std::string> classes;  //   class names, in label order (segmenter: its folder's)
  // segmenter (SegFormer-style, docs/DESIGN.md "Segmentation"): per stage the width, blocks
  // and heads; Mix-FFN hidden width = mlp_ratio x width; d_model is the decoder's width,
  // layers the blocks in all (derived), patch_size 4 (stage 1's stride).
  std::vector<std::int64_t> stage_widths, stage_depths, stage_heads;
  std::int64_t mlp_ratio = 4;
  ModelAttention attention;
  std::string training_json = "{}";  // free-form record of how it was trained (kept as is)

  bool is_lm() const { return architecture == Architecture::causal_lm || architecture == Architecture::masked_lm; }
  bool is_segmenter() const { return architecture == Architecture::segmenter; }
  std::int64_t head_dim() const { return d_model / heads; }
  std::int64_t grid_side() const { return image_size / patch_size; }
  // Tokens per forward: context for the LMs, grid_side^2 for images (segmenter: stage 1's).
  std::int64_t tokens() const { return is_lm() ? context : grid_side() * grid_side(); }
  // Input vocabulary: 256 bytes (+ the mask token for the masked LM); 0 for images.
  std::int64_t vocab() const;
};

// "causal-lm" | "masked-lm" | "image-classifier" | "segmenter"
const char* to_string(Architecture architecture);
// "fma" | "fma-linear" | "full" | "local" | "htransformer" | "linear" | "reformer" | "swin"
const char* to_string(AttentionKind kind);
Architecture parse_architecture(const std::string& name);  // throws naming the text
// A kind's name (to_string), and the shorthands "fma-average" and "fma-linear-average"
// (down-sampling average). Throws fmav::Error naming the text.
void parse_attention(const std::string& name, ModelAttention* attention);
// "fma-average" style name of an attention (kind plus "-average" or "-dense").
std::string attention_name(const ModelAttention& attention);

// Throws fmav::Error naming the first bad field (sizes >= 1, heads | d_model, patch |
// image_size, >= 2 classes, an attention valid for the architecture and token count).
void validate(const ModelConfig& config);
// The FMA configuration of the model's attention on n tokens (images: the patch grid),
// causal for the causal LM. For full and local only block_size and causal matter.
FmaConfig fma_config(const ModelConfig& config);
// Coarse levels the model's FMA uses at its full token count (0 for the other kinds).
int model_levels(const ModelConfig& config);
// Whether the kind is FMA (fma or fma-linear; learned weights possible).
bool is_fma_kind(AttentionKind kind);
// The attend() options of layer `layer`'s attention: its method (fma for both FMA kinds),
// fma_config, and the peers' settings (reformer: hash_rounds, rotations seeded by the layer;
// swin: odd layers shifted). A segmenter's `layer` is its block over all stages: the stage's
// grid and cells (segmenter_stage_fma), Swin shifted on a stage's odd blocks; throws past them.
AttendOptions layer_attend_options(const ModelConfig& config, int layer);

// config.json text (pretty-printed; format "fmav-model", format_version 1).
std::string model_config_json(const ModelConfig& config);
// Parses and validates config.json text. Unknown, missing or mistyped keys, an unknown
// format or version and invalid values are fmav::Error naming `name` and the key.
ModelConfig parse_model_config(const std::string& text, const std::string& name = "config.json");

// A segmenter's stage `stage` (0..3): its grid side (image_size / (4 << stage)) and the
// FMA config of its attention on that grid (the cell or Swin window clipped to the grid).
std::int64_t segmenter_grid(const ModelConfig& config, int stage);
FmaConfig segmenter_stage_fma(const ModelConfig& config, int stage);
// The stage of a segmenter's block `layer` (0-based over all stages) and its index within.
int segmenter_stage_of(const ModelConfig& config, int layer, int* block = nullptr);
// The heads of layer `layer`'s attention: a segmenter's stage's, else heads.
std::int64_t layer_heads(const ModelConfig& config, int layer);

// Named presets: "tiny" (trains on a 2-core CPU), "fma2d-b" and "fma2d-l" (ViT-Base- and
// ViT-Large-sized FMA2D image classifiers, 224 px, patch 16). Throws for an unknown name.
ModelConfig image_preset(const std::string& name);
// Segmenter presets (FMA2D attention, 64 px, classes from the data): "seg-b0" and "seg-b1",
// SegFormer-B0's and B1's stage widths and decoder width halved, their heads (1, 2, 5, 8),
// blocks (2 per stage) and Mix-FFN ratio (4) kept (B0: widths 16, 32, 80, 128, decoder
// 128; B1: 32, 64, 160, 256, decoder 128), FMA2D cells of 2 x 2, rank 1.
// Throws for an unknown name.
ModelConfig segmenter_preset(const std::string& name);

// Every tensor of model.safetensors for this config, name and shape, sorted by name
// (README "Model format" documents them). All float32.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> model_tensor_shapes(const ModelConfig& config);
std::int64_t count_parameters(const ModelConfig& config);

}  // namespace fmav
