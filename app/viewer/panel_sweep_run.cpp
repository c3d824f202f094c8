// Running a sweep from the sweep view (the loaded model on its input, or synthetic): the
// form's grid, run_sweep on a worker thread (docs/DESIGN.md §5) that appends to the results
// file and hands each finished point to the view through the progress callback, under a
// mutex; progress is atomics plus a cancel flag.

#include "panel_sweep.h"
#include "data_folder.h"
#include "hf_source.h"
#include "maps_worker.h"
#include "panel_engine.h"
#include "panel_status.h"
#include "shared.h"

#include "fmav/bench.h"
#include "fmav/engine.h"
#include "fmav/error.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <string>
#include <utility>

namespace fmav::viewer {
namespace {

// The form's sweep: the loaded model on its input (the viewer's model and input, at the
// text offset shown) or the synthetic input; throws fmav::Error naming the field.
SweepSpec form_spec(const SweepForm& form, const Shared& shared) {
  FMAV_CHECK(!form.out.empty(), "sweep output file: expected a path, got nothing");
  SweepSpec spec;
  if (form.on_model && !shared.model_path.empty()) {
    spec.model = std::filesystem::absolute(shared.model_path).lexically_normal().string();
    spec.input = std::filesystem::absolute(shared.input_path).lexically_normal().string();
    spec.offset = shared.params.offset;
    if (is_hf_folder(spec.model)) {  // a Hugging Face model: the shown layer, all its heads
      spec.layer = shared.params.layer;
      if (is_ids_file(spec.input)) spec.ids = spec.input, spec.input.clear();
    }
  } else {
    FMAV_CHECK(form.n >= 1 && form.n <= kMaxTokens, "sweep n must be in [1, ", kMaxTokens, "], got ", form.n);
    FMAV_CHECK(form.heads >= 1 && form.heads <= 64, "sweep heads must be in [1, 64], got ", form.heads);
    spec.ns = {form.n};
    spec.heads = form.heads;
    spec.causal = form.causal;
  }
  spec.downsamples.clear();
  for (const std::string& kind : split_list(form.downsamples)) spec.downsamples.push_back(parse_downsample(kind));
  FMAV_CHECK(!spec.downsamples.empty(), "sweep down-sampling: expected average, learned or dense");
  spec.method = form.method;
  spec.block_sizes = parse_n_list(form.block_sizes, "r list");
  spec.ranks = parse_n_list(form.ranks, "p list");
  spec.devices = {resolve_device(form.device)};  // cuda without one: the error names why
  sweep_points(spec);  // checks the grid
  return spec;
}

// Starts the form's sweep on a worker thread; an existing results file of the same sweep is
// shown and resumed. Throws fmav::Error (nothing started).
void start_sweep(SweepPanel& panel, const Shared& shared) {
  const SweepSpec spec = form_spec(panel.form, shared);
  const std::string path = data_path(panel.form.out);
  make_parent_folder(path);
  SweepFile file;
  file.spec = spec;
  if (std::filesystem::exists(path)) {
    file = read_sweep_file(path);
    // A model's n, heads and dim are filled in from the model when the run starts, and
    // run_sweep refuses a file of another sweep then; the form knows them only for synthetic.
    FMAV_CHECK(spec.is_model() ? file.spec.model == spec.model && file.spec.input == spec.input
                               : same_sweep(file.spec, spec),
               path, ": holds another sweep; choose another output file");
  }
  set_results(&panel, std::move(file), path);
  auto run = std::make_shared<SweepRun>();
  panel.run = run;
  panel.worker = std::async(std::launch::async, [run, spec, path] {
    lower_worker_priority();
    try {
      run_sweep(spec, path, [&](const SweepProgress& p) {
        run->points = p.estimate.points;
        run->done = p.estimate.done + p.finished;
        run->seconds_left = p.estimate.seconds;
        if (p.last) run->push(*p.last);
      }, &run->cancel);
    } catch (const std::exception& e) {
      run->fail(e.what());
    }
  });
}


// What an estimate depends on: the form, the source it sweeps and the results file's points
// so far (a run or a resume changes them).
std::string estimate_key(const Shared& shared, const SweepPanel& panel) {
  const SweepForm& f = panel.form;
  std::string key = f.block_sizes + "|" + f.ranks + "|" + data_path(f.out) + "|" + f.downsamples + "|" + f.method;
  key += "|" + std::to_string(f.on_model) + "|" + std::to_string(f.n) + "|" + std::to_string(f.heads) + "|" +
         std::to_string(f.causal) + "|" + shared.params.model + "|" + shared.params.input;
  return key + "|" + std::to_string(panel.file.results.size());
}

// Starts estimating the form's sweep on a worker (estimate_sweep may load a model).
void start_estimate(const Shared& shared, SweepPanel& panel) {
  panel.estimate_of = estimate_key(shared, panel);
  try {
    const SweepSpec spec = form_spec(panel.form, shared);
    const std::string path = data_path(panel.form.out);
    panel.estimating = std::async(std::launch::async, [spec, path] {
      lower_worker_priority();
      try {
        const SweepEstimate e = estimate_sweep(spec, path);
        char text[160];
        std::snprintf(text, sizeof text, "%lld points, %lld in the file; about %.0f s, up to %.0f MiB",
                      static_cast<long long>(e.points), static_cast<long long>(e.done), e.seconds,
                      e.peak_bytes / 1048576.0);
        return std::string(text);
      } catch (const std::exception& e) {
        return std::string("no estimate: ") + e.what();
      }
    });
  } catch (const std::exception& e) {
    panel.estimate = std::string("no estimate: ") + e.what();
  }
}

// The Estimate button and its result: the form's points, those already in the output file,
// the time and the largest point's memory. Once asked for, it is redone whenever what it
// depends on changes (a finished run, a new setting), so it is never stale.
void draw_estimate(const Shared& shared, SweepPanel& panel) {
  using namespace std::chrono_literals;
  if (panel.estimating.valid() && panel.estimating.wait_for(0s) == std::future_status::ready) {
    panel.estimate = panel.estimating.get();
  }
  if (!panel.estimating.valid() && !panel.estimate.empty() && panel.estimate_of != estimate_key(shared, panel)) {
    start_estimate(shared, panel);
  }
  if (panel.estimating.valid()) {
    ImGui::TextDisabled("estimating...");
  } else if (ImGui::Button("Estimate")) {
    start_estimate(shared, panel);
  }
  if (!panel.estimate.empty() && !panel.estimating.valid()) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s", panel.estimate.c_str());
  }
}

void draw_form(Shared& shared, SweepPanel& panel) {
  // Open at first when there is nothing to show, and while a run goes on (its Cancel button).
  if (panel.path.empty() || panel.run) ImGui::SetNextItemOpen(true, panel.run ? ImGuiCond_Always : ImGuiCond_Once);
  if (!ImGui::CollapsingHeader("Run a sweep")) return;
  SweepForm& f = panel.form;
  const bool running = panel.run != nullptr;
  ImGui::BeginDisabled(running);
  const bool has_model = !shared.model_path.empty();
  if (has_model) {
    if (ImGui::RadioButton("the loaded model on its input", f.on_model)) f.on_model = true;
    ImGui::SameLine();
  }
  if (ImGui::RadioButton("synthetic input", !f.on_model || !has_model)) f.on_model = false;
  // FMA, or a peer whose block is r (one p, down-sampling and multiplicity).
  ImGui::SameLine(), ImGui::SetNextItemWidth(150);
  if (ImGui::BeginCombo("method", f.method.c_str())) {
    for (Method method : kFmaAndPeers) {
      const char* m = to_string(method);
      if (ImGui::Selectable(m, f.method == m)) f.method = m;
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine(), ImGui::SetNextItemWidth(90);
  draw_device_combo("device##sweep", &f.device);
  if (has_model && f.on_model) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s on %s%s", file_name(shared.model_path).c_str(), file_name(shared.input_path).c_str(),
                        f.method == "fma" ? " (learned summaries fit its own r, p)" : "");
  }
  ImGui::SetNextItemWidth(140);
  ImGui::InputText("r list", &f.block_sizes);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("base cell sizes r (the paper's v4; the sidebar's r), e.g. 16,32,64");
  ImGui::SameLine(), ImGui::SetNextItemWidth(140);
  ImGui::InputText("p list", &f.ranks);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("ranks p: summary tokens per group and level, e.g. 1,2,4");
  ImGui::SameLine(), ImGui::SetNextItemWidth(130);
  ImGui::InputText("down-sampling", &f.downsamples);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("learned, average and/or dense, comma-separated");
  if (!f.on_model || !has_model) {
    ImGui::SameLine(), ImGui::SetNextItemWidth(90);
    ImGui::InputScalar("n", ImGuiDataType_S64, &f.n);
    ImGui::SameLine(), ImGui::SetNextItemWidth(60);
    ImGui::InputScalar("heads", ImGuiDataType_S64, &f.heads);
    ImGui::SameLine();
    ImGui::Checkbox("causal", &f.causal);
  }
  draw_output_file("output file (.jsonl)", 360, &f.out);
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (!running && ImGui::Button("Start")) {
    try {
      start_sweep(panel, shared);
      shared.status_message = "sweep started; results in " + panel.path;
    } catch (const std::exception& e) {
      report_error(shared, e.what());
    }
  }
  if (!running) {
    ImGui::SameLine();
    draw_estimate(shared, panel);
  }
  if (running) {
    if (ImGui::Button("Cancel")) panel.run->cancel = true;
    ImGui::SameLine();
    ImGui::Text("%lld / %lld points, about %.0f s left%s", static_cast<long long>(panel.run->done.load()),
                static_cast<long long>(panel.run->points.load()), panel.run->seconds_left.load(),
                panel.run->cancel ? " (cancelling after this point)" : "");
  }
}

}  // namespace

void draw_sweep_run(Shared& shared, SweepPanel& panel) {
  collect_streamed(shared, panel.run, panel.worker, "sweep", panel.path, [&](SweepResult&& r) {
    panel.has_bpc = panel.has_bpc || (r.status == "ok" && std::isfinite(r.bpc));
    panel.file.results.push_back(std::move(r));
  });
  draw_form(shared, panel);
}

bool sweep_busy(const SweepPanel& panel) { return streamed_busy(panel); }

void release_sweep(SweepPanel& panel) { release_streamed(panel); }

}  // namespace fmav::viewer
