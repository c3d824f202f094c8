// The viewer's per-user data folder (data_folder.h).

#include "data_folder.h"

#include "fmav/error.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace fmav::viewer {

namespace fs = std::filesystem;

std::string data_folder_for(const char* xdg_data_home, const char* home) {
  if (xdg_data_home && fs::path(xdg_data_home).is_absolute()) {
    return (fs::path(xdg_data_home) / "fma-viewer").lexically_normal().string();
  }
  if (home && fs::path(home).is_absolute()) {
    return (fs::path(home) / ".local" / "share" / "fma-viewer").lexically_normal().string();
  }
  return "";
}

std::string data_folder() { return data_folder_for(std::getenv("XDG_DATA_HOME"), std::getenv("HOME")); }

std::string data_path(const std::string& name) {
  const fs::path path(name);
  if (path.is_absolute()) return path.lexically_normal().string();
  const std::string folder = data_folder();
  return (folder.empty() ? fs::absolute(path) : fs::path(folder) / path).lexically_normal().string();
}

void make_parent_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  FMAV_CHECK(!ec && fs::is_directory(parent), "cannot create the folder ", parent.string(), " for ", path, ": ",
             ec ? ec.message() : "a file of that name is in the way");
}

}  // namespace fmav::viewer
