// The names of methods and levels (method_labels.h).

#include "method_labels.h"

#include <cstdio>
#include <string>

namespace fmav::viewer {

std::string level_label(int level, Method method, const FmaConfig& f) {
  if (method == Method::fma) {
    if (level <= 0) return level < 0 ? "masked" : "near field (full resolution)";
    const long long side = static_cast<long long>(f.block_size) << (level - 1);
    char text[64];
    std::snprintf(text, sizeof(text), f.is_2d() ? "level %d (cells of %lldx%lld)" : "level %d (groups of %lld)",
                  level, side, side);
    return text;
  }
  if (level < 0) return f.causal ? "masked or not attended" : "not attended";
  if (level == 0) return "attended at full resolution";
  // H-Transformer-1D's coarse levels: tokens of 2^l, sibling blocks of m 2^l.
  return "level " + std::to_string(level) + " (coarse tokens of " + std::to_string(1 << level) + ")";
}

std::string level_short(int level, Method method) {
  if (level > 0) return "L" + std::to_string(level);
  if (method == Method::fma) return level < 0 ? "masked" : "near";
  return level < 0 ? "not attended" : "exact";
}

const char* method_title(Method method) {
  switch (method) {
    case Method::fma: return "FMA";
    case Method::full: return "Full attention";
    case Method::htransformer: return "H-Transformer-1D";
    case Method::linear: return "Linear Transformer";
    case Method::reformer: return "Reformer LSH";
    case Method::local: return "Local windows";
    case Method::swin: return "Swin windows";
  }
  return "?";
}

std::string peer_settings(Method method, const FmaConfig& f, const PeerOptions& peer) {
  const std::string m = std::to_string(f.block_size);
  std::string out = std::string(method_title(method)) + ": ";
  switch (method) {
    case Method::htransformer: return out + "blocks of " + m;
    case Method::linear: return out + "elu + 1 features";
    case Method::reformer:
      return out + "chunk " + m + ", " + std::to_string(peer.hash_rounds) + " hash rounds" +
             (peer.buckets > 0 ? ", " + std::to_string(peer.buckets) + " buckets" : "");
    case Method::local: return out + "blocks of " + m + " (b-1, b, b+1)";
    case Method::swin:
      return out + m + "x" + m + " windows on " + std::to_string(f.grid_height) + "x" + std::to_string(f.grid_width) +
             (peer.shifted ? ", shifted" : "");
    case Method::fma:
    case Method::full: break;
  }
  return method_title(method);
}

}  // namespace fmav::viewer
