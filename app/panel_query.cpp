// The query view (being written; see viewer_state.h).

#include "viewer_state.h"

#include <imgui.h>

namespace fmav::viewer {

void draw_query_view(ViewerState&) { ImGui::TextUnformatted("query view: not yet built"); }

}  // namespace fmav::viewer
