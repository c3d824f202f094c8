// `fmav bench-model`: the C++ forward pass of a Hugging Face model (fmav/hf_model.h, no maps)
// timed against `transformers` on the same machine, threads and token ids, in one run. The
// peer is scripts/bench_hf_peer.py, run by the LibTorch environment's Python unless told
// otherwise; its logits are compared with ours first (a benchmark validates before it times).

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "commands.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/tensor_io.h"

#ifndef FMAV_DEFAULT_PYTHON
#define FMAV_DEFAULT_PYTHON "python3"
#endif
#ifndef FMAV_SCRIPTS_DIR
#define FMAV_SCRIPTS_DIR "scripts"
#endif

namespace fmav::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kInstallHint = "source scripts/setup.sh && fmav_install_test_peers";

struct BenchModelArgs {
  std::string model, tokens = "128,512", python = FMAV_DEFAULT_PYTHON;
  std::string script = std::string(FMAV_SCRIPTS_DIR) + "/bench_hf_peer.py";
  int threads = 0, repeats = 5, warmup = 1;
  std::uint64_t seed = 1;
};

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<std::int64_t> parse_counts(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    try {
      std::size_t used = 0;
      const std::string part = text.substr(at, comma - at);
      out.push_back(std::stoll(part, &used));
      FMAV_CHECK(used == part.size() && out.back() >= 1, "");
    } catch (const std::exception&) {
      throw Error("--tokens must be counts >= 1 like 128 or 128,512, got '" + text + "'");
    }
    at = comma + 1;
  }
  return out;
}

// Milliseconds of each of `repeats` forward passes after `warmup` untimed ones; the last logits.
std::vector<double> time_fmav(const HfModel& model, const std::vector<std::int64_t>& ids, int warmup, int repeats,
                              HostTensor* logits) {
  for (int i = 0; i < warmup; ++i) model.forward(ids, false);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    HfForward f = model.forward(ids, false);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    *logits = std::move(f.logits);
  }
  return ms;
}

// Runs the peer on the ids in `ids_path`; its JSON line, its logits in *logits.
nlohmann::json run_peer(const BenchModelArgs& a, int threads, const std::string& ids_path, const fs::path& work,
                        HostTensor* logits) {
  const std::string logits_path = (work / "peer_logits.safetensors").string(), err = (work / "peer.err").string();
  const std::string command = "OMP_NUM_THREADS=" + std::to_string(threads) + " HF_HUB_OFFLINE=1 " +
                              quoted(a.python) + " " + quoted(a.script) + " --model " + quoted(a.model) + " --ids " +
                              quoted(ids_path) + " --threads " + std::to_string(threads) + " --repeats " +
                              std::to_string(a.repeats) + " --warmup " + std::to_string(a.warmup) +
                              " --logits-out " + quoted(logits_path) + " 2> " + quoted(err);
  std::FILE* pipe = ::popen(command.c_str(), "r");
  FMAV_CHECK(pipe != nullptr, "cannot start ", a.python);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int status = ::pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FMAV_CHECK(code != 3, a.python, " has no transformers (", out.substr(0, out.find('\n')),
             "); install the peers with: ", kInstallHint, " (or give --python)");
  if (code != 0) {
    std::string tail;
    try {
      tail = read_file_bytes(err, 1u << 20);
    } catch (const std::exception&) {
    }
    if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
    throw Error("the transformers peer failed (exit " + std::to_string(code) + "): " + command + "\n" + tail);
  }
  const std::string line = out.substr(out.rfind('{') == std::string::npos ? 0 : out.rfind('{'));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    throw Error("the transformers peer printed no JSON line: " + out);
  }
  *logits = read_tensor_file(logits_path, "logits");
  return j;
}

double max_abs_diff(const HostTensor& a, const HostTensor& b) {
  FMAV_CHECK(a.shape == b.shape, "the peer's logits are ", shape_str(b.shape), ", ours ", shape_str(a.shape));
  double d = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a.f32()[i]) - double(b.f32()[i])));
  return d;
}

int run_bench_model(const BenchModelArgs& a) {
  FMAV_CHECK(a.repeats >= 1 && a.warmup >= 0, "--repeats must be >= 1 and --warmup >= 0");
  FMAV_CHECK(fs::exists(a.python), "no Python at ", a.python, ": install the peers with: ", kInstallHint,
             " (or give --python PATH)");
  FMAV_CHECK(fs::exists(a.script), "the peer script ", a.script, " does not exist (give --script)");
  if (a.threads > 0) {
    ::setenv("FMAV_THREADS", std::to_string(a.threads).c_str(), 1);
    init_engine();
  }
  const int threads = device_info().threads;
  const HfModel model = HfModel::load(a.model);
  const HfConfig& c = model.config();
  const fs::path work = fs::temp_directory_path() / ("fmav_bench_model_" + std::to_string(::getpid()));
  fs::create_directories(work);
  nlohmann::json results = nlohmann::json::array();
  std::string peer_versions;
  try {
    for (const std::int64_t n : parse_counts(a.tokens)) {
      FMAV_CHECK(n <= c.max_positions, "--tokens ", n, " is more than the model's context ", c.max_positions);
      std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
      std::uint64_t x = a.seed;
      for (auto& id : ids) x = x * 6364136223846793005ull + 1442695040888963407ull, id = (x >> 33) % c.vocab;
      HostTensor ids_host = make_host_tensor(DType::i64, {n});
      std::copy(ids.begin(), ids.end(), reinterpret_cast<std::int64_t*>(ids_host.data.data()));
      const std::string ids_path = (work / "ids.safetensors").string();
      write_safetensors(ids_path, {{"ids", ids_host}});
      HostTensor ours, theirs;
      const double fmav_ms = median(time_fmav(model, ids, a.warmup, a.repeats, &ours));
      const nlohmann::json peer = run_peer(a, threads, ids_path, work, &theirs);
      const double peer_ms = peer.at("median_ms").get<double>(), diff = max_abs_diff(ours, theirs);
      peer_versions = "torch " + peer.value("torch", "?") + ", transformers " + peer.value("transformers", "?");
      std::printf("%s, %lld tokens, %d threads: fmav %.2f ms, transformers %.2f ms (median of %d), ratio "
                  "fmav/transformers %.3f, max |logits difference| %.2e\n", c.model_type.c_str(),
                  static_cast<long long>(n), threads, fmav_ms, peer_ms, a.repeats, fmav_ms / peer_ms, diff);
      std::fflush(stdout);
      results.push_back({{"tokens", n}, {"fmav_ms", fmav_ms}, {"transformers_ms", peer_ms},
                         {"ratio", fmav_ms / peer_ms}, {"max_abs_logit_diff", diff}});
    }
  } catch (...) {
    fs::remove_all(work);
    throw;
  }
  fs::remove_all(work);
  std::printf("peer: %s\n", peer_versions.c_str());
  const nlohmann::json summary = {{"model", a.model}, {"model_type", c.model_type}, {"threads", threads},
                                  {"repeats", a.repeats}, {"results", results}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace

std::function<int()> add_bench_model(CLI::App& app) {
  auto a = std::make_shared<BenchModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench-model", "Time a Hugging Face model's forward pass (no maps, float32, CPU) in C++ and in\n"
                     "transformers (scripts/bench_hf_peer.py) on the same ids and threads; prints both\n"
                     "medians, their ratio and the largest logits difference, then a JSON line.");
  cmd->add_option("--model", a->model, "the Hugging Face folder")->required();
  cmd->add_option("--tokens", a->tokens, "token counts to time, e.g. 128,512 (default 128,512)");
  cmd->add_option("--threads", a->threads, "intra-op threads for both (default: fmav's, FMAV_THREADS or cores)");
  cmd->add_option("--repeats", a->repeats, "timed forward passes per side (the median is reported)");
  cmd->add_option("--warmup", a->warmup, "untimed forward passes first");
  cmd->add_option("--python", a->python, "Python with torch and transformers (default: LibTorch's environment)");
  cmd->add_option("--script", a->script, "the peer script (default: the source tree's scripts/bench_hf_peer.py)");
  cmd->add_option("--seed", a->seed, "seed of the random token ids");
  return [a] { return run_bench_model(*a); };
}

}  // namespace fmav::cli
