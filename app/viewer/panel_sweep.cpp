// The sweep view: an `fmav sweep` results file (docs/DESIGN.md §5, §6) as a heat map of one
// metric over the r x p grid (the other axes filtered to one value each), output error
// against latency and against peak memory with the Pareto front (the points no other point
// beats in both), and a sortable table. A point chosen in any of them can be opened in the attention
// view; the plots export as SVG next to the results file. A synthetic sweep can also be run
// from the view (panel_sweep_run.cpp).

#include "panel_sweep.h"
#include "colormap.h"
#include "hf_source.h"
#include "maps_worker.h"
#include "plot.h"
#include "shared.h"
#include "viewer_files.h"

#include "fmav/error.h"
#include "fmav/model.h"
#include "fmav/sweep.h"
#include "fmav/tensor_io.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const char* const kMetricNames[] = {"output rel. error", "mean TV", "mean KL",
                                    "bpc",               "latency", "peak memory"};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kMaxModelConfigBytes = 1u << 20;

bool is_error_metric(SweepMetric m) { return m <= SweepMetric::bpc; }

// A result's value of `metric` (latency in seconds, memory in bytes); NaN unless ok.
double metric_value(const SweepResult& r, SweepMetric metric) {
  if (r.status != "ok") return kNaN;
  switch (metric) {
    case SweepMetric::output_rel_error: return r.output_rel_error;
    case SweepMetric::mean_tv: return r.mean_tv;
    case SweepMetric::mean_kl: return r.mean_kl;
    case SweepMetric::bpc: return r.bpc;
    case SweepMetric::latency: return r.latency_ms / 1000;
    case SweepMetric::peak_bytes: return static_cast<double>(r.peak_bytes);
  }
  return kNaN;
}

LabelFormat metric_format(SweepMetric metric) {
  if (metric == SweepMetric::latency) return {"s", true};
  if (metric == SweepMetric::peak_bytes) return {"B", true};
  return {};
}

template <typename T>
std::vector<T> sorted_unique(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

bool passes(const SweepPanel& panel, const SweepPoint& p) {
  return p.n == panel.ns[panel.n_index] && p.downsample == panel.downsamples[panel.downsample_index] &&
         p.count_multiplicity == panel.multiplicities[panel.multiplicity_index] &&
         p.dtype == panel.dtypes[panel.dtype_index];
}

// Indices into file.results of the points the filters let through.
std::vector<std::size_t> shown_results(const SweepPanel& panel) {
  std::vector<std::size_t> shown;
  for (std::size_t i = 0; i < panel.file.results.size(); ++i) {
    if (passes(panel, panel.file.results[i].point)) shown.push_back(i);
  }
  return shown;
}

// ---- heat map ----

// The result of each cell (row p, column r), -1 where none is recorded yet.
std::vector<std::int64_t> cell_results(const SweepPanel& panel, const std::vector<std::size_t>& shown) {
  const std::size_t cols = panel.block_sizes.size();
  std::vector<std::int64_t> cells(panel.ranks.size() * cols, -1);
  for (std::size_t i : shown) {
    const SweepPoint& p = panel.file.results[i].point;
    const auto c = std::find(panel.block_sizes.begin(), panel.block_sizes.end(), p.block_size);
    const auto r = std::find(panel.ranks.begin(), panel.ranks.end(), p.rank);
    if (c == panel.block_sizes.end() || r == panel.ranks.end()) continue;
    cells[(r - panel.ranks.begin()) * cols + (c - panel.block_sizes.begin())] = static_cast<std::int64_t>(i);
  }
  return cells;
}

PlotSpec heat_spec(const SweepPanel& panel, const std::vector<std::int64_t>& cells) {
  PlotSpec spec;
  spec.title = std::string(kMetricNames[static_cast<int>(panel.metric)]) + " over r x p";
  spec.x.title = "r (base cell size)";
  spec.y.title = "p (rank)";
  HeatMap& map = spec.heat_map;
  map.rows = static_cast<int>(panel.ranks.size());
  map.cols = static_cast<int>(panel.block_sizes.size());
  double lo = INFINITY, hi = -INFINITY;
  const bool log = is_error_metric(panel.metric);
  for (std::int64_t i : cells) {
    const double v = i < 0 ? kNaN : metric_value(panel.file.results[i], panel.metric);
    map.values.push_back(std::isfinite(v) ? v : kNaN);
    if (std::isfinite(v) && (!log || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  for (std::int64_t r : panel.ranks) map.row_labels.push_back(std::to_string(r));
  for (std::int64_t c : panel.block_sizes) map.col_labels.push_back(std::to_string(c));
  if (!(lo < hi)) lo = std::isfinite(lo) ? lo * 0.5 : 0.5, hi = std::isfinite(hi) ? hi * 2 : 1;
  map.color_lo = lo, map.color_hi = hi;
  map.color_scale = log ? AxisScale::log10 : AxisScale::linear;
  map.value_format = metric_format(panel.metric);
  map.color = [lo, hi, log](double v) {
    const double t = log ? (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                         : (v - lo) / (hi - lo);
    return sequential_color(static_cast<float>(t));
  };
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cells[i] >= 0 && cells[i] == panel.selected) {
      map.selected_row = static_cast<int>(i) / map.cols, map.selected_col = static_cast<int>(i) % map.cols;
    }
  }
  return spec;
}

// ---- scatters: error against a cost, with the Pareto front ----

// The scatter's points and its front, as indices into file.results (series 0, 1).
struct Scatter {
  PlotSpec spec;
  std::vector<std::size_t> points, front;
};

Scatter scatter_spec(const SweepPanel& panel, const std::vector<std::size_t>& shown, SweepMetric cost) {
  Scatter s;
  const std::vector<SweepResult>& results = panel.file.results;
  for (std::size_t i : shown) {
    const double c = metric_value(results[i], cost), e = metric_value(results[i], SweepMetric::output_rel_error);
    if (std::isfinite(c) && c > 0 && std::isfinite(e) && e > 0) s.points.push_back(i);
  }
  std::vector<double> costs, errors;
  for (std::size_t i : s.points) {
    costs.push_back(metric_value(results[i], cost));
    errors.push_back(results[i].output_rel_error);
  }
  for (std::size_t k : pareto_front(costs, errors)) s.front.push_back(s.points[k]);
  const bool latency = cost == SweepMetric::latency;
  s.spec.title = latency ? "output error vs latency" : "output error vs peak memory";
  s.spec.x = {latency ? "latency" : "peak memory", AxisScale::log10, metric_format(cost)};
  s.spec.y = {"output rel. error", AxisScale::log10, {}};
  const auto series = [&](const char* name, const std::vector<std::size_t>& of) {
    Series out;
    out.name = name;
    for (std::size_t i : of) {
      out.x.push_back(metric_value(results[i], cost));
      out.y.push_back(results[i].output_rel_error);
    }
    return out;
  };
  s.spec.series.push_back(series("points", s.points));
  s.spec.series.back().line = false;
  s.spec.series.push_back(series("Pareto front", s.front));
  s.spec.series.back().marker = Marker::square, s.spec.series.back().marker_size = 4.5f;
  s.spec.series.back().color = Rgba8{255, 140, 0, 255};
  const auto selected = std::find(s.points.begin(), s.points.end(), static_cast<std::size_t>(panel.selected));
  if (panel.selected >= 0 && selected != s.points.end()) {
    s.spec.series.push_back(series("selected", {*selected}));
    Series& sel = s.spec.series.back();
    sel.line = false, sel.marker = Marker::circle, sel.marker_size = 7, sel.fit = false;
    sel.color = Rgba8{255, 255, 255, 255};
  }
  return s;
}

// The point a click on a scatter chose, or -1.
std::int64_t clicked_point(const Scatter& s, const PlotHit& hit) {
  if (hit.edge || hit.point < 0) return -1;
  if (hit.series == 0) return static_cast<std::int64_t>(s.points[hit.point]);
  if (hit.series == 1) return static_cast<std::int64_t>(s.front[hit.point]);
  return -1;
}

// ---- controls ----

// A combo over an axis' values when it has several; label(i) names value i.
template <typename Label>
void axis_filter(const char* name, std::size_t count, int* index, Label label) {
  if (count < 2) return;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110);
  if (ImGui::BeginCombo(name, label(*index).c_str())) {
    for (int i = 0; i < static_cast<int>(count); ++i) {
      if (ImGui::Selectable(label(i).c_str(), i == *index)) *index = i;
    }
    ImGui::EndCombo();
  }
}

void draw_filters(SweepPanel& panel) {
  ImGui::SetNextItemWidth(160);
  if (ImGui::BeginCombo("metric", kMetricNames[static_cast<int>(panel.metric)])) {
    for (int m = 0; m < static_cast<int>(std::size(kMetricNames)); ++m) {
      if (m == static_cast<int>(SweepMetric::bpc) && !panel.has_bpc) continue;
      if (ImGui::Selectable(kMetricNames[m], m == static_cast<int>(panel.metric))) {
        panel.metric = static_cast<SweepMetric>(m);
        panel.heat.auto_fit = true;
      }
    }
    ImGui::EndCombo();
  }
  axis_filter("n", panel.ns.size(), &panel.n_index, [&](int i) { return std::to_string(panel.ns[i]); });
  axis_filter("downsample", panel.downsamples.size(), &panel.downsample_index,
              [&](int i) { return std::string(to_string(panel.downsamples[i])); });
  axis_filter("multiplicity", panel.multiplicities.size(), &panel.multiplicity_index,
              [&](int i) { return std::string(panel.multiplicities[i] ? "counted" : "not counted"); });
  axis_filter("dtype", panel.dtypes.size(), &panel.dtype_index,
              [&](int i) { return std::string(dtype_name(panel.dtypes[i])); });
}

// The model's own FMA settings (its config.json). Throws fmav::Error naming the file.
FmaConfig model_fma(const std::string& model) {
  const std::string config = (std::filesystem::path(model) / "config.json").string();
  return fma_config(parse_model_config(read_file_bytes(config, kMaxModelConfigBytes), config));
}

// Shows the selected point in the attention view: the synthetic input under its settings,
// or the model when the point is the model's own r and p (a model's FMA settings are fixed).
void open_selected(Shared& shared, const SweepPanel& panel) {
  const SweepResult& r = panel.file.results[panel.selected];
  const SweepSpec& spec = panel.file.spec;
  const std::string key = sweep_key(r.point);
  MapParams& p = shared.params;
  p.method = parse_fma_or_peer(spec.method);
  if (spec.layer >= 0) {  // a Hugging Face model's layer, under the point's settings (sidebar)
    shared.model_path = spec.model, shared.input_path = spec.ids.empty() ? spec.input : spec.ids;
    p.model = spec.model, p.input = shared.input_path, p.qkv.clear(), p.offset = spec.offset;
    p.layer = spec.layer, p.head = std::max(0, spec.head), p.model_fma_override = false;
    p.block_size = r.point.block_size, p.rank = r.point.rank, p.seed = spec.seed;
    p.downsample = r.point.downsample, p.count_multiplicity = r.point.count_multiplicity;
    shared.query_row = -1;
  } else if (spec.is_model()) {
    // The model with the sweep's method at the point's settings, unless they are its own FMA.
    const FmaConfig own = model_fma(spec.model);
    shared.model_path = spec.model, shared.input_path = spec.input;
    p.model = spec.model, p.input = spec.input, p.qkv.clear(), p.offset = spec.offset;
    p.model_fma_override = p.method != Method::fma || own.block_size != r.point.block_size ||
                           own.rank != r.point.rank || own.downsample != r.point.downsample ||
                           own.count_multiplicity != r.point.count_multiplicity;
    p.block_size = r.point.block_size, p.rank = r.point.rank;
    p.downsample = r.point.downsample, p.count_multiplicity = r.point.count_multiplicity;
    shared.query_row = -1;
  } else {
    if (r.point.n > kMaxTokens) {
      shared.status_message = key + ": n is over the viewer's largest, " + std::to_string(kMaxTokens);
      return;
    }
    p.model.clear(), p.input.clear(), p.qkv.clear(), p.model_fma_override = false;
    p.layer = 0, p.head = 0, p.offset = 0;
    p.n = r.point.n, p.block_size = r.point.block_size, p.rank = r.point.rank;
    p.downsample = r.point.downsample, p.count_multiplicity = r.point.count_multiplicity;
    p.causal = spec.causal, p.seed = spec.seed;
    shared.query_row = -1;
  }
  shared.view = View::attention;
  shared.view_requested = true;
  shared.status_message = "showing sweep point " + key;
}

// <results stem>_<name>.svg next to the results file.
std::string svg_path(const SweepPanel& panel, const std::string& name) {
  std::filesystem::path p(panel.path);
  return (p.parent_path() / (p.stem().string() + "_" + name + ".svg")).string();
}

void export_svgs(Shared& shared, SweepPanel& panel, const PlotSpec& heat, const Scatter& latency,
                 const Scatter& memory) {
  try {
    const std::string a = svg_path(panel, "heatmap"), b = svg_path(panel, "error_latency"),
                      c = svg_path(panel, "error_memory");
    write_plot_svg(a, heat, panel.heat);
    write_plot_svg(b, latency.spec, panel.latency);
    write_plot_svg(c, memory.spec, panel.memory);
    // The same plots as on screen, as PNG, cut from the next frame.
    const auto png = [](const std::string& svg) { return svg.substr(0, svg.size() - 4) + ".png"; };
    request_plot_png(shared, png(a), panel.heat);
    request_plot_png(shared, png(b), panel.latency);
    request_plot_png(shared, png(c), panel.memory);
    shared.status_message = "wrote " + a + ", " + file_name(b) + " and " + file_name(c) + " (and .png)";
  } catch (const std::exception& e) {
    report_error(shared, e.what());
  }
}

// ---- table ----

constexpr const char* kColumns[] = {"#",      "n",          "r",     "p",  "downsample", "mult", "dtype",
                                    "status", "rel. error", "TV",    "KL", "bpc",        "latency", "peak"};

// A numeric key of column `c` (NaN sorts last); the text columns compare as strings.
double column_number(const SweepResult& r, int c) {
  switch (c) {
    case 0: return static_cast<double>(r.index);
    case 1: return static_cast<double>(r.point.n);
    case 2: return static_cast<double>(r.point.block_size);
    case 3: return static_cast<double>(r.point.rank);
    case 5: return r.point.count_multiplicity;
    case 8: return metric_value(r, SweepMetric::output_rel_error);
    case 9: return metric_value(r, SweepMetric::mean_tv);
    case 10: return metric_value(r, SweepMetric::mean_kl);
    case 11: return metric_value(r, SweepMetric::bpc);
    case 12: return metric_value(r, SweepMetric::latency);
    case 13: return metric_value(r, SweepMetric::peak_bytes);
  }
  return 0;
}
std::string column_text(const SweepResult& r, int c) {
  if (c == 4) return to_string(r.point.downsample);
  if (c == 6) return dtype_name(r.point.dtype);
  if (c == 7) return r.status;
  const double v = column_number(r, c);
  if (c == 5) return v != 0 ? "yes" : "no";
  if (c <= 3) return std::to_string(static_cast<std::int64_t>(v));
  if (std::isnan(v)) return "-";
  return format_value(v, c == 12 ? LabelFormat{"s", true} : c == 13 ? LabelFormat{"B", true} : LabelFormat{}, 3);
}

void sort_rows(const SweepPanel& panel, std::vector<std::size_t>& rows) {
  const ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs();
  if (!specs || specs->SpecsCount == 0) return;
  const int c = specs->Specs[0].ColumnIndex;
  const bool ascending = specs->Specs[0].SortDirection != ImGuiSortDirection_Descending;
  const std::vector<SweepResult>& results = panel.file.results;
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    if (c == 4 || c == 6 || c == 7) {
      const std::string x = column_text(results[a], c), y = column_text(results[b], c);
      return ascending ? x < y : y < x;
    }
    const double x = column_number(results[a], c), y = column_number(results[b], c);
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);  // NaN last
    return ascending ? x < y : y < x;
  });
}

void draw_table(SweepPanel& panel, std::vector<std::size_t> rows, float height) {
  const ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders |
                                ImGuiTableFlags_ScrollY | ImGuiTableFlags_ScrollX | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("points", static_cast<int>(std::size(kColumns)), flags, ImVec2(0, height))) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  for (const char* name : kColumns) {
    ImGui::TableSetupColumn(name, name[0] == '#' ? ImGuiTableColumnFlags_DefaultSort : 0);
  }
  ImGui::TableHeadersRow();
  sort_rows(panel, rows);
  for (std::size_t i : rows) {
    const SweepResult& r = panel.file.results[i];
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::PushID(static_cast<int>(i));
    const bool selected = panel.selected == static_cast<std::int64_t>(i);
    if (ImGui::Selectable(column_text(r, 0).c_str(), selected, ImGuiSelectableFlags_SpanAllColumns)) {
      panel.selected = static_cast<std::int64_t>(i);
    }
    if (r.status != "ok" && ImGui::IsItemHovered() && !r.error.empty()) ImGui::SetTooltip("%s", r.error.c_str());
    ImGui::PopID();
    for (int c = 1; c < static_cast<int>(std::size(kColumns)); ++c) {
      ImGui::TableSetColumnIndex(c);
      ImGui::TextUnformatted(column_text(r, c).c_str());
    }
  }
  ImGui::EndTable();
}

// A missing cell's status and why, added to the plot's hover tooltip.
void missing_cell_tooltip(const SweepPanel& panel, const std::vector<std::int64_t>& cells, int cols) {
  const PlotHit& hover = panel.heat.hovered;
  if (hover.row < 0 || hover.col < 0) return;
  const std::int64_t i = cells[static_cast<std::size_t>(hover.row) * cols + hover.col];
  ImGui::BeginTooltip();
  if (i < 0) {
    ImGui::TextUnformatted("not measured (yet)");
  } else if (panel.file.results[i].status != "ok") {
    const SweepResult& r = panel.file.results[i];
    ImGui::Text("%s%s%s", r.status.c_str(), r.error.empty() ? "" : ": ", r.error.c_str());
  } else {
    ImGui::TextUnformatted(sweep_key(panel.file.results[i].point).c_str());
  }
  ImGui::EndTooltip();
}

}  // namespace

// Shows `file` (read from `path`): the grid's axes from its spec, nothing selected.
void set_results(SweepPanel* panel, SweepFile file, const std::string& path) {
  panel->file = std::move(file);
  panel->path = path;
  panel->ns.clear(), panel->multiplicities.clear();
  panel->n_index = panel->downsample_index = panel->multiplicity_index = panel->dtype_index = 0;
  panel->selected = -1;
  panel->has_bpc = false;
  panel->heat.auto_fit = panel->latency.auto_fit = panel->memory.auto_fit = true;
  const SweepSpec& spec = panel->file.spec;
  panel->ns = sorted_unique(spec.ns);
  panel->block_sizes = sorted_unique(spec.block_sizes);
  panel->ranks = sorted_unique(spec.ranks);
  panel->downsamples = sorted_unique(spec.downsamples);
  for (bool m : {true, false}) {  // counted first, as the default
    if (std::find(spec.multiplicities.begin(), spec.multiplicities.end(), m) != spec.multiplicities.end()) {
      panel->multiplicities.push_back(m);
    }
  }
  panel->dtypes = sorted_unique(spec.dtypes);
  FMAV_CHECK(!panel->ns.empty() && !panel->block_sizes.empty() && !panel->ranks.empty() &&
                 !panel->downsamples.empty() && !panel->multiplicities.empty() && !panel->dtypes.empty(),
             path, ": the sweep's grid is empty");
  for (const SweepResult& r : panel->file.results) {
    panel->has_bpc = panel->has_bpc || (r.status == "ok" && std::isfinite(r.bpc));
  }
}


void open_sweep_file(SweepPanel& panel, const std::string& path) {
  FMAV_CHECK(!panel.run, path, ": a sweep is running; cancel it first");
  SweepFile file = read_sweep_file(path);
  SweepPanel opened;
  opened.form = panel.form;
  set_results(&opened, std::move(file), path);
  panel = std::move(opened);
}

void draw_sweep_view(Shared& shared, SweepPanel& panel) {
  draw_sweep_run(shared, panel);
  if (panel.path.empty()) {
    ImGui::TextColored(kMuted, "No sweep results. Open an `fmav sweep` results file (.jsonl) with File > Open,\n"
                               "start the viewer with --sweep FILE.jsonl, or run a sweep above.");
    return;
  }
  const SweepSpec& spec = panel.file.spec;
  ImGui::Text("%s: %zu points, %s", file_name(panel.path).c_str(), panel.file.results.size(),
              spec.is_model() ? ("model " + file_name(spec.model) + " on " + file_name(spec.input)).c_str()
                              : (std::string("synthetic, ") + (spec.causal ? "causal" : "bidirectional")).c_str());
  if (panel.file.truncated_tail) ImGui::SameLine(), ImGui::TextColored(kMuted, "(a cut-off last line was set aside)");
  draw_filters(panel);

  const std::vector<std::size_t> shown = shown_results(panel);
  const std::vector<std::int64_t> cells = cell_results(panel, shown);
  const PlotSpec heat = heat_spec(panel, cells);
  const Scatter latency = scatter_spec(panel, shown, SweepMetric::latency);
  const Scatter memory = scatter_spec(panel, shown, SweepMetric::peak_bytes);

  ImGui::BeginDisabled(panel.selected < 0);
  if (ImGui::Button("Open in attention view")) {
    try {
      open_selected(shared, panel);
    } catch (const std::exception& e) {
      report_error(shared, e.what());
    }
  }
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Export SVG + PNG")) export_svgs(shared, panel, heat, latency, memory);
  ImGui::SameLine();
  if (panel.selected >= 0) {
    const SweepResult& r = panel.file.results[panel.selected];
    ImGui::Text("selected: %s (%s)", sweep_key(r.point).c_str(), r.status.c_str());
  } else {
    ImGui::TextColored(kMuted, "click a cell, a point or a row to select it");
  }

  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  const float w = std::max(200.0f, (avail.x - spacing) / 2), h = std::max(150.0f, (avail.y - 8) / 2);
  const PlotHit heat_hit = draw_plot("sweep heat map", heat, panel.heat, w, h);
  missing_cell_tooltip(panel, cells, heat.heat_map.cols);
  if (heat_hit.row >= 0 && heat_hit.col >= 0) {
    const std::int64_t i = cells[static_cast<std::size_t>(heat_hit.row) * heat.heat_map.cols + heat_hit.col];
    if (i >= 0) panel.selected = i;
  }
  ImGui::SameLine();
  const PlotHit latency_hit = draw_plot("sweep latency", latency.spec, panel.latency, w, h);
  if (clicked_point(latency, latency_hit) >= 0) panel.selected = clicked_point(latency, latency_hit);
  const PlotHit memory_hit = draw_plot("sweep memory", memory.spec, panel.memory, w, h);
  if (clicked_point(memory, memory_hit) >= 0) panel.selected = clicked_point(memory, memory_hit);
  ImGui::SameLine();
  ImGui::BeginChild("sweep table", ImVec2(0, h));
  draw_table(panel, shown, h);
  ImGui::EndChild();
}

}  // namespace fmav::viewer
