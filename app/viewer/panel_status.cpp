// The status bar and the error popup: where the engine runs (CPU threads and kernels, or the
// GPU), the memory in use, the last run's time, and the last error until it is dismissed.

#include "panel_status.h"
#include "data_folder.h"
#include "maps_worker.h"
#include "shared.h"

#include "fmav/engine.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);
constexpr const char* kPopup = "Error";

std::string bytes_text(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, bytes >= (1ll << 30) ? "%.2f GiB" : "%.0f MiB",
                static_cast<double>(bytes) / (bytes >= (1ll << 30) ? 1 << 30 : 1 << 20));
  return text;
}

}  // namespace

void draw_error_popup(Shared& shared) {
  if (shared.error_popup_pending) {
    ImGui::OpenPopup(kPopup);
    shared.error_popup_pending = false;
  }
  ImGui::SetNextWindowSize(ImVec2(520, 0), ImGuiCond_Appearing);
  if (ImGui::BeginPopupModal(kPopup, nullptr, ImGuiWindowFlags_NoSavedSettings)) {
    const std::string& e = shared.status_error;
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    ImGui::TextWrapped("%s", e.substr(0, e.find('\n')).c_str());  // LibTorch traces stay out
    ImGui::PopStyleColor();
    ImGui::Spacing();
    if (ImGui::Button("OK", ImVec2(120, 0)) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
  }
}

void draw_status_bar(Shared& shared, const DeviceInfo& d) {
  if (d.cuda_available) {
    ImGui::Text("CUDA (%d device%s)", d.cuda_devices, d.cuda_devices == 1 ? "" : "s");
  } else {
    ImGui::Text("CPU, %d threads, %s", d.threads, d.cpu_kernels.c_str());
  }
  ImGui::SameLine(0, 24);
  ImGui::TextColored(kMuted, "memory %s", bytes_text(resident_memory_bytes()).c_str());
  ImGui::SameLine(0, 24);
  if (maps_busy(shared)) {
    ImGui::TextColored(kMuted, "computing...");
  } else if (shared.maps.has_shown && shared.maps.shown.seconds > 0) {
    ImGui::TextColored(kMuted, "last run %.3f s, %s", shared.maps.shown.seconds, shared.maps.shown.device_text.c_str());
  }
  if (!shared.status_message.empty()) {  // the last open, save or export
    ImGui::SameLine(0, 24);
    ImGui::TextColored(kMuted, "%s", shared.status_message.c_str());
  }
  if (!shared.status_error.empty()) {
    ImGui::SameLine(0, 24);
    const std::string& e = shared.status_error;
    ImGui::TextColored(kErrorColor, "error: %s", e.substr(0, std::min<std::size_t>(e.find('\n'), 120)).c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("dismiss")) shared.status_error.clear();
  }
}

void draw_output_file(const char* label, float width, std::string* name) {
  ImGui::SetNextItemWidth(width);
  ImGui::InputText(label, name);
  if (ImGui::IsItemHovered()) {
    const std::string folder = data_folder();
    ImGui::SetTooltip("writes %s\n(a relative name is in the data folder %s; an absolute path is used as given)",
                      data_path(*name).c_str(),
                      folder.empty() ? "(none: no HOME or XDG_DATA_HOME, so the working directory)" : folder.c_str());
  }
}

}  // namespace fmav::viewer
