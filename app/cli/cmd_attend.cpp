// `fmav attend`: any FMA variant, full attention or a peer method on tensor files, with
// optional maps.

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "commands.h"
#include "output_set.h"
#include "fmav/attend.h"
#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/inspect.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

struct AttendArgs {
  std::string method = "fma", grid, q, k, v, weights, save_weights, out, map_out, level_map_out;
  std::string downsample = default_downsample(), impl = "auto", device = "cpu";
  std::string model, input, ids;  // a Hugging Face model's layer instead of --q, --k, --v
  int layer = 0, head = -1;
  std::int64_t block = 64, rank = 4;
  bool causal = false, no_multiplicity = false;
  std::uint64_t seed = 0;
  PeerArgs peer;
};

// Maps bigger than this are refused: they are (B, H, N, N) doubles in memory.
constexpr double kMaxMapBytes = 4.0 * (1ull << 30);

void add_attend_options(CLI::App& app, AttendArgs& a) {
  CLI::App* cmd = app.add_subcommand(
      "attend", "Run FMA (1D, linear, 2D, 2D-linear), full attention or a peer method on Q, K, V\n"
                "tensors and write the output.\n"
                "Tensors: .npy (float32/float64, C order) or .safetensors, shaped (B, H, N, D),\n"
                "(H, N, D) or (N, D); a .safetensors file with several tensors is read by the\n"
                "name q, k or v. The output keeps the input's shape and dtype.");
  cmd->add_option("--method", a.method, method_help())->check(CLI::IsMember(method_names()));
  cmd->add_option("--grid", a.grid,
                  "HxW token grid of fma2d, fma2d-linear and swin; tokens are row-major, N = H W");
  cmd->add_option("--q", a.q, "queries (.npy or .safetensors)");
  cmd->add_option("--k", a.k, "keys");
  cmd->add_option("--v", a.v, "values");
  cmd->add_option("--model", a.model,
                  "instead of --q --k --v: a Hugging Face language-model folder, whose layer's own q, k (after\n"
                  "RoPE, grouped K and V repeated per head), v on --input or --ids are used, (H, N, D) or\n"
                  "(1, N, D) for one --head; causal or bidirectional as the model is (a causal LM implies\n"
                  "--causal; bert and roberta refuse it)");
  cmd->add_option("--input", a.input,
                  "--model: a text file, tokenized by the folder's tokenizer.json (a vit: an image)");
  cmd->add_option("--ids", a.ids, "--model: token ids (.npy or .safetensors, int64/int32)");
  cmd->add_option("--layer", a.layer, "--model: the layer, from 0");
  cmd->add_option("--head", a.head, "--model: one head, from 0 (default: every head)");
  cmd->add_option("--weights", a.weights,
                  "down-sampling weights (.safetensors, names in the README: level{l}.k.weight, "
                  "level{l}.k.bias, ... ; 2D level{l}.k.row.weight, level{l}.k.col.weight; "
                  "linear variants also q); without it learned/dense weights are drawn from --seed");
  cmd->add_option("--save-weights", a.save_weights, "write the weights used to this .safetensors");
  cmd->add_option("--block,-m", a.block,
                  "fine block size m (1D), cell side r (2D); the peers' block (htransformer Nr,\n"
                  "reformer chunk, local block, swin window side)");
  cmd->add_option("--rank,-p", a.rank, "summary tokens per group and level p");
  cmd->add_flag("--causal", a.causal, "causal attention");
  cmd->add_option("--downsample", a.downsample, "learned | average | dense")
      ->capture_default_str()
      ->check(CLI::IsMember({"learned", "average", "dense"}));
  cmd->add_flag("--no-multiplicity", a.no_multiplicity,
                "do not weigh coarse slots by the tokens they stand for");
  add_peer_options(cmd, &a.peer);
  cmd->add_option("--impl", a.impl,
                  "fma: auto (default: fused; CUDA forward the faster of fused and composed) |\n"
                  "fused | composed (LibTorch's attention kernels merged by log-sum-exp) | blocked |\n"
                  "reference; other FMA variants: blocked (default) | reference; full: sdpa\n"
                  "(default) | math; local: fused (default) | reference; other peers: blocked\n"
                  "(default) | reference (the dense map)")
      ->check(CLI::IsMember({"auto", "reference", "blocked", "fused", "composed", "math", "sdpa"}));
  add_device_option(cmd, &a.device);
  cmd->add_option("--seed", a.seed, "seed for drawn weights");
  cmd->add_option("--out,-o", a.out, "output tensor (.npy or .safetensors)")->required();
  cmd->add_option("--map-out", a.map_out,
                  "attention map at full resolution, (B, H, N, N) like the input's leading dims");
  cmd->add_option("--level-map-out", a.level_map_out,
                  "level map (N, N) int32: 0 near field (exact), l coarse level, -1 masked or not\n"
                  "attended (not for full)");
}

fmav::HostTensor read_input(const std::string& path, const char* name) {
  fmav::HostTensor t = fmav::read_tensor_file(path, name);
  check_float_input(t, name, std::string("--") + name, path);
  check_finite_input(t, std::string(name) + " (" + path + ")");
  return t;
}

// Every limit of the run, before anything is computed or written (a failed run writes
// nothing): the outputs' names, the maps' 4 GiB, and the predicted memory (--max-memory).
void check_before_work(const AttendArgs& a, const fmav::HostTensor& q, const fmav::AttendOptions& options) {
  check_tensor_output("--out", a.out);
  check_tensor_output("--map-out", a.map_out);
  check_tensor_output("--level-map-out", a.level_map_out);
  check_tensor_output("--save-weights", a.save_weights, true);
  FMAV_CHECK(q.shape.size() >= 2, "q must be (B, H, N, D), (H, N, D) or (N, D), got ", fmav::shape_str(q.shape));
  const bool maps = !a.map_out.empty() || !a.level_map_out.empty();
  const std::int64_t n = q.shape[q.shape.size() - 2];
  double heads = 1;
  for (std::size_t i = 0; i + 2 < q.shape.size(); ++i) heads *= static_cast<double>(q.shape[i]);
  FMAV_CHECK(a.map_out.empty() || heads * n * n * 8 <= kMaxMapBytes, "--map-out: ", heads, " maps of ", n, " x ",
             n, " exceed the 4 GiB limit; use fewer heads or a shorter N");
  FMAV_CHECK(!maps || static_cast<double>(n) * n * 4 <= kMaxMapBytes, "--level-map-out: a level map of ", n, " x ",
             n, " exceeds the 4 GiB limit; use a shorter N");
  fmav::check_memory("attend:", fmav::attend_work_bytes(q.shape, q.dtype, options) +
                                    (maps ? fmav::map_bytes(q.shape, !a.map_out.empty()) : 0));
}

struct Maps {
  fmav::HostTensor map, levels;
};

// The attention map (and the level map) of every (batch, head), a row tile at a time.
Maps compute_maps(const AttendArgs& a, const fmav::HostTensor& q, const fmav::HostTensor& k,
                  const fmav::HostTensor& v, const fmav::AttendOptions& options, const fmav::WeightSet& weights) {
  std::vector<std::int64_t> lead(q.shape.begin(), q.shape.end() - 2);
  const std::int64_t n = q.shape[q.shape.size() - 2];
  std::int64_t heads = 1;
  for (std::int64_t d : lead) heads *= d;
  std::vector<std::int64_t> shape = lead;
  shape.push_back(n);
  shape.push_back(n);
  const bool full_map = !a.map_out.empty();
  fmav::HostTensor map = fmav::make_host_tensor(fmav::DType::f64, full_map ? shape : std::vector<std::int64_t>{0});
  fmav::HostTensor levels = fmav::make_host_tensor(fmav::DType::i32, {n, n});
  const std::int64_t batches = q.shape.size() == 4 ? q.shape[0] : 1;
  const std::int64_t tile = std::max<std::int64_t>(1, (std::int64_t{1} << 24) / n);
  for (std::int64_t h = 0; h < heads; ++h) {
    // One inspector per head: the head's slot probabilities and output error are computed
    // once, and each row tile costs only its own rows.
    fmav::InspectRequest which;
    which.batch = h / (heads / batches), which.head = h % (heads / batches);
    const fmav::Inspector inspector(q, k, v, options, weights, which);
    for (std::int64_t r0 = 0; r0 < n; r0 += tile) {
      fmav::InspectRequest req;
      req.row_begin = r0, req.row_end = std::min(n, r0 + tile);
      const fmav::Inspection ins = inspector.map(req);
      const std::vector<double>& src = a.method == "full" ? ins.full_map : ins.fma_map;
      if (full_map) std::copy(src.begin(), src.end(), map.f64() + h * n * n + r0 * n);
      if (h == 0) {
        auto* dst = reinterpret_cast<std::int32_t*>(levels.data.data()) + r0 * n;
        std::copy(ins.level_map.begin(), ins.level_map.end(), dst);
      }
    }
  }
  return {std::move(map), std::move(levels)};
}

// The q, k, v of a Hugging Face model's layer (all heads, or --head) on its input (a vit: on
// an image, CLS then the patches); *causal: whether the model's attention is.
std::array<fmav::HostTensor, 3> model_qkv(const AttendArgs& a, bool* causal) {
  FMAV_CHECK(a.q.empty() && a.k.empty() && a.v.empty(), "attend: give --model or --q --k --v, not both");
  FMAV_CHECK(fmav::is_hf_model_folder(a.model), "attend: ", a.model, " is not a Hugging Face model folder ",
             "(config.json with a model_type); --model here reads those");
  const fmav::HfModel model = fmav::HfModel::load(a.model);
  const fmav::HfConfig& c = model.config();
  FMAV_CHECK(a.layer >= 0 && a.layer < c.layers, "attend: --layer ", a.layer, " is not in [0, ", c.layers, ") of ",
             a.model);
  FMAV_CHECK(a.head >= -1 && a.head < c.heads, "attend: --head ", a.head, " is not in [0, ", c.heads, ") of ",
             a.model);
  FMAV_CHECK(model.causal() || !a.causal, "attend: ", a.model, " is a ", c.model_type,
             " model, whose attention is bidirectional; --causal does not apply");
  *causal = model.causal();
  const bool image = model.kind() == fmav::HfKind::image_classifier;
  FMAV_CHECK(!image || (a.ids.empty() && !a.input.empty()), "attend: ", a.model, " is an image classifier (",
             c.model_type, "): give an image with --input");
  fmav::HfForward f;
  int at = 0;  // the layer's index in f
  if (image) {
    f = model.forward_image(fmav::read_image(a.input), true);
    at = a.layer;
  } else {
    const std::vector<std::int64_t> ids = fmav::hf_input_ids(a.model, a.ids, a.input, c.max_positions);
    model.check_window_covers(static_cast<std::int64_t>(ids.size()), "attend: " + a.model + ": ");
    f = model.layer_qkv(ids, {a.layer});
  }
  std::array<fmav::HostTensor, 3> out = {std::move(f.q[at]), std::move(f.k[at]), std::move(f.v[at])};
  for (int i = 0; i < 3; ++i) {
    check_finite_input(out[i], std::string("layer ") + std::to_string(a.layer) + " " + "qkv"[i] + " of " + a.model);
  }
  if (a.head >= 0) {  // one head: (1, N, D), copied out of the (H, N, D) float32 tensors
    for (fmav::HostTensor& t : out) {
      const std::int64_t n = t.shape[1], d = t.shape[2];
      fmav::HostTensor one = fmav::make_host_tensor(fmav::DType::f32, {1, n, d});
      std::copy(t.f32() + a.head * n * d, t.f32() + (a.head + 1) * n * d, one.f32());
      t = std::move(one);
    }
  }
  return out;
}

int run_attend(const AttendArgs& a) {
  const bool from_model = !a.model.empty();
  FMAV_CHECK(from_model || (!a.q.empty() && !a.k.empty() && !a.v.empty()), "attend: give --q, --k and --v, or a ",
             "Hugging Face --model");
  FMAV_CHECK(from_model || (a.input.empty() && a.ids.empty() && a.layer == 0 && a.head == -1), "attend: --input, ",
             "--ids, --layer and --head are for a Hugging Face --model");
  std::array<fmav::HostTensor, 3> qkv;
  bool model_causal = false;
  if (from_model) {
    qkv = model_qkv(a, &model_causal);
  } else {
    qkv = {read_input(a.q, "q"), read_input(a.k, "k"), read_input(a.v, "v")};
  }
  const fmav::HostTensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  fmav::AttendOptions options;
  fmav::parse_method(a.method, a.grid, &options);
  options.impl = fmav::parse_impl(a.impl);
  options.device = fmav::parse_device(a.device);
  options.fma.block_size = a.block;
  options.fma.rank = a.rank;
  options.fma.causal = from_model ? model_causal : a.causal;  // the model's own q, k, v as it attends
  options.fma.downsample = fmav::parse_downsample(a.downsample);
  options.fma.count_multiplicity = !a.no_multiplicity;
  options.peer = peer_options(a.peer);
  FMAV_CHECK(a.level_map_out.empty() || options.method != fmav::Method::full,
             "--level-map-out needs a method with levels (any but full)");
  check_before_work(a, q, options);
  fmav::WeightSet weights;
  if (options.method == fmav::Method::fma && options.fma.downsample != fmav::Downsample::average) {
    if (!a.weights.empty()) {
      weights = fmav::read_safetensors(a.weights);
      for (const auto& [name, w] : weights) check_finite_input(w, "weight \"" + name + "\" (" + a.weights + ")");
    } else {
      const std::int64_t n = q.shape[q.shape.size() - 2], d = q.shape.back();
      const int levels = fmav::num_levels(options.fma, n);
      weights = fmav::random_downsample_weights(options.fma, d, levels, a.seed);
    }
  }
  const fmav::HostTensor out = fmav::attend(q, k, v, options, weights);
  Maps maps;
  if (!a.map_out.empty() || !a.level_map_out.empty()) {
    // Full attention's map comes from the same inspection; its FMA side then needs no weights.
    fmav::AttendOptions map_options = options;
    if (options.method == fmav::Method::full) {
      map_options.method = fmav::Method::fma;
      map_options.fma.downsample = fmav::Downsample::average, map_options.fma.rank = 1;
    }
    maps = compute_maps(a, q, k, v, map_options, weights);
  }
  // Written only once everything is computed, and all or none.
  OutputSet files;
  if (!weights.empty()) files.write(a.save_weights, [&] { fmav::write_safetensors(a.save_weights, weights); });
  files.write(a.out, [&] { fmav::write_tensor_file(a.out, out, "out"); });
  files.write(a.map_out, [&] { fmav::write_tensor_file(a.map_out, maps.map, "map"); });
  files.write(a.level_map_out, [&] { fmav::write_tensor_file(a.level_map_out, maps.levels, "level_map"); });
  files.commit();
  return 0;
}

}  // namespace

std::function<int()> add_attend(CLI::App& app) {
  auto args = std::make_shared<AttendArgs>();
  add_attend_options(app, *args);
  return [args] { return run_attend(*args); };
}

}  // namespace fmav::cli
