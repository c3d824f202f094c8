// fma-viewer: the desktop GUI (DESIGN.md §1). It shows where the engine runs and FMA next to
// full attention (§2) for a model's layer and head on an input — by default the shipped
// model on the shipped sample text — on raw q, k, v from a file, or on the synthetic input.

#include "frame_bench.h"
#include "limit_options.h"
#include "platform_glfw.h"
#include "viewer_state.h"

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/model.h"

#include <CLI/CLI.hpp>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <string>

namespace fmav::viewer {

namespace {
constexpr View kViews[] = {View::attention, View::query, View::heads, View::sweep, View::scaling};
}  // namespace

const char* to_string(View view) {
  switch (view) {
    case View::attention: return "attention";
    case View::query: return "query";
    case View::heads: return "heads";
    case View::sweep: return "sweep";
    case View::scaling: return "scaling";
  }
  return "?";
}

bool parse_view(const std::string& name, View* view) {
  for (View v : kViews) {
    if (name == to_string(v)) {
      *view = v;
      return true;
    }
  }
  return false;
}

namespace {

constexpr int kExitNoDisplay = 2;
constexpr double kScreenshotTimeoutSeconds = 300;
constexpr float kSidebarWidth = 330;

struct Options {
  std::string model, input;  // default: the shipped model and sample text
  int layer = 0, head = 0;
  std::int64_t offset = 0;
  bool synthetic = false;
  std::string qkv;  // raw q, k, v (qkv_source.h)
  std::string view = "attention";
  std::string zoom;  // rows and keys, r0:r1,c0:c1
  std::string colormap = "standard";
  int log_floor = -6;
  std::string impl = "auto";       // the fast-path check's implementation
  std::string precision = "float32";
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

// Parses "WxH"; throws CLI::ValidationError naming --size.
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
  app.add_option("--model", options.model, "model folder (default: the shipped assets/models/lm-fma)");
  app.add_option("--input", options.input, "text file or image for the model (default: assets/sample.txt)");
  app.add_option("--layer", options.layer, "layer shown first")->check(CLI::NonNegativeNumber);
  app.add_option("--head", options.head, "head shown first")->check(CLI::NonNegativeNumber);
  app.add_option("--offset", options.offset, "text input: first byte of the model's window")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--synthetic", options.synthetic,
               "start on the synthetic input (sample_qkv) with the settings below instead of a model");
  app.add_option("--n", options.n, "synthetic input: tokens")
      ->check(CLI::Range(std::int64_t{1}, kMaxTokens))
      ->capture_default_str();
  app.add_option("--block", options.block_size, "fine block size m")
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
      ->check(CLI::IsMember({"auto", "fused", "blocked", "reference"}));
  app.add_option("--precision", options.precision, "fast-path check: float32 | float64")
      ->check(CLI::IsMember({"float32", "float64"}));
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

// "r0:r1,c0:c1" into the initial zoom; throws fmav::Error naming --zoom.
void parse_zoom(const std::string& text, std::array<double, 4>* zoom) {
  double r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  char extra = 0;
  FMAV_CHECK(std::sscanf(text.c_str(), "%lf:%lf,%lf:%lf%c", &r0, &r1, &c0, &c1, &extra) == 4 && r0 >= 0 &&
                 r1 > r0 && c0 >= 0 && c1 > c0,
             "--zoom must be r0:r1,c0:c1 with r0 < r1 and c0 < c1 (token indices), got '", text, "'");
  *zoom = {r0, r1, c0, c1};
}

void print_no_display(const std::string& reason) {
  std::fprintf(stderr,
               "fma-viewer: no display to open a window on (%s).\n"
               "Run it under a virtual X display, for example:\n"
               "  xvfb-run -a -s \"-screen 0 1600x1000x24\" build/bin/fma-viewer\n"
               "or use the command-line tool build/bin/fmav.\n",
               reason.c_str());
}

// The tab bar over the main area; `select` forces a tab once (the --view option).
void draw_views(ViewerState& state, bool* select) {
  if (state.view_requested) *select = true, state.view_requested = false;  // a click asked for a tab
  if (!ImGui::BeginTabBar("views")) return;
  for (View view : kViews) {
    const ImGuiTabItemFlags flags = *select && state.view == view ? ImGuiTabItemFlags_SetSelected : 0;
    const char* label = view == View::attention ? "Attention"
                        : view == View::query   ? "Query"
                        : view == View::heads   ? "Heads"
                        : view == View::sweep   ? "Sweep"
                                                : "Scaling";
    if (ImGui::BeginTabItem(label, nullptr, flags)) {
      if (!*select) state.view = view;
      ImGui::BeginChild("view", ImVec2(0, 0), false, ImGuiWindowFlags_NoScrollbar);
      if (view == View::attention) draw_map_views(state);
      if (view == View::query) draw_query_view(state);
      if (view == View::heads) draw_heads_view(state);
      if (view == View::sweep) draw_sweep_view(state);
      if (view == View::scaling) draw_scaling_view(state);
      ImGui::EndChild();
      ImGui::EndTabItem();
    }
  }
  *select = false;
  ImGui::EndTabBar();
}

void draw_frame(ViewerState& state, bool* select_view) {
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_MenuBar;
  ImGui::Begin("fma-viewer", nullptr, flags);
  if (ImGui::BeginMenuBar()) {
    draw_file_menu(state);
    ImGui::EndMenuBar();
  }
  const float status_height = ImGui::GetFrameHeightWithSpacing() + 4;
  ImGui::BeginChild("sidebar", ImVec2(kSidebarWidth, -status_height), true);
  draw_engine_panel(state.device);
  ImGui::Spacing();
  ImGui::Spacing();
  draw_map_controls(state);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("main", ImVec2(0, -status_height), false, ImGuiWindowFlags_NoScrollbar);
  draw_views(state, select_view);
  ImGui::EndChild();
  ImGui::Separator();
  draw_status_bar(state);
  // Escape cancels the engine's run, unless a dialog or popup takes it.
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false) &&
      !ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId)) {
    cancel_maps(state);
  }
  draw_error_popup(state);
  draw_file_dialog(state);
  ImGui::End();
}

// Writes the back buffer to a PNG (--screenshot, File > Export > Window); *message says
// what was written or why not.
bool write_window_png(Platform& platform, const std::string& path, std::string* message) {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgba;
  platform_read_pixels(platform, &width, &height, &rgba);
  if (!stbi_write_png(path.c_str(), width, height, 4, rgba.data(), width * 4)) {
    *message = "cannot write the window to '" + path + "'";
    return false;
  }
  *message = "wrote " + std::to_string(width) + "x" + std::to_string(height) + " window to " + path;
  return true;
}

// What the viewer shows, in one line (after a screenshot, and with --log): the view, the
// maps' size, pooling and exact tile, the zoom, the query and the fast path.
std::string summary(const ViewerState& state) {
  char text[512];
  std::string out = std::string("view ") + to_string(state.view);
  const Inspection* in = state.shown.inspection.get();
  if (in == nullptr) return out + "; no maps" + (state.shown.error.empty() ? "" : " (engine error)");
  std::snprintf(text, sizeof(text), "; maps of %lld tokens as %lld x %lld", static_cast<long long>(state.shown.tokens),
                static_cast<long long>(in->rows), static_cast<long long>(in->cols));
  out += text;
  if (in->pool > 1) {
    std::snprintf(text, sizeof(text), " (means of %lld x %lld blocks)", static_cast<long long>(in->pool),
                  static_cast<long long>(in->pool));
    out += text;
  }
  const MapTile& t = state.tile;
  if (t.of == state.shown.inspection && t.inspection) {
    std::snprintf(text, sizeof(text), ", exact tile of rows %lld-%lld, keys %lld-%lld", static_cast<long long>(t.r0),
                  static_cast<long long>(t.r1), static_cast<long long>(t.c0), static_cast<long long>(t.c1));
    out += text;
  }
  const MapViewport& v = state.viewport;
  if (v.zoomed()) {
    std::snprintf(text, sizeof(text), "; view of rows %.0f-%.0f, keys %.0f-%.0f", v.y0, v.y1, v.x0, v.x1);
    out += text;
  }
  if (state.query_row >= 0) out += "; query " + std::to_string(state.query_row);
  if (state.shown.params.model_fma_override) {
    const FmaConfig& f = state.shown.fma;
    std::snprintf(text, sizeof(text), "; model FMA as in a sweep point: r = %lld, p = %lld, %s",
                  static_cast<long long>(f.block_size), static_cast<long long>(f.rank), to_string(f.downsample));
    out += text;
  }
  out += std::string("; method ") + to_string(state.shown.method);
  out += std::string("; fast path ") + to_string(state.fast_path.impl) + (state.fast_path.f64 ? " float64" : " float32");
  return out;
}

int write_screenshot(Platform& platform, const ViewerState& state, const std::string& path) {
  std::string message;
  bool ok = false;
  try {  // the window's pixels need memory: under memory pressure, say so rather than abort
    ok = write_window_png(platform, path, &message);
  } catch (const std::exception& e) {
    message = "cannot write the screenshot " + path + ": " +
              (is_out_of_memory(e) ? std::string("out of memory") : std::string(e.what()));
  }
  std::fprintf(ok ? stdout : stderr, "fma-viewer: %s\n", message.c_str());
  if (ok) std::printf("fma-viewer: %s\n", summary(state).c_str());
  return ok ? 0 : 1;
}

// --log: one line on stdout when the viewer becomes busy, when it becomes idle (what it
// shows), when the view (tab) changes, and for each new status message or error, so
// scripts (tests/gui_interact.sh) can follow an interactive run.
struct EventLog {
  bool on = false, was_busy = true;
  std::string status, error;
  View view = View::attention;
  void update(const ViewerState& state, bool busy) {
    if (!on) return;
    if (state.view != view) std::printf("fma-viewer: view %s\n", to_string(state.view));
    view = state.view;
    if (was_busy && !busy) std::printf("fma-viewer: idle; %s\n", summary(state).c_str());
    if (!was_busy && busy) std::printf("fma-viewer: busy\n");
    was_busy = busy;
    if (state.status_message != status && !state.status_message.empty()) {
      std::printf("fma-viewer: status: %s\n", state.status_message.c_str());
    }
    if (state.status_error != error && !state.status_error.empty()) {
      std::printf("fma-viewer: error: %s\n", state.status_error.c_str());
    }
    status = state.status_message, error = state.status_error;
    std::fflush(stdout);
  }
};

// File > Export > Window: written once the dialog has left the back buffer; and plots
// exported as PNG, cut from the frame just rendered.
void export_window_when_ready(Platform& platform, ViewerState& state) {
  FilesPanel& files = state.files;
  if (!files.plot_pngs.empty()) {  // plots exported as PNG: cut from this frame
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgba;
    platform_read_pixels(platform, &width, &height, &rgba);
    write_plot_pngs(state, width, height, rgba);
  }
  if (files.window_png_frames == 0 || --files.window_png_frames > 0) return;
  std::string message;
  if (write_window_png(platform, files.window_png, &message)) {
    state.status_message = message;
  } else {
    report_error(state, message);
  }
}

// Runs frames until the window closes, or (screenshot) until the maps are computed and
// `frames` more frames are drawn; then writes the PNG. Returns the exit code.
int run_loop(Platform& platform, ViewerState& state, const Options& options) {
  const bool screenshot = !options.screenshot.empty();
  const auto start = std::chrono::steady_clock::now();
  int frames_ready = 0;
  bool select_view = true;  // show the --view tab on the first frame
  EventLog log;
  log.on = options.log;
  int eager_frames = 0;
  while (!platform_should_close(platform) && !state.files.quit) {
    // While the worker runs, wake ten times a second for its progress and result (each
    // frame on the software renderer takes CPU from the engine); input wakes at once.
    // After input, three frames at once: ImGui takes a frame or two to open a popup or
    // move the keyboard focus, which should not wait for the next event.
    const bool busy = maps_busy(state) || tile_busy(state) || check_busy(state) || heads_busy(state) ||
                      sweep_busy(state) || scaling_busy(state);
    const double wait = eager_frames > 0 ? 0.0 : busy ? 0.1 : (screenshot ? 0.0 : 0.25);
    eager_frames = platform_poll(wait) ? 3 : std::max(0, eager_frames - 1);
    const std::vector<std::string> dropped = platform_take_dropped_paths();
    if (!dropped.empty()) open_dropped(state, dropped);
    update_maps(state);
    platform_begin_frame();
    draw_frame(state, &select_view);
    platform_render(platform);
    export_window_when_ready(platform, state);
    const bool working = maps_busy(state) || tile_busy(state) || check_busy(state) || heads_busy(state) ||
                         sweep_busy(state) || scaling_busy(state);
    log.update(state, working);
    if (screenshot) {
      frames_ready = working ? 0 : frames_ready + 1;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (frames_ready >= options.frames || elapsed > kScreenshotTimeoutSeconds) {
        const int code = write_screenshot(platform, state, options.screenshot);
        if (frames_ready < options.frames) {
          std::fprintf(stderr, "fma-viewer: engine still busy after %.0f s\n", elapsed);
          return 1;
        }
        if (!state.shown.error.empty()) {  // the picture shows the error; say so too
          std::fprintf(stderr, "fma-viewer: engine error: %s\n", state.shown.error.c_str());
          return 1;
        }
        return code;
      }
    }
    platform_present(platform);
  }
  return 0;
}

MapParams to_params(const Options& options, ViewerState& state) {
  MapParams params;
  // The shipped model and sample text unless told otherwise; without assets, synthetic.
  state.model_path = !options.model.empty() ? options.model : default_model_path();
  state.input_path = !options.input.empty() ? options.input : default_input_path();
  const bool have_model = !options.model.empty() || std::filesystem::exists(state.model_path);
  if (!have_model) state.model_path.clear(), state.input_path.clear();
  // A peer is shown on the synthetic input or a q/k/v file; a model shows its own attention.
  if (have_model && !options.synthetic && options.method == "fma") {
    params.model = state.model_path, params.input = state.input_path;
    params.layer = options.layer, params.head = options.head, params.offset = options.offset;
  }
  params.n = options.n;
  params.block_size = options.block_size;
  params.rank = options.rank;
  params.causal = options.causal;
  params.downsample = parse_downsample(options.downsample);
  params.method = parse_fma_or_peer(options.method);
  params.hash_rounds = options.hash_rounds, params.shifted = options.shifted;
  params.seed = options.seed;
  return params;
}

}  // namespace
}  // namespace fmav::viewer

int main(int argc, char** argv) {
  using namespace fmav::viewer;
  Options options;
  CLI::App app{"fma-viewer: Fast Multipole Attention next to full attention"};
  add_options(app, options);
  try {
    app.parse(argc, argv);
    parse_size(options);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  ViewerState state;
  try {
    fmav::app::apply_limits(options.limits);
    fmav::init_engine();
    state.device = fmav::device_info();
    state.params = to_params(options, state);
    parse_view(options.view, &state.view);
    parse_colormap(options.colormap, &state.colormap);  // CLI11 has checked the name
    state.log_floor = options.log_floor;
    state.fast_path.impl = fmav::parse_impl(options.impl);
    state.fast_path.f64 = options.precision == "float64";
    if (!options.zoom.empty()) parse_zoom(options.zoom, &state.initial_zoom);
    load_viewer_settings(state);
    if (!options.qkv.empty()) {
      open_qkv(state, options.qkv);
      state.params.head = options.head;  // the worker keeps it under the file's H
    }
    if (!options.session.empty()) apply_session(state, fmav::load_session(options.session));
    const bool view_given = !app.get_option("--view")->empty();
    if (!options.bench.empty()) {
      open_bench_file(state, options.bench);
      if (!view_given) state.view = View::scaling;
    }
    if (!options.sweep.empty()) {
      open_sweep_file(state, options.sweep);
      if (!view_given) state.view = View::sweep;
    }
    if (options.open_dialog) request_file_dialog(state, BrowseMode::open);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fma-viewer: %s\n", e.what());
    return 1;
  }

  Platform platform;
  std::string error;
  const OpenStatus status =
      platform_open(platform, options.width, options.height, "fma-viewer", &error);
  if (status == OpenStatus::no_display) {
    print_no_display(error);
    return kExitNoDisplay;
  }
  if (status != OpenStatus::ok) {
    std::fprintf(stderr, "fma-viewer: %s\n", error.c_str());
    return 1;
  }
  bool select_view = true;
  const int code = options.bench_frames > 0
                       ? run_bench_frames(platform, state, options.bench_frames,
                                          [&] {
                                            platform_poll(0.0);
                                            update_maps(state);
                                            platform_begin_frame();
                                            draw_frame(state, &select_view);
                                            platform_render(platform);
                                          })
                       : run_loop(platform, state, options);
  release_maps(state);
  release_heads(state);
  release_sweep(state);
  release_scaling(state);
  release_query(state);
  map_shading_release();
  platform_close(platform);
  return code;
}
