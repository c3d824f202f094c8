#pragma once
// What fma-viewer opens and writes (docs/DESIGN.md §1, §5): model folders, input files, raw
// q/k/v files and session files, from the Open dialog, the recent list, a drop on the window,
// --qkv or --session; exports of the window, the maps and the session; and the settings
// (recent files, last folder). The File menu and the dialog (panel_files.cpp) and their state.

#include "fmav/session.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

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

// What the file dialog is for.
enum class BrowseMode { open, save_session, export_window, export_maps_png, export_maps_npy };
// Which files the dialog lists (folders are always listed, to walk through).
enum class FileFilter { all, models, text, images, tensors };

struct FileEntry {
  std::string name;
  PathKind kind = PathKind::text;
};

// The dialog's state, the settings file's contents, and what File > Quit and a window
// export leave for the frame loop (viewer_main.cpp).
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
  bool quit = false;  // File > Quit
};

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

// ---- panel_files.cpp ----
// The File menu (call between ImGui::BeginMenuBar and EndMenuBar).
void draw_file_menu(Shared& shared, const OpenTargets& to);
// The Open / Save / Export dialog (call once a frame, inside the main window).
void draw_file_dialog(Shared& shared, const OpenTargets& to);
// Opens the dialog in `mode` on the next frame.
void request_file_dialog(const Shared& shared, FilesPanel& files, BrowseMode mode);

}  // namespace fmav::viewer
