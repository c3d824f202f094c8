// `fmav inspect`: the inspection data of one layer and head (docs/DESIGN.md §2) — FMA map at full
// resolution, full attention's map from the same Q and K, level map, mass per level and the
// error metrics — as .npy files plus a JSON summary, headless twins of the viewer's maps.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>

#include "commands.h"
#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/inspect.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/model.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

constexpr std::int64_t kMaxCells = std::int64_t{1} << 26;  // 512 MiB of float64 per map

struct InspectArgs {
  std::string model, input, rows, cols, out, method = "fma", grid, downsample = default_downsample(), ids;
  std::string device = "cpu";
  int layer = 0;
  std::int64_t head = 0, offset = 0, block = 64, rank = 4;
  bool causal = false;
  std::uint64_t seed = 0;
  int top_k = 8;
  PeerArgs peer;
};

// "a:b" into [a, b) within [0, n); empty = everything.
void parse_range(const std::string& text, std::int64_t n, const char* what, std::int64_t* begin, std::int64_t* end) {
  *begin = 0, *end = n;
  if (text.empty()) return;
  const std::size_t colon = text.find(':');
  try {
    FMAV_CHECK(colon != std::string::npos, "");
    std::size_t used = 0;
    *begin = colon == 0 ? 0 : std::stoll(text.substr(0, colon), &used);
    FMAV_CHECK(colon == 0 || used == colon, "");
    const std::string tail = text.substr(colon + 1);
    *end = tail.empty() ? n : std::stoll(tail, &used);
    FMAV_CHECK(tail.empty() || used == tail.size(), "");
  } catch (const std::exception&) {
    throw Error(std::string(what) + " must be a:b (token indices, b exclusive), got '" + text + "'");
  }
  FMAV_CHECK(0 <= *begin && *begin < *end && *end <= n, what, " ", text, " must lie within [0, ", n,
             ") and not be empty");
}

HostTensor f64_tensor(const std::vector<double>& data, std::vector<std::int64_t> shape) {
  HostTensor t = make_host_tensor(DType::f64, std::move(shape));
  std::copy(data.begin(), data.end(), t.f64());
  return t;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Rows whose metrics are NaN (the row met a non-finite value: fmav/inspect.h).
std::int64_t nonfinite_rows(const std::vector<double>& row_metric) {
  return std::count_if(row_metric.begin(), row_metric.end(), [](double x) { return !std::isfinite(x); });
}

// "%.4g" of a mean, or "undefined (N of M rows non-finite)": never a number made of NaN.
std::string mean_text(const std::vector<double>& v) {
  const std::int64_t bad = nonfinite_rows(v);
  if (bad > 0) return "undefined (" + std::to_string(bad) + " of " + std::to_string(v.size()) + " rows non-finite)";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", mean(v));
  return text;
}

// Raw q, k, v's comparison method from the command line: FMA or a peer, its block, rank,
// down-sampling (learned weights drawn from --seed) and mask.
void set_method(const InspectArgs& a, bool causal, LayerCapture* c) {
  AttendOptions options;
  parse_method(a.method, a.grid, &options);
  FMAV_CHECK(options.method != Method::full, "inspect compares a method with full attention; --method full "
             "has nothing to compare");
  c->method = options.method, c->peer = peer_options(a.peer);
  c->fma = options.fma;
  c->fma.block_size = a.block, c->fma.rank = a.rank, c->fma.causal = causal;
  c->fma.downsample = parse_downsample(a.downsample);
  FMAV_CHECK(c->q.shape.size() >= 2, "q must be (B, H, N, D), (H, N, D) or (N, D), got ", shape_str(c->q.shape));
  c->tokens = c->q.shape[c->q.shape.size() - 2];
  if (c->method == Method::fma && c->fma.downsample != Downsample::average) {
    c->weights = random_downsample_weights(c->fma, c->q.shape.back(), num_levels(c->fma, c->tokens), a.seed);
  }
}

// A Hugging Face model's layer on token ids (a vit: on an image): its q, k (after RoPE), v
// per head, compared with the chosen method, causal as the model is (bert, roberta, vit:
// bidirectional; a vit's tokens in sequence order, CLS first). full_map is then the model's
// own attention.
LayerCapture capture_hf(const InspectArgs& a, nlohmann::ordered_json* summary) {
  const HfModel model = HfModel::load(a.model);
  FMAV_CHECK(a.layer >= 0 && a.layer < model.config().layers, "--layer must be in [0, ", model.config().layers,
             ") for ", a.model, ", got ", a.layer);
  const bool image = model.kind() == HfKind::image_classifier;
  FMAV_CHECK(!image || (a.ids.empty() && !a.input.empty()), a.model, " is an image classifier (",
             model.config().model_type, "): give an image with --input");
  std::vector<std::int64_t> ids;
  if (!image) {
    ids = hf_input_ids(a.model, a.ids, a.input, model.config().max_positions);
    model.check_window_covers(static_cast<std::int64_t>(ids.size()), a.model + ": ");
  }
  HfForward f = image ? model.forward_image(read_image(a.input), true) : model.forward(ids, true);
  LayerCapture c;
  c.q = std::move(f.q[a.layer]), c.k = std::move(f.k[a.layer]), c.v = std::move(f.v[a.layer]);
  set_method(a, model.causal(), &c);
  (*summary)["model"] = a.model;
  (*summary)["model_type"] = model.config().model_type;
  (*summary)["input"] = a.ids.empty() ? a.input : a.ids;
  (*summary)["attention"] = model.causal() ? "the model's (full, causal)" : "the model's (full, bidirectional)";
  return c;
}

// The capture of a model's layer on the input, or raw q, k, v from a .safetensors file.
// `device` runs the project's models' forward pass (a Hugging Face model's runs on the cpu);
// the maps' dense work runs there too (run_inspect's InspectRequest::device).
LayerCapture capture(const InspectArgs& a, Device device, nlohmann::ordered_json* summary) {
  if (!a.model.empty() && is_hf_model_folder(a.model)) return capture_hf(a, summary);
  FMAV_CHECK(a.ids.empty(), "--ids is for Hugging Face models (--model DIR)");
  const bool raw = a.model.empty() && a.input.size() > 12 &&
                   a.input.compare(a.input.size() - 12, 12, ".safetensors") == 0;
  if (!raw) {
    const std::string model_path = a.model.empty() ? default_model_path() : a.model;
    const Model model = Model::load(model_path);
    const std::string input = a.input.empty() ? default_input_path() : a.input;
    (*summary)["model"] = model_path;
    (*summary)["input"] = input;
    (*summary)["attention"] = attention_name(model.config().attention);
    return capture_file(model.on_device(device), input, a.layer, a.offset);
  }
  FMAV_CHECK(a.layer == 0, "--layer is for models; raw q, k, v from ", a.input, " have one layer");
  LayerCapture c;
  c.q = read_tensor_file(a.input, "q"), c.k = read_tensor_file(a.input, "k"), c.v = read_tensor_file(a.input, "v");
  for (const auto& [t, name] : {std::pair{&c.q, "q"}, {&c.k, "k"}, {&c.v, "v"}}) {
    check_float_input(*t, name, "--input", a.input);
  }
  set_method(a, a.causal, &c);
  (*summary)["input"] = a.input;
  (*summary)["attention"] = a.method;
  return c;
}

int run_inspect(const InspectArgs& a) {
  FMAV_CHECK(!a.out.empty(), "--out is required");
  const Device device = resolve_device_option(a.device);  // before any work: cuda without one names why
  nlohmann::ordered_json summary;
  const LayerCapture c = capture(a, device, &summary);
  const std::string source = summary.contains("model") ? "layer " + std::to_string(a.layer) + " of " +
                                                             summary["model"].get<std::string>()
                                                       : a.input;
  for (const auto& [t, name] : {std::pair{&c.q, "q ("}, {&c.k, "k ("}, {&c.v, "v ("}}) {
    check_finite_input(*t, name + source + ")");
  }
  InspectRequest req;
  req.head = a.head, req.top_k = a.top_k;
  req.device = device;  // the dense float64 work; the per-row loops stay on the host
  parse_range(a.rows, c.tokens, "--rows", &req.row_begin, &req.row_end);
  parse_range(a.cols, c.tokens, "--cols", &req.col_begin, &req.col_end);
  const std::int64_t rows = req.row_end - req.row_begin, cols = req.col_end - req.col_begin;
  FMAV_CHECK(rows * cols <= kMaxCells, "--rows x --cols is ", rows, " x ", cols, ", over the limit of ", kMaxCells,
             " cells per map; inspect a smaller rectangle");
  check_memory("inspect:", inspect_bytes(rows, cols, c.tokens, c.q.shape.back()));
  const Inspection ins = inspect(c.q, c.k, c.v, c.options(), c.weights, req);
  std::filesystem::create_directories(a.out);
  const auto path = [&](const char* name) { return (std::filesystem::path(a.out) / name).string(); };
  write_npy(path("fma_map.npy"), f64_tensor(ins.fma_map, {rows, cols}));
  write_npy(path("full_map.npy"), f64_tensor(ins.full_map, {rows, cols}));
  HostTensor level = make_host_tensor(DType::i32, {rows, cols});
  std::copy(ins.level_map.begin(), ins.level_map.end(), reinterpret_cast<std::int32_t*>(level.data.data()));
  write_npy(path("level_map.npy"), level);
  write_npy(path("level_mass.npy"), f64_tensor(ins.level_mass, {rows, ins.num_levels + 1}));
  write_npy(path("row_tv.npy"), f64_tensor(ins.row_tv, {rows}));
  write_npy(path("row_kl.npy"), f64_tensor(ins.row_kl, {rows}));
  write_npy(path("row_topk.npy"), f64_tensor(ins.row_topk, {rows}));
  std::vector<double> mass(ins.num_levels + 1, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int l = 0; l <= ins.num_levels; ++l) mass[l] += ins.level_mass[r * (ins.num_levels + 1) + l] / rows;
  }
  summary["layer"] = a.layer, summary["head"] = a.head, summary["tokens"] = c.tokens;
  if (c.stage >= 0) {  // a segmenter's block on its stage's grid
    summary["stage"] = c.stage, summary["block"] = c.block;
    const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(c.tokens))));
    summary["grid"] = {side, side};  // square stages
  }
  summary["rows"] = {req.row_begin, req.row_end}, summary["cols"] = {req.col_begin, req.col_end};
  summary["method"] = method_name(c.options());
  if (c.method == Method::fma) {
    summary["fma"] = {{"variant", variant_name(c.fma)}, {"block_size", c.fma.block_size}, {"rank", c.fma.rank},
                      {"causal", c.fma.causal}, {"downsample", to_string(c.fma.downsample)},
                      {"count_multiplicity", c.fma.count_multiplicity}, {"levels", ins.num_levels}};
  } else {
    summary["peer"] = {{"block_size", c.fma.block_size}, {"causal", c.fma.causal}, {"levels", ins.num_levels},
                       {"hash_rounds", c.peer.hash_rounds}, {"buckets", c.peer.buckets},
                       {"hash_seed", c.peer.hash_seed}, {"shifted", c.peer.shifted}};
  }
  summary["output_rel_error"] = ins.output_rel_error;
  summary["mean_tv"] = mean(ins.row_tv), summary["mean_kl"] = mean(ins.row_kl);
  summary["mean_topk_overlap"] = mean(ins.row_topk), summary["top_k"] = a.top_k;
  summary["device"] = to_string(device);  // where the maps' dense work (and our models' forward) ran
  summary["mass_per_level"] = mass;
  // NaN means are written as null (JSON has no NaN), with the count of rows that made them so.
  summary["nonfinite_rows"] = nonfinite_rows(ins.row_kl);
  summary["files"] = {"fma_map.npy", "full_map.npy", "level_map.npy", "level_mass.npy", "row_tv.npy", "row_kl.npy",
                      "row_topk.npy"};
  write_file_atomic(path("summary.json"), summary.dump(2) + "\n");
  if (c.stage >= 0) {
    std::printf("stage %d, block %d (grid %lld x %lld): ", c.stage, c.block,
                static_cast<long long>(summary["grid"][0].get<std::int64_t>()),
                static_cast<long long>(summary["grid"][1].get<std::int64_t>()));
  }
  std::printf("layer %d head %lld, rows %lld:%lld, cols %lld:%lld of %lld tokens: output error %s, mean TV %s, "
              "mean KL %s, mean top-%d overlap %s; written to %s\n", a.layer, static_cast<long long>(a.head),
              static_cast<long long>(req.row_begin), static_cast<long long>(req.row_end),
              static_cast<long long>(req.col_begin), static_cast<long long>(req.col_end),
              static_cast<long long>(c.tokens), (std::isfinite(ins.output_rel_error) ? mean_text({ins.output_rel_error}) : std::string("undefined")).c_str(), mean_text(ins.row_tv).c_str(),
              mean_text(ins.row_kl).c_str(), a.top_k, mean_text(ins.row_topk).c_str(), a.out.c_str());
  return 0;
}

}  // namespace

std::function<int()> add_inspect(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Write one layer and head's inspection data (the viewer's maps) as .npy plus\n"
                 "summary.json: fma_map (the method's, FMA or a peer), full_map (rows, cols) float64,\n"
                 "level_map int32 (0 near field / exact, l coarse level, -1 masked or not attended),\n"
                 "level_mass (rows, L+1), row_tv, row_kl, row_topk.\n"
                 "Input: a text file or image for --model, or a .safetensors with q, k, v (no --model),\n"
                 "or token ids (--ids) for a Hugging Face model folder (gpt2, llama, mistral, qwen2,\n"
                 "bert, roberta; vit: an image as --input): its layer's q, k, v compared with --method\n"
                 "(--block, --rank, --downsample), causal for causal LMs, bidirectional otherwise.");
  cmd->add_option("--model", a->model, "model folder (default: the shipped assets/models/lm-fma)");
  cmd->add_option("--input", a->input, "text file, image, or q/k/v .safetensors (default: assets/sample.txt)");
  cmd->add_option("--layer", a->layer, "layer, from 0");
  cmd->add_option("--head", a->head, "head, from 0");
  cmd->add_option("--rows", a->rows, "query rows a:b (default: all)");
  cmd->add_option("--cols", a->cols, "key columns c:d (default: all)");
  cmd->add_option("--offset", a->offset, "text: first byte of the window (the model's context)");
  cmd->add_option("--top-k", a->top_k, "k of the top-k overlap")->check(CLI::PositiveNumber);
  cmd->add_option("--method", a->method, std::string("raw q/k/v and --ids: ") + method_help() + " (not full)")
      ->check(CLI::IsMember(method_names()));
  cmd->add_option("--grid", a->grid, "raw q/k/v only: HxW for the 2D methods");
  cmd->add_option("--block,-m", a->block, "raw q/k/v and --ids: block size m (the peers' block)");
  add_peer_options(cmd, &a->peer);
  cmd->add_option("--rank,-p", a->rank, "raw q/k/v and --ids: rank p");
  cmd->add_option("--downsample", a->downsample,
                  "raw q/k/v and --ids: learned (default; drawn from --seed) | average | dense");
  cmd->add_flag("--causal", a->causal, "raw q/k/v only: causal");
  cmd->add_option("--seed", a->seed, "raw q/k/v and --ids: seed of drawn learned weights");
  cmd->add_option("--ids", a->ids, "Hugging Face models: token ids, an int64 .npy (N) or (1, N)");
  cmd->add_option("--out,-o", a->out, "output folder")->required();
  add_device_option(cmd, &a->device);
  return [a] { return run_inspect(*a); };
}

}  // namespace fmav::cli
