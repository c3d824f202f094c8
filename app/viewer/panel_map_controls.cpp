// The sidebar's controls of the attention maps: the input (model, q/k/v file or synthetic),
// the method and its settings, the colour scale, Recompute and Cancel, and the fast-path
// check. A change of shared.params starts a new engine run (maps_worker.cpp).

#include "panel_maps.h"
#include "colormap.h"
#include "hf_source.h"
#include "maps_worker.h"
#include "method_labels.h"
#include "panel_engine.h"
#include "settings_check.h"
#include "shared.h"
#include "text_wrap.h"

#include "fmav/attend.h"
#include "fmav/finite.h"
#include "fmav/model.h"

#include <imgui.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kBusy(1.0f, 0.8f, 0.3f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);

// An integer field of the sidebar: a typed value applies on Enter, the -/+ buttons at once,
// so that typing 16384 does not start engine runs for 1, 16, 163 and 1638.
bool input_int(const char* label, int* value, int step = 1, int step_fast = 100) {
  return ImGui::InputInt(label, value, step, step_fast, ImGuiInputTextFlags_EnterReturnsTrue);
}

// Why the last typed or stepped value of a setting was not taken (shown under its field).
struct SettingNote {
  Setting setting = Setting::tokens;
  std::string text;
};
SettingNote g_note;

// A setting's field (issue 21 point 1): -/+ step to the next value the engine accepts with
// the other settings as they are (settings_check.h); a typed value applies on Enter when the
// engine accepts it, else it is not applied and the engine's reason shows under the field.
void setting_field(const char* label, Setting setting, MapParams& p, std::int64_t n, std::int64_t stride,
                   const char* tooltip) {
  ImGui::PushID(label);
  const ImGuiStyle& style = ImGui::GetStyle();
  const float button = ImGui::GetFrameHeight();
  ImGui::SetNextItemWidth(std::max(40.0f, ImGui::CalcItemWidth() - 2 * (button + style.ItemInnerSpacing.x)));
  int value = static_cast<int>(setting_value(p, setting));
  const bool typed = ImGui::InputInt("##value", &value, 0, 0, ImGuiInputTextFlags_EnterReturnsTrue);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tooltip);
  int direction = 0;
  ImGui::SameLine(0, style.ItemInnerSpacing.x);
  if (ImGui::Button("-", ImVec2(button, button))) direction = -1;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the next smaller value the engine accepts");
  ImGui::SameLine(0, style.ItemInnerSpacing.x);
  if (ImGui::Button("+", ImVec2(button, button))) direction = +1;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the next larger value the engine accepts");
  ImGui::SameLine(0, style.ItemInnerSpacing.x);
  ImGui::TextUnformatted(label);
  ImGui::PopID();
  const std::int64_t from = setting_value(p, setting);
  if (direction != 0) {
    const std::int64_t next = step_setting(p, n, setting, direction, stride);
    if (next != from) {
      set_setting(&p, setting, next);
      g_note = {};
    } else {
      g_note = {setting, std::string("no ") + (direction > 0 ? "larger" : "smaller") + " value the engine accepts here"};
    }
  } else if (typed && value != from) {
    MapParams candidate = p;
    set_setting(&candidate, setting, value);
    const std::string problem = settings_problem(candidate, setting == Setting::tokens ? value : n);
    if (problem.empty()) {
      p = candidate;
      g_note = {};
    } else {
      g_note = {setting, std::to_string(value) + " not applied: " + problem};
    }
  }
  if (!g_note.text.empty() && g_note.setting == setting) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    text_wrapped("%s", g_note.text.c_str());
    ImGui::PopStyleColor();
  }
}

// A combo entry the engine would refuse with the other settings: greyed, its reason on hover.
bool valid_selectable(const char* name, bool selected, const std::string& problem) {
  if (problem.empty()) return ImGui::Selectable(name, selected);
  ImGui::TextDisabled("%s", name);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", problem.c_str());
  return false;
}

// The fast-path check: an implementation and precision of the shown FMA variant, where it
// runs, its time beside full attention's and its error against the float64 inspection.
void draw_fast_path(Shared& shared) {
  ImGui::Spacing();
  ImGui::TextUnformatted("Fast path");
  ImGui::Separator();
  FastPath& f = shared.maps.fast_path;
  ImGui::PushItemWidth(130);
  // The implementations of the shown method (fmav/attend.h's Impl).
  const Method method = shared.maps.shown.method;
  std::vector<Impl> impls = {Impl::automatic, Impl::fused, Impl::blocked, Impl::reference};
  // FMA-1D's forward from LibTorch's attention kernels (docs/DESIGN.md §8.6).
  if (method == Method::fma && !shared.maps.shown.fma.is_2d() && !shared.maps.shown.fma.linear) {
    impls.insert(impls.begin() + 2, Impl::composed);
  }
  if (method == Method::local) impls = {Impl::automatic, Impl::fused, Impl::reference};
  if (is_peer(method) && method != Method::local) impls = {Impl::automatic, Impl::blocked, Impl::reference};
  if (std::find(impls.begin(), impls.end(), f.impl) == impls.end()) f.impl = Impl::automatic;
  if (ImGui::BeginCombo("implementation", f.impl == Impl::automatic ? "auto" : to_string(f.impl))) {
    for (Impl impl : impls) {
      if (ImGui::Selectable(impl == Impl::automatic ? "auto" : to_string(impl), impl == f.impl)) f.impl = impl;
    }
    ImGui::EndCombo();
  }
  draw_device_combo("device", &f.device);
  ImGui::PopItemWidth();
  if (ImGui::RadioButton("float32", !f.f64)) f.f64 = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("float64", f.f64)) f.f64 = true;
  const FastPathCheck& c = shared.maps.check;
  if (check_busy(shared)) {
    ImGui::TextColored(kBusy, "timing...");
  } else if (!c.error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    text_wrapped("%s", c.error.substr(0, c.error.find('\n')).c_str());
    ImGui::PopStyleColor();
  } else if (c.of) {
    text_wrapped("%s %.3g ms, full attention %.3g ms", method_title(method), 1e3 * c.fma_seconds,
                       1e3 * c.full_seconds);
    ImGui::TextColored(kMuted, "error vs its float64 reference %.2e", c.rel_error);
  }
}

// The colour scale, the Recompute button and the last run's time or state.
void draw_run_status(Shared& shared, MapsPanel& panel) {
  const MapJob& shown = shared.maps.shown;
  ImGui::Checkbox("block grid", &panel.show_grid);
  ImGui::SameLine();
  if (ImGui::Button("Fit")) shared.viewport.fit(shared.viewport.rows, shared.viewport.cols);
  if (shared.viewport.zoomed()) {
    const MapViewport& v = shared.viewport;
    ImGui::TextColored(kMuted, "zoom: rows %.0f-%.0f, keys %.0f-%.0f", v.y0, v.y1, v.x0, v.x1);
  }
  ImGui::TextUnformatted("colour scale");
  for (MapScale scale : {MapScale::log10, MapScale::linear}) {
    ImGui::SameLine();
    const char* name = scale == MapScale::log10 ? "log10" : "linear";
    if (ImGui::RadioButton(name, shared.colors.scale == scale)) shared.colors.scale = scale;
  }
  ImGui::PushItemWidth(130);
  if (ImGui::BeginCombo("colormap", to_string(shared.colors.colormap))) {
    for (Colormap map : {Colormap::standard, Colormap::magma, Colormap::gray}) {
      if (ImGui::Selectable(to_string(map), map == shared.colors.colormap)) shared.colors.colormap = map;
    }
    ImGui::EndCombo();
  }
  if (shared.colors.scale == MapScale::log10) {
    // The range shown: probabilities below 10^floor get the colour of the floor.
    int floor = static_cast<int>(shared.colors.log_floor);
    if (ImGui::SliderInt("log10 floor", &floor, -12, -1)) shared.colors.log_floor = floor;
  }
  ImGui::PopItemWidth();
  if (ImGui::Button("Recompute")) shared.maps.recompute = true;
  ImGui::SameLine();
  if (shared.maps.pending.valid()) {
    ImGui::ProgressBar(static_cast<float>(shared.maps.progress->fraction.load()), ImVec2(110, 0));
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) cancel_maps(shared);
  } else if (maps_busy(shared)) {
    ImGui::TextColored(kBusy, "computing...");
  } else if (shared.maps.has_cancelled && shared.maps.cancelled_params == shared.params) {
    ImGui::TextColored(kBusy, "cancelled: Recompute runs it");
  } else if (!maps_error(shared).empty()) {
    ImGui::TextColored(kErrorColor, "engine error");
  } else {
    ImGui::TextColored(kMuted, "engine %.3f s", shown.seconds);
  }
  text_wrapped("%s", shown.source.c_str());
  // NaN and Inf in q, k, v are refused (an error naming them) unless let through here or by
  // --allow-nonfinite; what was let through stays in sight (source_finite.h).
  bool allow = nonfinite_allowed();
  if (ImGui::Checkbox("allow NaN / Inf", &allow)) {
    set_allow_nonfinite(allow);
    shared.maps.recompute = true;
  }
  if (ImGui::IsItemHovered()) {
    ImGui::SetTooltip("Show q, k, v that hold NaN or Inf instead of refusing them: such cells are drawn "
                      "magenta and metrics over them read \"undefined\"");
  }
  if (!shown.nonfinite.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kBusy);
    text_wrapped("non-finite: %s", shown.nonfinite.c_str());
    ImGui::PopStyleColor();
  }
  draw_fast_path(shared);
}

// The model source's controls: which model and input, layer and head; the FMA settings
// are the model's own (its learned weights fix r and p).
void draw_model_controls(Shared& shared) {
  const MapJob& shown = shared.maps.shown;
  MapParams& p = shared.params;
  text_wrapped("model %s", file_name(p.model).c_str());
  text_wrapped("input %s", file_name(p.input).c_str());
  const int layers = std::max(1, shown.layers), heads = std::max(1, shown.heads);
  ImGui::PushItemWidth(130);
  if (input_int("layer", &p.layer)) p.layer = std::clamp(p.layer, 0, layers - 1);
  if (!shown.layer_name.empty() && shown.params.layer == p.layer) {  // a segmenter's block
    ImGui::TextColored(kMuted, "%s", shown.layer_name.c_str());
  }
  if (input_int("head", &p.head)) p.head = std::clamp(p.head, 0, heads - 1);
  // The offset is a text model's: hidden once the shown run of this model has an image (an
  // error, such as an image model refusing an offset, keeps it, so it can be set back).
  const bool image_model = shown.params.model == p.model && shown.image != nullptr;
  int offset = static_cast<int>(p.offset);
  if (!image_model && input_int("text offset", &offset, 64, 512)) p.offset = std::max(0, offset);
  ImGui::PopItemWidth();
  const FmaConfig& f = shown.fma;
  if (is_peer(shown.method)) {
    ImGui::TextColored(kMuted, "%s", peer_settings(shown.method, f, shown.peer).c_str());
  } else {
    ImGui::TextColored(kMuted, "%s: r = %lld, p = %lld, %s", variant_name(f), static_cast<long long>(f.block_size),
                       static_cast<long long>(f.rank), to_string(f.downsample));
  }
  if (p.model_fma_override) {  // a sweep point's settings (Sweep tab)
    ImGui::TextColored(kBusy, "%s as in a sweep point, not the model's own", method_title(p.method));
    if (ImGui::SmallButton("use the model's own attention")) p.model_fma_override = false, p.method = Method::fma;
  }
}

// A Hugging Face model's controls: which model and input, layer, head and the first token;
// the method and its settings follow, as for a q/k/v file (the model's own attention is full).
void draw_hf_controls(Shared& shared) {
  MapParams& p = shared.params;
  const MapJob& shown = shared.maps.shown;
  text_wrapped("Hugging Face model %s", file_name(p.model).c_str());
  text_wrapped("input %s", file_name(p.input).c_str());
  const int layers = std::max(1, shown.layers), heads = std::max(1, shown.heads);
  ImGui::PushItemWidth(130);
  if (input_int("layer", &p.layer)) p.layer = std::clamp(p.layer, 0, layers - 1);
  if (input_int("head", &p.head)) p.head = std::clamp(p.head, 0, heads - 1);
  int offset = static_cast<int>(p.offset);
  if (input_int("token offset", &offset, 64, 512)) p.offset = std::max(0, offset);
  ImGui::PopItemWidth();
}

// The sources to choose from: the loaded model, the loaded q/k/v file, the synthetic input.
void draw_sources(Shared& shared) {
  MapParams& p = shared.params;
  if (!shared.model_path.empty() || !shared.qkv_path.empty()) {
    const bool use_model = !p.model.empty(), use_qkv = !p.qkv.empty();
    if (!shared.model_path.empty()) {
      if (ImGui::RadioButton("model", use_model)) {
        p.model = shared.model_path, p.input = shared.input_path, p.qkv.clear(), p.model_fma_override = false;
      }
      ImGui::SameLine();
    }
    if (ImGui::RadioButton("synthetic", !use_model && !use_qkv)) {
      p.model.clear(), p.input.clear(), p.qkv.clear();
    }
    if (!shared.qkv_path.empty()) {
      ImGui::SameLine();
      if (ImGui::RadioButton("q/k/v file", use_qkv) && !use_qkv) {
        p.qkv = shared.qkv_path, p.model.clear(), p.input.clear(), p.head = 0;
      }
    }
  }
}

}  // namespace

void draw_map_controls(Shared& shared, MapsPanel& panel) {
  MapParams& p = shared.params;
  ImGui::TextUnformatted("Input");
  ImGui::Separator();
  draw_sources(shared);
  const bool hf = is_hf_folder(p.model);
  if (!p.model.empty() && !hf) {
    draw_model_controls(shared);
    draw_run_status(shared, panel);
    return;
  }
  if (hf) draw_hf_controls(shared);
  // The synthetic input, a q/k/v file and a Hugging Face model share the FMA settings; a
  // file or model fixes n and has heads to choose from.
  const bool qkv = !p.qkv.empty();
  ImGui::PushItemWidth(130);
  if (qkv) {
    text_wrapped("file %s", file_name(p.qkv).c_str());
    const int heads = std::max(1, shared.maps.shown.heads);
    if (input_int("head", &p.head)) p.head = std::clamp(p.head, 0, heads - 1);
  }
  ImGui::Spacing();
  ImGui::TextUnformatted("Method");
  ImGui::Separator();
  // Wide enough for the longest title ("H-Transformer-1D" was cut at the fields' 130 px).
  float widest = 0;
  for (Method m : kFmaAndPeers) widest = std::max(widest, ImGui::CalcTextSize(method_title(m)).x);
  ImGui::SetNextItemWidth(widest + ImGui::GetFrameHeight() + 2 * ImGui::GetStyle().FramePadding.x + 4);
  if (ImGui::BeginCombo("method", method_title(p.method))) {
    for (Method m : kFmaAndPeers) {
      MapParams candidate = p;
      candidate.method = m;
      const std::int64_t tokens = qkv || hf ? std::max<std::int64_t>(1, shared.maps.shown.tokens) : p.n;
      if (valid_selectable(method_title(m), m == p.method, settings_problem(candidate, tokens))) p.method = m;
    }
    ImGui::EndCombo();
  }
  const bool fma = p.method == Method::fma;
  int seed = static_cast<int>(p.seed);
  // The tokens the settings are judged on: the synthetic input's n, a file's or model's N.
  const std::int64_t n = qkv || hf ? std::max<std::int64_t>(1, shared.maps.shown.tokens) : p.n;
  if (!qkv && !hf) {
    setting_field("tokens n", Setting::tokens, p, n, 64, "sequence length N of the synthetic input (1 to 16384)");
  }
  // The block is each method's own: FMA's base cell size r (the paper's v4), H-Transformer's
  // Nr, Reformer's chunk, a window.
  const char* block = fma ? "base cell size r" : p.method == Method::reformer ? "chunk" : p.method == Method::swin
                                                     ? "window side" : "block size";
  if (p.method != Method::linear) {
    setting_field(block, Setting::block_size, p, n, 1,
                  fma ? "r: tokens per finest block; level l groups r 2^(l-1) tokens" : "the method's block of tokens");
  }
  if (fma) setting_field("rank p", Setting::rank, p, n, 1, "p: summary tokens per group and level");
  if (p.method == Method::reformer) {
    setting_field("hash rounds", Setting::hash_rounds, p, n, 1, "Reformer's hashing rounds (1 to 8)");
  }
  if (input_int("seed", &seed)) p.seed = static_cast<std::uint64_t>(std::max(0, seed));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("seed of the synthetic input and of the random down-sampling weights");
  if (fma && ImGui::BeginCombo("down-sampling", to_string(p.downsample))) {
    for (Downsample kind : {Downsample::learned, Downsample::average, Downsample::dense}) {
      MapParams candidate = p;
      candidate.downsample = kind;
      if (valid_selectable(to_string(kind), kind == p.downsample, settings_problem(candidate, n))) p.downsample = kind;
    }
    ImGui::EndCombo();
  }
  ImGui::PopItemWidth();
  if (p.method == Method::swin) {
    ImGui::Checkbox("shifted windows", &p.shifted);
    ImGui::TextColored(kMuted, "tokens on the most square grid of n");
  } else if (hf) {
    ImGui::TextColored(kMuted, hf_folder_causal(p.model) ? "causal, as the model" : "bidirectional, as the model");
  } else {
    ImGui::Checkbox("causal", &p.causal);
  }
  if (fma) ImGui::Checkbox("count multiplicity", &p.count_multiplicity);
  draw_run_status(shared, panel);
}

}  // namespace fmav::viewer
