// The attention methods' names (fmav/attend.h), without LibTorch: the file formats that name
// a method (sessions, sweep results) check them in fmav_io.

#include "fmav/attend.h"
#include "fmav/error.h"

namespace fmav {

bool is_peer(Method method) { return method != Method::fma && method != Method::full; }

const char* to_string(Method method) {
  switch (method) {
    case Method::fma: return "fma";
    case Method::full: return "full";
    case Method::htransformer: return "htransformer";
    case Method::linear: return "linear";
    case Method::reformer: return "reformer";
    case Method::local: return "local";
    case Method::swin: return "swin";
  }
  return "?";
}

Method parse_fma_or_peer(const std::string& name, const std::string& where) {
  for (Method m : kFmaAndPeers) {
    if (name == to_string(m)) return m;
  }
  throw Error((where.empty() ? "" : where + ": ") + "method must be fma, htransformer, linear, reformer, local or swin, "
              "got '" + name + "'");
}

}  // namespace fmav
