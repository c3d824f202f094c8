// `fmav train` and `fmav eval`: train a model on a text file or an image folder, with a
// progress line, periodic evaluation, resumable checkpoints and Ctrl-C that saves; and
// evaluate a model (bpc, perplexity, accuracy) on a text file or an image folder.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "memory_checks.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/hf_fit.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/segments.h"
#include "fmav/train.h"

namespace fmav::cli {
namespace {

std::string duration(double seconds) {
  char buf[32];
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

void print_eval(const char* what, const EvalResult& e, bool lm) {
  if (lm) {
    std::printf("%s: bpc %.4f, perplexity %.3f, accuracy %.2f%% over %lld bytes\n", what, e.bpc, e.perplexity,
                100 * e.accuracy, static_cast<long long>(e.count));
    if (e.answer_count > 0) {
      std::printf("%s, answers only: bpc %.4f, accuracy %.2f%% over %lld answer bytes\n", what, e.answer_bpc,
                  100 * e.answer_accuracy, static_cast<long long>(e.answer_count));
    }
  } else if (!e.class_iou.empty()) {
    std::printf("%s: mIoU %.2f%%, pixel accuracy %.2f%%, loss %.4f over %lld images (%lld scored pixels)\n", what,
                100 * e.miou, 100 * e.accuracy, e.loss, static_cast<long long>(e.images), static_cast<long long>(e.count));
  } else {
    std::printf("%s: accuracy %.2f%%, loss %.4f over %lld images\n", what, 100 * e.accuracy, e.loss,
                static_cast<long long>(e.count));
  }
  std::fflush(stdout);
}

struct TrainArgs {
  TrainOptions o;
  std::string arch, preset = "tiny", attention = "fma", downsample, device = "cpu", precision = "fp32";
  std::int64_t block = 32, rank = 2, d_model = 128, layers = 4, heads = 4, d_mlp = 512, context = 512;
  std::int64_t image_size = 32, patch_size = 4, log_every = 10;
  int hash_rounds = 2;
  bool no_multiplicity = false;
  CLI::App* cmd = nullptr;
};

ModelConfig make_config(const TrainArgs& a) {
  std::string arch = a.arch;
  if (arch.empty()) {
    arch = is_segment_folder(a.o.data) ? "segmenter"
           : std::filesystem::is_directory(a.o.data) ? "image-classifier" : "causal-lm";
  }
  ModelConfig c;
  c.architecture = parse_architecture(arch);
  const auto given = [&](const char* name) { return a.cmd->count(name) > 0; };
  if (c.architecture == Architecture::segmenter) {
    c = segmenter_preset(given("--preset") ? a.preset : "seg-b0");
    c.classes.clear();  // from the folder
    if (given("--image-size")) c.image_size = a.image_size;
    if (given("--d-model")) c.d_model = a.d_model;  // the decoder's width
    if (given("--block")) c.attention.block_size = a.block;
    if (given("--rank")) c.attention.rank = a.rank;
  } else if (c.architecture == Architecture::image_classifier) {
    c = image_preset(a.preset);
    c.classes.clear();  // from the folder
    if (given("--d-model")) c.d_model = a.d_model;
    if (given("--layers")) c.layers = a.layers;
    if (given("--heads")) c.heads = a.heads;
    if (given("--d-mlp")) c.d_mlp = a.d_mlp;
    if (given("--image-size")) c.image_size = a.image_size;
    if (given("--patch-size")) c.patch_size = a.patch_size;
    if (given("--block")) c.attention.block_size = a.block;
    if (given("--rank")) c.attention.rank = a.rank;
  } else {
    c.d_model = a.d_model, c.layers = a.layers, c.heads = a.heads, c.d_mlp = a.d_mlp, c.context = a.context;
    c.attention.block_size = a.block, c.attention.rank = a.rank;
  }
  parse_attention(a.attention, &c.attention);
  if (!a.downsample.empty()) c.attention.downsample = parse_downsample(a.downsample);
  c.attention.count_multiplicity = !a.no_multiplicity;
  c.attention.hash_rounds = a.hash_rounds;
  return c;
}

// The training options' flags and their names in the checkpoint (fmav/train.h TrainOptions::given).
const std::vector<std::pair<std::string, std::string>> kTrainFlags = {
    {"--data", "data"}, {"--steps", "steps"}, {"--batch", "batch"}, {"--align", "align"}, {"--lr", "lr"},
    {"--warmup", "warmup"}, {"--weight-decay", "weight_decay"}, {"--mask-rate", "mask_rate"},
    {"--eval-every", "eval_every"}, {"--eval-tokens", "eval_tokens"}, {"--save-every", "save_every"},
    {"--seed", "seed"}, {"--precision", "precision"}};
// The flags that shape the model, which a resumed run takes from its checkpoint.
const char* const kModelFlags[] = {"--arch", "--preset", "--attention", "--block", "--hash-rounds", "--rank",
                                   "--downsample", "--no-multiplicity", "--d-model", "--layers", "--heads",
                                   "--d-mlp", "--context", "--image-size", "--patch-size"};

std::string option_text(const TrainOptions& o, const std::string& name) {
  char text[64];
  const auto g = [&](double x) { return std::snprintf(text, sizeof text, "%g", x), std::string(text); };
  if (name == "data") return o.data;
  if (name == "lr") return g(o.lr);
  if (name == "weight_decay") return g(o.weight_decay);
  if (name == "mask_rate") return g(o.mask_rate);
  if (name == "seed") return std::to_string(o.seed);
  if (name == "precision") return to_string(o.precision);
  const std::pair<const char*, std::int64_t> ints[] = {{"steps", o.steps}, {"batch", o.batch}, {"align", o.align},
      {"warmup", o.warmup}, {"eval_every", o.eval_every}, {"eval_tokens", o.eval_tokens}, {"save_every", o.save_every}};
  for (const auto& [n, v] : ints) {
    if (name == n) return std::to_string(v);
  }
  return "?";
}

// --resume: the same run. The checkpoint's options but those given here (said so); flags
// that shape the model are refused.
void prepare_resume(TrainArgs& a) {
  for (const char* flag : kModelFlags) {
    FMAV_CHECK(a.cmd->count(flag) == 0, flag, " shapes the model, which a resumed run takes from ", a.o.out,
               "'s checkpoint; drop it, or train a new model (without --resume)");
  }
  std::vector<std::pair<std::string, std::string>> overridden;
  for (const auto& [flag, name] : kTrainFlags) {
    if (a.cmd->count(flag) > 0) a.o.given.push_back(name), overridden.emplace_back(flag, name);
  }
  TrainOptions saved = a.o;
  saved.given.clear(), saved.data.clear();
  std::int64_t step = 0;
  saved = resumed_options(saved, &step);
  a.o = resumed_options(a.o);
  std::printf("resuming %s at step %lld of %lld with its checkpoint's options", a.o.out.c_str(),
              static_cast<long long>(step), static_cast<long long>(a.o.steps));
  for (std::size_t i = 0; i < overridden.size(); ++i) {
    const std::string& name = overridden[i].second;
    std::printf("%s %s %s (checkpoint: %s)", i == 0 ? "; overridden:" : ",", overridden[i].first.c_str(),
                option_text(a.o, name).c_str(), option_text(saved, name).c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

// Where it ran and what it cost: throughput over the run's steps and the peak memory.
void print_run_cost(const TrainResult& r, bool lm, Device device) {
  std::printf("throughput %.0f %s/s, peak memory %.1f MiB (%s)\n", r.items_per_s, lm ? "tokens" : "images",
              static_cast<double>(r.peak_memory_bytes) / 1048576.0,
              device == Device::cuda ? "CUDA allocator" : "process peak resident set");
}

int run_train(TrainArgs& a, const std::string& command) {
  a.o.command = command;
  a.o.device = resolve_device_option(a.device);  // before any work: cuda without one names why
  a.o.precision = parse_precision(a.precision);
  if (a.o.resume) {
    prepare_resume(a);
    check_resume_memory(a.o.out, a.o.batch);
  } else {
    a.o.model = make_config(a);
    ModelConfig check = a.o.model;
    if (!check.is_lm()) check.classes = data_classes(check, a.o.data);
    validate(check);
    check_memory("train:", train_bytes(check, a.o.batch));
    std::printf("model: %s, %s attention, %.3f M parameters\n", to_string(check.architecture),
                attention_name(check.attention).c_str(), static_cast<double>(count_parameters(check)) / 1e6);
    std::fflush(stdout);
  }
  std::printf("on %s, precision %s\n", describe_device(a.o.device).c_str(), to_string(a.o.precision));
  const std::atomic<bool>* interrupted = catch_interrupt();
  bool tokens = true;
  const TrainResult r = train(a.o, [&](const TrainStatus& s) {
    tokens = s.items_are_tokens;
    if (s.step % a.log_every == 0 || s.step == s.steps || s.evaluated) {
      std::printf("step %lld/%lld  loss %.4f  %.0f %s/s  ETA %s\n", static_cast<long long>(s.step),
                  static_cast<long long>(s.steps), s.loss, s.items_per_s, s.items_are_tokens ? "tokens" : "images",
                  duration(s.eta_s).c_str());
    }
    if (s.evaluated) print_eval("  valid", s.eval, s.items_are_tokens);
    if (s.saved) std::printf("  checkpoint saved to %s\n", a.o.out.c_str());
    std::fflush(stdout);
  }, interrupted);
  release_interrupt();
  if (r.cancelled) {
    std::printf("interrupted at step %lld; checkpoint saved. Resume with: fmav train --resume --out %s\n",
                static_cast<long long>(r.steps_done), a.o.out.c_str());
    return 130;
  }
  std::printf("trained %lld steps in %s; model in %s\n", static_cast<long long>(r.steps_done),
              duration(r.seconds).c_str(), a.o.out.c_str());
  print_run_cost(r, tokens, a.o.device);
  return 0;
}

struct EvalArgs {
  EvalOptions o;
  std::string model, split, attention, ids, device = "cpu";
  bool json = false;
  // Hugging Face masked LMs: the mask token; image classifiers: the image and its label.
  std::int64_t mask_id = -1, label = -1;
  std::string input;
  // Hugging Face models: attention swapped into layers.
  std::string swap_layers, swap_method = "fma", downsample = "average";
  std::int64_t block = 64, rank = 4;
  PeerArgs peer;
  bool no_swap = false;       // a fitted folder (fmav fit) scored as the original
  std::int64_t window = 0;    // score in windows of this many tokens (a fitted folder: its fit's)
};

// A number for JSON: null where it is not finite.
std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

// --json: the score as one JSON object on the last line, the same keys for every model kind
// (tokens: predicted tokens, bytes or images; loss in nats per token).
void print_eval_json(std::int64_t tokens, double loss, double accuracy) {
  std::printf("{\"loss\": %s, \"tokens\": %lld, \"perplexity\": %s, \"bits_per_token\": %s, \"accuracy\": %s}\n",
              json_number(loss).c_str(), static_cast<long long>(tokens), json_number(std::exp(loss)).c_str(),
              json_number(loss / std::log(2.0)).c_str(), json_number(accuracy).c_str());
  std::fflush(stdout);
}

// The attention swapped into --swap-layers for a model's input of n tokens.
HfSwap make_swap(const EvalArgs& a, const HfModel& model, std::int64_t n) {
  HfSwap swap;
  swap.layers = parse_layer_list(a.swap_layers, model.config().layers);
  parse_method(a.swap_method, "", &swap.options);
  swap.options.fma.block_size = a.block, swap.options.fma.rank = a.rank;
  swap.options.fma.downsample = parse_downsample(a.downsample);
  swap.options.fma.causal = model.causal();
  swap.options.peer = peer_options(a.peer);
  if (swap.options.method == Method::fma && swap.options.fma.downsample != Downsample::average) {
    swap.weights = random_downsample_weights(swap.options.fma, model.config().head_dim,
                                             num_levels(swap.options.fma, n), a.o.seed);
  }
  return swap;
}

// A vit on one image: its top classes (id2label's names), and with --label the loss and
// accuracy of that label; --swap-layers scores it again with the attention swapped.
int run_eval_hf_image(const EvalArgs& a, const HfModel& model) {
  const std::string path = a.input.empty() ? a.o.data : a.input;
  FMAV_CHECK(!path.empty(), a.model, " is an image classifier (", model.config().model_type,
             "): give an image (--input IMAGE)");
  const Image image = read_image(path);
  const std::vector<std::string>& labels = model.config().labels;
  FMAV_CHECK(a.label < static_cast<std::int64_t>(labels.size()), "--label ", a.label, " is outside the model's classes "
             "[0, ", labels.size(), ")");
  const auto report = [&](const HfSwap* swap, const char* what) {
    const HostTensor logits = model.forward_image(image, false, swap).logits;
    const float* z = logits.f32();
    std::vector<std::size_t> order(labels.size());
    std::iota(order.begin(), order.end(), 0);
    const std::size_t top = std::min<std::size_t>(5, order.size());
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](std::size_t i, std::size_t j) { return z[i] > z[j]; });
    double total = 0;  // softmax, from the largest logit
    for (std::size_t i = 0; i < labels.size(); ++i) total += std::exp(static_cast<double>(z[i]) - z[order[0]]);
    std::printf("%s top classes:\n", what);
    for (std::size_t r = 0; r < top; ++r) {
      const std::size_t k = order[r];
      std::printf("  %3zu  %-24s %.4f\n", k, labels[k].c_str(), std::exp(static_cast<double>(z[k]) - z[order[0]]) / total);
    }
    HfEval e;
    e.tokens = 1, e.loss = e.accuracy = std::numeric_limits<double>::quiet_NaN();
    if (a.label >= 0) {
      e = model.evaluate_image(image, a.label, swap);
      std::printf("%s label %lld (%s): loss %.4f nats, accuracy %.0f%%\n", what, static_cast<long long>(a.label),
                  labels[a.label].c_str(), e.loss, 100 * e.accuracy);
    }
    return e;
  };
  std::printf("model %s (%s), image %s (%lldx%lld; the model takes %lldx%lld)\n", a.model.c_str(),
              model.config().model_type.c_str(), path.c_str(), static_cast<long long>(image.height),
              static_cast<long long>(image.width), static_cast<long long>(model.config().image_height),
              static_cast<long long>(model.config().image_width));
  HfEval e = report(nullptr, "the model's");
  if (!a.swap_layers.empty()) {
    const HfSwap swap = make_swap(a, model, model.config().max_positions);
    e = report(&swap, ("with " + a.swap_method + " in layers " + a.swap_layers + ":").c_str());
  }
  if (a.json) print_eval_json(e.tokens, e.loss, e.accuracy);
  return 0;
}

// A Hugging Face LM on token ids, or a text through its tokenizer.json: the first
// --max-tokens tokens (at most the model's context). A causal LM is scored on every next
// token (in --window windows when given), a masked LM on the tokens HfMasking's rule masks,
// an image classifier on --input. A folder written by `fmav fit` is scored with its swap
// and fitted weights, in windows of the tokens it was fitted on; --no-swap gives the
// original in the same windows.
int run_eval_hf(const EvalArgs& a) {
  FMAV_CHECK(a.attention.empty() && a.split.empty(),
             "--attention and --split are for the project's own models; a Hugging Face model is scored on its input");
  FMAV_CHECK(!a.no_swap || a.swap_layers.empty(), "--no-swap and --swap-layers contradict each other");
  // The config and the input first: the predicted memory is checked before the weights load.
  const HfConfig config = read_hf_folder_config(a.model);
  FMAV_CHECK(a.mask_id < 0 || config.kind == HfKind::masked_lm, "--mask-id is for masked LMs; ", a.model, " is a ",
             config.model_type);
  FMAV_CHECK(a.label < 0 || config.kind == HfKind::image_classifier, "--label is for image classifiers; ", a.model,
             " is a ", config.model_type);
  if (config.kind == HfKind::image_classifier) {
    check_hf_forward_memory("eval:", a.model, config, config.max_positions);
    return run_eval_hf_image(a, HfModel::load(a.model));
  }
  const bool masked = config.kind == HfKind::masked_lm;
  const bool has_fit = has_hf_swap(a.model) && a.swap_layers.empty(), fitted = has_fit && !a.no_swap;
  HfFittedSwap fit;
  if (has_fit) fit = load_hf_swap(a.model, config);
  const std::int64_t window = a.window > 0 ? a.window : has_fit ? fit.tokens : 0;
  FMAV_CHECK(window == 0 || !masked, "--window is for causal LMs; ", a.model, " is a masked LM (",
             config.model_type, ")");
  FMAV_CHECK(!fitted || window <= fit.tokens, "--window ", window, " is longer than the ", fit.tokens,
             " tokens ", a.model, "'s weights were fitted on");
  FMAV_CHECK(window <= config.max_positions, "--window ", window, " is longer than the model's context ",
             config.max_positions);
  std::int64_t limit = window > 0 ? a.o.max_tokens : config.max_positions;
  if (window == 0 && a.o.max_tokens > 0) limit = std::min(limit, a.o.max_tokens);
  const std::string text = a.o.data.empty() ? a.input : a.o.data;
  const std::vector<std::int64_t> ids = hf_input_ids(a.model, a.ids, text, limit);
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  check_hf_forward_memory("eval:", a.model, config, window > 0 ? std::min(window, n) : n);
  const HfModel model = HfModel::load(a.model);
  HfMasking masking = model.masking();
  if (a.mask_id >= 0) masking.mask_id = a.mask_id;
  const auto score = [&](const HfSwap* swap) {
    if (masked) return model.evaluate_masked(ids, masking, swap);
    return window > 0 ? evaluate_windows(model, ids, window, swap) : model.evaluate(ids, swap);
  };
  const HfEval e = score(nullptr);
  std::printf("model %s (%s), %s%s: loss %.4f nats, perplexity %.3f, %.4f bits per token, accuracy %.2f%% over "
              "%lld %s\n", a.model.c_str(), model.config().model_type.c_str(), (a.ids.empty() ? text : a.ids).c_str(),
              window > 0 ? (" in windows of " + std::to_string(window) + " tokens").c_str() : "", e.loss,
              e.perplexity, e.bits_per_token, 100 * e.accuracy, static_cast<long long>(e.tokens),
              masked ? "masked tokens" : "tokens");
  if (masked) {
    std::printf("masked: every %lldth non-special token of %zu replaced by id %lld\n",
                static_cast<long long>(masking.every), ids.size(), static_cast<long long>(masking.mask_id));
  }
  if (!fitted && a.swap_layers.empty()) {
    if (a.json) print_eval_json(e.tokens, e.loss, e.accuracy);
    return 0;
  }
  HfSwap swap;
  std::string what = a.swap_method, layers = a.swap_layers;
  if (fitted) {
    swap = fit.swap;
    what = "fitted fma (" + std::string(to_string(swap.options.fma.downsample)) + ", m " +
           std::to_string(swap.options.fma.block_size) + ", p " + std::to_string(swap.options.fma.rank) + ", " +
           std::to_string(fit.steps) + " steps, from " + kHfSwapFile + ")";
    layers.clear();
    for (int l : swap.layers) layers += (layers.empty() ? "" : ",") + std::to_string(l);
  } else {
    swap = make_swap(a, model, window > 0 ? std::min(window, n) : n);
  }
  const HfEval s = score(&swap);
  std::printf("with %s in layers %s: loss %.4f nats (%+.4f), perplexity %.3f, %.4f bits per token, accuracy %.2f%%\n",
              what.c_str(), layers.c_str(), s.loss, s.loss - e.loss, s.perplexity, s.bits_per_token,
              100 * s.accuracy);
  if (a.json) print_eval_json(s.tokens, s.loss, s.accuracy);
  return 0;
}

int run_eval(EvalArgs& a) {
  a.o.device = resolve_device_option(a.device);  // before any work: cuda without one names why
  if (!a.model.empty() && is_hf_model_folder(a.model)) {
    FMAV_CHECK(a.o.device == Device::cpu, "--device cuda is for the project's own models; a Hugging Face model is "
               "scored on the cpu");
    return run_eval_hf(a);
  }
  FMAV_CHECK(a.ids.empty(), "--ids is for Hugging Face models; the project's own models read --data");
  FMAV_CHECK(a.input.empty() && a.label < 0 && a.mask_id < 0,
             "--input, --label and --mask-id are for Hugging Face models; the project's own models read --data");
  Model model = Model::load(a.model.empty() ? default_model_path() : a.model);
  if (!a.attention.empty()) {
    ModelAttention attention = model.config().attention;
    parse_attention(a.attention, &attention);
    model = model.with_attention(attention);
  }
  const ModelConfig& c = model.config();
  check_memory("eval:", eval_bytes(c, a.o.batch));
  if (a.o.data.empty()) {
    // The shipped sample is short: score all of it unless a split is asked for.
    a.o.data = default_input_path();
    if (a.split.empty()) a.split = "all";
  }
  if (a.split.empty()) a.split = "valid";
  a.o.split = parse_split(a.split);
  std::printf("model %s (%s, %s attention), data %s, split %s, on %s\n", a.model.empty() ? default_model_path().c_str()
              : a.model.c_str(), to_string(c.architecture), attention_name(c.attention).c_str(), a.o.data.c_str(),
              a.split.c_str(), describe_device(a.o.device).c_str());
  int reported = 0;  // progress in tenths of each phase, on stderr, up to 100 %
  std::string last_phase;
  const EvalResult e = evaluate(model, a.o, [&](std::int64_t done, std::int64_t total, const char* phase) {
    if (phase != last_phase) last_phase = phase, reported = 0;
    const int tenth = total > 0 ? static_cast<int>(10 * done / total) : 10;
    if (tenth > reported) {
      std::fprintf(stderr, "%s: %d%%\n", phase, 10 * tenth);
      reported = tenth;
    }
  });
  print_eval(a.split.c_str(), e, c.is_lm());
  std::string iou = "[";  // a segmenter's per-class IoU
  for (std::size_t k = 0; k < e.class_iou.size(); ++k) {
    if (std::isfinite(e.class_iou[k])) std::printf("  IoU %-20s %6.2f%%\n", c.classes[k].c_str(), 100 * e.class_iou[k]);
    else std::printf("  IoU %-20s      - (in neither truth nor prediction)\n", c.classes[k].c_str());
    iou += (k ? ", " : "") + json_number(e.class_iou[k]);
  }
  if (a.json && !e.class_iou.empty()) {
    std::printf("{\"loss\": %s, \"pixels\": %lld, \"images\": %lld, \"accuracy\": %s, \"pixel_accuracy\": %s, "
                "\"miou\": %s, \"class_iou\": %s]}\n", json_number(e.loss).c_str(), static_cast<long long>(e.count),
                static_cast<long long>(e.images), json_number(e.accuracy).c_str(), json_number(e.accuracy).c_str(),
                json_number(e.miou).c_str(), iou.c_str());
    return 0;
  }
  if (a.json) print_eval_json(e.count, e.loss, e.accuracy);
  return 0;
}

}  // namespace

std::function<int()> add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a model on a text file (causal-lm: next byte; masked-lm: masked bytes) or an\n"
               "image folder (one sub-folder per class). Text splits: 90% train, 5% valid, 5% test\n"
               "(enwik8: the usual 90M/5M/5M). Ctrl-C saves a checkpoint; --resume continues it.");
  a->cmd = cmd;
  cmd->add_option("--data", a->o.data, "text file or image folder (resuming: defaults to the checkpoint's)");
  cmd->add_option("--out,-o", a->o.out, "model folder to write (config.json, model.safetensors, checkpoint)")
      ->required();
  cmd->add_flag("--resume", a->o.resume, "continue from --out's checkpoint: the same run (its model, and its options\n"
                "but those given here, which are listed; it may be run from any folder)");
  cmd->add_option("--arch", a->arch, "causal-lm | masked-lm | image-classifier | segmenter (default: by --data;\n"
                  "a folder with images/ and annotations/ trains a segmenter)");
  cmd->add_option("--preset", a->preset, "image classifier size: tiny | fma2d-b | fma2d-l; segmenter: seg-b0\n"
                  "(default) | seg-b1")
      ->check(CLI::IsMember({"tiny", "fma2d-b", "fma2d-l", "seg-b0", "seg-b1"}));
  cmd->add_option("--attention", a->attention,
                  "fma | fma-linear | fma-average | fma-linear-average | full | local | htransformer |\n"
                  "linear | reformer (LMs) | swin (images)");
  cmd->add_option("--block,-m", a->block,
                  "FMA block size m (cell side r for images); local's block, htransformer's Nr,\n"
                  "reformer's chunk, swin's window side");
  cmd->add_option("--hash-rounds", a->hash_rounds, "reformer: hashing rounds (1..8)");
  cmd->add_option("--rank,-p", a->rank, "FMA rank p");
  cmd->add_option("--downsample", a->downsample,
                  "learned (default; --attention fma-average: average) | average | dense");
  cmd->add_flag("--no-multiplicity", a->no_multiplicity, "do not weigh coarse slots by their tokens");
  cmd->add_option("--d-model", a->d_model, "width");
  cmd->add_option("--layers", a->layers, "blocks");
  cmd->add_option("--heads", a->heads, "attention heads");
  cmd->add_option("--d-mlp", a->d_mlp, "MLP width");
  cmd->add_option("--context", a->context, "LM context in bytes");
  cmd->add_option("--image-size", a->image_size, "image side in pixels (images are fitted to it)");
  cmd->add_option("--patch-size", a->patch_size, "patch side in pixels");
  cmd->add_option("--steps", a->o.steps, "optimizer steps in total");
  cmd->add_option("--batch", a->o.batch, "windows or images per step");
  cmd->add_option("--align", a->o.align, "text windows start at multiples of this (gen-task record length)");
  cmd->add_option("--lr", a->o.lr, "peak learning rate (warm-up, then cosine to lr/10)");
  cmd->add_option("--warmup", a->o.warmup, "warm-up steps");
  cmd->add_option("--weight-decay", a->o.weight_decay, "AdamW weight decay");
  cmd->add_option("--mask-rate", a->o.mask_rate, "masked LM: share of masked bytes");
  cmd->add_option("--eval-every", a->o.eval_every, "steps between evaluations (0: at the end only)");
  cmd->add_option("--eval-tokens", a->o.eval_tokens, "bytes (or images) per evaluation");
  cmd->add_option("--save-every", a->o.save_every, "steps between checkpoints (0: at the end only)");
  cmd->add_option("--log-every", a->log_every, "steps between progress lines")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a->o.seed, "seed of the weights and batches");
  add_device_option(cmd, &a->device);
  cmd->add_option("--precision", a->precision,
                  "fp32 (default) | bf16: autocast, the forward's matrix products in bfloat16 with float32\n"
                  "master weights, moments and loss (on the CPU too); a resumed run keeps its checkpoint's")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  return [a] { return run_train(*a, command_line()); };
}

std::function<int()> add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a model: bits per character, perplexity and next-byte accuracy of an LM on a\n"
              "text file's split, or the accuracy of an image classifier on an image folder.\n"
              "A Hugging Face folder: a causal LM on every next token of --ids or --data; a masked LM\n"
              "(bert, roberta) on every 7th non-special token, masked (--mask-id); a vit on --input\n"
              "IMAGE: its top classes, and with --label the loss and accuracy.");
  cmd->add_option("--model", a->model, "model folder (default: the shipped assets/models/lm-fma)");
  cmd->add_option("--data", a->o.data, "text file or image folder (default: the shipped assets/sample.txt)");
  cmd->add_option("--split", a->split, "train | valid | test | all (default: valid; all for the default data)")
      ->check(CLI::IsMember({"train", "valid", "test", "all"}));
  cmd->add_option("--attention", a->attention,
                  "evaluate with another attention over the same weights (e.g. full, local, linear)");
  cmd->add_option("--max-tokens", a->o.max_tokens, "evaluate at most this many bytes (or images)");
  cmd->add_option("--batch", a->o.batch, "windows (or images) per forward");
  cmd->add_option("--answers", a->o.answers, "uint8 .npy mask of answer bytes (fmav gen-task): also score them");
  cmd->add_option("--seed", a->o.seed, "masked LM: seed of the masked positions; swapped learned FMA: of its weights");
  cmd->add_option("--ids", a->ids, "Hugging Face models: token ids, an int64 .npy (N) or (1, N)");
  cmd->add_option("--input", a->input, "Hugging Face models: an image (vit: PNG, JPEG, BMP) or a text file");
  cmd->add_option("--label", a->label, "Hugging Face image classifiers: the image's class id (loss and accuracy)");
  cmd->add_option("--mask-id", a->mask_id,
                  "Hugging Face masked LMs: the mask token's id (default: [MASK] or <mask> from tokenizer.json).\n"
                  "Every 7th non-special token (the 1st, 8th, ...) is masked and scored");
  cmd->add_option("--swap-layers", a->swap_layers,
                  "Hugging Face models: also score with attention swapped in these layers (4-11, 0,2,5)");
  cmd->add_option("--swap-method", a->swap_method, "the swapped attention: fma (default) or a 1D peer")
      ->check(CLI::IsMember({"fma", "full", "htransformer", "linear", "reformer", "local"}));
  cmd->add_option("--block,-m", a->block, "swapped FMA: block size m (a peer's block)");
  cmd->add_option("--rank,-p", a->rank, "swapped FMA: rank p");
  cmd->add_option("--downsample", a->downsample, "swapped FMA: average (default: the model's own weights have no learned\n"
                  "summaries to swap in; fit them with fmav fit) | learned | dense (drawn from --seed)")
      ->check(CLI::IsMember({"learned", "average", "dense"}));
  add_peer_options(cmd, &a->peer);
  cmd->add_flag("--no-swap", a->no_swap, "Hugging Face models: a folder written by fmav fit scored as the original");
  cmd->add_option("--window", a->window,
                  "Hugging Face models: score all the input in windows of this many tokens (default: one\n"
                  "window of at most the model's context; a folder written by fmav fit: its fit's tokens)");
  add_device_option(cmd, &a->device);
  cmd->add_flag("--json", a->json,
                "also print the score as one JSON object on the last line: loss (nats per predicted token),\n"
                "tokens, perplexity, bits_per_token, accuracy (with --swap-layers: the swapped run's)");
  return [a] { return run_eval(*a); };
}

}  // namespace fmav::cli
