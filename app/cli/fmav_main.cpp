// fmav: the headless command-line twin of fma-viewer. Subcommands: attend, bench, eval,
// figure, gen-task, info, inspect, merge, sweep, train.

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "fmav/engine.h"
#include "limit_options.h"
#include "omp_wait.h"

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



}  // namespace fmav::cli

int main(int argc, char** argv) {
  fmav::app::use_passive_omp_wait(argv);
  for (int i = 0; i < argc; ++i) {
    fmav::cli::g_command_line += (i == 0 ? "fmav" : std::string(" ") + argv[i]);
  }
  CLI::App app{"fmav: Fast Multipole Attention from the command line (the headless fma-viewer)"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version and the engine's device info");
  fmav::app::LimitArgs limits;
  fmav::app::add_limit_options(app, &limits);
  app.fallthrough();  // the limits may follow the subcommand too
  CLI::App* info = app.add_subcommand("info", "print the engine's version, threads and devices");
  const std::map<std::string, std::function<int()>> commands = {
      {"attend", fmav::cli::add_attend(app)},     {"bench", fmav::cli::add_bench(app)},
      {"figure", fmav::cli::add_figure(app)},     {"train", fmav::cli::add_train(app)},
      {"eval", fmav::cli::add_eval(app)},         {"inspect", fmav::cli::add_inspect(app)},
      {"gen-task", fmav::cli::add_gen_task(app)}, {"sweep", fmav::cli::add_sweep(app)},
      {"merge", fmav::cli::add_merge(app)},       {"segment", fmav::cli::add_segment(app)},
      {"fit", fmav::cli::add_fit(app)},           {"bench-model", fmav::cli::add_bench_model(app)},
  };
  CLI11_PARSE(app, argc, argv);
  if (!version && app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    fmav::app::apply_limits(limits);
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
