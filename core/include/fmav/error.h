#pragma once
// Errors of the fmav engine: bad user input is an fmav::Error whose message names the
// argument, what was expected and what came. Core never exits or aborts.

#include <sstream>
#include <stdexcept>
#include <string>

namespace fmav {

// Thrown for bad input (shapes, options, files) and for failures the user can act on.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether an exception is an allocation failure: std::bad_alloc, or LibTorch's error for
// one ("can't allocate memory", "out of memory"), so callers can say so and go on.
bool is_out_of_memory(const std::exception& e);

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace fmav

// Check user input at the public boundary: throws fmav::Error with the concatenated message.
#define FMAV_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) throw ::fmav::Error(::fmav::detail::concat(__VA_ARGS__)); \
  } while (0)

// Check an internal invariant: a failure is a bug in fmav, reported with file and line
// (as an fmav::Error, so the GUI and CLI survive it).
#define FMAV_ASSERT(cond, ...)                                                           \
  do {                                                                                   \
    if (!(cond))                                                                         \
      ::fmav::detail::assert_fail(#cond, __FILE__, __LINE__,                             \
                                  ::fmav::detail::concat(__VA_ARGS__));                  \
  } while (0)
