// fmav::Error reporting for internal invariants (FMAV_ASSERT): a failed assertion is a bug in
// fmav, but it is thrown rather than aborted so that the GUI and the CLI survive it.

#include "fmav/error.h"

namespace fmav::detail {

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  std::string what = concat("internal error: ", cond, " at ", file, ":", line);
  if (!msg.empty()) what += ": " + msg;
  throw Error(what);
}

}  // namespace fmav::detail
