// The engine panel: where the FMA engine runs (fmav::device_info, docs/DESIGN.md §5), and
// the device combo the sidebar's fast path and the scaling form share.

#include "panel_engine.h"
#include "shared.h"
#include "text_wrap.h"

#include "fmav/engine.h"

#include <imgui.h>

#include <string>

namespace fmav::viewer {
namespace {

const ImVec4 kGood(0.45f, 0.85f, 0.45f, 1.0f);
const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);

void draw_row(const char* label, const char* value) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextColored(kMuted, "%s", label);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(value);
}

void draw_flag_row(const char* label, bool value, const char* detail) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextColored(kMuted, "%s", label);
  ImGui::TableSetColumnIndex(1);
  if (value) {
    ImGui::TextColored(kGood, "yes%s", detail);
  } else {
    ImGui::TextUnformatted("no");
  }
}

}  // namespace

void draw_engine_panel(const DeviceInfo& device, Shared& shared) {
  ImGui::TextUnformatted("Engine");
  draw_maps_device(shared);
  ImGui::Separator();
  const ImGuiTableFlags flags = ImGuiTableFlags_SizingFixedFit;
  if (ImGui::BeginTable("engine", 2, flags)) {
    draw_row("fma-viewer", device.version.c_str());
    draw_row("LibTorch", device.torch_version.c_str());
    const std::string threads = std::to_string(device.threads);
    draw_row("threads", threads.c_str());
    draw_flag_row("CUDA build", device.cuda_built, " (FMAV_CUDA)");
    const std::string devices = " (" + std::to_string(device.cuda_devices) + " device" +
                                (device.cuda_devices == 1 ? ")" : "s)");
    draw_flag_row("CUDA available", device.cuda_available, devices.c_str());
    ImGui::EndTable();
  }
  if (!device.summary.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kMuted);
    text_wrapped("%s", device.summary.c_str());
    ImGui::PopStyleColor();
  }
  if (shared.params.device == Device::automatic) {  // where auto went, and why
    const std::string why = cuda_unavailable_reason();
    ImGui::PushStyleColor(ImGuiCol_Text, kMuted);
    text_wrapped("%s", why.empty() ? "maps on auto: cuda" : ("maps on auto: the cpu, " + why).c_str());
    ImGui::PopStyleColor();
  }
}

void draw_device_combo(const char* label, Device* device) {
  const std::string why_not_cuda = cuda_unavailable_reason();
  if (!why_not_cuda.empty() && *device == Device::cuda) *device = Device::cpu;
  if (!ImGui::BeginCombo(label, to_string(*device))) return;
  for (Device d : {Device::cpu, Device::cuda, Device::automatic}) {
    const bool unavailable = d == Device::cuda && !why_not_cuda.empty();
    if (ImGui::Selectable(to_string(d), *device == d, unavailable ? ImGuiSelectableFlags_Disabled : 0)) *device = d;
    if (unavailable && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
      ImGui::SetTooltip("%s", why_not_cuda.c_str());
    }
  }
  ImGui::EndCombo();
}

void draw_maps_device(Shared& shared) {
  // On the title's line, no taller than its text: the sidebar below keeps its layout.
  const float width = 70, label = ImGui::CalcTextSize("maps on").x + ImGui::GetStyle().ItemInnerSpacing.x;
  ImGui::SameLine(ImGui::GetContentRegionMax().x - width - label);
  ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(ImGui::GetStyle().FramePadding.x, 0));
  ImGui::SetNextItemWidth(width);
  draw_device_combo("maps on", &shared.params.device);
  ImGui::PopStyleVar();
  if (ImGui::IsItemHovered()) {
    ImGui::SetTooltip("where a model's forward and the maps, the query view and the Heads tab are computed\n"
                      "(float64; a Hugging Face model's forward stays on the cpu); also --device");
  }
}

}  // namespace fmav::viewer
