#pragma once
// What the viewer calls the methods and the levels of their maps, in titles, legends and
// tooltips (the maps panel and the query inspector).

#include "fmav/attend.h"
#include "fmav/fma.h"

#include <string>

namespace fmav::viewer {

// What a level-map value means for the method shown: "near field", "level 2 (groups of 64)",
// "exact", "not attended", ...
std::string level_label(int level, Method method, const FmaConfig& f);
// The short form for legends: "near", "L2", "masked" (peers: "exact", "L2", "not attended").
std::string level_short(int level, Method method);
// The method's name in titles: "FMA", "H-Transformer-1D", "Linear Transformer", ...
const char* method_title(Method method);
// A peer's settings in a few words: "Reformer LSH: chunk 32, 2 rounds", "Swin windows: 8x8
// on 64x64, shifted", ...
std::string peer_settings(Method method, const FmaConfig& f, const PeerOptions& peer);

}  // namespace fmav::viewer
