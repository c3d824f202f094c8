#pragma once
// The subcommands of `fmav`: each adds its options to the CLI11 app and runs when parsed.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace fmav::cli {

// Adds the subcommand; the returned function runs it (after parsing) and gives the exit code.
std::function<int()> add_attend(CLI::App& app);
std::function<int()> add_bench(CLI::App& app);
std::function<int()> add_figure(CLI::App& app);
std::function<int()> add_gen_task(CLI::App& app);
std::function<int()> add_train(CLI::App& app);
std::function<int()> add_eval(CLI::App& app);
std::function<int()> add_inspect(CLI::App& app);

// The command line fmav was started with (recorded in trained models' config.json).
const std::string& command_line();

}  // namespace fmav::cli
