// The heads view (being written; see viewer_state.h).

#include "viewer_state.h"

#include <imgui.h>

namespace fmav::viewer {

void draw_heads_view(ViewerState&) { ImGui::TextUnformatted("heads view: not yet built"); }

}  // namespace fmav::viewer
