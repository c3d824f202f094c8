#pragma once
// The predicted-memory checks of the commands whose sizes come from a file rather than the
// command line (issue 22): a resumed training run (its checkpoint's model), `fit` (or its
// resume), and the Hugging Face models `eval` and `bench-model` run. Each throws
// fmav::Error "<command>: predicted to need ... --max-memory" (fmav/memory_budget.h) before
// anything is loaded or written.

#include <cstdint>
#include <string>

#include "fmav/hf_fit.h"
#include "fmav/hf_model.h"

namespace fmav::cli {

// A Hugging Face folder's config.json, parsed (fmav/hf_model.h). Throws fmav::Error naming it.
HfConfig read_hf_folder_config(const std::string& folder);

// `train --resume`: the model in out/config.json trained on batches of `batch`.
void check_resume_memory(const std::string& out, std::int64_t batch);
// `fit`: the model loaded, and the fit of `options` (resuming: the layers, window and batch
// recorded in out/fmav_swap.json, the model its "base" unless given). A resume whose files
// are missing is left to fit_hf_swap's own message.
void check_fit_memory(const HfFitOptions& options);
// `eval` or `bench-model` (`who`) of the folder's model on n tokens (a vit: its image);
// `copies`: 2 when a second process (bench-model's transformers) holds the same again.
void check_hf_forward_memory(const std::string& who, const std::string& folder, const HfConfig& config,
                             std::int64_t n, int copies = 1);

}  // namespace fmav::cli
