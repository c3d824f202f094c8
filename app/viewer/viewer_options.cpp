// fma-viewer's command line (viewer_options.h).

#include "viewer_options.h"
#include "hf_source.h"
#include "limit_options.h"
#include "shared.h"
#include "viewer_device.h"
#include "viewer_files.h"

#include "fmav/error.h"
#include "fmav/model.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

namespace fmav::viewer {

void parse_size(Options& options) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(options.size.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x' ||
      w < 200 || h < 200 || w > 16384 || h > 16384) {
    throw CLI::ValidationError(
        "--size", "expected WxH with 200 <= W, H <= 16384, got '" + options.size + "'");
  }
  options.width = w;
  options.height = h;
}

void add_options(CLI::App& app, Options& options) {
  app.add_option("--model", options.model, "model folder (default: the shipped assets/models/lm-fma), or a Hugging Face\n"
                 "causal-LM folder (config.json, model.safetensors, tokenizer.json)");
  app.add_option("--input", options.input, "text file or image for the model (default: assets/sample.txt); a Hugging\n"
                 "Face model also reads token ids from a .npy");
  app.add_option("--mask", options.mask, "a segmenter's ground truth for --input: an 8-bit grey label PNG of the\n"
                 "image's size (default: annotations/<split>/X.png for images/<split>/X.*, the ADE20K layout)");
  app.add_option("--layer", options.layer, "layer shown first (a segmenter: its blocks over all stages)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--head", options.head, "head shown first")->check(CLI::NonNegativeNumber);
  app.add_option("--offset", options.offset, "text input: first byte of the model's window (a Hugging Face model: first token)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--synthetic", options.synthetic,
               "start on the synthetic input (sample_qkv) with the settings below instead of a model");
  app.add_option("--n", options.n, "synthetic input: tokens")
      ->check(CLI::Range(std::int64_t{1}, kMaxTokens))
      ->capture_default_str();
  app.add_option("--block", options.block_size, "base cell size r (the paper's v4; FMA's finest block, a peer's block)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rank", options.rank, "coarse rank p (summaries per group)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--causal", options.causal, "causal interaction lists");
  app.add_option("--method", options.method,
                 "synthetic and q/k/v input: fma | htransformer | linear | reformer | local | swin (the peers'\n"
                 "block is --block; swin lays the tokens on the most square grid); a peer without --qkv\n"
                 "starts on the synthetic input")
      ->check(CLI::IsMember({"fma", "htransformer", "linear", "reformer", "local", "swin"}))
      ->capture_default_str();
  app.add_option("--hash-rounds", options.hash_rounds, "reformer: hashing rounds")->check(CLI::Range(1, 8));
  app.add_flag("--shifted", options.shifted, "swin: windows shifted by half a window");
  app.add_option("--downsample", options.downsample, "coarse down-sampling")
      ->check(CLI::IsMember({"learned", "average", "dense"}))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the input and random weights")
      ->capture_default_str();
  app.add_option("--colormap", options.colormap, "probability colours: standard | magma | gray")
      ->check(CLI::IsMember({"standard", "magma", "gray"}));
  app.add_option("--log-floor", options.log_floor, "log10 scale: the smallest probability shown is 10^floor")
      ->check(CLI::Range(-12, -1));
  app.add_option("--impl", options.impl, "fast-path check: FMA implementation timed against SDPA")
      ->check(CLI::IsMember({"auto", "fused", "composed", "blocked", "reference"}));
  app.add_option("--precision", options.precision, "fast-path check: float32 | float64")
      ->check(CLI::IsMember({"float32", "float64"}));
  add_viewer_device_option(app, &options.device);
  app.add_option("--zoom", options.zoom, "initial zoom of the maps: rows r0:r1 and keys c0:c1, as r0:r1,c0:c1");
  app.add_option("--view", options.view, "tab shown first: attention | query | heads | sweep | scaling")
      ->check(CLI::IsMember({"attention", "query", "heads", "sweep", "scaling"}));
  app.add_option("--sweep", options.sweep,
                 "open an `fmav sweep` results file (.jsonl) in the sweep view (shown first unless --view)");
  app.add_option("--bench", options.bench,
                 "open an `fmav bench --jsonl` results file in the scaling view (shown first unless --view)");
  app.add_option("--session", options.session,
                 "open a session file exactly (source, layer, head, offset, view, query, colours, zoom, "
                 "fast path)")
      ->excludes("--model", "--input", "--layer", "--head", "--offset", "--synthetic", "--view",
                 "--colormap", "--log-floor", "--zoom", "--impl", "--precision", "--method");
  app.add_option("--qkv", options.qkv,
                 "start on raw q, k, v, compared under --block --rank --causal --downsample --seed:\n"
                 "a .safetensors holding q, k and v, or one of q.npy, k.npy, v.npy side by side\n"
                 "(also <prefix>_q.npy, ...)")
      ->excludes("--model", "--input", "--layer", "--offset", "--synthetic", "--n", "--session");
  app.add_flag("--open-dialog", options.open_dialog, "start with the File > Open dialog shown");
  app.add_flag("--log", options.log, "print a line when the viewer becomes busy or idle (what it shows), when "
               "the tab changes, and for each status message and error, on stdout");
  app.add_option("--screenshot", options.screenshot,
                 "render, write the window to this PNG and exit");
  app.add_option("--bench-frames", options.bench_frames,
                 "time this many frames idle and as many while the engine recomputes; print statistics")
      ->check(CLI::Range(1, 100000));
  app.add_option("--frames", options.frames, "frames to render before the screenshot")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--size", options.size, "window size WxH")->capture_default_str();
  fmav::app::add_limit_options(app, &options.limits);
}

void parse_zoom(const std::string& text, std::array<double, 4>* zoom) {
  double r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  char extra = 0;
  FMAV_CHECK(std::sscanf(text.c_str(), "%lf:%lf,%lf:%lf%c", &r0, &r1, &c0, &c1, &extra) == 4 && r0 >= 0 &&
                 r1 > r0 && c0 >= 0 && c1 > c0,
             "--zoom must be r0:r1,c0:c1 with r0 < r1 and c0 < c1 (token indices), got '", text, "'");
  *zoom = {r0, r1, c0, c1};
}

MapParams to_params(const Options& options, Shared& shared) {
  MapParams params;
  // The shipped model and the sample it reads unless told otherwise; without assets, synthetic.
  shared.model_path = !options.model.empty() ? options.model : default_model_path();
  shared.input_path = !options.input.empty() ? options.input : default_input_for(shared.model_path);
  const bool have_model = !options.model.empty() || std::filesystem::exists(shared.model_path);
  if (!have_model) shared.model_path.clear(), shared.input_path.clear();
  // A peer is shown on the synthetic input or a q/k/v file; a model shows its own attention.
  // A Hugging Face model is compared under any method (its own attention is full).
  if (have_model && !options.synthetic && (options.method == "fma" || is_hf_folder(shared.model_path))) {
    params.model = shared.model_path, params.input = shared.input_path;
    params.layer = options.layer, params.head = options.head, params.offset = options.offset;
    params.mask = options.mask;
  }
  params.n = options.n;
  params.block_size = options.block_size;
  params.rank = options.rank;
  params.causal = options.causal;
  params.downsample = parse_downsample(options.downsample);
  params.method = parse_fma_or_peer(options.method);
  params.hash_rounds = options.hash_rounds, params.shifted = options.shifted;
  params.seed = options.seed;
  params.device = viewer_device(options.device);
  return params;
}

}  // namespace fmav::viewer
