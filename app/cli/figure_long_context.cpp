// The long-context experiment's figure (figure_long_context.h): one row of panels per task
// (answer accuracy, test bpc, tokens/s, peak memory), in each panel a group of bars per
// context, a bar per method in a fixed colour; a run that failed (out of memory) is an x at
// the bar's foot. Plain SVG text, no plotting library (the CLI builds without the viewer's).

#include "figure_long_context.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fmav/error.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

using Json = nlohmann::json;
constexpr std::uint64_t kMaxResultsBytes = 16u << 20;

struct Row {
  std::string task, method, status;
  long long context = 0;
  double values[4] = {NAN, NAN, NAN, NAN};  // by kPanels
};

struct Panel {
  const char* key;    // in results.json
  const char* title;  // above the panel
  double scale;       // shown value = stored * scale
};
constexpr Panel kPanels[] = {{"answer_accuracy", "answer accuracy (%)", 100.0},
                             {"test_bpc", "test bpc (lower is better)", 1.0},
                             {"tokens_per_s", "training tokens/s (thousands)", 1e-3},
                             {"peak_mib", "peak memory (MiB)", 1.0}};
// The methods' colours, in the order the script runs them (others after, in grey).
const char* const kMethodColours[][2] = {{"full", "#4c78a8"},         {"fma", "#e45756"},
                                         {"fma-linear", "#f58518"},   {"local", "#54a24b"},
                                         {"htransformer", "#b279a2"}, {"linear", "#9d755d"}};

std::string colour_of(const std::string& method) {
  for (const auto& [name, colour] : kMethodColours) {
    if (method == name) return colour;
  }
  return "#999999";
}

std::vector<Row> read_rows(const std::string& path, std::string* mode) {
  Json j;
  try {
    j = Json::parse(read_file_bytes(path, kMaxResultsBytes));
  } catch (const Json::exception& e) {
    throw Error("figure: --results " + path + " is not JSON: " + e.what());
  }
  FMAV_CHECK(j.is_object() && j.value("format", "") == "fmav-long-context" && j.contains("rows") &&
                 j["rows"].is_array(),
             "figure: --results ", path, " is not a long-context results file (format \"fmav-long-context\" "
             "with \"rows\": scripts/long_context.sh writes it)");
  *mode = j.contains("mode") && j["mode"].is_string() ? j["mode"].get<std::string>() : "";
  std::vector<Row> rows;
  for (const Json& r : j["rows"]) {
    FMAV_CHECK(r.is_object() && r.contains("task") && r["task"].is_string() && r.contains("method") &&
                   r["method"].is_string() && r.contains("context") && r["context"].is_number_integer(),
               "figure: --results ", path, ": every row needs task, method (strings) and context (an integer), got ",
               r.dump());
    Row row;
    row.task = r["task"], row.method = r["method"], row.context = r["context"];
    row.status = r.value("status", "ok");
    for (int p = 0; p < 4; ++p) {
      if (r.contains(kPanels[p].key) && r[kPanels[p].key].is_number()) {
        row.values[p] = r[kPanels[p].key].get<double>() * kPanels[p].scale;
      }
    }
    rows.push_back(row);
  }
  FMAV_CHECK(!rows.empty(), "figure: --results ", path, " has no rows");
  return rows;
}

template <typename T>
void add_unique(std::vector<T>* list, const T& x) {
  if (std::find(list->begin(), list->end(), x) == list->end()) list->push_back(x);
}

// A "nice" upper end of an axis: 1, 2 or 5 times a power of ten at or above `x`.
double nice_top(double x) {
  if (!(x > 0)) return 1.0;
  const double power = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= x * (1 - 1e-12)) return m * power;
  }
  return 10 * power;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

}  // namespace

int write_long_context_figure(const std::string& results, const std::string& out) {
  std::string mode;
  const std::vector<Row> rows = read_rows(results, &mode);
  std::vector<std::string> tasks, methods;
  std::vector<long long> contexts;
  for (const Row& r : rows) add_unique(&tasks, r.task), add_unique(&methods, r.method), add_unique(&contexts, r.context);
  std::sort(contexts.begin(), contexts.end());
  std::map<std::string, const Row*> at;  // task|context|method
  for (const Row& r : rows) at[r.task + "|" + std::to_string(r.context) + "|" + r.method] = &r;

  const double panel_w = 300, panel_h = 210, margin_left = 55, gap = 30, top = 70, row_gap = 75;
  const double width = margin_left + 4 * (panel_w + gap), height = top + tasks.size() * (panel_h + row_gap);
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << margin_left << "\" y=\"22\" font-size=\"15\">Long-context byte-level LMs: "
      << "equal width, depth and steps per context (scripts/long_context.sh" << (mode.empty() ? "" : " --")
      << (mode == "cuda" ? "device cuda" : mode == "cpu" ? "cpu-scale" : mode) << ")</text>\n";
  for (std::size_t m = 0; m < methods.size(); ++m) {  // the legend
    const double x = margin_left + m * 130.0;
    svg << "<rect x=\"" << x << "\" y=\"34\" width=\"12\" height=\"12\" fill=\"" << colour_of(methods[m]) << "\"/>"
        << "<text x=\"" << x + 17 << "\" y=\"44\">" << methods[m] << "</text>\n";
  }
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const double y0 = top + t * (panel_h + row_gap);
    for (int p = 0; p < 4; ++p) {
      const double x0 = margin_left + p * (panel_w + gap);
      double high = 0;
      for (const Row& r : rows) {
        if (r.task == tasks[t] && std::isfinite(r.values[p])) high = std::max(high, r.values[p]);
      }
      const double y_top = nice_top(high);
      svg << "<text x=\"" << x0 << "\" y=\"" << y0 + 12 << "\" font-size=\"12\">" << tasks[t] << ": "
          << kPanels[p].title << "</text>\n";
      const double plot_top = y0 + 22, plot_bottom = y0 + panel_h;
      for (int k = 0; k <= 4; ++k) {  // y ticks and grid
        const double v = y_top * k / 4, y = plot_bottom - (plot_bottom - plot_top) * k / 4;
        svg << "<line x1=\"" << x0 << "\" x2=\"" << x0 + panel_w << "\" y1=\"" << y << "\" y2=\"" << y
            << "\" stroke=\"" << (k == 0 ? "#000" : "#ddd") << "\"/>"
            << "<text x=\"" << x0 - 4 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << number(v) << "</text>\n";
      }
      const double group_w = panel_w / static_cast<double>(contexts.size());
      const double bar_w = group_w * 0.8 / static_cast<double>(methods.size());
      for (std::size_t c = 0; c < contexts.size(); ++c) {
        const double gx = x0 + c * group_w + group_w * 0.1;
        svg << "<text x=\"" << gx + group_w * 0.4 << "\" y=\"" << plot_bottom + 15 << "\" text-anchor=\"middle\">"
            << contexts[c] << "</text>\n";
        for (std::size_t m = 0; m < methods.size(); ++m) {
          const auto it = at.find(tasks[t] + "|" + std::to_string(contexts[c]) + "|" + methods[m]);
          if (it == at.end()) continue;
          const double bx = gx + m * bar_w, v = it->second->values[p];
          if (!std::isfinite(v)) {  // failed (out of memory) or not measured: an x at the foot
            svg << "<text x=\"" << bx + bar_w / 2 << "\" y=\"" << plot_bottom - 2 << "\" text-anchor=\"middle\" fill=\""
                << colour_of(methods[m]) << "\">x</text>\n";
            continue;
          }
          const double h = (plot_bottom - plot_top) * std::min(1.0, v / y_top);
          svg << "<rect x=\"" << bx << "\" y=\"" << plot_bottom - h << "\" width=\"" << bar_w * 0.92 << "\" height=\""
              << h << "\" fill=\"" << colour_of(methods[m]) << "\"><title>" << methods[m] << ", context "
              << contexts[c] << ": " << number(v) << "</title></rect>\n";
        }
      }
      svg << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << plot_bottom + 30
          << "\" text-anchor=\"middle\">context (bytes)</text>\n";
    }
  }
  svg << "</svg>\n";
  write_file_atomic(out, svg.str());
  return static_cast<int>(rows.size());
}

}  // namespace fmav::cli
