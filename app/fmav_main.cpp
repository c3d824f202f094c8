// fmav: the headless command-line twin of fma-viewer. Subcommands: attend, bench, figure, info.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "commands.h"
#include "fmav/engine.h"

int main(int argc, char** argv) {
  CLI::App app{"fmav: Fast Multipole Attention from the command line (the headless fma-viewer)"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version and the engine's device info");
  CLI::App* info = app.add_subcommand("info", "print the engine's version, threads and devices");
  const auto attend = fmav::cli::add_attend(app);
  const auto bench = fmav::cli::add_bench(app);
  const auto figure = fmav::cli::add_figure(app);
  CLI11_PARSE(app, argc, argv);
  if (!version && app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    fmav::init_engine();
    if (version || info->parsed()) {
      std::fputs(fmav::device_info().summary.c_str(), stdout);
      return 0;
    }
    if (app.got_subcommand("attend")) return attend();
    return app.got_subcommand("figure") ? figure() : bench();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fmav: error: %s\n", e.what());
    return 1;
  }
}
