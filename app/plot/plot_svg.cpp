// The plot as a standalone SVG (plot.h): the shapes plot.cpp draws with ImGui
// (plot_layout.h), on white, one SVG element each. Text widths are estimated from the
// characters (a sans-serif font at kFontSize), as no font is at hand here.

#include "plot.h"
#include "plot_layout.h"

#include "fmav/error.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace fmav::viewer {
namespace {

constexpr float kFontSize = 12;

// About the advance of DejaVu Sans / Helvetica at kFontSize: narrow, wide and other glyphs.
float estimate_width(const std::string& s) {
  float em = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte: counted with its lead byte
    if (std::string(" .,:;'|!il()[]ftrIj").find(static_cast<char>(c)) != std::string::npos) em += 0.32f;
    else if (c == 'm' || c == 'w' || c == 'M' || c == 'W') em += 0.86f;
    else if (c >= 'A' && c <= 'Z') em += 0.68f;
    else em += 0.58f;
  }
  return em * kFontSize;
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(float v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  std::string s = buffer;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// ` stroke="#rrggbb"` or ` fill=...`, with an opacity when the colour is translucent.
std::string paint(const char* attribute, Rgba8 c) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, " %s=\"#%02x%02x%02x\"", attribute, c.r, c.g, c.b);
  std::string s = buffer;
  if (c.a < 255) s += " " + std::string(attribute) + "-opacity=\"" + num(c.a / 255.0f) + "\"";
  return s;
}

std::string points_attribute(const std::vector<PlotPoint>& points) {
  std::string s;
  for (const PlotPoint& p : points) s += (s.empty() ? "" : " ") + num(p.x) + "," + num(p.y);
  return s;
}

void write_shape(std::ostream& out, const PlotShape& s, const TextMetrics& text) {
  const std::string head = std::string("class=\"") + s.role + "\"" + (s.clip ? " clip-path=\"url(#area)\"" : "");
  const std::string stroke = paint("stroke", s.color) + " stroke-width=\"" + num(s.width) + "\"";
  const PlotPoint a = s.points.at(0);
  switch (s.kind) {
    case PlotShape::Kind::polyline:
      out << "<polyline " << head << " points=\"" << points_attribute(s.points) << "\" fill=\"none\"" << stroke
          << " stroke-linejoin=\"round\"" << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
      return;
    case PlotShape::Kind::rect:
    case PlotShape::Kind::fill_rect: {
      const PlotPoint b = s.points.at(1);
      out << "<rect " << head << " x=\"" << num(a.x) << "\" y=\"" << num(a.y) << "\" width=\"" << num(b.x - a.x)
          << "\" height=\"" << num(b.y - a.y) << "\""
          << (s.kind == PlotShape::Kind::rect ? " fill=\"none\"" + stroke : paint("fill", s.color)) << "/>\n";
      return;
    }
    case PlotShape::Kind::circle:
    case PlotShape::Kind::fill_circle:
      out << "<circle " << head << " cx=\"" << num(a.x) << "\" cy=\"" << num(a.y) << "\" r=\"" << num(s.width) << "\""
          << (s.kind == PlotShape::Kind::circle ? " fill=\"none\" stroke-width=\"1.5\"" + paint("stroke", s.color)
                                                : paint("fill", s.color))
          << "/>\n";
      return;
    case PlotShape::Kind::fill_triangle:
      out << "<polygon " << head << " points=\"" << points_attribute(s.points) << "\"" << paint("fill", s.color)
          << "/>\n";
      return;
    case PlotShape::Kind::text: {
      const char* anchor = s.align < 0.25f ? "start" : s.align > 0.75f ? "end" : "middle";
      const float baseline = a.y + (text.height + kFontSize) / 2 - 2;  // the glyphs centred on the line
      out << "<text " << head << " x=\"" << num(a.x) << "\" y=\"" << num(baseline) << "\" text-anchor=\"" << anchor
          << "\"" << paint("fill", s.color) << ">" << escape(s.text) << "</text>\n";
      return;
    }
  }
}

}  // namespace

void write_plot_svg(const std::string& path, const PlotSpec& spec, const PlotState& view, float width, float height) {
  FMAV_CHECK(width >= 100 && height >= 80, "the SVG plot must be at least 100 x 80 pixels, got ", width, " x ",
             height);
  PlotState state = view;
  prepare_view(spec, state);
  const TextMetrics text{estimate_width, kFontSize + 3};
  const PlotLayout layout = layout_plot(spec, state, {0, 0, width, height}, text);
  const std::vector<PlotShape> shapes = plot_shapes(spec, state, layout, light_plot_theme(), text);
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
      << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\" font-family=\"DejaVu Sans, Helvetica, Arial, "
      << "sans-serif\" font-size=\"" << num(kFontSize) << "\">\n";
  const PlotRect& a = layout.area;
  out << "<defs><clipPath id=\"area\"><rect x=\"" << num(a.x0) << "\" y=\"" << num(a.y0) << "\" width=\""
      << num(a.x1 - a.x0) << "\" height=\"" << num(a.y1 - a.y0) << "\"/></clipPath></defs>\n";
  if (!spec.title.empty()) out << "<title>" << escape(spec.title) << "</title>\n";
  for (const PlotShape& s : shapes) write_shape(out, s, text);
  out << "</svg>\n";
  std::ofstream file(path, std::ios::binary);
  file << out.str();
  file.close();
  FMAV_CHECK(file.good(), "cannot write the SVG plot to '", path, "'");
}

}  // namespace fmav::viewer
