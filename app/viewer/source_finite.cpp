// Non-finite values in the viewer's sources and metrics (source_finite.h).

#include "source_finite.h"
#include "maps_worker.h"
#include "qkv_source.h"

#include "fmav/finite.h"

#include <cmath>
#include <cstdio>

namespace fmav::viewer {

std::array<std::string, 3> qkv_names(const MapParams& params, int layer) {
  std::array<std::string, 3> names;
  const char* const letters[3] = {"q", "k", "v"};
  if (!params.qkv.empty()) {
    const std::array<std::string, 3> files = qkv_files(params.qkv);
    for (int i = 0; i < 3; ++i) names[i] = std::string(letters[i]) + " (" + file_name(files[i]) + ")";
  } else if (!params.model.empty()) {
    const std::string where = " of layer " + std::to_string(layer) + " (" + file_name(params.model) + " on " +
                              file_name(params.input) + ")";
    for (int i = 0; i < 3; ++i) names[i] = letters[i] + where;
  } else {
    for (int i = 0; i < 3; ++i) names[i] = std::string(letters[i]) + " (synthetic input)";
  }
  return names;
}

std::string check_qkv_finite(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                             const std::array<std::string, 3>& names) {
  const HostTensor* tensors[3] = {&q, &k, &v};
  std::string report;
  for (int i = 0; i < 3; ++i) {
    const NonFinite found = check_finite(*tensors[i], names[i]);
    if (found.any()) report += (report.empty() ? "" : "; ") + nonfinite_summary(found, names[i]);
  }
  return report;
}

std::string mean_text(const char* fmt, const std::vector<double>& rows) {
  double sum = 0;
  std::size_t bad = 0;
  for (double x : rows) {
    if (std::isfinite(x)) {
      sum += x;
    } else {
      ++bad;
    }
  }
  if (bad > 0) return "undefined (" + std::to_string(bad) + " non-finite row" + (bad == 1 ? ")" : "s)");
  return value_text(fmt, rows.empty() ? 0.0 : sum / static_cast<double>(rows.size()));
}

std::string value_text(const char* fmt, double value) {
  if (!std::isfinite(value)) return "undefined";
  char text[64];
  std::snprintf(text, sizeof text, fmt, value);
  return text;
}

std::vector<double> mean_level_mass(const std::vector<double>& level_mass, std::int64_t rows, int levels,
                                    std::int64_t* finite_rows) {
  const std::size_t width = static_cast<std::size_t>(levels) + 1;
  std::vector<double> mass(width, 0.0);
  *finite_rows = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = level_mass.data() + static_cast<std::size_t>(r) * width;
    bool finite = true;
    for (std::size_t l = 0; l < width; ++l) finite = finite && std::isfinite(row[l]);
    if (!finite) continue;
    for (std::size_t l = 0; l < width; ++l) mass[l] += row[l];
    ++*finite_rows;
  }
  for (double& m : mass) m = *finite_rows > 0 ? m / static_cast<double>(*finite_rows) : 0.0;
  return mass;
}

}  // namespace fmav::viewer
