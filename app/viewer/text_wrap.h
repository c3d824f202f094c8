#pragma once
// Wrapped text that breaks lines only at spaces. ImGui's TextWrapped also breaks after '.' and
// ',', which split "16.7 ms" into "16." and "7 ms" in the sidebar (issue 21 point 6).

#include <functional>
#include <string>
#include <vector>

namespace fmav::viewer {

// The lines of `text` no wider than `width` as `measure` gives a string's width, broken only at
// spaces (the spaces at a break dropped) and at its newlines; a word wider than `width` gets a
// line of its own, not cut.
std::vector<std::string> wrap_at_spaces(const std::string& text, float width,
                                        const std::function<float(const std::string&)>& measure);
// ImGui::TextWrapped (printf format) that breaks lines only at spaces, to the window's
// content width, in the current text colour.
void text_wrapped(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

}  // namespace fmav::viewer
