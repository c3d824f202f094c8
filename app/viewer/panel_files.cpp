// The File menu and the file dialog: one modal for opening (a model folder, an input, a
// q/k/v file, a session) and for choosing where a save or an export goes. It lists one
// folder at a time, folders first, and lists it again only when the folder or the filter
// changes (a listing stats every entry).

#include "panel_files.h"
#include "data_folder.h"
#include "maps_worker.h"
#include "shared.h"
#include "viewer_files.h"

#include "fmav/error.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>

namespace fmav::viewer {
namespace fs = std::filesystem;
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);
const ImVec4 kModelColor(0.55f, 0.85f, 0.55f, 1.0f);
constexpr const char* kDialogId = "###file dialog";  // one popup whatever its title
constexpr std::size_t kMaxEntries = 5000;  // a folder of 10^6 files stays responsive

const char* title_of(BrowseMode mode) {
  switch (mode) {
    case BrowseMode::open: return "Open";
    case BrowseMode::save_session: return "Save session";
    case BrowseMode::export_window: return "Export the window as PNG";
    case BrowseMode::export_maps_png: return "Export the maps as PNG";
    case BrowseMode::export_maps_npy: return "Export the maps as .npy";
  }
  return "?";
}

const char* filter_name(FileFilter filter) {
  switch (filter) {
    case FileFilter::all: return "All files";
    case FileFilter::models: return "Models (folders with config.json)";
    case FileFilter::text: return "Text (.txt and other non-image files)";
    case FileFilter::images: return "Images (.png .jpg .jpeg .bmp)";
    case FileFilter::tensors: return "Tensors: q, k, v (.npy .safetensors)";
  }
  return "?";
}

bool passes(FileFilter filter, PathKind kind) {
  if (kind == PathKind::folder || kind == PathKind::model) return true;  // to walk through
  switch (filter) {
    case FileFilter::all: return true;
    case FileFilter::models: return false;
    case FileFilter::text: return kind == PathKind::text || kind == PathKind::session || kind == PathKind::results;
    case FileFilter::images: return kind == PathKind::image;
    case FileFilter::tensors: return kind == PathKind::tensors;
  }
  return true;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Lists files.folder (hidden entries left out) into files.entries, folders first.
void list_folder(FilesPanel& files) {
  files.entries.clear();
  files.hidden_entries = 0;
  files.selected = -1;
  files.listed_folder = files.folder;
  files.listed_filter = files.filter;
  std::error_code ec;
  for (fs::directory_iterator it(files.folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    const PathKind kind = classify_path(it->path().string());
    if (kind == PathKind::missing || !passes(files.filter, kind)) continue;  // e.g. a dead link
    if (files.entries.size() == kMaxEntries) {
      ++files.hidden_entries;
      continue;
    }
    files.entries.push_back({name, kind});
  }
  if (ec) files.dialog_error = files.folder + ": cannot list: " + ec.message();
  std::sort(files.entries.begin(), files.entries.end(), [](const FileEntry& a, const FileEntry& b) {
    const bool a_dir = a.kind == PathKind::folder || a.kind == PathKind::model;
    const bool b_dir = b.kind == PathKind::folder || b.kind == PathKind::model;
    if (a_dir != b_dir) return a_dir;
    return lower(a.name) < lower(b.name);
  });
}

void enter_folder(FilesPanel& files, const std::string& folder) {
  files.folder = fs::path(folder).lexically_normal().string();
  if (files.folder.size() > 1 && files.folder.back() == '/') files.folder.pop_back();
  files.path_field = files.mode == BrowseMode::open ? files.folder + "/" : files.folder;
  files.listed_folder.clear();
  files.dialog_error.clear();
}

std::string default_name(const MapParams& p, BrowseMode mode) {
  std::string stem = "synthetic_n" + std::to_string(p.n);
  if (!p.model.empty()) {
    stem = fs::path(p.model).filename().string() + "_l" + std::to_string(p.layer) + "_h" +
           std::to_string(p.head);
  } else if (!p.qkv.empty()) {
    stem = fs::path(p.qkv).stem().string() + "_h" + std::to_string(p.head);
  }
  switch (mode) {
    case BrowseMode::save_session: return stem + ".session.json";
    case BrowseMode::export_window: return stem + "_window.png";
    default: return stem;  // the maps' prefix
  }
}

// Writes what a save mode asks for to `target`; returns what was written.
std::string save_to(const Shared& shared, FilesPanel& files, BrowseMode mode, const std::string& target) {
  switch (mode) {
    case BrowseMode::save_session:
      save_session(target, current_session(shared));
      return "saved the session to " + target;
    case BrowseMode::export_window:  // written by the frame loop once the dialog is gone
      files.window_png = target;
      files.window_png_frames = 2;
      return "";
    case BrowseMode::export_maps_png: return export_map_pngs(shared, target);
    case BrowseMode::export_maps_npy: return export_map_npys(shared, target);
    case BrowseMode::open: break;
  }
  return "";
}

// Acts on a path: a plain folder is entered; otherwise it is opened (open mode) or written
// (save modes). Returns true when the dialog should close.
bool accept(Shared& shared, const OpenTargets& to, const std::string& path) {
  FilesPanel& files = to.files;
  const fs::path full =
      fs::path(path).is_relative() ? fs::path(files.folder) / path : fs::path(path);
  const PathKind kind = classify_path(full.string());
  if (kind == PathKind::folder || (files.mode != BrowseMode::open && kind == PathKind::model)) {
    enter_folder(files, full.string());
    return false;
  }
  std::string error;
  if (files.mode == BrowseMode::open) {
    error = open_path(shared, to, full.string());
  } else {
    try {
      const std::string message = save_to(shared, files, files.mode, full.string());
      if (!message.empty()) shared.status_message = message;
    } catch (const Error& e) {
      error = e.what();
    }
  }
  // The message stays in the open dialog (a second modal would close it) and in the
  // status bar.
  files.dialog_error = error;
  if (!error.empty()) shared.status_error = error;
  files.settings.last_folder = files.folder;
  if (error.empty()) save_viewer_settings(shared, files);
  return error.empty();
}

// The folder's entries; a double-click enters a folder or opens a file or model.
bool draw_entries(Shared& shared, const OpenTargets& to, float height) {
  FilesPanel& files = to.files;
  bool close = false;
  ImGui::BeginChild("entries", ImVec2(-220, height), true);
  if (ImGui::Selectable("..", false, ImGuiSelectableFlags_AllowDoubleClick) &&
      ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
    enter_folder(files, fs::path(files.folder).parent_path().string());
  }
  for (int i = 0; i < static_cast<int>(files.entries.size()) && !close; ++i) {
    const FileEntry& entry = files.entries[static_cast<std::size_t>(i)];
    const bool model = entry.kind == PathKind::model;
    const bool folder = model || entry.kind == PathKind::folder;
    const std::string label = entry.name + (folder ? "/" : "");
    if (model) ImGui::PushStyleColor(ImGuiCol_Text, kModelColor);
    const bool clicked = ImGui::Selectable(label.c_str(), files.selected == i,
                                           ImGuiSelectableFlags_AllowDoubleClick);
    if (model) {
      ImGui::PopStyleColor();
      ImGui::SameLine();
      ImGui::TextColored(kMuted, "model");
    }
    if (!clicked) continue;
    files.selected = i;
    const std::string path = (fs::path(files.folder) / entry.name).string();
    if (files.mode == BrowseMode::open) files.path_field = path;
    if (files.mode != BrowseMode::open && !folder) files.name_field = entry.name;
    if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) close = accept(shared, to, path);
  }
  if (files.hidden_entries > 0) {
    ImGui::TextColored(kMuted, "(%zu more not listed)", files.hidden_entries);
  }
  ImGui::EndChild();
  return close;
}

// The recent files (open mode): a click opens one.
bool draw_recent(Shared& shared, const OpenTargets& to, float height) {
  bool close = false;
  ImGui::SameLine();
  ImGui::BeginChild("recent", ImVec2(0, height), true);
  ImGui::TextColored(kMuted, "Recent");
  ImGui::Separator();
  const std::vector<std::string> recent = to.files.settings.recent;  // accept may edit it
  for (const std::string& path : recent) {
    const std::string name = fs::path(path).filename().string();
    if (ImGui::Selectable((name + "##" + path).c_str()) && !close) close = accept(shared, to, path);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", path.c_str());
  }
  if (recent.empty()) ImGui::TextColored(kMuted, "none yet");
  ImGui::EndChild();
  return close;
}

// The path field (Enter acts on it), the Up button and, for opening, the filter.
bool draw_path_row(Shared& shared, const OpenTargets& to) {
  FilesPanel& files = to.files;
  if (ImGui::Button("Up")) enter_folder(files, fs::path(files.folder).parent_path().string());
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
  bool close = false;
  if (ImGui::InputText("##path", &files.path_field, ImGuiInputTextFlags_EnterReturnsTrue)) {
    close = accept(shared, to, files.path_field);
  }
  if (files.mode == BrowseMode::open) {
    ImGui::SetNextItemWidth(330);
    if (ImGui::BeginCombo("filter", filter_name(files.filter))) {
      for (FileFilter f : {FileFilter::all, FileFilter::models, FileFilter::text,
                           FileFilter::images, FileFilter::tensors}) {
        if (ImGui::Selectable(filter_name(f), f == files.filter)) files.filter = f;
      }
      ImGui::EndCombo();
    }
  }
  return close;
}

// The name field and the Save / Open and Cancel buttons.
bool draw_buttons(Shared& shared, const OpenTargets& to) {
  FilesPanel& files = to.files;
  bool close = false;
  if (files.mode != BrowseMode::open) {
    const bool maps =
        files.mode == BrowseMode::export_maps_png || files.mode == BrowseMode::export_maps_npy;
    ImGui::SetNextItemWidth(-180);
    if (ImGui::InputText(maps ? "name prefix" : "file name", &files.name_field,
                         ImGuiInputTextFlags_EnterReturnsTrue) && !files.name_field.empty()) {
      close = accept(shared, to, files.name_field);
    }
  }
  if (!files.dialog_error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    ImGui::TextWrapped("%s", files.dialog_error.c_str());
    ImGui::PopStyleColor();
  }
  const bool open = files.mode == BrowseMode::open;
  if (ImGui::Button(open ? "Open" : "Save", ImVec2(120, 0)) && !close) {
    close = accept(shared, to, open ? files.path_field : files.name_field);
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(120, 0)) ||
      ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
    close = true;
  }
  return close;
}

}  // namespace

void request_file_dialog(const Shared& shared, FilesPanel& files, BrowseMode mode) {
  files.dialog_requested = true;
  files.mode = mode;
  std::error_code ec;
  const std::string last = files.settings.last_folder;
  const bool use_last = !last.empty() && fs::is_directory(last, ec);
  // Without a last folder, files the viewer writes start in the per-user data folder
  // (data_folder.h), created on demand; files it opens in the working directory.
  std::string start = use_last ? last : fs::current_path(ec).string();
  if (!use_last && mode != BrowseMode::open && !data_folder().empty()) {
    fs::create_directories(data_folder(), ec);
    if (fs::is_directory(data_folder(), ec)) start = data_folder();
  }
  enter_folder(files, start);
  files.name_field = default_name(shared.params, mode);
}

void draw_file_dialog(Shared& shared, const OpenTargets& to) {
  FilesPanel& files = to.files;
  const std::string id = std::string(title_of(files.mode)) + kDialogId;
  if (files.dialog_requested) {
    ImGui::OpenPopup(id.c_str());
    files.dialog_requested = false;
  }
  const ImVec2 work = ImGui::GetMainViewport()->WorkSize;
  ImGui::SetNextWindowSize(ImVec2(std::min(900.0f, work.x - 40), std::min(560.0f, work.y - 40)),
                           ImGuiCond_Appearing);
  ImGui::SetNextWindowBgAlpha(1.0f);  // the maps behind would show through the listing
  if (!ImGui::BeginPopupModal(id.c_str(), nullptr, ImGuiWindowFlags_NoSavedSettings)) return;
  if (files.listed_folder != files.folder || files.listed_filter != files.filter) {
    list_folder(files);
  }
  bool close = draw_path_row(shared, to);
  const float rows = files.mode == BrowseMode::open ? 1.0f : 2.0f;  // + the name field
  const float error_h = files.dialog_error.empty() ? 0 : 2 * ImGui::GetTextLineHeightWithSpacing();
  const float footer = ImGui::GetFrameHeightWithSpacing() * rows + error_h + 8;
  const float height = std::max(80.0f, ImGui::GetContentRegionAvail().y - footer);
  if (!close) close = draw_entries(shared, to, height);
  if (!close && files.mode == BrowseMode::open) {
    close = draw_recent(shared, to, height);
  } else if (!close) {
    ImGui::SameLine();
    ImGui::BeginChild("where", ImVec2(0, height), true);
    ImGui::TextColored(kMuted, "Saving into");
    ImGui::TextWrapped("%s", files.folder.c_str());
    ImGui::EndChild();
  }
  if (!close) close = draw_buttons(shared, to);
  if (close) {
    files.dialog_error.clear();
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

void draw_file_menu(Shared& shared, const OpenTargets& to) {
  FilesPanel& files = to.files;
  // Ctrl+O, Ctrl+S, unless a text field or a dialog or menu has the keyboard; Ctrl+Q also
  // with a menu or dialog open (not while typing). 'O', 'S' and 'Q' are also GLFW's key codes
  // of those keys (ImGui 1.86 names few keys).
  const ImGuiIO& io = ImGui::GetIO();
  if (io.KeyCtrl && !io.WantTextInput && !ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId)) {
    if (ImGui::IsKeyPressed('O', false)) request_file_dialog(shared, files, BrowseMode::open);
    if (ImGui::IsKeyPressed('S', false)) request_file_dialog(shared, files, BrowseMode::save_session);
  }
  if (io.KeyCtrl && !io.WantTextInput && ImGui::IsKeyPressed('Q', false)) files.quit = true;
  if (!ImGui::BeginMenu("File")) return;
  // Escape closes the menu (and its submenus); ImGui 1.86 leaves it open.
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) ImGui::CloseCurrentPopup();
  if (ImGui::MenuItem("Open...", "Ctrl+O")) request_file_dialog(shared, files, BrowseMode::open);
  const std::vector<std::string> recent = files.settings.recent;  // open_path edits it
  if (ImGui::BeginMenu("Open recent", !recent.empty())) {
    for (const std::string& path : recent) {
      if (!ImGui::MenuItem(path.c_str())) continue;
      const std::string error = open_path(shared, to, path);
      if (!error.empty()) report_error(shared, error);
    }
    ImGui::EndMenu();
  }
  ImGui::Separator();
  if (ImGui::MenuItem("Save session...", "Ctrl+S")) request_file_dialog(shared, files, BrowseMode::save_session);
  const MapsWorker& w = shared.maps;
  const bool maps = w.has_shown && w.shown.inspection && w.shown.error.empty();
  if (ImGui::BeginMenu("Export")) {
    if (ImGui::MenuItem("Window as PNG...")) request_file_dialog(shared, files, BrowseMode::export_window);
    if (ImGui::MenuItem("Maps as PNG...", nullptr, false, maps)) {
      request_file_dialog(shared, files, BrowseMode::export_maps_png);
    }
    if (ImGui::MenuItem("Maps as .npy...", nullptr, false, maps)) {
      request_file_dialog(shared, files, BrowseMode::export_maps_npy);
    }
    if (ImGui::MenuItem("Session as JSON...")) request_file_dialog(shared, files, BrowseMode::save_session);
    ImGui::EndMenu();
  }
  ImGui::Separator();
  if (ImGui::MenuItem("Quit", "Ctrl+Q")) files.quit = true;
  ImGui::EndMenu();
}

}  // namespace fmav::viewer
