// The maps' header (maps_header.h): what the maps on screen are, what they compare, and the
// mass each of the two puts on each level.

#include "maps_header.h"
#include "colormap.h"
#include "method_labels.h"
#include "shared.h"
#include "source_finite.h"
#include "text_wrap.h"

#include <imgui.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kBusy(1.0f, 0.8f, 0.3f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);
const ImVec4 kCompare(0.55f, 0.8f, 1.0f, 1.0f);

std::string percent(double fraction) {
  const double p = 100 * fraction;
  char text[32];
  std::snprintf(text, sizeof(text), p >= 9.95 ? "%.0f%%" : p >= 0.995 ? "%.1f%%" : "%.2f%%", p);
  return text;
}

// "near 98.6% | 32.7%" for each level, with the level map's colour, wrapped to the width.
void draw_level_masses(const MapJob& shown) {
  const Inspection& in = *shown.inspection;
  // Means over the rows whose masses are finite (source_finite.h): NaN rows are left out.
  std::int64_t finite_rows = 0;
  const std::vector<double> method = mean_level_mass(in.level_mass, in.rows, in.num_levels, &finite_rows);
  const std::vector<double> full = mean_level_mass(in.full_level_mass, in.rows, in.num_levels, &finite_rows);
  if (full.size() != method.size()) return;
  ImGui::TextColored(kMuted, "mass per level, %s | full attention:", method_title(shown.method));
  const float right = ImGui::GetCursorScreenPos().x + ImGui::GetContentRegionAvail().x;
  const float box = ImGui::GetTextLineHeight();
  double full_total = 0;
  for (std::size_t l = 0; l < method.size(); ++l) {
    full_total += full[l];
    const std::string text = level_short(static_cast<int>(l), shown.method) + " " + percent(method[l]) + " | " +
                             percent(full[l]);
    const float width = box + 4 + ImGui::CalcTextSize(text.c_str()).x;
    ImGui::SameLine(0, 14);
    if (ImGui::GetCursorScreenPos().x + width > right) ImGui::NewLine();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const Rgba8 c = level_color(static_cast<int>(l));
    ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + box, p.y + box), IM_COL32(c.r, c.g, c.b, 255));
    ImGui::Dummy(ImVec2(box, box));
    ImGui::SameLine(0, 4);
    ImGui::TextUnformatted(text.c_str());
  }
  // Full attention's mass on keys the method leaves out (a peer's unattended keys).
  if (1 - full_total >= 5e-5) {
    ImGui::SameLine(0, 14);
    ImGui::Text("%s: full attention %s", level_short(-1, shown.method).c_str(), percent(1 - full_total).c_str());
  }
}

// The first line of an error (LibTorch's trace stays out).
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::string settings_line(const MapJob& job) {
  const MapParams& p = job.params;
  const FmaConfig& f = job.fma;
  char text[256];
  std::string out;
  // A model has layers x heads; a q/k/v file one layer of heads; the synthetic input one head.
  if (!p.model.empty()) {
    out += "layer " + std::to_string(p.layer) + "  head " + std::to_string(p.head) + "   ";
  } else if (!p.qkv.empty()) {
    out += "head " + std::to_string(p.head) + "   ";
  }
  if (job.tokens > 0) out += "n = " + std::to_string(job.tokens) + "   ";
  if (job.method == Method::fma) {
    std::snprintf(text, sizeof(text), "r = %lld   p = %lld   %s   %s down-sampling%s",
                  static_cast<long long>(f.block_size), static_cast<long long>(f.rank),
                  f.causal ? "causal" : "bidirectional", to_string(f.downsample), f.linear ? "   linear" : "");
    out += text;
  } else {
    out += peer_settings(job.method, f, job.peer) + "   " + (f.causal ? "causal" : "bidirectional");
  }
  return out;
}

std::string comparison_line(const MapJob& job) {
  const std::string shown = method_title(job.method);
  if (!job.from_model) {
    return std::string(job.params.qkv.empty() ? "synthetic q, k, v" : "q, k, v from a file") +
           ": no model was trained here; full attention is the exact reference, " + shown + " its approximation";
  }
  const std::string name = job.model_name.empty() ? "the model" : job.model_name;
  const std::string trained = job.trained == Method::full ? "full attention" : method_title(job.trained);
  const std::string head = name + " was trained with " + trained;
  if (job.trained == Method::full) {
    return head + ": the full map is what it computes, " + shown + " the counterfactual";
  }
  if (job.trained == job.method && !job.params.model_fma_override) {
    return head + ": the " + shown + " map is what it computes, full attention the counterfactual";
  }
  return head + ": both maps are counterfactual (" + shown + " at these settings, and full attention)";
}

void draw_maps_header(const Shared& shared) {
  const MapsWorker& w = shared.maps;
  const MapJob& shown = w.shown;
  ImGui::TextUnformatted(settings_line(shown).c_str());
  if (!shown.device_text.empty()) {  // where these maps were computed (the Engine panel's choice)
    ImGui::SameLine(0, 30);
    ImGui::TextColored(kMuted, "%s", shown.device_text.c_str());
  }
  if (maps_busy(shared)) {
    ImGui::SameLine(0, 30);
    ImGui::TextColored(kBusy, "computing... %.0f%%", w.progress ? 100 * w.progress->fraction.load() : 0.0);
  } else if (tile_busy(shared)) {
    ImGui::SameLine(0, 30);
    ImGui::TextColored(kBusy, "computing the exact tile...");
  }
  ImGui::PushStyleColor(ImGuiCol_Text, kCompare);
  text_wrapped("%s", comparison_line(shown).c_str());
  ImGui::PopStyleColor();
  if (w.has_failed) {  // newer settings failed: their error, and that these maps are older
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    text_wrapped("engine error for %s: %s", settings_line(w.failed).c_str(), first_line(w.failed.error).c_str());
    ImGui::PopStyleColor();
    ImGui::TextColored(kMuted, "the maps below are still those of the settings above");
  }
  if (shown.inspection) {
    const Inspection& in = *shown.inspection;
    if (in.pool > 1) {
      const long long pool = in.pool;
      ImGui::TextColored(kMuted, "%lld tokens: each map pixel is a mean of %lld x %lld; zoom in to %lld tokens or "
                         "fewer for exact tiles", static_cast<long long>(shown.tokens), pool, pool,
                         static_cast<long long>(kTileSpan));
    }
    text_wrapped("output rel. error %s    mean row TV %s    mean KL %s    top-%d overlap %s",
                       value_text("%.3e", in.output_rel_error).c_str(), mean_text("%.3e", in.row_tv).c_str(),
                       mean_text("%.3e", in.row_kl).c_str(), InspectRequest{}.top_k,
                       mean_text("%.3f", in.row_topk).c_str());
    if (shown.data.nonfinite_cells == 0 && shown.data.diff_max < kDiffFloor) {  // e.g. n <= 2r: FMA is exact
      ImGui::TextColored(kCompare, "%s and full attention are identical within round-off here (max |diff| %.1e < %.0e)",
                         method_title(shown.method), shown.data.diff_max, kDiffFloor);
    }
    draw_level_masses(shown);
  }
  ImGui::Spacing();
}

}  // namespace fmav::viewer
