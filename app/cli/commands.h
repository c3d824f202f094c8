#pragma once
// The subcommands of `fmav`: each adds its options to the CLI11 app and runs when parsed.

#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "fmav/attend.h"

namespace fmav::cli {

// Adds the subcommand; the returned function runs it (after parsing) and gives the exit code.
std::function<int()> add_attend(CLI::App& app);
std::function<int()> add_bench(CLI::App& app);
std::function<int()> add_figure(CLI::App& app);
std::function<int()> add_gen_task(CLI::App& app);
std::function<int()> add_train(CLI::App& app);
std::function<int()> add_eval(CLI::App& app);
std::function<int()> add_inspect(CLI::App& app);
std::function<int()> add_segment(CLI::App& app);
std::function<int()> add_sweep(CLI::App& app);
std::function<int()> add_merge(CLI::App& app);
std::function<int()> add_fit(CLI::App& app);
std::function<int()> add_bench_model(CLI::App& app);

// --downsample's default in attend, inspect and sweep: the engine's own (FmaConfig's, `learned`).
std::string default_downsample();

// The methods --method takes (fmav/attend.h: parse_method) and a help text listing them.
const std::vector<std::string>& method_names();
const char* method_help();
// The peers' settings, shared by attend, inspect and bench.
struct PeerArgs {
  int hash_rounds = 2;
  std::int64_t buckets = 0;
  std::uint64_t hash_seed = 1;
  bool shifted = false;
};
void add_peer_options(CLI::App* cmd, PeerArgs* args);
PeerOptions peer_options(const PeerArgs& args);
// --device cpu | cuda | auto (fmav/device.h), default cpu; shared by attend, bench, train,
// eval, inspect and sweep.
void add_device_option(CLI::App* cmd, std::string* device);
// --device's text resolved (fmav/engine.h resolve_device): cuda without one throws naming
// why; auto without one is cpu, with a one-line note on stderr saying why.
Device resolve_device_option(const std::string& device);

// Refuses a tensor the command reads or computes that holds NaN or Inf (fmav/finite.h: the
// message names `name`, the counts and the first position); with --allow-nonfinite it
// passes and a warning on stderr says the same.
void check_finite_input(const HostTensor& tensor, const std::string& name);

// Refuses q, k or v (`name`) read from `path` (given by `flag`) unless float32 or float64:
// "--q q.npy: q must be float32 or float64, got int64".
void check_float_input(const HostTensor& tensor, const std::string& name, const std::string& flag,
                       const std::string& path);
// A dtype as the CLI spells it: "float32", "bfloat16", "int64", "uint8", ...
const char* dtype_words(DType dtype);

// The command line fmav was started with (recorded in trained models' config.json).
const std::string& command_line();

// Ctrl-C asks a long command to stop cleanly: from catch_interrupt() until
// release_interrupt(), the first Ctrl-C sets the returned flag (the command finishes its
// step, keeps what it wrote and exits 130); a second one stops the process at once.
const std::atomic<bool>* catch_interrupt();
void release_interrupt();

}  // namespace fmav::cli
