// File helpers under the tensor formats: whole-file reads with a size cap, atomic writes
// (temporary file in the same folder, fsync, rename) and choosing the format by extension.

#include "fmav/tensor_io.h"

#include "fmav/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace fmav {
namespace {

// Closes a file descriptor on every way out of a function.
class FdGuard {
 public:
  explicit FdGuard(int fd) : m_fd(fd) {}
  ~FdGuard() { ::close(m_fd); }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

 private:
  int m_fd;
};

// ".npy", ".safetensors" (lower case), or "" when the file name has no dot.
std::string lower_extension(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

[[noreturn]] void unsupported_extension(const std::string& path) {
  const std::string ext = lower_extension(path);
  throw Error(path + ": " + (ext.empty() ? "no extension" : "unsupported extension '" + ext + "'") +
              ", expected .npy or .safetensors");
}

// "a, b, c" with at most a few names: a file may hold thousands.
std::string list_names(const TensorMap& tensors) {
  constexpr std::size_t kMaxNames = 10;
  std::string out;
  std::size_t count = 0;
  for (const auto& entry : tensors) {
    if (count == kMaxNames) return out + ", ...";
    out += (count++ == 0 ? "'" : ", '") + entry.first + "'";
  }
  return out;
}

std::string parent_folder(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes the rename itself durable. Best effort: by now a complete file is at its path, so a
// failure here is not worth an error.
void sync_parent_folder(const std::string& path) {
  const int fd = ::open(parent_folder(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  FdGuard guard(fd);
  ::fsync(fd);
}

// Cleans up after a failed step of write_file_atomic and reports it with errno's reason.
[[noreturn]] void fail_write(std::FILE* file, const std::string& temp, const std::string& path,
                             const char* step) {
  const int err = errno;
  if (file != nullptr) std::fclose(file);
  std::remove(temp.c_str());
  throw Error(path + ": cannot write (" + step + " " + temp + " failed): " + std::strerror(err));
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  // The pid and a counter keep concurrent writers (threads or processes) off each other's
  // temporary; "x" refuses to reuse a name that is somehow there already.
  static std::atomic<unsigned long long> counter{0};
  const std::string temp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  std::FILE* file = std::fopen(temp.c_str(), "wbx");
  if (file == nullptr) {
    throw Error(path + ": cannot write (creating " + temp + " failed): " + std::strerror(errno));
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    fail_write(file, temp, path, "writing");
  }
  if (std::fflush(file) != 0) fail_write(file, temp, path, "flushing");
  if (::fsync(::fileno(file)) != 0) fail_write(file, temp, path, "syncing");
  const int closed = std::fclose(file);
  if (closed != 0) fail_write(nullptr, temp, path, "closing");
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    fail_write(nullptr, temp, path, "renaming");
  }
  sync_parent_folder(path);
}

void append_line_synced(std::FILE* file, const std::string& line, const std::string& path) {
  const std::string text = line + "\n";
  FMAV_CHECK(std::fwrite(text.data(), 1, text.size(), file) == text.size() && std::fflush(file) == 0 &&
                 ::fsync(::fileno(file)) == 0,
             path, ": cannot append a line (", std::strerror(errno), "); the lines before it are kept");
}

std::string read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    FMAV_CHECK(err != ENOENT, path, ": no such file");
    throw Error(path + ": cannot open: " + std::strerror(err));
  }
  FdGuard guard(fd);
  struct stat info {};
  FMAV_CHECK(::fstat(fd, &info) == 0, path, ": cannot stat: ", std::strerror(errno));
  FMAV_CHECK(!S_ISDIR(info.st_mode), path, ": is a folder, expected a file");
  FMAV_CHECK(S_ISREG(info.st_mode), path, ": is not a regular file");
  const auto size = static_cast<std::uint64_t>(info.st_size);
  FMAV_CHECK(size <= max_bytes, path, ": file is ", size, " bytes, more than the limit of ",
             max_bytes);

  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::exception&) {  // bad_alloc or length_error
    throw Error(path + ": file is " + std::to_string(size) + " bytes, too large to read");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd, &bytes[done], bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    FMAV_CHECK(got >= 0, path, ": cannot read: ", std::strerror(errno));
    FMAV_CHECK(got > 0, path, ": file shrank from ", size, " to ", done, " bytes while reading");
    done += static_cast<std::size_t>(got);
  }
  return bytes;
}

HostTensor read_tensor_file(const std::string& path, const std::string& key) {
  const std::string ext = lower_extension(path);
  // An .npy file holds one unnamed tensor, so `key` has nothing to choose there.
  if (ext == ".npy") return read_npy(path);
  if (ext != ".safetensors") unsupported_extension(path);
  TensorMap tensors = read_safetensors(path);
  if (key.empty()) {
    FMAV_CHECK(tensors.size() == 1, path, ": holds ", tensors.size(), " tensors (",
               list_names(tensors), "), expected exactly one; name the one to read with a key");
    return std::move(tensors.begin()->second);
  }
  const auto it = tensors.find(key);
  FMAV_CHECK(it != tensors.end(), path, ": no tensor named '", key, "'; it holds ",
             tensors.empty() ? std::string("none") : list_names(tensors));
  return std::move(it->second);
}

void write_tensor_file(const std::string& path, const HostTensor& tensor, const std::string& key) {
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return write_npy(path, tensor);
  if (ext != ".safetensors") unsupported_extension(path);
  write_safetensors(path, TensorMap{{key.empty() ? std::string("tensor") : key, tensor}});
}

}  // namespace fmav
