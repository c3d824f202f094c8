#pragma once
// fma-viewer's command line: the options, their parsing, and the source and settings they
// choose at start (viewer_main.cpp applies them).

#include "limit_options.h"
#include "map_params.h"

#include <CLI/CLI.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace fmav::viewer {

struct Shared;

struct Options {
  std::string model, input;  // default: the shipped model and sample text
  int layer = 0, head = 0;
  std::int64_t offset = 0;
  bool synthetic = false;
  std::string qkv;  // raw q, k, v (qkv_source.h)
  std::string mask;  // a segmenter's ground truth for --input (segment_view.h)
  std::string view = "attention";
  std::string zoom;  // rows and keys, r0:r1,c0:c1
  std::string colormap = "standard";
  int log_floor = -6;
  std::string impl = "auto";       // the fast-path check's implementation
  std::string precision = "float32";
  std::string device = "cpu";  // the model's forward and the maps (viewer_device.h)
  std::int64_t n = 512;
  std::int64_t block_size = 32;
  std::int64_t rank = 4;
  bool causal = false;
  std::string downsample = "average";
  std::string method = "fma";  // synthetic and q/k/v: fma or a peer
  int hash_rounds = 2;
  bool shifted = false;
  std::uint64_t seed = 0;
  std::string session;     // a session file to open (fmav/session.h)
  std::string sweep;       // a sweep results file to show (fmav/sweep.h)
  std::string bench;       // a scaling benchmark's results file to show (fmav/bench.h)
  bool open_dialog = false;  // start with the Open dialog shown
  bool log = false;          // print what happens (idle, status, errors) on stdout
  std::string screenshot;  // PNG path; empty = interactive
  int frames = 5;
  int bench_frames = 0;  // > 0: time this many frames, print statistics, exit
  std::string size = "1400x900";
  int width = 1400, height = 900;
  fmav::app::LimitArgs limits;  // the readers' limits (docs/HARDENING.md)
};

// Adds fma-viewer's flags to `app`, storing into `options`.
void add_options(CLI::App& app, Options& options);
// Parses --size "WxH" into options.width, height; throws CLI::ValidationError naming --size.
void parse_size(Options& options);
// "r0:r1,c0:c1" into the initial zoom; throws fmav::Error naming --zoom.
void parse_zoom(const std::string& text, std::array<double, 4>* zoom);
// The source and settings the options choose, and the loaded model and input in `shared`
// (the shipped model and sample text unless told otherwise; without assets, synthetic).
// Throws fmav::Error for --device cuda where no device can run (viewer_device).
MapParams to_params(const Options& options, Shared& shared);

}  // namespace fmav::viewer
