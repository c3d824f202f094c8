#pragma once
// Predicted peak host memory of the commands sized by the user's numbers, checked against
// the process's limit (fmav/memory_budget.h) before they start: one place for the estimates
// of attend, its maps, inspect and a sweep's point (bench's rows: core/lab/bench.cpp, which
// knows its methods' working sets).

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/hf_model.h"
#include "fmav/method.h"
#include "fmav/model_config.h"
#include "fmav/sweep_file.h"
#include "fmav/tensor.h"

namespace fmav {

// Bytes attend() adds to q, k, v of `q_shape` ((B, H, N, D), (H, N, D) or (N, D)) and `dtype`:
// its output, and twice the (B, H, N, N) scores of the dense paths (full attention's math,
// any reference implementation). The fused, blocked and SDPA paths are linear in N.
double attend_work_bytes(const std::vector<std::int64_t>& q_shape, DType dtype, const AttendOptions& options);

// Bytes of the maps of every (batch, head) of `q_shape`: (B, H, N, N) float64 when `map`,
// the (N, N) int32 level map, and an inspection's row tile of 2^24 cells in float64.
double map_bytes(const std::vector<std::int64_t>& q_shape, bool map);

// One head's inspection of a rows x cols rectangle over n tokens of d channels (inspect()):
// the method's and full attention's maps in float64 and the level map, each held twice (the
// inspection's and the files' copies), and the head's q, k, v and outputs in float64.
double inspect_bytes(std::int64_t rows, std::int64_t cols, std::int64_t n, std::int64_t d);

// Training a model of `config` on batches of `batch` windows (or images): its parameters with
// their gradients and Adam's two moments in float32, and each layer's activations kept for
// the backward pass (the residual stream, attention's q, k, v, output and probabilities over
// the keys each query sees, the MLP), plus the logits and their gradient.
double train_bytes(const ModelConfig& config, std::int64_t batch);
// Evaluating it: the parameters and one layer's activations at a time, plus the logits.
double eval_bytes(const ModelConfig& config, std::int64_t batch);

// `fmav gen-task`: a text task of records x length bytes (the text, its answer mask and the
// file's copy), and sample-qkv's (1, H, N, D) q, k, v in float32 with one head's draw.
double text_task_bytes(std::int64_t records, std::int64_t length);
double sample_qkv_bytes(std::int64_t heads, std::int64_t n, std::int64_t d);

// ---- Hugging Face models (fmav/hf_model.h; core/lab/memory_estimate_hf.cpp) ----

// The parameters of a checkpoint of `config`, from its sizes (embeddings, every layer's
// projections, MLP, norms and biases, the head), rounded up by 5 % for what the count misses.
double hf_parameters(const HfConfig& config);
// Loading it: every parameter in float32, plus the largest safetensors file of `folder`
// (each file is mapped, and its pages count, while its tensors are copied out).
double hf_weights_bytes(const HfConfig& config, const std::string& folder);
// One forward pass over n tokens (a vit: its patches), beyond the weights: each layer's
// activations (the residual stream, q, k, v, the MLP), the logits and the loss's float64
// copies of them; the (H, n, n) scores where attention is computed dense (with_maps,
// Mistral's sliding window); with_maps also every layer's q, k, v and probabilities kept.
double hf_forward_bytes(const HfConfig& config, std::int64_t n, bool with_maps);
// `fmav fit`: the teacher's forward with maps over one window of `tokens`, its cache
// (its cap, 256 MiB), and each step's batch of windows of the swapped layers' q, k, v and
// targets through FMA with its backward (about 24 copies of one layer's q).
double hf_fit_bytes(const HfConfig& config, std::int64_t tokens, std::int64_t batch, std::int64_t swapped_layers);

// A sweep point: q, k, v and the output in float64 for the inspection of every head, twice
// (copies), plus its bands (what `fmav sweep` prints as the largest point's memory).
std::int64_t sweep_point_bytes(const SweepSpec& spec, const SweepPoint& point);

}  // namespace fmav
