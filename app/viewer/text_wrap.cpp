// Wrapped text broken only at spaces (text_wrap.h).

#include "text_wrap.h"

#include <imgui.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace fmav::viewer {

std::vector<std::string> wrap_at_spaces(const std::string& text, float width,
                                        const std::function<float(const std::string&)>& measure) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string paragraph = text.substr(start, end - start);
    std::string line;
    std::size_t at = 0;
    while (at <= paragraph.size()) {
      const std::size_t space = std::min(paragraph.find(' ', at), paragraph.size());
      const std::string word = paragraph.substr(at, space - at);
      const std::string longer = line.empty() ? word : line + " " + word;
      if (!line.empty() && measure(longer) > width) {
        lines.push_back(line);
        line = word;
      } else {
        line = longer;
      }
      at = space + 1;
    }
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

void text_wrapped(const char* fmt, ...) {
  char buffer[4096];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  const float width = ImGui::GetContentRegionAvail().x;
  const auto measure = [](const std::string& s) { return ImGui::CalcTextSize(s.c_str()).x; };
  // One text item of the joined lines, spaced as ImGui spaces lines (not items); a last empty
  // line (text ending in a newline) takes no room there either.
  std::vector<std::string> lines = wrap_at_spaces(buffer, width, measure);
  if (lines.size() > 1 && lines.back().empty()) lines.pop_back();
  std::string joined;
  for (std::size_t i = 0; i < lines.size(); ++i) joined += (i > 0 ? "\n" : "") + lines[i];
  ImGui::TextUnformatted(joined.c_str());
}

}  // namespace fmav::viewer
