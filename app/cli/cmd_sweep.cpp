// `fmav sweep` and `fmav merge`: the r x p sweep (fmav/sweep.h) from the command line, the
// headless twin of the GUI's sweep panel. Points stream as they finish and are appended to
// the results file; an interrupted sweep resumes from it; shards run apart and merge.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "fmav/bench.h"
#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/size_limits.h"
#include "fmav/sweep.h"

namespace fmav::cli {
namespace {

struct SweepArgs {
  std::string model, input, n = "1024", r = "16,32,64", p, downsample = default_downsample();
  std::string multiplicity = "on", dtype = "float32", shard = "0/1", out, device = "cpu";
  SweepSpec spec;
};

// "i/N" into spec.shard and spec.shards.
void parse_shard(const std::string& text, SweepSpec* spec) {
  int i = 0, n = 0;
  char slash = 0, extra = 0;
  FMAV_CHECK(std::sscanf(text.c_str(), "%d%c%d%c", &i, &slash, &n, &extra) == 3 && slash == '/' && n >= 1 &&
                 i >= 0 && i < n && n <= kMaxShards,
             "--shard must be i/N with 0 <= i < N <= ", kMaxShards, ", got '", text, "'");
  spec->shard = i, spec->shards = n;
}

void fill_spec(SweepArgs& a) {
  SweepSpec& s = a.spec;
  s.model = a.model, s.input = a.input;
  if (!s.model.empty() && is_hf_model_folder(s.model)) {  // one layer's q, k, v (core/lab/sweep.cpp)
    FMAV_CHECK(s.input.empty() != s.ids.empty(), "sweep: ", s.model, " is a Hugging Face model: give a text ",
               "(--input) or token ids (--ids), one of them");
    if (s.layer < 0) s.layer = 0;
  } else {
    FMAV_CHECK(s.layer < 0 && s.head < 0 && s.ids.empty(), "sweep: --layer, --head and --ids are for a Hugging ",
               "Face model folder (--model DIR)");
    FMAV_CHECK(s.model.empty() == s.input.empty(), "sweep: --model and --input go together");
  }
  s.ns = parse_n_list(a.n);
  s.block_sizes = parse_n_list(a.r, "--r");
  s.ranks = parse_n_list(!a.p.empty() ? a.p : s.method == "fma" ? "1,2,4,8" : "1", "--p");
  s.downsamples.clear();
  for (const std::string& d : split_list(a.downsample)) s.downsamples.push_back(parse_downsample(d));
  FMAV_CHECK(a.multiplicity == "on" || a.multiplicity == "off" || a.multiplicity == "both",
             "--multiplicity must be on, off or both, got '", a.multiplicity, "'");
  s.multiplicities = a.multiplicity == "both" ? std::vector<bool>{true, false}
                                               : std::vector<bool>{a.multiplicity == "on"};
  s.dtypes.clear();
  for (const std::string& d : split_list(a.dtype)) {
    FMAV_CHECK(d == "float32" || d == "float64", "--dtype values are float32 or float64, got '", d, "'");
    s.dtypes.push_back(d == "float64" ? DType::f64 : DType::f32);
  }
  s.devices.clear();  // each resolved before any work: cuda without one names why, auto notes a fallback
  for (const std::string& d : split_list(a.device)) {
    const Device resolved = resolve_device_option(d);
    if (std::find(s.devices.begin(), s.devices.end(), resolved) == s.devices.end()) s.devices.push_back(resolved);
  }
  parse_shard(a.shard, &s);
}

std::string value(double x, const char* fmt) {
  if (std::isnan(x)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, fmt, x);
  return text;
}

std::string result_line(const SweepResult& r) {
  char line[512];
  std::snprintf(line, sizeof line, "  [%lld] %-32s %-6s err %9s  TV %9s  KL %9s  bpc %6s  %9s ms  %8.1f MiB  (%.1f s)%s%s",
                static_cast<long long>(r.index), sweep_key(r.point).c_str(), r.status.c_str(),
                value(r.output_rel_error, "%.3e").c_str(), value(r.mean_tv, "%.3e").c_str(),
                value(r.mean_kl, "%.3e").c_str(), value(r.bpc, "%.3f").c_str(), value(r.latency_ms, "%.3f").c_str(),
                r.peak_bytes / 1048576.0, r.seconds, r.error.empty() ? "" : "  ", r.error.substr(0, 200).c_str());
  return line;
}

int run_sweep_command(SweepArgs& a) {
  fill_spec(a);
  const std::atomic<bool>* interrupted = catch_interrupt();
  bool announced = false;
  const std::vector<SweepResult> results = run_sweep(a.spec, a.out, [&](const SweepProgress& p) {
    const SweepEstimate& e = p.estimate;
    if (!announced) {
      std::printf("fmav sweep: %lld points in this shard (%d/%d), %lld already in %s; estimated %.0f s and "
                  "%.0f MiB at the largest point\n",
                  static_cast<long long>(e.points), a.spec.shard, a.spec.shards, static_cast<long long>(e.done),
                  a.out.c_str(), e.seconds, e.peak_bytes / 1048576.0);
      announced = true;
    }
    if (p.last != nullptr) {
      std::printf("%s\n  %lld/%lld done, about %.0f s left\n", result_line(*p.last).c_str(),
                  static_cast<long long>(e.done + p.finished), static_cast<long long>(e.points), e.seconds);
    }
    std::fflush(stdout);
  }, interrupted);
  release_interrupt();
  if (interrupted->load()) {
    std::printf("interrupted after %zu points of this run; they are in %s. Run the same command to resume.\n",
                results.size(), a.out.c_str());
    return 130;
  }
  std::printf("done: %zu points measured in this run; results in %s\n", results.size(), a.out.c_str());
  // The points no other beats in both error and latency, over the whole file.
  const SweepFile file = read_sweep_file(a.out);
  std::vector<double> latency, error;
  for (const SweepResult& r : file.results) {
    const bool ok = r.status == "ok";
    latency.push_back(ok ? r.latency_ms : std::nan(""));
    error.push_back(ok ? r.output_rel_error : std::nan(""));
  }
  std::printf("Pareto front (output error vs latency):\n");
  for (std::size_t i : pareto_front(latency, error)) std::printf("%s\n", result_line(file.results[i]).c_str());
  return 0;
}

}  // namespace

std::function<int()> add_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Sweep the block size r and rank p (and optionally down-sampling, multiplicity, N, dtype):\n"
               "per point the output error against full attention, mean TV and KL over every layer and head,\n"
               "a model's bpc on its input, and the fused FMA's latency and peak memory. Each point is\n"
               "appended to --out as it finishes; the same command resumes an interrupted sweep.");
  cmd->add_option("--model", a->model, "model folder (with --input), or a Hugging Face language-model folder\n"
                  "(with --input or --ids; --layer, --head); default: the synthetic input");
  cmd->add_option("--input", a->input, "the model's input: text file, image, or image folder");
  cmd->add_option("--offset", a->spec.offset, "text input: first byte of the model's window (a Hugging Face "
                  "model: first token)")
      ->check(CLI::Range(std::int64_t{0}, kMaxOffset));
  cmd->add_option("--layer", a->spec.layer, "a Hugging Face model (--model DIR): the layer swept (default 0); "
                  "each point also\nscores the model with this layer's attention swapped (loss, accuracy)")
      ->check(CLI::Range(std::int64_t{0}, kMaxIndex));
  cmd->add_option("--head", a->spec.head, "a Hugging Face model: one head of the layer (default: all)")
      ->check(CLI::Range(std::int64_t{0}, kMaxIndex));
  cmd->add_option("--ids", a->spec.ids, "a Hugging Face model: token ids (.npy or .safetensors, int64/int32) "
                  "instead of --input");
  cmd->add_option("--n", a->n, "synthetic tokens: a list 1024,4096 or a power-of-two range 1024:16384")
      ->capture_default_str();
  cmd->add_option("--heads", a->spec.heads, "synthetic heads")
      ->check(CLI::Range(std::int64_t{1}, kMaxHeads))->capture_default_str();
  cmd->add_option("--dim", a->spec.dim, "synthetic head dimension D")
      ->check(CLI::Range(std::int64_t{1}, kMaxDim))->capture_default_str();
  cmd->add_flag("--causal", a->spec.causal, "synthetic: causal attention (a model has its own)");
  cmd->add_option("--method", a->spec.method,
                  "fma, or a peer whose block is r: htransformer | linear | reformer | local | swin (one p,\n"
                  "down-sampling and multiplicity; a model runs with its attention replaced)")
      ->check(CLI::IsMember({"fma", "htransformer", "linear", "reformer", "local", "swin"}))
      ->capture_default_str();
  cmd->add_option("--r", a->r, "block sizes r (m): a list or a power-of-two range 8:128")->capture_default_str();
  cmd->add_option("--p", a->p, "ranks p: a list or a power-of-two range 1:8 (default 1,2,4,8; a peer: 1)");
  cmd->add_option("--downsample", a->downsample, "comma list of average, learned, dense (learned on a model: "
                  "only at its own r and p)")->capture_default_str();
  cmd->add_option("--multiplicity", a->multiplicity, "count multiplicity: on | off | both")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "timed fast path's dtypes: float32,float64")->capture_default_str();
  cmd->add_option("--device", a->device,
                  "where the fast path is timed, a device axis: cpu (default) | cuda: the fused CUDA kernels\n"
                  "on the first GPU (an error naming why where there is none; FMA, float32) | auto: cuda\n"
                  "when it can run, else cpu; or a list (cpu,cuda). The errors are the host's float64 maps")
      ->capture_default_str();
  cmd->add_option("--repeats", a->spec.repeats, "timed calls after the warm-up")
      ->check(CLI::Range(std::int64_t{1}, kMaxRepeats))->capture_default_str();
  cmd->add_option("--seed", a->spec.seed, "seed of the synthetic input and random weights")->capture_default_str();
  cmd->add_option("--shard", a->shard, "run points i, i+N, i+2N, ... of the grid (a job array); join with "
                  "fmav merge")->capture_default_str();
  cmd->add_option("--out", a->out, "results file (JSONL), appended to and resumed from")->required();
  return [a] { return run_sweep_command(*a); };
}

std::function<int()> add_merge(CLI::App& app) {
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto partial = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("merge", "Join the results files of one sweep's shards into one file in grid "
                                              "order (the same file an unsharded sweep writes).\nEvery point of "
                                              "the plan in the files' headers must be there: missing points\nare "
                                              "listed and nothing is written, unless --partial.");
  cmd->add_option("inputs", *inputs, "results files of the shards")->required();
  cmd->add_option("--out", *out, "the merged results file")->required();
  cmd->add_flag("--partial", *partial, "write the merge even with points missing (they are listed)");
  return [inputs, out, partial] {
    const SweepMerge m = merge_sweep_files(*inputs, *out, *partial);
    std::printf("merged %zu files: %lld of %lld points in %s\n", inputs->size(), static_cast<long long>(m.merged),
                static_cast<long long>(m.points), out->c_str());
    if (!m.missing.empty()) {
      std::printf("partial: missing %s\n", describe_missing(m, read_sweep_file(*out).spec).c_str());
    }
    return 0;
  };
}

}  // namespace fmav::cli
