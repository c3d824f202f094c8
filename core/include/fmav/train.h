#pragma once
// Training and evaluation of the models (fmav/model.h) on a text file (next-byte or masked
// bytes) or an image folder (one sub-folder per class): AdamW, periodic evaluation,
// checkpoints that resume, cancellation that saves. Synchronous; progress by callback.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmav/device.h"
#include "fmav/model.h"

namespace fmav {

// Text splits (§ README "Training"): train [0, 90%), valid [90%, 95%), test [95%, 100%) of
// the bytes — for enwik8 (10^8 bytes) the usual 90M/5M/5M. Image folders: every 10th image
// of each class (by sorted name, the 10th, 20th, ...) is validation, the rest is training.
// Segmentation folders: images/training is train, images/validation valid.
enum class Split { train, valid, test, all };
const char* to_string(Split split);
Split parse_split(const std::string& name);  // "train" | "valid" | "test" | "all"; throws

// How training computes: fp32 throughout, or bf16 autocast (the forward's matrix products in
// bfloat16 on the CPU or CUDA; parameters, gradients, AdamW's moments and the loss float32).
enum class Precision { fp32, bf16 };
const char* to_string(Precision precision);
Precision parse_precision(const std::string& name);  // "fp32" | "bf16"; throws naming the text

struct EvalOptions {
  std::string data;           // text file or image folder
  Split split = Split::valid;
  std::int64_t max_tokens = 0;   // text: evaluate at most this many bytes of the split (0 = all)
  std::int64_t batch = 8;        // windows (or images) per forward
  std::string answers;           // optional .npy uint8 mask over the text's bytes (fmav gen-task)
  double mask_rate = 0.15;       // masked LM: share of positions masked (deterministic by seed)
  std::uint64_t seed = 1;
  // Where the model runs (resolve_device: cuda without one throws naming why, before any
  // work; auto takes cpu then). Batches go to it, the sums come back to the host.
  Device device = Device::cpu;
};

struct EvalResult {
  std::int64_t count = 0;        // predicted bytes (LMs) or images
  double loss = 0;               // mean cross-entropy, nats
  double bpc = 0;                // LMs: bits per character (byte) = loss / ln 2
  double perplexity = 0;         // LMs: exp(loss) per byte
  double accuracy = 0;           // top-1 accuracy of the predicted bytes / images
  std::int64_t answer_count = 0; // with answers: predicted answer bytes
  double answer_bpc = 0, answer_accuracy = 0;
  // segmenter (count: scored pixels; accuracy: pixel accuracy; loss per pixel): per-class
  // IoU (NaN for a class in neither truth nor prediction), their mean over the others, and
  // the images scored (fmav/segments.h segment_scores)
  std::vector<double> class_iou;
  double miou = 0;
  std::int64_t images = 0;
};

// The classes a new model trained on `data` gets: an image folder's class folders, a
// segmentation folder's classes (fmav/segments.h), none for the LMs. Throws fmav::Error naming
// a folder that does not fit the architecture.
std::vector<std::string> data_classes(const ModelConfig& config, const std::string& data);

// Called during long work: done of total units (bytes or images), a phase name.
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total, const char* phase)>;

// Evaluates `model` on the data (causal LM: every byte of the split after its first, in
// windows of `context` bytes, each predicted from the bytes before it in its window; masked
// LM: the masked bytes; images: accuracy). Throws fmav::Error for unusable data.
EvalResult evaluate(const Model& model, const EvalOptions& options, const ProgressFn& progress = {},
                    const std::atomic<bool>* cancel = nullptr);

struct TrainOptions {
  std::string data;              // text file or image folder
  std::string out;               // model folder: config.json, model.safetensors, checkpoint.safetensors
  bool resume = false;           // continue from out/checkpoint.safetensors
  ModelConfig model;             // a new model's configuration (ignored when resuming)
  std::int64_t steps = 1000;     // total optimizer steps (resuming may raise it)
  std::int64_t batch = 16;       // windows or images per step
  std::int64_t align = 1;        // text windows start at multiples of this (gen-task records)
  double lr = 2e-3;              // peak learning rate: linear warm-up, cosine decay to lr / 10
  std::int64_t warmup = 50;
  double weight_decay = 0.05;    // AdamW, on matrices and embeddings only
  double grad_clip = 1.0;        // global gradient norm
  double mask_rate = 0.15;       // masked LM: BERT's 80/10/10 masking of this share
  std::int64_t eval_every = 200; // steps between evaluations on the valid split (0 = end only)
  std::int64_t eval_tokens = 1 << 16;  // bytes (or images) per periodic evaluation
  std::int64_t save_every = 200; // steps between checkpoints (0 = end only)
  std::uint64_t seed = 1;
  Device device = Device::cpu;   // where it trains (as EvalOptions::device); not part of the checkpoint
  Precision precision = Precision::fp32;
  std::string command;           // the command line, recorded in config.json "training"
  // Resuming: the options above (by their names in the checkpoint: data, steps, batch, align,
  // lr, warmup, weight_decay, grad_clip, mask_rate, eval_every, eval_tokens, save_every, seed,
  // precision)
  // set anew; every other one is the checkpoint's. A non-empty data counts as given.
  std::vector<std::string> given;
};

struct TrainStatus {
  std::int64_t step = 0, steps = 0;
  double loss = 0;               // this step's training loss (nats)
  double items_per_s = 0;        // tokens (bytes) or images per second, smoothed
  bool items_are_tokens = true;  // a language model (else an image classifier)
  double eta_s = 0;
  bool evaluated = false;        // an evaluation just ran: eval holds it
  EvalResult eval;
  bool saved = false;            // a checkpoint was just written
};

struct TrainResult {
  std::int64_t steps_done = 0;
  bool cancelled = false;        // stopped by `cancel`; the checkpoint at steps_done is saved
  EvalResult eval;               // the last evaluation on the valid split
  double seconds = 0;
  double items_per_s = 0;        // tokens (or images) per second over this run (from its first step; its
                                 // evaluations and saves included)
  // Peak memory of this run: the CUDA allocator's peak on cuda, the process's peak resident
  // set on the CPU (bytes).
  std::int64_t peak_memory_bytes = 0;
};

// The options a resume of options.out runs with: the checkpoint's, but those in
// options.given (and a non-empty data); `step`: the checkpoint's step. The data path is
// recorded absolute (a relative one from older checkpoints is looked for in the model folder
// first), so a resume works from any folder. Throws fmav::Error without a checkpoint.
TrainOptions resumed_options(const TrainOptions& options, std::int64_t* step = nullptr);

// Trains (or resumes: the same run, options as resumed_options gives them, config.json's
// "training" command and seconds extended) and saves the model to options.out. Every step calls `status`;
// `cancel` is polled between steps (then a checkpoint is written and it returns).
// Throws fmav::Error for bad options or data, and before touching `out` when they are bad.
TrainResult train(const TrainOptions& options, const std::function<void(const TrainStatus&)>& status = {},
                  const std::atomic<bool>* cancel = nullptr);

}  // namespace fmav
