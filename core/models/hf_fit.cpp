// FMA fitted into a Hugging Face model (fmav/hf_fit.h): layer-wise distillation of the
// swapped layers' attention outputs into FMA's learned down-sampling weights (Adam on those
// weights only, the model frozen), the fitted folder's files, and windowed scoring.

#include "fmav/hf_fit.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "attention/fma_internal.h"
#include "base/random.h"
#include "fmav/error.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/tensor_io.h"
#include "io/json_util.h"

namespace fmav {
namespace {

namespace fs = std::filesystem;
// Teacher outputs kept between steps (q, k, v and the target of every swapped layer).
constexpr std::int64_t kCacheBytes = 256ll << 20;

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string layer_prefix(int layer) { return "layer" + std::to_string(layer) + "."; }

// ---- the teacher: each swapped layer's q, k, v and its own attention output ----

struct LayerTarget {
  at::Tensor q, k, v, out;  // (H, N, hd) float32
};

std::vector<LayerTarget> teacher(const HfModel& model, const std::vector<std::int64_t>& ids,
                                 const std::vector<int>& layers) {
  const HfForward f = model.forward(ids, true);
  std::vector<LayerTarget> out;
  for (int l : layers) {
    LayerTarget t;
    t.q = to_tensor(f.q[l]), t.k = to_tensor(f.k[l]), t.v = to_tensor(f.v[l]);
    t.out = at::matmul(to_tensor(f.probs[l]), t.v);
    out.push_back(t);
  }
  return out;
}

// Mean square error over the target's mean square: comparable across layers of any scale.
at::Tensor relative_mse(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).pow(2).mean() / want.pow(2).mean().clamp_min(1e-12);
}

// The teacher's outputs of the training windows (consecutive runs of `tokens` ids), kept
// between steps up to kCacheBytes: a window is drawn many times in a fit.
class TeacherCache {
 public:
  TeacherCache(const HfModel& model, const std::vector<std::int64_t>& ids, std::int64_t tokens,
               const std::vector<int>& layers)
      : m_model(model), m_ids(ids), m_tokens(tokens), m_layers(layers) {}
  // The window `draw` picks (modulo the number of windows).
  std::vector<LayerTarget> window(std::uint64_t draw) {
    const std::int64_t windows = static_cast<std::int64_t>(m_ids.size()) / m_tokens;
    const std::int64_t w = static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(windows));
    const auto hit = m_cache.find(w);
    if (hit != m_cache.end()) return hit->second;
    const std::vector<std::int64_t> ids(m_ids.begin() + w * m_tokens, m_ids.begin() + (w + 1) * m_tokens);
    std::vector<LayerTarget> t = teacher(m_model, ids, m_layers);
    const std::int64_t bytes = 16 * static_cast<std::int64_t>(t.size()) * t.front().q.numel();
    if (m_bytes + bytes <= kCacheBytes) m_cache[w] = t, m_bytes += bytes;
    return t;
  }

 private:
  const HfModel& m_model;
  const std::vector<std::int64_t>& m_ids;
  std::int64_t m_tokens;
  const std::vector<int>& m_layers;
  std::map<std::int64_t, std::vector<LayerTarget>> m_cache;
  std::int64_t m_bytes = 0;
};

// The step's loss: each layer's FMA on the batch's stacked windows against their targets,
// averaged over layers; differentiable in the weights.
at::Tensor batch_loss(const std::vector<std::vector<LayerTarget>>& batch, const std::vector<int>& layers,
                      const FmaConfig& f, const std::map<int, FmaWeights>& weights) {
  at::Tensor loss = at::zeros({}, at::kFloat);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    std::vector<at::Tensor> q, k, v, want;
    for (const auto& t : batch) q.push_back(t[i].q), k.push_back(t[i].k), v.push_back(t[i].v), want.push_back(t[i].out);
    const at::Tensor got = fma_fused(at::stack(q), at::stack(k), at::stack(v), f, weights.at(layers[i]));
    loss = loss + relative_mse(got, at::stack(want));
  }
  return loss / static_cast<double>(layers.size());
}

// ---- the fitted weights as parameters ----

// Weights that make learned (or dense) down-sampling equal to average down-sampling: summary
// j of channel c is the mean of its sub-window's tokens, so the fit starts where `average` is.
WeightSet average_like_weights(const FmaConfig& f, std::int64_t dim, int levels) {
  WeightSet set = random_downsample_weights(f, dim, levels, 1);
  const std::int64_t p = f.rank;
  for (auto& [name, host] : set) {
    float* w = host.f32();
    std::fill(w, w + host.numel(), 0.0f);
    if (host.shape.size() != 3) continue;  // biases stay 0
    const std::int64_t in = host.shape[1], width = host.shape[2];
    for (std::int64_t c = 0; c < dim; ++c) {
      for (std::int64_t j = 0; j < p; ++j) {
        const std::int64_t begin = j * width / p, end = (j + 1) * width / p;
        for (std::int64_t t = begin; t < end; ++t) {
          w[((c * p + j) * in + (in == 1 ? 0 : c)) * width + t] = 1.0f / static_cast<float>(end - begin);
        }
      }
    }
  }
  return set;
}

// The FmaWeights of one layer's parameters (named as a WeightSet), sharing their storage so
// gradients reach them.
FmaWeights as_fma_weights(const std::map<std::string, at::Tensor>& params, int layer, int levels) {
  FmaWeights out;
  const std::string pre = layer_prefix(layer);
  for (int l = 1; l <= levels; ++l) {
    LevelWeights lw;
    for (const char* s : {"k", "v"}) {
      const std::string n = pre + "level" + std::to_string(l) + "." + s + ".";
      Summarizer& sum = lw.of(s[0] == 'k' ? Stream::k : Stream::v);
      sum.weight = params.at(n + "weight"), sum.bias = params.at(n + "bias");
    }
    out.push_back(lw);
  }
  return out;
}

// ---- the swap file ----

Json swap_json(const HfFitOptions& o, std::int64_t step, double loss) {
  Json j;
  j["format"] = kHfSwapFormat;
  j["format_version"] = kHfSwapVersion;
  j["method"] = "fma";
  j["layers"] = o.layers;
  j["block_size"] = o.fma.block_size;
  j["rank"] = o.fma.rank;
  j["downsample"] = to_string(o.fma.downsample);
  j["count_multiplicity"] = o.fma.count_multiplicity;
  j["tokens"] = o.tokens;
  j["weights"] = kHfSwapWeights;
  j["base"] = o.model;
  j["steps"] = step;
  j["loss"] = std::isfinite(loss) ? Json(loss) : Json(nullptr);
  j["fit"] = Json{{"data", o.data},   {"ids", o.ids_path}, {"steps", o.steps},   {"batch", o.batch},
                  {"lr", o.lr},       {"seed", o.seed},     {"init", o.init_average ? "average" : "random"},
                  {"save_every", o.save_every}, {"command", o.command}};
  return j;
}

// The swap's weights for its layers, checked against the levels of `tokens` tokens.
void read_swap_weights(const std::string& path, const HfConfig& c, HfFittedSwap* s) {
  const TensorMap t = read_safetensors(path);
  const int levels = num_levels(s->swap.options.fma, s->tokens);
  for (int layer : s->swap.layers) s->swap.layer_weights[layer];
  for (const auto& [name, host] : t) {
    const std::size_t dot = name.find('.');
    int layer = -1;
    try {
      if (name.rfind("layer", 0) == 0 && dot != std::string::npos) layer = std::stoi(name.substr(5, dot - 5));
    } catch (const std::exception&) {
    }
    FMAV_CHECK(layer >= 0 && name.substr(0, dot + 1) == layer_prefix(layer) && s->swap.layer_weights.count(layer),
               path, ": tensor \"", name, "\" belongs to no swapped layer");
    s->swap.layer_weights[layer][name.substr(dot + 1)] = host;
  }
  for (auto& [layer, set] : s->swap.layer_weights) {
    try {
      to_fma_weights(set, s->swap.options.fma, c.head_dim, levels, at::kFloat);
    } catch (const Error& e) {
      throw Error(path + ": layer " + std::to_string(layer) + ": " + e.what());
    }
    // Every tensor must be one the swap uses (a stray one means the file is not what it says).
    std::set<std::string> known;
    for (int l = 1; l <= levels; ++l) {
      for (const char* t : {"k.weight", "k.bias", "v.weight", "v.bias"}) known.insert("level" + std::to_string(l) + "." + t);
    }
    for (const auto& [name, host] : set) {
      FMAV_CHECK(known.count(name) != 0, path, ": tensor \"", layer_prefix(layer), name, "\" is not a weight of ",
                 to_string(s->swap.options.fma.downsample), " FMA at the levels (1..", levels, ") of ", s->tokens,
                 " tokens");
    }
  }
}

// ---- the fitted folder ----

// The original's files in out: hard links where the file system allows, else copies.
void link_model_files(const fs::path& from, const fs::path& out) {
  std::vector<std::string> names = {"config.json", "tokenizer.json", "model.safetensors.index.json",
                                    "model.safetensors"};
  for (const auto& entry : fs::directory_iterator(from)) {
    const std::string n = entry.path().filename().string();
    if (entry.path().extension() == ".safetensors" && n.rfind("model", 0) == 0 && n != "model.safetensors") {
      names.push_back(n);  // shards
    }
  }
  for (const std::string& n : names) {
    const fs::path src = from / n, dst = out / n;
    if (!fs::exists(src) || fs::exists(dst)) continue;
    std::error_code ec;
    fs::create_hard_link(src, dst, ec);
    if (ec) fs::copy_file(src, dst);
  }
}

struct Adam {
  std::map<std::string, at::Tensor> m, v;
};

void adam_step(std::map<std::string, at::Tensor>& params, Adam& adam, double lr, std::int64_t step) {
  at::NoGradGuard no_grad;
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double c1 = 1.0 - std::pow(b1, static_cast<double>(step + 1)), c2 = 1.0 - std::pow(b2, static_cast<double>(step + 1));
  for (auto& [name, p] : params) {
    if (!p.grad().defined()) continue;
    at::Tensor& m = adam.m[name];
    at::Tensor& v = adam.v[name];
    if (!m.defined()) m = at::zeros_like(p), v = at::zeros_like(p);
    m.mul_(b1).add_(p.grad(), 1 - b1);
    v.mul_(b2).addcmul_(p.grad(), p.grad(), 1 - b2);
    p.addcdiv_(m / c1, (v / c2).sqrt_().add_(eps), -lr);
    p.mutable_grad().zero_();
  }
}

double learning_rate(const HfFitOptions& o, std::int64_t step) {
  const double t = static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, o.steps));
  return o.lr * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(3.141592653589793 * std::min(1.0, t))));
}

void save(const HfFitOptions& o, const std::map<std::string, at::Tensor>& params, const Adam& adam,
          std::int64_t step, double loss) {
  TensorMap weights, checkpoint;
  for (const auto& [name, p] : params) {
    weights[name] = to_host(p.detach());
    checkpoint["param." + name] = weights[name];
    if (adam.m.count(name)) {
      checkpoint["adam.m." + name] = to_host(adam.m.at(name)), checkpoint["adam.v." + name] = to_host(adam.v.at(name));
    }
  }
  const fs::path out(o.out);
  write_safetensors((out / kHfFitCheckpoint).string(), checkpoint, {{"step", std::to_string(step)}});
  write_safetensors((out / kHfSwapWeights).string(), weights);
  write_file_atomic((out / kHfSwapFile).string(), swap_json(o, step, loss).dump(2) + "\n");
}

// Restores the options of out/fmav_swap.json and the state of its checkpoint.
void load_checkpoint(HfFitOptions* o, const HfConfig& c, std::map<std::string, at::Tensor>* params, Adam* adam,
                     std::int64_t* step) {
  const fs::path out(o->out);
  const std::string swap_path = (out / kHfSwapFile).string(), path = (out / kHfFitCheckpoint).string();
  FMAV_CHECK(fs::exists(swap_path) && fs::exists(path), "cannot resume: ", o->out, " has no ", kHfSwapFile, " and ",
             kHfFitCheckpoint, " (fit without --resume first)");
  Json fit;
  const std::string text = read_file_bytes(swap_path, 1u << 20);
  const HfFittedSwap s = parse_hf_swap(text, swap_path, c);
  fit = parse_json_object(text, swap_path, kHfSwapFormat, kHfSwapVersion, 1u << 20, 8).at("fit");
  o->layers = s.swap.layers, o->fma = s.swap.options.fma, o->tokens = s.tokens;
  try {
    if (o->data.empty() && o->ids_path.empty()) {
      o->data = fit.at("data").get<std::string>(), o->ids_path = fit.at("ids").get<std::string>();
    }
    if (o->steps == 0) o->steps = fit.at("steps");
    o->batch = fit.at("batch"), o->lr = fit.at("lr"), o->seed = fit.at("seed"), o->save_every = fit.at("save_every");
    o->init_average = fit.at("init") == "average";
  } catch (const std::exception& e) {
    throw Error(swap_path + ": unreadable \"fit\": " + e.what());
  }
  std::map<std::string, std::string> meta;
  const TensorMap t = read_safetensors(path, &meta);
  for (auto& [name, p] : *params) {
    for (const std::string prefix : {"param.", "adam.m.", "adam.v."}) {
      const auto it = t.find(prefix + name);
      FMAV_CHECK(it != t.end() && it->second.shape == p.sizes().vec() && it->second.dtype == DType::f32, path,
                 ": missing or misshapen ", prefix, name);
      if (prefix[0] == 'p') p.detach().copy_(to_tensor(it->second));
      else (prefix[5] == 'm' ? adam->m : adam->v)[name] = to_tensor(it->second);
    }
  }
  try {
    *step = std::stoll(meta.at("step"));
  } catch (const std::exception&) {
    throw Error(path + ": no \"step\" in its metadata");
  }
}

void check_options(const HfFitOptions& o, const HfConfig& c) {
  FMAV_CHECK(c.kind == HfKind::causal_lm, "fit distills causal FMA into a causal language model's layers; ", o.model,
             " is a ", c.model_type, " model, whose attention is not causal");
  FMAV_CHECK(!o.out.empty(), "fit needs an output folder (-o)");
  FMAV_CHECK(fs::absolute(o.out).lexically_normal() != fs::absolute(o.model).lexically_normal(),
             "the output folder must not be the model's folder ", o.model);
  FMAV_CHECK(!o.layers.empty(), "fit needs swapped layers (--swap-layers)");
  FMAV_CHECK(o.fma.downsample != Downsample::average, "average down-sampling has no weights to fit; use learned or "
             "dense");
  FmaConfig f = o.fma;
  f.causal = true;
  validate(f);
  FMAV_CHECK(o.tokens >= 2 && o.tokens <= c.max_positions, "tokens must be in [2, ", c.max_positions, "], got ",
             o.tokens);
  FMAV_CHECK(num_levels(f, o.tokens) >= 1, "with block ", f.block_size, ", ", o.tokens, " tokens have no coarse "
             "level to fit: give more tokens (at least ", 4 * f.block_size, ") or a smaller block");
  FMAV_CHECK(static_cast<std::int64_t>(o.ids.size()) >= o.tokens, "the data has ", o.ids.size(),
             " tokens; fitting windows of ", o.tokens, " needs at least that many");
  FMAV_CHECK(o.steps >= 1 && o.batch >= 1 && o.save_every >= 0, "steps and batch must be >= 1 and save_every >= 0");
  FMAV_CHECK(o.lr > 0 && o.lr < 1, "lr must be in (0, 1), got ", o.lr);
}

// The original folder a fitted folder records ("base"), for a resume that names none.
std::string recorded_base(const std::string& out) {
  const std::string path = (fs::path(out) / kHfSwapFile).string();
  FMAV_CHECK(fs::exists(path), "cannot resume: ", path, " does not exist (fit without --resume first)");
  const Json j = parse_json_object(read_file_bytes(path, 1u << 20), path, kHfSwapFormat, kHfSwapVersion, 1u << 20, 8);
  return json_string(j, "base", path);
}

}  // namespace

bool has_hf_swap(const std::string& folder) { return fs::is_regular_file(fs::path(folder) / kHfSwapFile); }

HfFittedSwap load_hf_swap(const std::string& folder, const HfConfig& config) {
  const fs::path f(folder);
  const std::string path = (f / kHfSwapFile).string();
  HfFittedSwap s = parse_hf_swap(read_file_bytes(path, 1u << 20), path, config);
  read_swap_weights((f / kHfSwapWeights).string(), config, &s);
  return s;
}

HfFitResult fit_hf_swap(const HfFitOptions& options, const std::function<void(const HfFitStatus&)>& status,
                        const std::atomic<bool>* cancel) {
  const auto t0 = Clock::now();
  HfFitOptions o = options;
  if (o.resume && o.model.empty()) o.model = recorded_base(o.out);
  const HfModel model = HfModel::load(o.model);
  const HfConfig& c = model.config();
  // Parameters: every swapped layer's weights, named layer{i}.level{l}.{k,v}.{weight,bias}.
  std::map<std::string, at::Tensor> params;
  Adam adam;
  std::int64_t step = 0;
  const auto make_params = [&] {
    params.clear();
    FmaConfig f = o.fma;
    f.causal = true;
    const int levels = num_levels(f, o.tokens);
    for (int layer : o.layers) {
      const std::uint64_t seed = o.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(layer);
      const WeightSet set = o.init_average ? average_like_weights(f, c.head_dim, levels)
                                           : random_downsample_weights(f, c.head_dim, levels, seed);
      for (const auto& [name, host] : set) params[layer_prefix(layer) + name] = to_tensor(host).clone();
    }
  };
  if (o.resume) {
    // The layers and sizes come from the folder's swap file, then the parameters to fill.
    const std::string swap_path = (fs::path(o.out) / kHfSwapFile).string();
    FMAV_CHECK(fs::exists(swap_path), "cannot resume: ", swap_path, " does not exist (fit without --resume first)");
    const HfFittedSwap s = parse_hf_swap(read_file_bytes(swap_path, 1u << 20), swap_path, c);
    o.layers = s.swap.layers, o.fma = s.swap.options.fma, o.tokens = s.tokens;
    make_params();
    load_checkpoint(&o, c, &params, &adam, &step);
  } else {
    o.tokens = std::min(o.tokens, c.max_positions);
    make_params();
  }
  if (o.ids.empty()) o.ids = hf_input_ids(o.model, o.ids_path, o.data, 0);
  check_options(o, c);
  FMAV_CHECK(step < o.steps, "the checkpoint in ", o.out, " has already run ", step, " of ", o.steps,
             " steps; give more steps to continue");
  fs::create_directories(o.out);
  link_model_files(o.model, o.out);
  for (auto& [name, p] : params) p.requires_grad_(true);
  FmaConfig f = o.fma;
  f.causal = true;
  const int levels = num_levels(f, o.tokens);
  std::map<int, FmaWeights> weights;
  for (int layer : o.layers) weights[layer] = as_fma_weights(params, layer, levels);

  TeacherCache teacher_cache(model, o.ids, o.tokens, o.layers);

  HfFitResult result;
  double loss_value = std::nan("");
  const std::int64_t first_step = step;
  while (step < o.steps && !(cancel != nullptr && cancel->load())) {
    // The step's windows: drawn from (seed, step), so a resumed run draws what it would have.
    SplitMix64 rng(o.seed * 0xD1B54A32D192ED03ull + static_cast<std::uint64_t>(step));
    std::vector<std::vector<LayerTarget>> batch;
    for (std::int64_t b = 0; b < o.batch; ++b) batch.push_back(teacher_cache.window(rng.next()));
    const at::Tensor loss = batch_loss(batch, o.layers, f, weights);
    loss.backward();
    adam_step(params, adam, learning_rate(o, step), step);
    ++step;
    loss_value = loss.item<double>();
    if (step == first_step + 1) result.first_loss = loss_value;
    HfFitStatus st;
    st.step = step, st.steps = o.steps, st.loss = loss_value, st.seconds = since(t0);
    if (step == o.steps || (o.save_every > 0 && step % o.save_every == 0)) {
      save(o, params, adam, step, loss_value);
      st.saved = true;
    }
    if (status) status(st);
  }
  if (step < o.steps && step > first_step) save(o, params, adam, step, loss_value);  // cancelled: keep every step
  if (step == first_step && !fs::exists(fs::path(o.out) / kHfSwapFile)) save(o, params, adam, step, loss_value);
  result.steps_done = step;
  result.cancelled = step < o.steps;
  result.last_loss = loss_value;
  result.seconds = since(t0);
  return result;
}

double hf_distill_loss(const HfModel& model, const std::vector<std::int64_t>& ids, const HfSwap& swap) {
  at::NoGradGuard no_grad;
  FMAV_CHECK(swap.options.method == Method::fma, "the distillation loss is for FMA swaps");
  FmaConfig f = swap.options.fma;
  f.causal = true;
  validate(f);
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  const std::vector<LayerTarget> targets = teacher(model, ids, swap.layers);
  double total = 0;
  for (std::size_t i = 0; i < swap.layers.size(); ++i) {
    const auto own = swap.layer_weights.find(swap.layers[i]);
    const FmaWeights w = to_fma_weights(own == swap.layer_weights.end() ? swap.weights : own->second, f,
                                        model.config().head_dim, num_levels(f, n), at::kFloat);
    const LayerTarget& t = targets[i];
    const at::Tensor got = fma_fused(t.q.unsqueeze(0), t.k.unsqueeze(0), t.v.unsqueeze(0), f, w)[0];
    total += relative_mse(got, t.out).item<double>();
  }
  return total / static_cast<double>(swap.layers.size());
}

HfEval evaluate_windows(const HfModel& model, const std::vector<std::int64_t>& ids, std::int64_t window,
                        const HfSwap* swap) {
  FMAV_CHECK(window >= 2, "the scoring window must be >= 2 tokens, got ", window);
  FMAV_CHECK(ids.size() >= 2, "scoring needs at least 2 tokens, got ", ids.size());
  double loss = 0, correct = 0;
  std::int64_t count = 0;
  for (std::size_t at = 0; at + 1 < ids.size(); at += static_cast<std::size_t>(window)) {
    const std::size_t end = std::min(ids.size(), at + static_cast<std::size_t>(window));
    const std::vector<std::int64_t> part(ids.begin() + at, ids.begin() + end);
    const HfEval e = model.evaluate(part, swap);
    loss += e.loss * static_cast<double>(e.tokens), correct += e.accuracy * static_cast<double>(e.tokens);
    count += e.tokens;
  }
  HfEval out;
  out.tokens = count;
  out.loss = loss / static_cast<double>(count);
  out.perplexity = std::exp(out.loss);
  out.bits_per_token = out.loss / std::log(2.0);
  out.accuracy = correct / static_cast<double>(count);
  return out;
}

}  // namespace fmav
