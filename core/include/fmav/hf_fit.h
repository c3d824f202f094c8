#pragma once
// FMA fitted into a Hugging Face model (`fmav fit`, issue #20): the learned down-sampling
// weights of the swapped layers trained, the model frozen, to give each layer's own
// attention output on its own q, k, v (layer-wise distillation); the result is a model folder
// (the original's files, linked, plus fmav_swap.json and fmav_swap.safetensors) that
// `fmav eval` scores with those layers swapped. No LibTorch in this header.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmav/fma.h"
#include "fmav/hf_model.h"

namespace fmav {

// The files a fitted folder adds to the original's.
constexpr const char* kHfSwapFile = "fmav_swap.json";
constexpr const char* kHfSwapWeights = "fmav_swap.safetensors";
constexpr const char* kHfFitCheckpoint = "fmav_fit_checkpoint.safetensors";
constexpr const char* kHfSwapFormat = "fmav-hf-swap";  // fmav_swap.json's "format"
constexpr int kHfSwapVersion = 1;

// A fitted folder's swap: FMA (1D, causal) in `layers` with per-layer weights fitted on
// windows of `tokens` tokens (the weights cover the levels of at most that many tokens).
struct HfFittedSwap {
  HfSwap swap;              // layers, options (fma), layer_weights
  std::int64_t tokens = 0;  // the fit's window: longer inputs are scored in windows of it
  std::string base;         // the folder it was fitted from, as given (informative)
  std::int64_t steps = 0;   // optimizer steps done
  double loss = 0;          // the last step's distillation loss
};

// Whether folder has an fmav_swap.json (a fitted folder). Reads nothing else.
bool has_hf_swap(const std::string& folder);
// Parses an fmav_swap.json's text (`where` names it in errors) against the model's config,
// without its weights (layer_weights empty). Throws fmav::Error naming the field.
HfFittedSwap parse_hf_swap(const std::string& text, const std::string& where, const HfConfig& config);
// Reads and checks folder/fmav_swap.json and its weights against the model's config: every
// field known and in range, every swapped layer's weights present with their shapes. Throws
// fmav::Error naming the file and what was wrong.
HfFittedSwap load_hf_swap(const std::string& folder, const HfConfig& config);

struct HfFitOptions {
  std::string model;                // the original Hugging Face folder (resuming: default the recorded one)
  std::string out;                  // the fitted folder to write (or resume)
  std::vector<std::int64_t> ids;    // training tokens, at least `tokens` of them; empty: read
  std::string data, ids_path;       //   ids_path, or the text `data` through model's tokenizer.json
  std::vector<int> layers;          // swapped layers (parse_layer_list)
  FmaConfig fma;                    // block_size, rank, downsample (learned or dense)
  std::int64_t tokens = 256;        // window length (caps at the model's max_positions)
  std::int64_t steps = 200;         // optimizer steps in total (resuming: may raise it; 0 = as recorded)
  std::int64_t batch = 4;           // windows per step
  std::int64_t save_every = 50;     // steps between checkpoints (0: at the end only)
  double lr = 3e-3;                 // Adam, cosine decay to lr / 10
  std::uint64_t seed = 1;           // window order (and random init)
  bool init_average = true;         // start from the weights that equal average down-sampling
  bool resume = false;              // continue from out's checkpoint (its options)
  std::string command;              // recorded in fmav_swap.json
};

struct HfFitStatus {
  std::int64_t step = 0, steps = 0;
  double loss = 0;      // this step's distillation loss (mean over layers of MSE / mean square)
  double seconds = 0;   // since the command started
  bool saved = false;   // a checkpoint was just written
};

struct HfFitResult {
  std::int64_t steps_done = 0;
  bool cancelled = false;      // stopped by `cancel`; everything up to steps_done is saved
  double first_loss = 0;       // this run's first step
  double last_loss = 0;
  double seconds = 0;
};

// Fits (or resumes) and writes options.out: links (or copies) the original's config.json,
// tokenizer.json and weights, then fmav_swap.json, fmav_swap.safetensors and the checkpoint
// at every save. `cancel` is polled between steps (then it saves and returns). Throws
// fmav::Error for bad options before touching out.
HfFitResult fit_hf_swap(const HfFitOptions& options, const std::function<void(const HfFitStatus&)>& status = {},
                        const std::atomic<bool>* cancel = nullptr);

// The distillation loss of `swap` on ids: per swapped layer, the mean square error of the
// swapped attention output against the layer's own (both on the original model's q, k, v),
// over the output's mean square; averaged over layers.
double hf_distill_loss(const HfModel& model, const std::vector<std::int64_t>& ids, const HfSwap& swap);

// Scores ids in consecutive windows of `window` tokens, each scored on its own (its first
// token not predicted), losses averaged over every predicted token. Throws like evaluate.
HfEval evaluate_windows(const HfModel& model, const std::vector<std::int64_t>& ids, std::int64_t window,
                        const HfSwap* swap = nullptr);

}  // namespace fmav
