#pragma once
// A command's several output files written all or none (README: "nothing is written by a
// failed run"): each write is recorded, and unless the set is committed, the files it wrote
// are removed when it goes out of scope (a later write, or the command, failed).

#include <functional>
#include <string>
#include <vector>

namespace fmav::cli {

// Checks, before any work, that `path` can be a tensor output of `option`: a .npy or
// .safetensors name (`safetensors_only`: the latter) in an existing directory. Throws
// fmav::Error naming the option.
void check_tensor_output(const char* option, const std::string& path, bool safetensors_only = false);

class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();

  // Runs `write` (which writes `path`) and records the path; an empty path does nothing.
  void write(const std::string& path, const std::function<void()>& write);
  // Keeps every file written so far.
  void commit() { m_written.clear(); }

 private:
  std::vector<std::string> m_written;
};

}  // namespace fmav::cli
