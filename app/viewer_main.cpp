// fma-viewer: the desktop GUI (DESIGN.md §1). It shows where the engine runs and FMA next to
// full attention (§2) for a model's layer and head on an input — by default the shipped
// model on the shipped sample text — or on the synthetic input.

#include "platform_glfw.h"
#include "viewer_state.h"

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/model.h"

#include <CLI/CLI.hpp>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <string>

namespace fmav::viewer {

const char* to_string(View view) {
  switch (view) {
    case View::attention: return "attention";
    case View::query: return "query";
    case View::heads: return "heads";
  }
  return "?";
}

bool parse_view(const std::string& name, View* view) {
  for (View v : {View::attention, View::query, View::heads}) {
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
  std::string view = "attention";
  std::int64_t n = 512;
  std::int64_t block_size = 32;
  std::int64_t rank = 4;
  bool causal = false;
  std::string downsample = "average";
  std::uint64_t seed = 0;
  std::string screenshot;  // PNG path; empty = interactive
  int frames = 5;
  std::string size = "1400x900";
  int width = 1400, height = 900;
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
  app.add_option("--downsample", options.downsample, "coarse down-sampling")
      ->check(CLI::IsMember({"learned", "average", "dense"}))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the input and random weights")
      ->capture_default_str();
  app.add_option("--view", options.view, "tab shown first: attention | query | heads")
      ->check(CLI::IsMember({"attention", "query", "heads"}));
  app.add_option("--screenshot", options.screenshot,
                 "render, write the window to this PNG and exit");
  app.add_option("--frames", options.frames, "frames to render before the screenshot")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--size", options.size, "window size WxH")->capture_default_str();
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
  if (!ImGui::BeginTabBar("views")) return;
  for (View view : {View::attention, View::query, View::heads}) {
    const ImGuiTabItemFlags flags = *select && state.view == view ? ImGuiTabItemFlags_SetSelected : 0;
    const char* label = view == View::attention ? "Attention" : view == View::query ? "Query" : "Heads";
    if (ImGui::BeginTabItem(label, nullptr, flags)) {
      if (!*select) state.view = view;
      ImGui::BeginChild("view", ImVec2(0, 0), false, ImGuiWindowFlags_NoScrollbar);
      if (view == View::attention) draw_map_views(state);
      if (view == View::query) draw_query_view(state);
      if (view == View::heads) draw_heads_view(state);
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
                                 ImGuiWindowFlags_NoBringToFrontOnFocus;
  ImGui::Begin("fma-viewer", nullptr, flags);
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
  draw_error_popup(state);
  ImGui::End();
}

int write_screenshot(Platform& platform, const std::string& path) {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgba;
  platform_read_pixels(platform, &width, &height, &rgba);
  if (!stbi_write_png(path.c_str(), width, height, 4, rgba.data(), width * 4)) {
    std::fprintf(stderr, "fma-viewer: cannot write screenshot '%s'\n", path.c_str());
    return 1;
  }
  std::printf("fma-viewer: wrote %dx%d screenshot to %s\n", width, height, path.c_str());
  return 0;
}

// Runs frames until the window closes, or (screenshot) until the maps are computed and
// `frames` more frames are drawn; then writes the PNG. Returns the exit code.
int run_loop(Platform& platform, ViewerState& state, const Options& options) {
  const bool screenshot = !options.screenshot.empty();
  const auto start = std::chrono::steady_clock::now();
  int frames_ready = 0;
  bool select_view = true;  // show the --view tab on the first frame
  while (!platform_should_close(platform)) {
    // Wake often while the worker runs so its result shows promptly; idle otherwise.
    platform_poll(screenshot ? 0.0 : (maps_busy(state) ? 0.03 : 0.25));
    update_maps(state);
    platform_begin_frame();
    draw_frame(state, &select_view);
    platform_render(platform);
    if (screenshot) {
      frames_ready = maps_busy(state) ? 0 : frames_ready + 1;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (frames_ready >= options.frames || elapsed > kScreenshotTimeoutSeconds) {
        const int code = write_screenshot(platform, options.screenshot);
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
  if (have_model && !options.synthetic) {
    params.model = state.model_path, params.input = state.input_path;
    params.layer = options.layer, params.head = options.head, params.offset = options.offset;
  }
  params.n = options.n;
  params.block_size = options.block_size;
  params.rank = options.rank;
  params.causal = options.causal;
  params.downsample = parse_downsample(options.downsample);
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
    fmav::init_engine();
    state.device = fmav::device_info();
    state.params = to_params(options, state);
    parse_view(options.view, &state.view);
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
  const int code = run_loop(platform, state, options);
  release_maps(state);
  platform_close(platform);
  return code;
}
