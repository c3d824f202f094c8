// fmav: the headless command-line twin of fma-viewer. Subcommands: attend, bench, eval,
// figure, gen-task, info, inspect, merge, sweep, train.

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "fmav/engine.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {
std::string g_command_line;
}  // namespace

const std::string& command_line() { return g_command_line; }

namespace {
std::atomic<bool> g_interrupted{false};
void on_interrupt(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}
}  // namespace

const std::atomic<bool>* catch_interrupt() {
  g_interrupted.store(false);
  std::signal(SIGINT, on_interrupt);
  return &g_interrupted;
}

void release_interrupt() { std::signal(SIGINT, SIG_DFL); }

namespace {

// The readers' limits (docs/HARDENING.md), changed for this run by the flags given.
struct LimitArgs {
  std::uint64_t tensor_mib = 0, header_mib = 0, text_mib = 0, image_file_mib = 0;
  std::int64_t image_side = 0, image_mpixels = 0;
};

void add_limit_options(CLI::App& app, LimitArgs* a) {
  const CLI::Range kMib(std::uint64_t{1}, std::uint64_t{1} << 40);  // MiB; << 20 stays in range
  const IoLimits io;
  const ImageLimits image;
  const TextLimits text;
  const auto mib = [](std::uint64_t bytes) { return " (default " + std::to_string(bytes >> 20) + ")"; };
  app.add_option("--max-tensor-mib", a->tensor_mib, "limit: one tensor's bytes read from .npy/.safetensors, MiB" +
                 mib(io.max_tensor_bytes))->check(kMib);
  app.add_option("--max-header-mib", a->header_mib, "limit: a tensor file's header, MiB" + mib(io.max_header_bytes))
      ->check(kMib);
  app.add_option("--max-text-mib", a->text_mib, "limit: a text input, MiB" + mib(text.max_bytes))->check(kMib);
  app.add_option("--max-image-file-mib", a->image_file_mib, "limit: an image file, MiB" + mib(image.max_file_bytes))
      ->check(kMib);
  app.add_option("--max-image-side", a->image_side, "limit: an image's side in pixels (default " +
                 std::to_string(image.max_side) + ")")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_option("--max-image-mpixels", a->image_mpixels, "limit: an image's pixels, millions (default " +
                 std::to_string(image.max_pixels / 1000000) + ")")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
}

void apply_limits(const LimitArgs& a) {
  IoLimits io = io_limits();
  if (a.tensor_mib > 0) io.max_tensor_bytes = a.tensor_mib << 20;
  if (a.header_mib > 0) io.max_header_bytes = a.header_mib << 20;
  set_io_limits(io);
  TextLimits text = text_limits();
  if (a.text_mib > 0) text.max_bytes = a.text_mib << 20;
  set_text_limits(text);
  ImageLimits image = image_limits();
  if (a.image_file_mib > 0) image.max_file_bytes = a.image_file_mib << 20;
  if (a.image_side > 0) image.max_side = a.image_side;
  if (a.image_mpixels > 0) image.max_pixels = a.image_mpixels * 1000000;
  set_image_limits(image);
}

}  // namespace

}  // namespace fmav::cli

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    fmav::cli::g_command_line += (i == 0 ? "fmav" : std::string(" ") + argv[i]);
  }
  CLI::App app{"fmav: Fast Multipole Attention from the command line (the headless fma-viewer)"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version and the engine's device info");
  fmav::cli::LimitArgs limits;
  fmav::cli::add_limit_options(app, &limits);
  app.fallthrough();  // the limits may follow the subcommand too
  CLI::App* info = app.add_subcommand("info", "print the engine's version, threads and devices");
  const std::map<std::string, std::function<int()>> commands = {
      {"attend", fmav::cli::add_attend(app)},     {"bench", fmav::cli::add_bench(app)},
      {"figure", fmav::cli::add_figure(app)},     {"train", fmav::cli::add_train(app)},
      {"eval", fmav::cli::add_eval(app)},         {"inspect", fmav::cli::add_inspect(app)},
      {"gen-task", fmav::cli::add_gen_task(app)}, {"sweep", fmav::cli::add_sweep(app)},
      {"merge", fmav::cli::add_merge(app)},
  };
  CLI11_PARSE(app, argc, argv);
  if (!version && app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    fmav::cli::apply_limits(limits);
    fmav::init_engine();
    if (version || info->parsed()) {
      std::fputs(fmav::device_info().summary.c_str(), stdout);
      return 0;
    }
    return commands.at(app.get_subcommands().front()->get_name())();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fmav: error: %s\n", e.what());
    return 1;
  }
}
