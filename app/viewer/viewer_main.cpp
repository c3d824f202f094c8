// fma-viewer: the desktop GUI (docs/DESIGN.md §1). It shows where the engine runs and FMA next
// to full attention (§2) for a model's layer and head on an input — by default the shipped
// model on the shipped sample text — on raw q, k, v from a file, or on the synthetic input.
// This file composes the viewer: it owns the shared state and each panel's, and draws them.

#include "frame_bench.h"
#include "limit_options.h"
#include "maps_header.h"
#include "maps_worker.h"
#include "omp_wait.h"
#include "panel_engine.h"
#include "panel_files.h"
#include "panel_heads.h"
#include "panel_maps.h"
#include "panel_query.h"
#include "panel_scaling.h"
#include "panel_status.h"
#include "panel_sweep.h"
#include "platform_glfw.h"
#include "segment_view.h"
#include "shared.h"
#include "viewer_files.h"
#include "viewer_options.h"

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
#include <cstdlib>
#include <string>
#include <thread>

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

// Everything the viewer holds: what the panels share and each panel's own state.
struct Viewer {
  DeviceInfo device;
  Shared shared;
  MapsPanel maps;
  QueryPanel query;
  HeadsPanel heads;
  SweepPanel sweep;
  ScalingPanel scaling;
  FilesPanel files;
};

OpenTargets open_targets(Viewer& viewer) { return {viewer.files, viewer.sweep, viewer.scaling}; }

// Whether any worker runs or is about to: the maps, a tile, the fast-path check, the heads
// overview, a sweep or a benchmark.
bool busy(const Viewer& viewer) {
  const Shared& shared = viewer.shared;
  return maps_busy(shared) || tile_busy(shared) || check_busy(shared) || heads_busy(shared, viewer.heads) ||
         sweep_busy(viewer.sweep) || scaling_busy(viewer.scaling);
}

constexpr int kExitNoDisplay = 2;
constexpr double kScreenshotTimeoutSeconds = 300;
// The longest an idle viewer (no input, no worker) sleeps between frames.
constexpr double kIdleWaitSeconds = 5.0;
constexpr float kSidebarWidth = 330;

void print_no_display(const std::string& reason) {
  std::fprintf(stderr,
               "fma-viewer: no display to open a window on (%s).\n"
               "Run it under a virtual X display, for example:\n"
               "  xvfb-run -a -s \"-screen 0 1600x1000x24\" build/bin/fma-viewer\n"
               "or use the command-line tool build/bin/fmav.\n",
               reason.c_str());
}

// The tab bar over the main area; `select` forces a tab once (the --view option).
void draw_views(Viewer& viewer, bool* select) {
  Shared& shared = viewer.shared;
  if (shared.view_requested) *select = true, shared.view_requested = false;  // a click asked for a tab
  if (!ImGui::BeginTabBar("views")) return;
  for (View view : kViews) {
    const ImGuiTabItemFlags flags = *select && shared.view == view ? ImGuiTabItemFlags_SetSelected : 0;
    const char* label = view == View::attention ? "Attention"
                        : view == View::query   ? "Query"
                        : view == View::heads   ? "Heads"
                        : view == View::sweep   ? "Sweep"
                                                : "Scaling";
    if (ImGui::BeginTabItem(label, nullptr, flags)) {
      if (!*select) shared.view = view;
      ImGui::BeginChild("view", ImVec2(0, 0), false, ImGuiWindowFlags_NoScrollbar);
      if (view == View::attention) draw_map_views(shared, viewer.maps);
      if (view == View::query) draw_query_view(shared, viewer.query);
      if (view == View::heads) draw_heads_view(shared, viewer.heads);
      if (view == View::sweep) draw_sweep_view(shared, viewer.sweep);
      if (view == View::scaling) draw_scaling_view(shared, viewer.scaling);
      ImGui::EndChild();
      ImGui::EndTabItem();
    }
  }
  *select = false;
  ImGui::EndTabBar();
}

void draw_frame(Viewer& viewer, bool* select_view) {
  Shared& shared = viewer.shared;
  upload_arrived_maps(shared, viewer.maps);  // one map a frame, whichever tab is open
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_MenuBar;
  ImGui::Begin("fma-viewer", nullptr, flags);
  if (ImGui::BeginMenuBar()) {
    draw_file_menu(shared, open_targets(viewer));
    ImGui::EndMenuBar();
  }
  const float status_height = ImGui::GetFrameHeightWithSpacing() + 4;
  ImGui::BeginChild("sidebar", ImVec2(kSidebarWidth, -status_height), true);
  draw_engine_panel(viewer.device, shared);
  ImGui::Spacing();
  ImGui::Spacing();
  draw_map_controls(shared, viewer.maps);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("main", ImVec2(0, -status_height), false, ImGuiWindowFlags_NoScrollbar);
  draw_views(viewer, select_view);
  ImGui::EndChild();
  ImGui::Separator();
  draw_status_bar(shared, viewer.device);
  // Escape cancels the engine's run, unless a dialog or popup takes it.
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false) &&
      !ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId)) {
    cancel_maps(shared);
  }
  draw_error_popup(shared);
  draw_file_dialog(shared, open_targets(viewer));
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
std::string summary(const Shared& shared) {
  char text[512];
  std::string out = std::string("view ") + to_string(shared.view);
  const MapJob& shown = shared.maps.shown;
  const Inspection* in = shown.inspection.get();
  if (in == nullptr) {
    return out + "; no maps" + (shown.error.empty() ? "" : " (engine error)") + "; header " + settings_line(shown);
  }
  std::snprintf(text, sizeof(text), "; maps of %lld tokens as %lld x %lld", static_cast<long long>(shown.tokens),
                static_cast<long long>(in->rows), static_cast<long long>(in->cols));
  out += text;
  if (in->pool > 1) {
    std::snprintf(text, sizeof(text), " (means of %lld x %lld blocks)", static_cast<long long>(in->pool),
                  static_cast<long long>(in->pool));
    out += text;
  }
  const MapTile& t = shared.maps.tile;
  if (t.of == shown.inspection && t.inspection) {
    std::snprintf(text, sizeof(text), ", exact tile of rows %lld-%lld, keys %lld-%lld", static_cast<long long>(t.r0),
                  static_cast<long long>(t.r1), static_cast<long long>(t.c0), static_cast<long long>(t.c1));
    out += text;
  }
  const MapViewport& v = shared.viewport;
  if (v.zoomed()) {
    std::snprintf(text, sizeof(text), "; view of rows %.0f-%.0f, keys %.0f-%.0f", v.y0, v.y1, v.x0, v.x1);
    out += text;
  }
  if (shared.query_row >= 0) out += "; query " + std::to_string(shared.query_row);
  if (shown.segments) {  // a segmenter: its masks (segment_view.h)
    const SegmentView& seg = *shown.segments;
    out += seg.truth.empty() ? std::string("; segmenter, no ground truth")
                             : "; segmenter, ground truth " + std::filesystem::path(seg.truth_path).filename().string();
  }
  if (shown.params.model_fma_override) {
    const FmaConfig& f = shown.fma;
    std::snprintf(text, sizeof(text), "; model FMA as in a sweep point: r = %lld, p = %lld, %s",
                  static_cast<long long>(f.block_size), static_cast<long long>(f.rank), to_string(f.downsample));
    out += text;
  }
  const FastPath& fast_path = shared.maps.fast_path;
  out += std::string("; method ") + to_string(shown.method);
  out += std::string("; fast path ") + to_string(fast_path.impl) + (fast_path.f64 ? " float64" : " float32");
  if (!shown.nonfinite.empty()) out += "; let through: " + shown.nonfinite;
  if (!shown.device_text.empty()) out += "; " + shown.device_text;
  // What the maps' header says the maps are (maps_header.h), and a newer run's error.
  out += "; header " + settings_line(shown);
  if (!maps_error(shared).empty()) out += " (newer settings failed)";
  if (shown.data.nonfinite_cells == 0 && shown.data.diff_max < kDiffFloor) out += "; identical within round-off";
  return out;
}

int write_screenshot(Platform& platform, const Shared& shared, const std::string& path) {
  std::string message;
  bool ok = false;
  try {  // the window's pixels need memory: under memory pressure, say so rather than abort
    ok = write_window_png(platform, path, &message);
  } catch (const std::exception& e) {
    message = "cannot write the screenshot " + path + ": " +
              (is_out_of_memory(e) ? std::string("out of memory") : std::string(e.what()));
  }
  std::fprintf(ok ? stdout : stderr, "fma-viewer: %s\n", message.c_str());
  if (ok) std::printf("fma-viewer: %s\n", summary(shared).c_str());
  return ok ? 0 : 1;
}

// --log: one line on stdout when the viewer becomes busy, when it becomes idle (what it
// shows), when the view (tab) changes, and for each new status message or error, so
// scripts (tests/gui_interact.sh) can follow an interactive run.
struct EventLog {
  bool on = false, was_busy = true;
  std::string status, error;
  View view = View::attention;
  void update(const Shared& shared, bool busy) {
    if (!on) return;
    if (shared.view != view) std::printf("fma-viewer: view %s\n", to_string(shared.view));
    view = shared.view;
    if (was_busy && !busy) std::printf("fma-viewer: idle; %s\n", summary(shared).c_str());
    if (!was_busy && busy) std::printf("fma-viewer: busy\n");
    was_busy = busy;
    if (shared.status_message != status && !shared.status_message.empty()) {
      std::printf("fma-viewer: status: %s\n", shared.status_message.c_str());
    }
    if (shared.status_error != error && !shared.status_error.empty()) {
      std::printf("fma-viewer: error: %s\n", shared.status_error.c_str());
    }
    status = shared.status_message, error = shared.status_error;
    std::fflush(stdout);
  }
  // The Sweep tab's estimate line, when it changes (gui_sweep_run checks it is redone after a run).
  std::string estimate;
  void update_estimate(const std::string& text) {
    if (!on || text == estimate) return;
    estimate = text;
    if (!text.empty()) std::printf("fma-viewer: sweep estimate: %s\n", text.c_str());
    std::fflush(stdout);
  }
};

// File > Export > Window: written once the dialog has left the back buffer; and plots
// exported as PNG, cut from the frame just rendered.
void export_window_when_ready(Platform& platform, Shared& shared, FilesPanel& files) {
  if (!shared.plot_pngs.empty()) {  // plots exported as PNG: cut from this frame
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgba;
    platform_read_pixels(platform, &width, &height, &rgba);
    write_plot_pngs(shared, width, height, rgba);
  }
  if (files.window_png_frames == 0 || --files.window_png_frames > 0) return;
  std::string message;
  if (write_window_png(platform, files.window_png, &message)) {
    shared.status_message = message;
  } else {
    report_error(shared, message);
  }
}

// Runs frames until the window closes, or (screenshot) until the maps are computed and
// `frames` more frames are drawn; then writes the PNG. Returns the exit code.
int run_loop(Platform& platform, Viewer& viewer, const Options& options) {
  Shared& shared = viewer.shared;
  const bool screenshot = !options.screenshot.empty();
  const auto start = std::chrono::steady_clock::now();
  int frames_ready = 0;
  bool select_view = true;  // show the --view tab on the first frame
  EventLog log;
  log.on = options.log;
  int eager_frames = 0;
  bool was_busy = true;
  const char* slow = std::getenv("FMAV_TEST_SLOW_FRAME_MS");
  const int slow_frame_ms = slow ? std::clamp(std::atoi(slow), 0, 2000) : 0;
  while (!platform_should_close(platform) && !viewer.files.quit) {
    // While the worker runs, wake ten times a second for its progress and result (each
    // frame on the software renderer takes CPU from the engine); input wakes at once.
    // After input, and after the last worker finishes, three frames at once: ImGui takes a
    // frame or two to open a popup, move the keyboard focus or settle a new layout, which
    // should not wait for the next event. Otherwise the idle viewer sleeps until an event
    // (kIdleWaitSeconds bounds the sleep), drawing nothing (issue 21 point 7).
    const bool working = busy(viewer);
    if (was_busy && !working) eager_frames = std::max(eager_frames, 3);
    was_busy = working;
    // A window or plot PNG waiting for its frame is drawn at once too.
    // So is a run whose maps are being uploaded, a band a frame, unless the storage thread
    // is making a texture's storage (it wakes the wait when done).
    const bool pending = viewer.files.window_png_frames > 0 || !shared.plot_pngs.empty() ||
                         (shared.maps.has_arrived && !map_storage_pending());
    const double wait = eager_frames > 0 || screenshot || pending ? 0.0 : working ? 0.1 : kIdleWaitSeconds;
    eager_frames = platform_poll(wait) ? 3 : std::max(0, eager_frames - 1);
    const std::vector<std::string> dropped = platform_take_dropped_paths();
    if (!dropped.empty()) open_dropped(shared, open_targets(viewer), dropped);
    update_maps(shared);
    platform_begin_frame();
    draw_frame(viewer, &select_view);
    platform_render(platform);
    // For the GUI tests: frames as slow as a busy machine's (gui_typing), input meanwhile.
    if (slow_frame_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_frame_ms));
    export_window_when_ready(platform, shared, viewer.files);
    const bool working_now = busy(viewer);
    log.update(shared, working_now);
    log.update_estimate(viewer.sweep.estimate);
    if (screenshot) {
      frames_ready = working_now ? 0 : frames_ready + 1;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (frames_ready >= options.frames || elapsed > kScreenshotTimeoutSeconds) {
        const int code = write_screenshot(platform, shared, options.screenshot);
        if (frames_ready < options.frames) {
          std::fprintf(stderr, "fma-viewer: engine still busy after %.0f s\n", elapsed);
          return 1;
        }
        if (!maps_error(shared).empty()) {  // the picture shows the error; say so too
          std::fprintf(stderr, "fma-viewer: engine error: %s\n", maps_error(shared).c_str());
          return 1;
        }
        return code;
      }
    }
    platform_present(platform);
  }
  return 0;
}

// The command line's source, view, colours, fast path and zoom, the settings file, and the
// files it opens (`view_given`: --view chose the tab). Throws what opening a file throws.
void apply_options(Viewer& viewer, const Options& options, bool view_given) {
  Shared& shared = viewer.shared;
  shared.params = to_params(options, shared);
  parse_view(options.view, &shared.view);
  parse_colormap(options.colormap, &shared.colors.colormap);  // CLI11 has checked the name
  shared.colors.log_floor = options.log_floor;
  shared.maps.fast_path.impl = fmav::parse_impl(options.impl);
  shared.maps.fast_path.f64 = options.precision == "float64";
  if (!options.zoom.empty()) parse_zoom(options.zoom, &shared.initial_zoom);
  load_viewer_settings(shared, viewer.files);
  if (!options.qkv.empty()) {
    open_qkv(shared, options.qkv);
    shared.params.head = options.head;  // the worker keeps it under the file's H
  }
  if (!options.session.empty()) apply_session(shared, fmav::load_session(options.session));
  if (!options.bench.empty()) {
    open_bench_file(viewer.scaling, options.bench);
    if (!view_given) shared.view = View::scaling;
  }
  if (!options.sweep.empty()) {
    open_sweep_file(viewer.sweep, options.sweep);
    if (!view_given) shared.view = View::sweep;
  }
  if (options.open_dialog) request_file_dialog(shared, viewer.files, BrowseMode::open);
}

// Stops the workers and frees the GL objects (at exit, with the GL context alive).
void release(Viewer& viewer) {
  release_maps(viewer.shared);
  release_map_textures(viewer.maps);
  release_heads(viewer.heads);
  release_sweep(viewer.sweep);
  release_scaling(viewer.scaling);
  release_query(viewer.query);
  map_shading_release();
}

}  // namespace
}  // namespace fmav::viewer

int main(int argc, char** argv) {
  fmav::app::use_passive_omp_wait(argv);
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

  Viewer viewer;
  try {
    fmav::app::apply_limits(options.limits);
    fmav::init_engine();
    viewer.device = fmav::device_info();
    apply_options(viewer, options, !app.get_option("--view")->empty());
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
  Shared& shared = viewer.shared;
  bool select_view = true;
  const int code = options.bench_frames > 0
                       ? run_bench_frames(
                             platform, shared, options.bench_frames,
                             FrameFn{[&] {
                                       platform_poll(0.0);
                                       update_maps(shared);
                                       platform_begin_frame();
                                       draw_frame(viewer, &select_view);
                                     },
                                     [&] { platform_render(platform); }},
                             [&] { return busy(viewer); })
                       : run_loop(platform, viewer, options);
  release(viewer);
  platform_close(platform);
  return code;
}
