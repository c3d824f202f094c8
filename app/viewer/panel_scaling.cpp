// The scaling view: an `fmav bench --jsonl` results file (docs/DESIGN.md §6) as median latency and
// peak memory against N on log-log axes, one series per method, with out-of-memory and
// over-budget points as markers at the top edge, reference slopes O(N), O(N log N), O(N^2),
// and the N from which FMA stays faster than each other method. A benchmark can also be run
// from the view: run_bench on a worker thread (§5), on the CPU or the GPU, streams each row
// into the plots (under a mutex) and into a new .jsonl file.

#include "panel_scaling.h"
#include "data_folder.h"
#include "maps_worker.h"
#include "panel_engine.h"
#include "panel_status.h"
#include "plot.h"
#include "shared.h"
#include "streamed_run.h"
#include "viewer_files.h"

#include "fmav/bench.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/tensor_io.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
constexpr const char* kFma = "fma";

// The methods in the order of their first row.
std::vector<std::string> methods_of(const std::vector<BenchRow>& rows) {
  std::vector<std::string> methods;
  for (const BenchRow& r : rows) {
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) methods.push_back(r.method);
  }
  return methods;
}

// Latency (seconds) or peak memory (bytes) against N, with reference slopes anchored at the
// first method's first measured point.
PlotSpec scaling_spec(const std::vector<BenchRow>& rows, bool memory) {
  PlotSpec spec;
  spec.title = memory ? "peak memory vs N" : "median latency vs N (bars: min..max of the repeats)";
  spec.x = {"N", AxisScale::log10, {}};
  spec.y = {memory ? "peak memory" : "latency", AxisScale::log10, {memory ? "B" : "s", true}};
  double n_lo = INFINITY, n_hi = 0, anchor_n = 0, anchor_y = 0;
  for (const std::string& method : methods_of(rows)) {
    Series s;
    s.name = method;
    for (const BenchRow& r : rows) {
      if (r.method != method) continue;
      n_lo = std::min(n_lo, static_cast<double>(r.n)), n_hi = std::max(n_hi, static_cast<double>(r.n));
      if (ran_out(r)) {
        s.edge_x.push_back(static_cast<double>(r.n));
        s.edge_label = r.status == "oom" ? "out of memory" : "over budget";
        continue;
      }
      if (r.status != "ok") continue;
      const double y = memory ? static_cast<double>(r.peak_bytes) : r.median_ms / 1000;
      s.x.push_back(static_cast<double>(r.n)), s.y.push_back(y);
      if (!memory) {  // the spread of the repeats: min..max (a file without max_ms: min..median)
        s.y_lo.push_back(r.min_ms > 0 ? r.min_ms / 1000 : NAN);
        s.y_hi.push_back(std::isfinite(r.max_ms) ? r.max_ms / 1000 : y);
      }
      if (anchor_n == 0 && y > 0) anchor_n = static_cast<double>(r.n), anchor_y = y;
    }
    // A method with only skipped rows (an sdpa-* backend on the CPU, say) has nothing to draw.
    if (!s.x.empty() || !s.edge_x.empty()) spec.series.push_back(std::move(s));
  }
  if (anchor_n > 1 && n_hi > n_lo) {
    spec.series.push_back(power_law("O(N)", n_lo, n_hi, anchor_n, anchor_y, 1, 0));
    spec.series.push_back(power_law("O(N log N)", n_lo, n_hi, anchor_n, anchor_y, 1, 1));
    spec.series.push_back(power_law("O(N^2)", n_lo, n_hi, anchor_n, anchor_y, 2, 0));
  }
  if (!memory) {
    for (const BenchCrossover& c : bench_crossovers(rows, kFma)) {
      spec.annotations.push_back({static_cast<double>(c.n), c.median_ms / 1000,
                                  std::string(kFma) + " faster than " + c.other + " from N = " + std::to_string(c.n)});
    }
  }
  return spec;
}

// ---- running ----

// Thrown from run_bench's row callback to stop it after the row under way (the Cancel button).
struct BenchCancelled {};

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Starts the form's benchmark on a worker thread, streaming to a new .jsonl file. Throws
// fmav::Error naming the field or the file (nothing started).
void start_bench(ScalingPanel& panel) {
  const BenchForm& f = panel.form;
  BenchConfig config;
  config.methods = split_methods(f.methods);
  FMAV_CHECK(!config.methods.empty(), "bench methods: expected names like fma,sdpa, got '", f.methods, "'");
  for (const std::string& m : config.methods) {
    const std::vector<std::string>& known = bench_methods();
    FMAV_CHECK(std::find(known.begin(), known.end(), m) != known.end(), "bench methods: unknown method '", m, "'");
  }
  config.ns = parse_n_list(f.ns, "N range");
  FMAV_CHECK(f.heads >= 1 && f.heads <= 64, "bench heads must be in [1, 64], got ", f.heads);
  config.heads = f.heads;
  FMAV_CHECK(f.repeats >= 1 && f.repeats <= 1000, "bench repeats must be in [1, 1000], got ", f.repeats);
  config.repeats = f.repeats;
  config.device = resolve_device(f.device);  // cuda without one: the error says why
  FMAV_CHECK(!f.out.empty(), "bench output file: expected a path, got nothing");
  const std::string path = data_path(f.out);
  make_parent_folder(path);
  std::shared_ptr<std::FILE> stream(std::fopen(path.c_str(), "wbx"), [](std::FILE* s) {
    if (s) std::fclose(s);
  });
  FMAV_CHECK(stream != nullptr, path, ": cannot create it (it must not exist yet)");
  const std::string device_name = describe_device(config.device);
  append_line_synced(stream.get(), bench_header_json(config, device_name), path);
  panel.file = BenchFile{config, device_name, {}, false};
  panel.path = path;
  panel.latency.auto_fit = panel.memory.auto_fit = true;
  auto run = std::make_shared<BenchRun>();
  run->total = static_cast<int>(config.methods.size() * config.ns.size());
  panel.run = run;
  panel.worker = std::async(std::launch::async, [run, config, path, stream] {
    lower_worker_priority();
    try {
      run_bench(config, [&](const BenchRow& row) {
        append_line_synced(stream.get(), bench_row_json(row), path);
        run->push(row);
        ++run->rows;
        if (run->cancel) throw BenchCancelled{};
      });
    } catch (const BenchCancelled&) {
    } catch (const std::exception& e) {
      run->fail(e.what());
    }
  });
}

void draw_run_form(Shared& shared, ScalingPanel& panel) {
  // Open at first when there is nothing to show, and while a run goes on (its Cancel button).
  if (panel.path.empty() || panel.run) ImGui::SetNextItemOpen(true, panel.run ? ImGuiCond_Always : ImGuiCond_Once);
  if (!ImGui::CollapsingHeader("Run a benchmark")) return;
  BenchForm& f = panel.form;
  const bool running = panel.run != nullptr;
  ImGui::BeginDisabled(running);
  ImGui::SetNextItemWidth(180);
  ImGui::InputText("methods", &f.methods);
  ImGui::SameLine(), ImGui::SetNextItemWidth(120);
  ImGui::InputText("N (list or a:b)", &f.ns);
  ImGui::SameLine(), ImGui::SetNextItemWidth(60);
  ImGui::InputScalar("heads", ImGuiDataType_S64, &f.heads);
  ImGui::SameLine(), ImGui::SetNextItemWidth(60);
  ImGui::InputInt("repeats", &f.repeats, 0);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("timed runs per method and N after a warm-up; the plot shows their median and min..max");
  ImGui::SameLine(), ImGui::SetNextItemWidth(90);
  draw_device_combo("device", &f.device);
  draw_output_file("output file (new .jsonl)", 360, &f.out);
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (!running && ImGui::Button("Start")) {
    try {
      start_bench(panel);
      shared.status_message = "benchmark started; rows stream to " + panel.path;
    } catch (const std::exception& e) {
      report_error(shared, e.what());
    }
  }
  if (running) {
    if (ImGui::Button("Cancel")) panel.run->cancel = true;
    ImGui::SameLine();
    ImGui::Text("%d / %d rows%s", panel.run->rows.load(), panel.run->total.load(),
                panel.run->cancel ? " (cancelling after this row)" : "");
  }
}

}  // namespace

void open_bench_file(ScalingPanel& panel, const std::string& path) {
  FMAV_CHECK(!panel.run, path, ": a benchmark is running; cancel it first");
  BenchFile file = read_bench_file(path);
  ScalingPanel opened;
  opened.form = panel.form;
  opened.file = std::move(file);
  opened.path = path;
  panel = std::move(opened);
}

bool scaling_busy(const ScalingPanel& panel) { return streamed_busy(panel); }

void release_scaling(ScalingPanel& panel) { release_streamed(panel); }

namespace {

// <results stem>_latency.svg/.png and _memory.svg/.png next to the results file.
void export_plots(Shared& shared, const ScalingPanel& panel, const PlotSpec& latency, const PlotSpec& memory) {
  const std::filesystem::path p(panel.path);
  const std::string stem = (p.parent_path() / p.stem()).string();
  try {
    write_plot_svg(stem + "_latency.svg", latency, panel.latency);
    write_plot_svg(stem + "_memory.svg", memory, panel.memory);
    request_plot_png(shared, stem + "_latency.png", panel.latency);
    request_plot_png(shared, stem + "_memory.png", panel.memory);
    shared.status_message = "wrote " + stem + "_{latency,memory}.svg (and .png)";
  } catch (const std::exception& e) {
    report_error(shared, e.what());
  }
}

}  // namespace

void draw_scaling_view(Shared& shared, ScalingPanel& panel) {
  collect_streamed(shared, panel.run, panel.worker, "benchmark", panel.path,
                   [&](BenchRow&& row) { panel.file.rows.push_back(std::move(row)); });
  draw_run_form(shared, panel);
  if (panel.path.empty()) {
    ImGui::TextColored(kMuted, "No benchmark results. Open an `fmav bench --jsonl` results file with File > Open,\n"
                               "start the viewer with --bench FILE.jsonl, or run a benchmark above.");
    return;
  }
  const BenchConfig& c = panel.file.config;
  const std::string device = panel.file.device_name.empty() ? to_string(c.device) : panel.file.device_name;
  ImGui::Text("%s: %zu rows; B = %lld, H = %lld, D = %lld, %s, m = %lld, p = %lld, %s%s; on %s",
              file_name(panel.path).c_str(), panel.file.rows.size(), static_cast<long long>(c.batch),
              static_cast<long long>(c.heads), static_cast<long long>(c.dim), c.causal ? "causal" : "bidirectional",
              static_cast<long long>(c.block_size), static_cast<long long>(c.rank), bench_dtype_name(c.dtype),
              c.backward ? ", forward + backward" : "", device.c_str());
  const std::vector<BenchCrossover> cross = bench_crossovers(panel.file.rows, kFma);
  for (const BenchCrossover& x : cross) {
    ImGui::BulletText("%s faster than %s from N = %lld (its slowest run below %s's fastest)", kFma, x.other.c_str(),
                      static_cast<long long>(x.n), x.other.c_str());
  }
  if (cross.empty()) {
    ImGui::TextColored(kMuted, "no N from which %s stays faster than another method beyond the spread of the repeats",
                       kFma);
  }
  const bool export_now = ImGui::Button("Export SVG + PNG");

  const PlotSpec latency = scaling_spec(panel.file.rows, false);
  const PlotSpec memory = scaling_spec(panel.file.rows, true);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float w = std::max(200.0f, (avail.x - ImGui::GetStyle().ItemSpacing.x) / 2);
  const float h = std::max(150.0f, avail.y - 4);
  draw_plot("scaling latency", latency, panel.latency, w, h);
  ImGui::SameLine();
  draw_plot("scaling memory", memory, panel.memory, w, h);
  if (export_now) export_plots(shared, panel, latency, memory);
}

}  // namespace fmav::viewer
