// fmav::Error reporting for internal invariants (FMAV_ASSERT): a failed assertion is a bug in
// fmav, but it is thrown rather than aborted so that the GUI and the CLI survive it.

#include "fmav/error.h"

#include <new>

namespace fmav::detail {

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  std::string what = concat("internal error: ", cond, " at ", file, ":", line);
  if (!msg.empty()) what += ": " + msg;
  throw Error(what);
}

}  // namespace fmav::detail

namespace fmav {

bool is_out_of_memory(const std::exception& e) {
  const std::string what = e.what();
  // LibTorch's CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried to
  // allocate N bytes. Error code 12 (Cannot allocate memory)"; CUDA's: "CUDA out of memory".
  return dynamic_cast<const std::bad_alloc*>(&e) != nullptr || what.find("can't allocate") != std::string::npos ||
         what.find("Cannot allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos;
}

}  // namespace fmav
