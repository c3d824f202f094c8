#pragma once
// The subcommands of `fmav`: each adds its options to the CLI11 app and runs when parsed.

#include <CLI/CLI.hpp>

#include <functional>

namespace fmav::cli {

// Adds the subcommand; the returned function runs it (after parsing) and gives the exit code.
std::function<int()> add_attend(CLI::App& app);
std::function<int()> add_bench(CLI::App& app);
std::function<int()> add_figure(CLI::App& app);

}  // namespace fmav::cli
