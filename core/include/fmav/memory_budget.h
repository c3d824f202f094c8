#pragma once
// How much memory a command may use, and the check of a predicted peak against it, so that
// commands sized by the user's numbers refuse (or a sweep or bench records `oom` with
// "predicted to need ...") instead of being killed by the kernel (docs/HARDENING.md "Resource faults").

#include <cstdint>
#include <string>

namespace fmav {

struct MemoryLimit {
  std::int64_t bytes = 0;
  std::string source;  // where it comes from: "--max-memory", "available memory (MemAvailable)", ...
};

// The process's limit: --max-memory when set, else what the machine can give it now, the
// least of /proc/meminfo's MemAvailable, the address-space limit (`ulimit -v`) less the
// address space in use, and the cgroup's memory.max less memory.current.
MemoryLimit memory_limit();
// Sets --max-memory for the process (bytes; 0: the machine's, as above). Throws fmav::Error
// for a negative value.
void set_max_memory(std::int64_t bytes);

// "" when `predicted_bytes` fit the limit; else why not: "predicted to need 400064 MiB, more
// than the 23000 MiB of available memory (MemAvailable); use smaller sizes, or --max-memory
// MiB to override".
std::string memory_shortfall(double predicted_bytes);
// Throws fmav::Error "<what> <memory_shortfall>" when the prediction is over the limit.
void check_memory(const std::string& what, double predicted_bytes);

}  // namespace fmav
