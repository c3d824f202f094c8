#pragma once
// The File menu and the Open / Save / Export dialog (panel_files.cpp): the dialog's state, the
// settings it keeps (recent files, last folder) and a window export waiting for a frame.

#include "viewer_files.h"

#include "fmav/session.h"

#include <cstddef>
#include <string>
#include <vector>

namespace fmav::viewer {

struct Shared;

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

// The File menu (call between ImGui::BeginMenuBar and EndMenuBar).
void draw_file_menu(Shared& shared, const OpenTargets& to);
// The Open / Save / Export dialog (call once a frame, inside the main window).
void draw_file_dialog(Shared& shared, const OpenTargets& to);
// Opens the dialog in `mode` on the next frame.
void request_file_dialog(const Shared& shared, FilesPanel& files, BrowseMode mode);

}  // namespace fmav::viewer
