// The query inspector's input view: the model's text window or image coloured by the chosen
// query's attention (FMA, full or level), the query outlined, a click choosing another query.

#include "hf_source.h"
#include "platform_glfw.h"
#include "query_row.h"
#include "segment_view.h"
#include "shared.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImU32 kQueryColor = IM_COL32(255, 60, 60, 255);

ImU32 to_imu32(Rgba8 c, int alpha = 255) { return IM_COL32(c.r, c.g, c.b, alpha); }

// ---- text tokens ----

// A byte as shown: printable ASCII as is, a newline as a pilcrow, others as a middle dot.
std::string token_glyph(unsigned char byte) {
  if (byte == '\n') return "\xc2\xb6";  // ¶
  if (byte == '\t') return "\xc2\xbb";  // »
  if (byte == ' ') return " ";
  if (byte > 32 && byte < 127) return std::string(1, static_cast<char>(byte));
  return "\xc2\xb7";  // ·
}

// ---- image patches ----

void upload_image(QueryPanel& q, const std::shared_ptr<const Image>& image) {
  if (q.texture_image == image) return;
  q.texture_image = image;
  if (!image) {
    texture_destroy(q.image_texture);
    q.image_texture = 0;
    return;
  }
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(image->height * image->width) * 4, 255);
  for (std::size_t i = 0; i < image->rgb.size(); ++i) {
    rgba[i / 3 * 4 + i % 3] =
        static_cast<std::uint8_t>(std::lround(std::clamp(image->rgb[i], 0.0f, 1.0f) * 255));
  }
  q.image_texture = texture_upload(q.image_texture, static_cast<int>(image->width),
                                   static_cast<int>(image->height), rgba.data());
}

// The image at `side` pixels, overlaid (overlay) with the row's colours per patch, the fine
// cells' grid lines and the query patch outlined; hovering reads a patch, a click selects it.
void draw_patches(Shared& shared, const QueryPanel& query, const QueryRow& r, float side, bool overlay,
                  const char* id) {
  const std::int64_t gh = r.job->fma.grid_height, gw = r.job->fma.grid_width;
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(query.image_texture)),
               ImVec2(side, side));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float ph = side / gh, pw = side / gw;
  const auto cell = [&](std::int64_t key) {
    const ImVec2 a(p0.x + pw * (key % gw), p0.y + ph * (key / gw));
    return std::make_pair(a, ImVec2(a.x + pw, a.y + ph));
  };
  for (std::int64_t key = 0; overlay && key < gh * gw && key < r.cols; ++key) {
    const auto [a, b] = cell(key);
    draw->AddRectFilled(a, b, to_imu32(key_color(r, key, query.color), 205));
  }
  const std::int64_t m = std::max<std::int64_t>(1, r.job->fma.block_size);
  for (std::int64_t i = 0; i <= std::max(gh, gw); ++i) {
    const ImU32 color = i % m == 0 ? IM_COL32(255, 255, 255, 170) : IM_COL32(255, 255, 255, 35);
    if (i <= gw)
      draw->AddLine(ImVec2(p0.x + pw * i, p0.y), ImVec2(p0.x + pw * i, p0.y + side), color);
    if (i <= gh)
      draw->AddLine(ImVec2(p0.x, p0.y + ph * i), ImVec2(p0.x + side, p0.y + ph * i), color);
  }
  const auto [qa, qb] = cell(r.row);
  draw->AddRect(qa, qb, kQueryColor, 0, 0, 3.0f);
  ImGui::SetCursorScreenPos(p0);
  ImGui::InvisibleButton(id, ImVec2(side, side));
  if (!ImGui::IsItemHovered()) return;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const auto at = [](float t, std::int64_t n) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(t), 0, n - 1);
  };
  const std::int64_t key =
      std::min(at((mouse.y - p0.y) / ph, gh) * gw + at((mouse.x - p0.x) / pw, gw), r.cols - 1);
  const auto [ha, hb] = cell(key);
  draw->AddRect(ha, hb, IM_COL32(255, 255, 255, 255), 0, 0, 1.5f);
  key_tooltip(r, key);
  if (ImGui::IsItemClicked(ImGuiMouseButton_Left)) shared.query_row = key;
}



// ---- a segmenter's masks ----

// The image the query inspector shows: a segmenter's with its chosen mask blended in
// (recomputed only when the job or the settings change), else the job's image.
std::shared_ptr<const Image> shown_image(QueryPanel& q, const MapJob& job) {
  if (!job.segments || !job.image) return job.image;
  const SegmentView& seg = *job.segments;
  SegmentOverlay overlay = q.segment_overlay;
  if (overlay == SegmentOverlay::truth && seg.truth.empty()) overlay = SegmentOverlay::none;
  if (overlay == SegmentOverlay::none) return job.image;
  if (q.blended_of != job.segments || q.blended_overlay != overlay || q.blended_alpha != q.segment_alpha) {
    q.blended = std::make_shared<const Image>(
        blend_segments(*job.image, overlay == SegmentOverlay::truth ? seg.truth : seg.predicted, q.segment_alpha));
    q.blended_of = job.segments, q.blended_overlay = overlay, q.blended_alpha = q.segment_alpha;
  }
  return q.blended;
}

// Which mask is blended over the image, and how strongly.
void draw_segment_controls(QueryPanel& q, const SegmentView& seg) {
  int overlay = static_cast<int>(q.segment_overlay);
  ImGui::RadioButton("predicted mask", &overlay, static_cast<int>(SegmentOverlay::predicted));
  ImGui::SameLine();
  ImGui::BeginDisabled(seg.truth.empty());
  ImGui::RadioButton("ground truth", &overlay, static_cast<int>(SegmentOverlay::truth));
  ImGui::EndDisabled();
  if (seg.truth.empty() && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
    ImGui::SetTooltip("%s", seg.truth_note.c_str());
  }
  ImGui::SameLine();
  ImGui::RadioButton("image only", &overlay, static_cast<int>(SegmentOverlay::none));
  q.segment_overlay = static_cast<SegmentOverlay>(overlay);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  ImGui::SliderFloat("opacity", &q.segment_alpha, 0.0f, 1.0f, "%.2f");
}

}  // namespace

// The window's tokens wrapped in lines (and after each newline), each on its colour; a click
// selects a token as the query.
void draw_tokens(Shared& shared, const QueryPanel& query, const QueryRow& r) {
  const std::string& text = r.job->text;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x - 4, line_h = ImGui::GetTextLineHeight() + 5;
  const float min_w = 0.5f * ImGui::CalcTextSize("n").x;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const bool window_hovered = ImGui::IsWindowHovered();
  // A Hugging Face model's tokens are its tokenizer's pieces; the project's LMs read bytes.
  const std::vector<std::string>& pieces = r.job->pieces;
  const std::int64_t length = static_cast<std::int64_t>(pieces.empty() ? text.size() : pieces.size());
  const std::int64_t count = std::min<std::int64_t>(length, r.cols);
  // Each token's glyph and width, and whether a word starts at it (a line breaks only
  // there, unless one word is wider than the line): after a space or newline byte, or at a
  // tokenizer piece that begins with a space.
  std::vector<std::string> glyphs(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
  std::vector<float> widths(glyphs.size());
  std::vector<char> word_start(glyphs.size());
  for (std::size_t at = 0; at < glyphs.size(); ++at) {
    glyphs[at] = pieces.empty() ? token_glyph(static_cast<unsigned char>(text[at])) : piece_label(pieces[at]);
    widths[at] = std::max(min_w, ImGui::CalcTextSize(glyphs[at].c_str()).x) + 2;
    const auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\t'; };
    word_start[at] = at == 0 || (pieces.empty() ? blank(text[at - 1]) || blank(text[at])
                                                : (!pieces[at].empty() && blank(pieces[at][0])) ||
                                                      (!pieces[at - 1].empty() && blank(pieces[at - 1].back())));
  }
  float x = 0, y = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::size_t at = static_cast<std::size_t>(i);
    const bool newline = pieces.empty() ? text[at] == '\n' : pieces[at].find('\n') != std::string::npos;
    const std::string& glyph = glyphs[at];
    const float w = widths[at];
    if (word_start[at] && x > 0) {  // the whole word on the next line when it does not fit
      float word = w;
      for (std::size_t j = at + 1; j < glyphs.size() && !word_start[j]; ++j) word += widths[j];
      if (x + word > width && word <= width) x = 0, y += line_h;
    }
    // A space that does not fit ends its line rather than starting the next one.
    const bool space = pieces.empty() ? text[at] == ' ' : glyph == " ";
    if (x + w > width && !(space && x > 0)) x = 0, y += line_h;
    const ImVec2 p0(origin.x + x, origin.y + y), p1(p0.x + w, p0.y + line_h - 1);
    const Rgba8 bg = key_color(r, i, query.color);
    const bool dark = 0.299f * bg.r + 0.587f * bg.g + 0.114f * bg.b < 140;
    draw->AddRectFilled(p0, p1, to_imu32(bg));
    draw->AddText(ImVec2(p0.x + 1, p0.y + 2),
                  r.level[i] < 0 ? IM_COL32(140, 140, 150, 255)
                  : dark         ? IM_COL32(245, 245, 245, 255)
                                 : IM_COL32(15, 15, 20, 255),
                  glyph.c_str());
    if (i == r.row)
      draw->AddRect(ImVec2(p0.x - 1, p0.y - 1), ImVec2(p1.x + 1, p1.y + 1), kQueryColor, 0, 0,
                    2.5f);
    if (window_hovered && mouse.x >= p0.x && mouse.x < p1.x && mouse.y >= p0.y && mouse.y < p1.y) {
      draw->AddRect(p0, p1, IM_COL32(255, 255, 255, 255));
      key_tooltip(r, i);
      if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) shared.query_row = i;
    }
    x += w;
    if (newline) x = 0, y += line_h;
  }
  ImGui::Dummy(ImVec2(width, y + line_h));
}


void draw_image(Shared& shared, QueryPanel& query, const QueryRow& r) {
  const SegmentView* seg = r.job->segments.get();
  if (seg != nullptr) draw_segment_controls(query, *seg);
  upload_image(query, shown_image(query, *r.job));
  const FmaConfig& f = r.job->fma;
  if (query.image_texture == 0 || f.grid_height < 1 || f.grid_width < 1) return;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float side = std::max(64.0f, std::min(avail.y - 2 * line - 8, 0.5f * (avail.x - 40)));
  const ImVec2 top = ImGui::GetCursorPos();
  ImGui::TextColored(kMuted, seg != nullptr ? "input, %lldx%lld tokens" : "input, %lldx%lld patches",
                     static_cast<long long>(f.grid_height), static_cast<long long>(f.grid_width));
  draw_patches(shared, query, r, side, false, "image");
  ImGui::TextColored(kMuted, "bright lines: fine cells of %lldx%lld patches; red: the query",
                     static_cast<long long>(f.block_size), static_cast<long long>(f.block_size));
  ImGui::SetCursorPos(ImVec2(top.x + side + 24, top.y));
  const char* what[] = {"FMA attention", "full attention", "levels"};
  ImGui::TextColored(kMuted, "%s of the query", what[static_cast<int>(query.color)]);
  ImGui::SetCursorPos(ImVec2(top.x + side + 24, top.y + line));
  draw_patches(shared, query, r, side, true, "attention");
}

// The classes' colours, their share of the prediction and this image's IoU, and the scores.
void draw_segment_legend(const SegmentView& seg, float height) {
  const bool truth = !seg.truth.empty();
  ImGui::Spacing();
  if (truth) {
    ImGui::Text("this image: mIoU %.3f, pixel accuracy %.3f", seg.scores.miou, seg.scores.pixel_accuracy);
    ImGui::TextColored(kMuted, "ground truth %s", std::filesystem::path(seg.truth_path).filename().c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", seg.truth_path.c_str());
  } else {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kMuted, "%s", seg.truth_note.c_str());
    ImGui::PopTextWrapPos();
  }
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("classes", 3, flags, ImVec2(0, std::max(height, 3 * ImGui::GetTextLineHeightWithSpacing()))))
    return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("class", ImGuiTableColumnFlags_WidthFixed, 180);
  ImGui::TableSetupColumn("predicted", ImGuiTableColumnFlags_WidthFixed, 80);
  ImGui::TableSetupColumn("IoU", ImGuiTableColumnFlags_WidthFixed, 60);
  ImGui::TableHeadersRow();
  const double pixels = static_cast<double>(std::max<std::int64_t>(1, seg.size * seg.size));
  for (std::size_t k = 0; k < seg.classes.size(); ++k) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const float box = ImGui::GetTextLineHeight();
    ImGui::GetWindowDrawList()->AddRectFilled(at, ImVec2(at.x + box, at.y + box),
                                              to_imu32(segment_color(static_cast<std::int32_t>(k))));
    ImGui::Dummy(ImVec2(box, box));
    ImGui::SameLine();
    ImGui::TextUnformatted(seg.classes[k].c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%.1f%%", 100.0 * static_cast<double>(seg.predicted_pixels[k]) / pixels);
    ImGui::TableNextColumn();
    if (truth && k < seg.scores.iou.size() && std::isfinite(seg.scores.iou[k])) {
      ImGui::Text("%.3f", seg.scores.iou[k]);
    } else {
      ImGui::TextColored(kMuted, "-");
    }
  }
  ImGui::EndTable();
}

}  // namespace fmav::viewer
