// `fmav figure`: pictures of the FMA geometry drawn from the engine's own level functions —
// a 2D query's interaction lists (§4) as an H x W image, or a 1D level map (§2) as N x N.
// Colours: near field red, levels 1, 2, 3, ... orange, yellow, green, blue, purple, teal
// (then again), masked dark grey, the query black; thin lines mark the fine cells (blocks).

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "figure_long_context.h"
#include "fmav/error.h"
#include "fmav/fma.h"
#include "fmav/fma2d.h"
#include "fmav/input.h"

namespace fmav::cli {
namespace {

struct FigureArgs {
  std::string kind = "lists2d", grid = "32x32", query, out, results;
  std::int64_t cell = 4, n = 256, block = 16, query_1d = -1;
  int scale = 12;
  bool causal = false;
};

using Rgb = std::array<unsigned char, 3>;

Rgb level_colour(int level) {
  static const Rgb kLevels[] = {{228, 87, 86},  {245, 133, 24}, {238, 202, 59}, {84, 162, 75},
                                {76, 120, 168}, {178, 121, 162}, {114, 183, 178}};
  if (level < 0) return {48, 48, 48};
  if (level == 0) return kLevels[0];
  return kLevels[1 + (level - 1) % 6];
}

// An image of rows x cols cells, each `scale` pixels, with a darker line every `block` cells.
struct Canvas {
  int rows, cols, scale;
  std::vector<unsigned char> rgb;
  Canvas(int r, int c, int s) : rows(r), cols(c), scale(s), rgb(static_cast<std::size_t>(r) * c * s * s * 3) {}
  void fill(int r, int c, Rgb colour, std::int64_t block) {
    for (int py = 0; py < scale; ++py) {
      for (int px = 0; px < scale; ++px) {
        const bool edge = (py == 0 && r % block == 0) || (px == 0 && c % block == 0);
        const bool thin = scale >= 6 && (py == 0 || px == 0);
        const double shade = edge ? 0.55 : thin ? 0.85 : 1.0;
        unsigned char* p = rgb.data() + ((static_cast<std::size_t>(r) * scale + py) * cols * scale + c * scale + px) * 3;
        for (int e = 0; e < 3; ++e) p[e] = static_cast<unsigned char>(colour[e] * shade);
      }
    }
  }
  // Through write_png (8-bit values survive the round trip through [0, 1] exactly).
  void save(const std::string& path) const {
    Image image;
    image.height = static_cast<std::int64_t>(rows) * scale;
    image.width = static_cast<std::int64_t>(cols) * scale;
    image.rgb.resize(rgb.size());
    for (std::size_t i = 0; i < rgb.size(); ++i) image.rgb[i] = rgb[i] / 255.0f;
    write_png(path, image);
  }
};

int run_figure(const FigureArgs& a) {
  FMAV_CHECK(a.scale >= 1 && a.scale <= 64, "figure: --scale must be in 1..64, got ", a.scale);
  FMAV_CHECK(a.results.empty() == (a.kind != "long-context"), "figure: --results goes with --kind long-context (and "
             "it needs one)");
  if (a.kind == "long-context") {
    const int rows = write_long_context_figure(a.results, a.out);
    std::printf("wrote %s: %d runs of %s\n", a.out.c_str(), rows, a.results.c_str());
    return 0;
  }
  if (a.kind == "lists2d") {
    std::int64_t h = 0, w = 0;
    parse_grid(a.grid, &h, &w);
    const Levels2d lv = make_levels_2d(h, w, a.cell);
    std::int64_t qy = h / 2, qx = w / 2;
    if (!a.query.empty()) parse_grid(a.query, &qy, &qx);  // "YxX", 0-based below
    if (!a.query.empty()) --qy, --qx;
    FMAV_CHECK(qy >= 0 && qy < h && qx >= 0 && qx < w, "figure: --query must be inside the ", h, "x", w,
               " grid (1-based YxX), got '", a.query, "'");
    FMAV_CHECK(h * w * a.scale * a.scale <= (std::int64_t{1} << 26), "figure: ", h, "x", w, " at scale ",
               a.scale, " is too large a picture; lower --scale");
    Canvas canvas(static_cast<int>(h), static_cast<int>(w), a.scale);
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x) {
        const bool query = y == qy && x == qx;
        const Rgb colour = query ? Rgb{0, 0, 0} : level_colour(level_of_2d(lv, qy * w + qx, y * w + x));
        canvas.fill(static_cast<int>(y), static_cast<int>(x), colour, a.cell);
      }
    }
    canvas.save(a.out);
    std::printf("wrote %s: %lldx%lld grid, cells %lld, %d coarse levels, query (%lld, %lld)\n", a.out.c_str(),
                static_cast<long long>(h), static_cast<long long>(w), static_cast<long long>(a.cell), lv.num_levels,
                static_cast<long long>(qy + 1), static_cast<long long>(qx + 1));
    return 0;
  }
  const Levels lv = make_levels(a.n, a.block);
  FMAV_CHECK(a.n * a.n * a.scale * a.scale <= (std::int64_t{1} << 26), "figure: N = ", a.n, " at scale ",
             a.scale, " is too large a picture; lower --n or --scale");
  Canvas canvas(static_cast<int>(a.n), static_cast<int>(a.n), a.scale);
  for (std::int64_t i = 0; i < a.n; ++i) {
    for (std::int64_t t = 0; t < a.n; ++t) {
      canvas.fill(static_cast<int>(i), static_cast<int>(t), level_colour(level_of(lv, a.causal, i, t)), a.block);
    }
  }
  canvas.save(a.out);
  std::printf("wrote %s: level map of N = %lld, m = %lld, %d coarse levels%s\n", a.out.c_str(),
              static_cast<long long>(a.n), static_cast<long long>(a.block), lv.num_levels, a.causal ? ", causal" : "");
  return 0;
}

}  // namespace

std::function<int()> add_figure(CLI::App& app) {
  auto a = std::make_shared<FigureArgs>();
  CLI::App* cmd = app.add_subcommand(
      "figure", "Draw the FMA geometry as a PNG: lists2d, one query's interaction lists on an H x W grid\n"
                "(§4), or levels1d, the N x N level map of FMA-1D (§2). Colours: near field red, levels\n"
                "1.. orange, yellow, green, blue, purple, teal; masked dark grey; the query black.\n"
                "long-context: scripts/long_context.sh's results as an SVG of bars per task and context.");
  cmd->add_option("--kind", a->kind, "lists2d | levels1d | long-context")
      ->check(CLI::IsMember({"lists2d", "levels1d", "long-context"}));
  cmd->add_option("--results", a->results, "long-context: the results.json scripts/long_context.sh wrote");
  cmd->add_option("--grid", a->grid, "lists2d: the grid HxW")->capture_default_str();
  cmd->add_option("--cell", a->cell, "lists2d: cell side r")->capture_default_str();
  cmd->add_option("--query", a->query, "lists2d: the query token YxX, 1-based (default: the centre)");
  cmd->add_option("--n", a->n, "levels1d: sequence length N")->capture_default_str();
  cmd->add_option("--block", a->block, "levels1d: block size m")->capture_default_str();
  cmd->add_flag("--causal", a->causal, "levels1d: causal lists");
  cmd->add_option("--scale", a->scale, "pixels per token")->capture_default_str();
  cmd->add_option("--out,-o", a->out, "the PNG to write (long-context: the SVG)")->required();
  return [a] { return run_figure(*a); };
}

}  // namespace fmav::cli
