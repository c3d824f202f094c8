#pragma once
// What several of fma-viewer's panels share: the loaded source and the settings it is shown
// under, the chosen query, the colours, the maps' zoom, the map worker and its result, the
// tab asked for and the status line. Each panel's own state is in its panel_*.h.

#include "map_colors.h"
#include "map_params.h"
#include "map_view.h"
#include "maps_worker.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

// The main area's views (tabs; `fma-viewer --view`): the four maps, the query inspector, the
// heads overview, a sweep's results (r x p grid, Pareto front) and a scaling benchmark.
enum class View { attention, query, heads, sweep, scaling };
const char* to_string(View view);      // "attention" | "query" | "heads" | "sweep" | "scaling"
bool parse_view(const std::string& name, View* view);

// A plot exported as PNG: cut from the window (framebuffer pixels x0, y0 to x1, y1, top row
// first) after the next frame is rendered (request_plot_png, viewer_files.h).
struct PlotPng {
  std::string path;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// What several panels read and change; viewer_main.cpp owns it and passes it to each panel's
// draw function with the panel's own state.
struct Shared {
  std::string model_path, input_path;  // the loaded model and input (empty: none)
  std::string qkv_path;                // the loaded q/k/v file (empty: none)
  MapParams params;             // as the controls show them; a change starts an engine run
  std::int64_t query_row = -1;  // the query chosen for the query inspector (-1: none)
  std::int64_t query_key = -1;  // the key of the map cell clicked to choose it (-1: none)
  MapColors colors;             // how every view colours probabilities
  MapViewport viewport;  // the four maps' shared zoom and pan
  // A zoom to show once the maps of the current settings are shown: rows r0, r1, columns
  // c0, c1 (--zoom, a session); r0 < 0: none, r0 = r1 = 0: the whole map.
  std::array<double, 4> initial_zoom{-1, -1, -1, -1};
  MapsWorker maps;  // the engine's runs and the shown result

  View view = View::attention;
  // A panel changed `view` (a click on a map or a head): the tab bar selects that tab on
  // the next frame and clears this (viewer_main.cpp).
  bool view_requested = false;

  std::string status_error;     // the last error, shown in the status bar until dismissed
  std::string status_message;   // what the last open, save or export did (status bar)
  bool error_popup_pending = false;  // open the error popup on the next frame
  std::vector<PlotPng> plot_pngs;    // plots exported as PNG, waiting for the next frame
};

// Records an error: the status bar shows it and a popup opens once (panel_status.cpp).
inline void report_error(Shared& shared, const std::string& message) {
  shared.status_error = message;
  shared.error_popup_pending = true;
}

}  // namespace fmav::viewer
