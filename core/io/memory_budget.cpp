// The memory a command may use (fmav/memory_budget.h): --max-memory, or what the machine
// gives the process now, read from /proc and the cgroup (Linux; elsewhere 8 GiB is assumed).

#include "fmav/memory_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>

#include "fmav/error.h"

namespace fmav {
namespace {

constexpr std::int64_t kUnknown = std::numeric_limits<std::int64_t>::max();

std::atomic<std::int64_t> g_max_memory{0};

// A "Key: n kB" line of a /proc file, in bytes; kUnknown when absent.
std::int64_t proc_kib_line(const char* path, const char* wanted) {
  std::ifstream in(path);
  std::string key;
  while (in >> key) {
    if (key == wanted) {
      std::int64_t kib = 0;
      if (in >> kib) return kib * 1024;
      return kUnknown;
    }
    in.ignore(1 << 12, '\n');
  }
  return kUnknown;
}

// A cgroup v2 file holding one number ("max": kUnknown).
std::int64_t cgroup_number(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return kUnknown;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return kUnknown;
  }
}

}  // namespace

void set_max_memory(std::int64_t bytes) {
  FMAV_CHECK(bytes >= 0, "--max-memory must be >= 0, got ", bytes);
  g_max_memory.store(bytes);
}

MemoryLimit memory_limit() {
  if (const std::int64_t max = g_max_memory.load(); max > 0) return {max, "--max-memory"};
  MemoryLimit limit{kUnknown, ""};
  const auto least = [&](std::int64_t bytes, const char* source) {
    if (bytes < limit.bytes) limit = {std::max<std::int64_t>(0, bytes), source};
  };
  least(proc_kib_line("/proc/meminfo", "MemAvailable:"), "available memory (MemAvailable)");
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const std::int64_t used = proc_kib_line("/proc/self/status", "VmSize:");
    const std::int64_t cap = static_cast<std::int64_t>(std::min<rlim_t>(as.rlim_cur, rlim_t{1} << 62));
    least(used == kUnknown ? cap : cap - used, "address space left under ulimit -v");
  }
  const std::int64_t cgroup_max = cgroup_number("/sys/fs/cgroup/memory.max");
  const std::int64_t cgroup_used = cgroup_number("/sys/fs/cgroup/memory.current");
  if (cgroup_max != kUnknown && cgroup_used != kUnknown) least(cgroup_max - cgroup_used, "the cgroup's memory.max");
  if (limit.bytes == kUnknown) limit = {std::int64_t{8} << 30, "an assumed 8 GiB (no /proc/meminfo)"};
  return limit;
}

std::string memory_shortfall(double predicted_bytes) {
  const MemoryLimit limit = memory_limit();
  if (!(predicted_bytes > static_cast<double>(limit.bytes))) return "";
  // The prediction rounded up, the limit down: never "needs 100 MiB, more than 100 MiB".
  const auto mib = [](double bytes, bool up) {
    const double m = bytes / (1 << 20);
    return std::to_string(static_cast<long long>(up ? std::ceil(m) : std::floor(m)));
  };
  return "predicted to need " + mib(predicted_bytes, true) + " MiB, more than the " +
         mib(static_cast<double>(limit.bytes), false) + " MiB of " + limit.source +
         "; use smaller sizes, or --max-memory MiB to override";
}

void check_memory(const std::string& what, double predicted_bytes) {
  const std::string why = memory_shortfall(predicted_bytes);
  FMAV_CHECK(why.empty(), what, " ", why);
}

}  // namespace fmav
