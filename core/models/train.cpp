// Evaluation and training of the models (fmav/train.h): the evaluation loops, AdamW with
// warm-up and cosine decay, and checkpoints (one atomic file) that resume exactly.

#include "fmav/train.h"

#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <type_traits>
#include <cmath>
#include <filesystem>

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/segments.h"
#include "fmav/tensor_io.h"
#include "model_device.h"
#include "model_internal.h"
#include "base/random.h"
#include "train_internal.h"

namespace fmav {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;
constexpr double kLn2 = 0.6931471805599453;
constexpr const char* kCheckpoint = "checkpoint.safetensors";

bool cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// Sums of one evaluation: cross-entropy, correct predictions, count; the same on answers.
struct EvalSums {
  double loss = 0, correct = 0, answer_loss = 0, answer_correct = 0;
  std::int64_t count = 0, answer_count = 0;

  void add(const at::Tensor& logits_in, const at::Tensor& targets_in, const at::Tensor& answer_mask_in) {
    const at::Tensor logits = logits_in.to(at::kFloat), targets = targets_in.to(logits.device());
    const at::Tensor answer_mask = answer_mask_in.defined() ? answer_mask_in.to(logits.device()) : answer_mask_in;
    const at::Tensor valid = targets >= 0;
    const at::Tensor ce = at::cross_entropy_loss(logits, targets.clamp_min(0), {}, at::Reduction::None);
    const at::Tensor hit = (logits.argmax(-1) == targets).to(at::kDouble);
    const at::Tensor v = valid.to(at::kDouble);
    loss += (ce.to(at::kDouble) * v).sum().item<double>();
    correct += (hit * v).sum().item<double>();
    count += valid.sum().item<std::int64_t>();
    if (!answer_mask.defined()) return;
    const at::Tensor a = answer_mask.to(at::kDouble) * v;
    answer_loss += (ce.to(at::kDouble) * a).sum().item<double>();
    answer_correct += (hit * a).sum().item<double>();
    answer_count += static_cast<std::int64_t>(a.sum().item<double>());
  }

  EvalResult result() const {
    FMAV_CHECK(count > 0, "nothing to evaluate: the split is empty");
    EvalResult r;
    r.count = count;
    r.loss = loss / count;
    r.bpc = r.loss / kLn2;
    r.perplexity = std::exp(r.loss);
    r.accuracy = correct / count;
    r.answer_count = answer_count;
    if (answer_count > 0) r.answer_bpc = answer_loss / answer_count / kLn2, r.answer_accuracy = answer_correct / answer_count;
    return r;
  }
};

// Causal LM: windows of `context` inputs every `context` bytes; masked LM: windows of context
// bytes with a deterministic mask (every chosen position is the mask token).
EvalResult evaluate_text(const Model& model, const Dataset& d, const EvalOptions& o, const ProgressFn& progress,
                         const std::atomic<bool>* cancel) {
  const ModelConfig& c = model.config();
  const bool causal = c.architecture == Architecture::causal_lm;
  const int s = static_cast<int>(o.split);
  std::int64_t begin = d.begin[s], end = d.end[s];
  if (o.max_tokens > 0) end = std::min(end, begin + o.max_tokens + (causal ? 1 : 0));
  const std::int64_t n = c.context, shift = causal ? 1 : 0;
  EvalSums sums;
  std::vector<std::int64_t> starts;
  for (std::int64_t w = begin; w + shift < end; w += n) starts.push_back(w);
  for (std::size_t i = 0; i < starts.size();) {
    FMAV_CHECK(!cancelled(cancel), "evaluation cancelled");
    std::vector<at::Tensor> xs, ys, as;
    std::int64_t len = 0;
    for (std::size_t j = i; j < std::min(starts.size(), i + o.batch); ++j) {
      const std::int64_t w = starts[j], l = std::min(n, end - w - shift);
      if (!xs.empty() && l != len) break;  // the short last window gets its own batch
      len = l;
      at::Tensor x = byte_tokens(d.bytes, w, l), y = byte_tokens(d.bytes, w + shift, l);
      if (!causal) {
        SplitMix64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(w));
        at::Tensor target = at::full({l}, -100, at::kLong);
        for (std::int64_t t = 0; t < l; ++t) {
          if (rng.uniform() >= o.mask_rate) continue;
          target.data_ptr<std::int64_t>()[t] = y.data_ptr<std::int64_t>()[t];
          x.data_ptr<std::int64_t>()[t] = kMaskToken;
        }
        y = target;
      }
      if (!d.answers.empty()) {
        as.push_back(at::from_blob(const_cast<std::uint8_t*>(d.answers.data()) + w + shift, {l}, at::kByte).clone());
      }
      xs.push_back(x), ys.push_back(y);
    }
    const at::Tensor logits = lm_logits(model, at::stack(xs));
    sums.add(logits.reshape({-1, kByteVocab}), at::stack(ys).reshape({-1}),
             as.empty() ? at::Tensor() : at::stack(as).reshape({-1}));
    i += xs.size();
    if (progress) progress(std::min<std::int64_t>(starts[i - 1] + len + shift, end) - begin, end - begin, "evaluating");
  }
  return sums.result();
}

EvalResult evaluate_images(const Model& model, const Dataset& d, const EvalOptions& o, const ProgressFn& progress,
                           const std::atomic<bool>* cancel) {
  FMAV_CHECK(o.split == Split::valid || o.split == Split::train || o.split == Split::all,
             "image folders have train and valid splits (every 10th image), not ", to_string(o.split));
  std::vector<std::int64_t> items = o.split == Split::train ? d.train_items : d.valid_items;
  if (o.split == Split::all) {
    items.clear();
    for (std::int64_t i = 0; i < d.labels.size(0); ++i) items.push_back(i);
  }
  if (o.max_tokens > 0 && static_cast<std::int64_t>(items.size()) > o.max_tokens) items.resize(o.max_tokens);
  FMAV_CHECK(!items.empty(), "the ", to_string(o.split), " split of the image folder is empty (it takes every 10th "
             "image of a class: give each class >= 10 images)");
  EvalSums sums;
  for (std::size_t i = 0; i < items.size(); i += o.batch) {
    FMAV_CHECK(!cancelled(cancel), "evaluation cancelled");
    const std::size_t e = std::min(items.size(), i + o.batch);
    const at::Tensor index = at::tensor(std::vector<std::int64_t>(items.begin() + i, items.begin() + e), at::kLong);
    sums.add(image_logits(model, d.pixels.index_select(0, index)), d.labels.index_select(0, index), at::Tensor());
    if (progress) progress(static_cast<std::int64_t>(e), static_cast<std::int64_t>(items.size()), "evaluating");
  }
  return sums.result();
}

// Segmentation: cross-entropy per scored pixel and the confusion matrix of the argmax.
EvalResult evaluate_segments(const Model& model, const Dataset& d, const EvalOptions& o, const ProgressFn& progress,
                             const std::atomic<bool>* cancel) {
  FMAV_CHECK(o.split == Split::valid || o.split == Split::train || o.split == Split::all,
             "segmentation folders have train (images/training) and valid (images/validation) splits, not ",
             to_string(o.split));
  std::vector<std::int64_t> items = o.split == Split::train ? d.train_items : d.valid_items;
  if (o.split == Split::all) items.insert(items.begin(), d.train_items.begin(), d.train_items.end());
  if (o.max_tokens > 0 && static_cast<std::int64_t>(items.size()) > o.max_tokens) items.resize(o.max_tokens);
  FMAV_CHECK(!items.empty(), "the ", to_string(o.split), " split of the segmentation folder is empty");
  const std::int64_t K = static_cast<std::int64_t>(model.config().classes.size());
  at::Tensor confusion = at::zeros({K * K}, at::kLong);
  double loss = 0;
  for (std::size_t i = 0; i < items.size(); i += o.batch) {
    FMAV_CHECK(!cancelled(cancel), "evaluation cancelled");
    const std::size_t e = std::min(items.size(), i + o.batch);
    const at::Tensor index = at::tensor(std::vector<std::int64_t>(items.begin() + i, items.begin() + e), at::kLong);
    const at::Tensor logits = segmenter_logits(model, d.pixels.index_select(0, index));
    const at::Tensor truth = d.masks.index_select(0, index).to(at::kLong);
    loss += at::cross_entropy_loss(logits, truth, {}, at::Reduction::Sum, kIgnoreClass).item<double>();
    const at::Tensor scored = truth >= 0;
    const at::Tensor cell = truth.masked_select(scored) * K + logits.argmax(1).masked_select(scored);
    confusion += at::bincount(cell, {}, K * K);
    if (progress) progress(static_cast<std::int64_t>(e), static_cast<std::int64_t>(items.size()), "evaluating");
  }
  const SegmentScores scores =
      segment_scores(std::vector<std::int64_t>(confusion.data_ptr<std::int64_t>(),
                                               confusion.data_ptr<std::int64_t>() + K * K), K);
  EvalResult r;
  r.count = scores.pixels, r.images = static_cast<std::int64_t>(items.size());
  r.loss = loss / static_cast<double>(scores.pixels);
  r.accuracy = scores.pixel_accuracy;
  r.class_iou = scores.iou, r.miou = scores.miou;
  return r;
}

EvalResult evaluate_dataset(const Model& model, const Dataset& d, const EvalOptions& o, const ProgressFn& progress,
                            const std::atomic<bool>* cancel) {
  FMAV_CHECK(o.batch >= 1, "batch must be >= 1, got ", o.batch);
  at::NoGradGuard no_grad;
  if (d.is_segments) return evaluate_segments(model, d, o, progress, cancel);
  return d.is_text ? evaluate_text(model, d, o, progress, cancel) : evaluate_images(model, d, o, progress, cancel);
}

// ---- optimizer and checkpoints ----

struct Adam {
  std::map<std::string, at::Tensor> m, v;
};

bool decayed(const std::string& name, const at::Tensor& p) {
  return p.dim() == 2 && name.find("ln") == std::string::npos;  // matrices and embeddings
}

double learning_rate(const TrainOptions& o, std::int64_t step) {
  if (step < o.warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double t = static_cast<double>(step - o.warmup) / static_cast<double>(std::max<std::int64_t>(1, o.steps - o.warmup));
  return o.lr * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(3.141592653589793 * std::min(1.0, t))));
}

void adamw_step(ModelState& state, Adam& adam, const TrainOptions& o, std::int64_t step) {
  at::NoGradGuard no_grad;
  const double b1 = 0.9, b2 = 0.95, eps = 1e-8, lr = learning_rate(o, step);
  std::vector<at::Tensor> squares;  // summed where the parameters are: one read back, not one per tensor
  for (auto& [name, p] : state.params) {
    if (p.grad().defined()) squares.push_back(p.grad().to(at::kDouble).pow(2).sum());
  }
  const double norm2 = squares.empty() ? 0.0 : at::stack(squares).sum().item<double>();
  const double scale = std::min(1.0, o.grad_clip / (std::sqrt(norm2) + 1e-12));
  const double c1 = 1.0 - std::pow(b1, static_cast<double>(step + 1));
  const double c2 = 1.0 - std::pow(b2, static_cast<double>(step + 1));
  for (auto& [name, p] : state.params) {
    if (!p.grad().defined()) continue;
    const at::Tensor g = p.grad() * scale;
    at::Tensor& m = adam.m[name];
    at::Tensor& v = adam.v[name];
    if (!m.defined()) m = at::zeros_like(p), v = at::zeros_like(p);
    m.mul_(b1).add_(g, 1 - b1);
    v.mul_(b2).addcmul_(g, g, 1 - b2);
    if (decayed(name, p)) p.mul_(1 - lr * o.weight_decay);
    p.addcdiv_(m / c1, (v / c2).sqrt_().add_(eps), -lr);
    p.mutable_grad().zero_();
  }
}

Json options_json(const TrainOptions& o) {
  return Json{{"data", o.data}, {"steps", o.steps}, {"batch", o.batch}, {"align", o.align}, {"lr", o.lr},
              {"warmup", o.warmup}, {"weight_decay", o.weight_decay}, {"grad_clip", o.grad_clip},
              {"mask_rate", o.mask_rate}, {"eval_every", o.eval_every}, {"eval_tokens", o.eval_tokens},
              {"save_every", o.save_every}, {"seed", o.seed}, {"precision", to_string(o.precision)}};
}

// What a run before this one (a resumed checkpoint's) did: its commands and training seconds.
struct History {
  std::string command;
  double seconds = 0;
};

// The checkpoint's metadata "options": the options, the data path absolute, the history.
std::string checkpoint_options_json(const TrainOptions& o, const History& h) {
  Json j = options_json(o);
  j["data"] = fs::absolute(o.data).lexically_normal().string();
  j["command"] = h.command, j["seconds"] = h.seconds;
  return j.dump();
}

void save_checkpoint(const Model& model, const Adam& adam, const TrainOptions& o, std::int64_t step,
                     const History& h) {
  TensorMap t;
  for (const auto& [name, p] : model.state().params) {
    t["param." + name] = to_host(p.detach().cpu());
    if (adam.m.count(name)) t["adam.m." + name] = to_host(adam.m.at(name).cpu()), t["adam.v." + name] = to_host(adam.v.at(name).cpu());
  }
  write_safetensors((fs::path(o.out) / kCheckpoint).string(), t,
                    {{"step", std::to_string(step)}, {"options", checkpoint_options_json(o, h)}});
}

bool given(const TrainOptions& o, const char* name) {
  return std::find(o.given.begin(), o.given.end(), name) != o.given.end();
}

// A recorded data path: absolute; a relative one (older checkpoints) is looked for in the
// model folder first, then in the working folder.
std::string recorded_data(const std::string& data, const std::string& out) {
  if (data.empty() || fs::path(data).is_absolute()) return data;
  const fs::path beside = fs::path(out) / data;
  return fs::exists(beside) ? beside.lexically_normal().string() : data;
}

// `o` under the checkpoint's options (but those given) and the checkpoint's history.
void take_checkpoint_options(const std::map<std::string, std::string>& meta, const std::string& path,
                             TrainOptions* o, std::int64_t* step, History* history) {
  FMAV_CHECK(meta.count("step") && meta.count("options"), path, ": not a training checkpoint (no step/options)");
  try {
    *step = std::stoll(meta.at("step"));
    const Json j = Json::parse(meta.at("options"));
    const auto take = [&](const char* name, auto* field) {  // options older checkpoints lack stay as given
      if (j.contains(name) && !given(*o, name)) *field = j.at(name).get<std::decay_t<decltype(*field)>>();
    };
    if (o->data.empty()) o->data = recorded_data(j.at("data").get<std::string>(), o->out);
    take("steps", &o->steps), take("batch", &o->batch), take("align", &o->align), take("lr", &o->lr);
    take("warmup", &o->warmup), take("weight_decay", &o->weight_decay), take("grad_clip", &o->grad_clip);
    take("mask_rate", &o->mask_rate), take("eval_every", &o->eval_every), take("eval_tokens", &o->eval_tokens);
    take("save_every", &o->save_every), take("seed", &o->seed);
    if (j.contains("precision") && !given(*o, "precision")) o->precision = parse_precision(j.at("precision").get<std::string>());
    if (history != nullptr) {
      history->command = j.value("command", std::string());
      history->seconds = j.value("seconds", 0.0);
    }
  } catch (const std::exception& e) {
    throw Error(path + ": unreadable training state: " + e.what());
  }
}

// Restores the parameters, moments, step and options of out/checkpoint.safetensors.
Model load_checkpoint(TrainOptions* o, Adam* adam, std::int64_t* step, History* history) {
  const std::string path = (fs::path(o->out) / kCheckpoint).string();
  FMAV_CHECK(fs::exists(path), "cannot resume: ", path, " does not exist (train without --resume first)");
  Model model = Model::load(o->out);  // validates config.json against model.safetensors
  std::map<std::string, std::string> meta;
  const TensorMap t = read_safetensors(path, &meta);
  for (auto& [name, p] : model.state().params) {
    for (const std::string prefix : {"param.", "adam.m.", "adam.v."}) {
      const auto it = t.find(prefix + name);
      FMAV_CHECK(it != t.end() && it->second.shape == p.sizes().vec() && it->second.dtype == DType::f32, path,
                 ": missing or misshapen ", prefix, name);
      if (prefix[0] == 'p') p.copy_(to_tensor(it->second));
      else (prefix[5] == 'm' ? adam->m : adam->v)[name] = to_tensor(it->second);
    }
  }
  take_checkpoint_options(meta, path, o, step, history);
  return model;
}

void check_options(const TrainOptions& o) {
  FMAV_CHECK(!o.out.empty(), "train needs an output model folder (--out)");
  FMAV_CHECK(o.steps >= 1 && o.batch >= 1 && o.align >= 1, "steps, batch and align must be >= 1, got ", o.steps,
             ", ", o.batch, ", ", o.align);
  FMAV_CHECK(o.lr > 0 && o.lr < 1, "lr must be in (0, 1), got ", o.lr);
  FMAV_CHECK(o.warmup >= 0 && o.weight_decay >= 0 && o.grad_clip > 0, "warmup and weight_decay must be >= 0 and "
             "grad_clip > 0");
  FMAV_CHECK(o.mask_rate > 0 && o.mask_rate < 1, "mask_rate must be in (0, 1), got ", o.mask_rate);
  FMAV_CHECK(o.eval_every >= 0 && o.save_every >= 0 && o.eval_tokens >= 1, "eval_every and save_every must be >= 0, "
             "eval_tokens >= 1");
}

// What config.json's "training" records: the commands (a resumed run's after the run's
// before it), the data, the run, its training seconds in all and its last evaluation.
std::string training_record(const TrainOptions& o, std::int64_t step, const EvalResult& e, bool lm,
                            const History& h) {
  Json j = options_json(o);
  j["data"] = fs::path(o.data).filename().string();
  j["command"] = h.command;
  j["steps_done"] = step;
  j["device"] = to_string(o.device);
  j["seconds"] = std::round(h.seconds);
  j["valid"] = lm ? Json{{"bytes", e.count}, {"bpc", e.bpc}, {"accuracy", e.accuracy}}
                  : Json{{"images", e.count}, {"accuracy", e.accuracy}, {"loss", e.loss}};
  if (!e.class_iou.empty()) {
    j["valid"] = Json{{"images", e.images}, {"pixels", e.count}, {"miou", e.miou}, {"pixel_accuracy", e.accuracy},
                      {"loss", e.loss}};
  }
  return j.dump();
}

}  // namespace

const char* to_string(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
    case Split::all: return "all";
  }
  return "?";
}

const char* to_string(Precision precision) { return precision == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw Error("precision must be fp32 or bf16, got '" + name + "'");
}

Split parse_split(const std::string& name) {
  for (Split s : {Split::train, Split::valid, Split::test, Split::all}) {
    if (name == to_string(s)) return s;
  }
  throw Error("split must be train, valid, test or all, got '" + name + "'");
}

EvalResult evaluate(const Model& model, const EvalOptions& options, const ProgressFn& progress,
                    const std::atomic<bool>* cancel) {
  FMAV_CHECK(!model.empty(), "no model to evaluate");
  const Model on_device = model.on_device(options.device);  // cuda without one: the error, before any work
  const Dataset d = load_dataset(options.data, model.config(), options.answers, model.config().context, progress);
  return evaluate_dataset(on_device, d, options, progress, cancel);
}

TrainOptions resumed_options(const TrainOptions& options, std::int64_t* step) {
  TrainOptions o = options;
  const std::string path = (fs::path(o.out) / kCheckpoint).string();
  FMAV_CHECK(fs::exists(path), "cannot resume: ", path, " does not exist (train without --resume first)");
  std::map<std::string, std::string> meta;
  read_safetensors(path, &meta);
  std::int64_t at = 0;
  take_checkpoint_options(meta, path, &o, &at, nullptr);
  if (step != nullptr) *step = at;
  return o;
}

TrainResult train(const TrainOptions& options, const std::function<void(const TrainStatus&)>& status,
                  const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  TrainOptions o = options;
  const Device device = resolve_device(o.device);  // cuda without one: the error, before any work
  Adam adam;
  std::int64_t step = 0;
  Model model;
  History before;  // a resumed run's history; this run's command is added to it
  if (o.resume) {
    model = load_checkpoint(&o, &adam, &step, &before);
  } else {
    ModelConfig config = o.model;
    if (!config.is_lm()) config.classes = data_classes(config, o.data);
    model = Model::create(config, o.seed);
  }
  check_options(o);
  FMAV_CHECK(step < o.steps, "the checkpoint in ", o.out, " has already run ", step, " of ", o.steps,
             " steps; give more steps to continue");
  const ModelConfig& c = model.config();
  // Everything is read and checked before `out` is touched.
  const Dataset data = load_dataset(o.data, c, "", o.align, {});
  const at::Device where = torch_device(device);
  model = model.on_device(device);
  for (auto* moments : {&adam.m, &adam.v}) {
    for (auto& [name, t] : *moments) t = t.to(where);
  }
  fs::create_directories(o.out);
  for (auto& [name, p] : model.state().params) p.requires_grad_(true);
  TrainResult result;
  const double items = static_cast<double>(o.batch * (c.is_lm() ? c.context : 1));
  EvalOptions eval;
  eval.data = o.data, eval.max_tokens = o.eval_tokens, eval.seed = o.seed, eval.mask_rate = o.mask_rate;
  reset_peak_memory(device);
  const auto save = [&](std::int64_t s) {
    History now;
    now.command = before.command.empty() ? o.command : o.command.empty() ? before.command
                                                                          : before.command + "; " + o.command;
    now.seconds = before.seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    save_checkpoint(model, adam, o, s, now);
    model.set_training_json(training_record(o, s, result.eval, c.is_lm(), now));
    model.save(o.out);
  };
  const auto run_start = std::chrono::steady_clock::now();
  const std::int64_t first_step = step;
  while (step < o.steps && !cancelled(cancel)) {
    at::Tensor loss;
    {
      const AutocastScope autocast(o.precision, where);  // the forward only; backward follows its casts
      loss = batch_loss(model, train_batch(data, c, o, step));
    }
    loss.backward();
    adamw_step(model.state(), adam, o, step);
    ++step;
    TrainStatus st;
    st.step = step, st.steps = o.steps, st.loss = loss.item<double>();
    // Throughput over this run's steps so far (the first step's warm-up included).
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    const double rate = items * static_cast<double>(step - first_step) / elapsed;
    st.items_per_s = rate;
    st.items_are_tokens = c.is_lm();
    st.eta_s = static_cast<double>(o.steps - step) * items / rate;
    if ((o.eval_every > 0 && step % o.eval_every == 0) || step == o.steps) {
      result.eval = evaluate_dataset(model, data, eval, {}, nullptr);
      st.evaluated = true, st.eval = result.eval;
    }
    if (step == o.steps || (o.save_every > 0 && step % o.save_every == 0)) save(step), st.saved = true;
    if (status) status(st);
  }
  if (step < o.steps) save(step);  // cancelled: keep every step done
  result.steps_done = step;
  result.cancelled = step < o.steps;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  result.items_per_s = run_seconds > 0 ? items * static_cast<double>(step - first_step) / run_seconds : 0.0;
  result.peak_memory_bytes = peak_memory_bytes(device);
  return result;
}

}  // namespace fmav
