#pragma once
// What fma-viewer opens and writes (docs/DESIGN.md §1, §5): model folders, input files, raw
// q/k/v files and session files, from the Open dialog, the recent list, a drop on the window,
// --qkv or --session; exports of the window, the maps and the session; and the settings
// (recent files, last folder). No ImGui here: the File menu and dialog are panel_files.h.

#include "fmav/session.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

struct FilesPanel;
struct PlotState;
struct ScalingPanel;
struct Shared;
struct SweepPanel;

// What a path is to the viewer, from the file system and the extension only (cheap enough
// for every entry of a folder listing).
enum class PathKind {
  missing,  // nothing there
  folder,   // a folder without config.json
  model,    // a folder holding config.json, or its config.json / model.safetensors
  session,  // another .json file
  tensors,  // .npy, .safetensors (raw q, k, v)
  image,    // .png, .jpg, .jpeg, .bmp
  results,  // .jsonl: an `fmav sweep` or `fmav bench` results file (else read as text)
  text,     // any other file
};
PathKind classify_path(const std::string& path);

// What opening a path may change besides the shared source and view: the recent files, and
// the sweep or scaling view a results file opens in.
struct OpenTargets {
  FilesPanel& files;
  SweepPanel& sweep;
  ScalingPanel& scaling;
};

// Loads the settings file; a corrupt one is reported, left alone and not overwritten.
void load_viewer_settings(Shared& shared, FilesPanel& files);
// Saves the settings unless the file was corrupt; a failure is reported, never thrown.
void save_viewer_settings(Shared& shared, FilesPanel& files);

// Opens a model (its folder, config.json or model.safetensors), a session file, a text or
// image input for the current model, raw q, k, v (a .safetensors or .npy; qkv_source.h), or
// a sweep or benchmark results file (.jsonl, by its first line; shown in its view),
// and records it first in the recent files. Returns "" on success, else why not (the state
// is then unchanged). Never throws.
std::string open_path(Shared& shared, const OpenTargets& to, const std::string& path);
// The shipped sample a model reads when no input is given: sample.txt for the LMs (and text
// Hugging Face models), sample.png for the image models; sample.txt when the model cannot
// be read (loading it then says why).
std::string default_input_for(const std::string& model);
// Makes raw q, k, v at `path` the source (head 0, the FMA settings kept); reads and checks
// them first. Throws fmav::Error naming the file (state unchanged).
void open_qkv(Shared& shared, const std::string& path);
// Opens paths dropped on the window, models before inputs (a model and its input dropped
// together); errors go to report_error.
void open_dropped(Shared& shared, const OpenTargets& to, const std::vector<std::string>& paths);

// What the viewer shows, as a session (absolute paths).
Session current_session(const Shared& shared);
// Shows a session: source, layer, head, offset, view, query row, colour scale, colormap and
// log10 floor. Throws fmav::Error (state unchanged) for a synthetic n over the viewer's
// kMaxTokens or a q/k/v file load_qkv refuses.
void apply_session(Shared& shared, const Session& session);

// The four maps' colours as PNGs, <prefix>_full.png, _fma.png, _diff.png, _level.png;
// returns what was written. Throws fmav::Error when no maps are shown or a write fails.
std::string export_map_pngs(const Shared& shared, const std::string& prefix);
// The maps' numbers as .npy: <prefix>_full.npy, _fma.npy (float64, rows x cols) and
// _level.npy (int32: 0 near field, l coarse level, -1 masked). Throws like export_map_pngs.
std::string export_map_npys(const Shared& shared, const std::string& prefix);

// Exports the plot drawn with `view` as a PNG at `path`, cut from the window after the next
// frame (the plot as it is on screen).
void request_plot_png(Shared& shared, const std::string& path, const PlotState& view);
// Writes the requested plot PNGs after a frame is rendered; the status bar says what was
// written (viewer_main.cpp calls it with the window's pixels).
void write_plot_pngs(Shared& shared, int width, int height, const std::vector<std::uint8_t>& rgba);

}  // namespace fmav::viewer
