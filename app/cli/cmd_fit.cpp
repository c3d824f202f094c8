// `fmav fit`: FMA's learned down-sampling weights fitted into chosen layers of a Hugging Face
// model (fmav/hf_fit.h), with progress lines, checkpoints, Ctrl-C that saves and --resume;
// the output folder is a model `fmav eval` scores with those layers swapped.

#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "memory_checks.h"
#include "fmav/error.h"
#include "fmav/hf_fit.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

struct FitArgs {
  HfFitOptions o;
  std::string layers, downsample = "learned", init = "average";
  std::int64_t log_every = 10;
  CLI::App* cmd = nullptr;
};

int run_fit(FitArgs& a) {
  a.o.command = command_line();
  a.o.init_average = a.init == "average";
  if (a.o.resume && a.cmd->count("--steps") == 0) a.o.steps = 0;  // the recorded total
  if (!a.o.resume) {
    FMAV_CHECK(!a.o.model.empty(), "fit needs --model (the Hugging Face folder to fit into)");
    FMAV_CHECK(!a.layers.empty(), "fit needs --swap-layers (e.g. 4-11)");
    const std::string config = a.o.model + "/config.json";
    a.o.layers = parse_layer_list(a.layers, parse_hf_config(read_file_bytes(config, 1u << 20), config).layers);
    a.o.fma.downsample = parse_downsample(a.downsample);
  }
  check_fit_memory(a.o);
  const std::atomic<bool>* interrupted = catch_interrupt();
  const HfFitResult r = fit_hf_swap(a.o, [&](const HfFitStatus& s) {
    if (s.step % a.log_every == 0 || s.step == s.steps || s.step == 1) {
      std::printf("step %lld/%lld  loss %.6f  %.1f s%s\n", static_cast<long long>(s.step),
                  static_cast<long long>(s.steps), s.loss, s.seconds, s.saved ? "  (saved)" : "");
      std::fflush(stdout);
    }
  }, interrupted);
  release_interrupt();
  if (r.cancelled) {
    std::printf("interrupted at step %lld; checkpoint saved. Resume with: fmav fit --resume -o %s\n",
                static_cast<long long>(r.steps_done), a.o.out.c_str());
    return 130;
  }
  std::printf("fitted %lld steps in %.1f s: distillation loss %.6f -> %.6f; model in %s (fmav eval --model %s)\n",
              static_cast<long long>(r.steps_done), r.seconds, r.first_loss, r.last_loss, a.o.out.c_str(),
              a.o.out.c_str());
  return 0;
}

}  // namespace

std::function<int()> add_fit(CLI::App& app) {
  auto a = std::make_shared<FitArgs>();
  CLI::App* cmd = a->cmd = app.add_subcommand(
      "fit", "Fit FMA into a Hugging Face causal LM: train only the learned down-sampling weights of the\n"
             "swapped layers (the model frozen) so each gives the layer's own attention output on its own\n"
             "q, k, v. Writes a model folder that `fmav eval` scores with those layers swapped. Ctrl-C\n"
             "saves a checkpoint; --resume continues it.");
  cmd->add_option("--model", a->o.model, "the Hugging Face folder (resuming: default the recorded one)");
  cmd->add_option("--data", a->o.data, "training text, tokenized by the folder's tokenizer.json");
  cmd->add_option("--ids", a->o.ids_path, "training token ids, an int64 .npy (N) or (1, N)");
  cmd->add_option("--out,-o", a->o.out, "the fitted model folder to write")->required();
  cmd->add_flag("--resume", a->o.resume, "continue from --out's checkpoint (its swap and options)");
  cmd->add_option("--swap-layers", a->layers, "layers to swap (4-11, 0,2,5)");
  cmd->add_option("--block,-m", a->o.fma.block_size, "FMA block size m");
  cmd->add_option("--rank,-p", a->o.fma.rank, "FMA rank p");
  cmd->add_option("--downsample", a->downsample, "learned (default) | dense")
      ->check(CLI::IsMember({"learned", "dense"}));
  cmd->add_option("--init", a->init, "average (default: start equal to average down-sampling) | random")
      ->check(CLI::IsMember({"average", "random"}));
  cmd->add_option("--tokens", a->o.tokens, "tokens per training window (and per scoring window of the result)");
  cmd->add_option("--steps", a->o.steps, "optimizer steps in total (resuming: default the recorded total)");
  cmd->add_option("--batch", a->o.batch, "windows per step");
  cmd->add_option("--lr", a->o.lr, "Adam's learning rate (cosine decay to lr/10)");
  cmd->add_option("--save-every", a->o.save_every, "steps between checkpoints (0: at the end only)");
  cmd->add_option("--log-every", a->log_every, "steps between progress lines")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a->o.seed, "seed of the window order (and of --init random)");
  return [a] { return run_fit(*a); };
}

}  // namespace fmav::cli
