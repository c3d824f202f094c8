// All-or-none output files (output_set.h).

#include "output_set.h"

#include <cctype>
#include <filesystem>

#include "fmav/error.h"

namespace fmav::cli {

void check_tensor_output(const char* option, const std::string& path, bool safetensors_only) {
  if (path.empty()) return;
  const std::filesystem::path p(path);
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  FMAV_CHECK(ext == ".safetensors" || (ext == ".npy" && !safetensors_only), option, " ", path, ": expected a ",
             safetensors_only ? ".safetensors" : ".npy or .safetensors", " file name");
  const std::filesystem::path dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  std::error_code ec;
  FMAV_CHECK(std::filesystem::is_directory(dir, ec), option, " ", path, ": the folder ", dir.string(),
             " does not exist");
}

OutputSet::~OutputSet() {
  for (const std::string& path : m_written) {
    std::error_code ignored;  // best effort: the failure being reported matters more
    std::filesystem::remove(path, ignored);
  }
}

void OutputSet::write(const std::string& path, const std::function<void()>& write) {
  if (path.empty()) return;
  write();
  m_written.push_back(path);
}

}  // namespace fmav::cli
