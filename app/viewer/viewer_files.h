#pragma once
// What fma-viewer opens and writes (DESIGN.md §1, §5): model folders, input files, raw q/k/v
// files and session files, from the Open dialog, the recent list, a drop on the window,
// --qkv or --session; exports of the window, the maps and the session; and the settings
// (recent files, last folder).

#include <string>
#include <vector>

#include "fmav/session.h"

namespace fmav::viewer {

struct ViewerState;

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

// What the file dialog is for.
enum class BrowseMode { open, save_session, export_window, export_maps_png, export_maps_npy };
// Which files the dialog lists (folders are always listed, to walk through).
enum class FileFilter { all, models, text, images, tensors };

struct FileEntry {
  std::string name;
  PathKind kind = PathKind::text;
};

// The file dialog (panel_files.cpp), the settings it keeps, and work waiting for a frame.
struct FilesPanel {
  Settings settings;
  bool settings_writable = true;  // false when the file was corrupt: it is left for the user
  bool dialog_requested = false;  // open the dialog (in `mode`) on the next frame
  BrowseMode mode = BrowseMode::open;
  FileFilter filter = FileFilter::all;
  std::string folder;             // the folder listed (absolute)
  std::string path_field;         // the dialog's editable path
  std::string name_field;         // save and export: the file name or prefix
  std::vector<FileEntry> entries;  // `folder`'s listing, folders first
  std::size_t hidden_entries = 0;  // entries past the listing's cap
  std::string listed_folder;       // what `entries` was listed from ("" = list again)
  FileFilter listed_filter = FileFilter::all;
  int selected = -1;               // index into entries
  std::string dialog_error;        // the last error, shown inside the dialog
  // A window export waits until the dialog is gone from the back buffer: frames to render
  // before writing window_png (0 = none waiting).
  std::string window_png;
  int window_png_frames = 0;
  // Plots exported as PNG: each cut from the window (framebuffer pixels x0, y0 to x1, y1,
  // top row first) after the next frame is rendered.
  struct PlotPng {
    std::string path;
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  };
  std::vector<PlotPng> plot_pngs;
  bool quit = false;  // File > Quit
};

// Loads the settings file; a corrupt one is reported, left alone and not overwritten.
void load_viewer_settings(ViewerState& state);
// Saves the settings unless the file was corrupt; a failure is reported, never thrown.
void save_viewer_settings(ViewerState& state);

// Opens a model (its folder, config.json or model.safetensors), a session file, a text or
// image input for the current model, raw q, k, v (a .safetensors or .npy; qkv_source.h), or
// a sweep or benchmark results file (.jsonl, by its first line; shown in its view),
// and records it first in the recent files. Returns "" on success, else why not (the state
// is then unchanged). Never throws.
std::string open_path(ViewerState& state, const std::string& path);
// Makes raw q, k, v at `path` the source (head 0, the FMA settings kept); reads and checks
// them first. Throws fmav::Error naming the file (state unchanged).
void open_qkv(ViewerState& state, const std::string& path);
// Opens paths dropped on the window, models before inputs (a model and its input dropped
// together); errors go to report_error.
void open_dropped(ViewerState& state, const std::vector<std::string>& paths);

// What the viewer shows, as a session (absolute paths).
Session current_session(const ViewerState& state);
// Shows a session: source, layer, head, offset, view, query row, colour scale, colormap and
// log10 floor. Throws fmav::Error (state unchanged) for a synthetic n over the viewer's
// kMaxTokens or a q/k/v file load_qkv refuses.
void apply_session(ViewerState& state, const Session& session);

// The four maps' colours as PNGs, <prefix>_full.png, _fma.png, _diff.png, _level.png;
// returns what was written. Throws fmav::Error when no maps are shown or a write fails.
std::string export_map_pngs(const ViewerState& state, const std::string& prefix);
// The maps' numbers as .npy: <prefix>_full.npy, _fma.npy (float64, rows x cols) and
// _level.npy (int32: 0 near field, l coarse level, -1 masked). Throws like export_map_pngs.
std::string export_map_npys(const ViewerState& state, const std::string& prefix);

// ---- panel_files.cpp ----
// The File menu (call between ImGui::BeginMenuBar and EndMenuBar).
void draw_file_menu(ViewerState& state);
// The Open / Save / Export dialog (call once a frame, inside the main window).
void draw_file_dialog(ViewerState& state);
// Opens the dialog in `mode` on the next frame.
void request_file_dialog(ViewerState& state, BrowseMode mode);

}  // namespace fmav::viewer
