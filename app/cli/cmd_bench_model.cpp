// `fmav bench-model`: the C++ forward pass of a Hugging Face model (fmav/hf_model.h, no maps)
// timed against `transformers` on the same machine, threads and token ids, in one run, the
// two alternating pass by pass (a shared machine's load falls on both alike). The
// peer is scripts/bench_hf_peer.py, run by the LibTorch environment's Python unless told
// otherwise; its logits are compared with ours first (a benchmark validates before it times).

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "commands.h"
#include "memory_checks.h"
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

// The peer process: its stdin and stdout as pipes, its stderr in a file.
class Peer {
 public:
  Peer(const BenchModelArgs& a, int threads, const std::string& ids_path, const fs::path& work)
      : m_python(a.python), m_err((work / "peer.err").string()), m_logits((work / "peer_logits.safetensors").string()) {
    int to_child[2], from_child[2];
    FMAV_CHECK(::pipe(to_child) == 0 && ::pipe(from_child) == 0, "cannot make pipes for the peer");
    const std::vector<std::string> args = {a.python, a.script, "--model", a.model, "--ids", ids_path, "--threads",
                                           std::to_string(threads), "--warmup", std::to_string(a.warmup),
                                           "--logits-out", m_logits};
    m_pid = ::fork();
    FMAV_CHECK(m_pid >= 0, "cannot start ", a.python);
    if (m_pid == 0) {
      ::dup2(to_child[0], 0), ::dup2(from_child[1], 1);
      std::FILE* err = std::fopen(m_err.c_str(), "w");
      if (err != nullptr) ::dup2(fileno(err), 2);
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
      ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
      ::setenv("HF_HUB_OFFLINE", "1", 1);
      std::vector<char*> argv;
      for (const std::string& s : args) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]), ::close(from_child[1]);
    m_in = ::fdopen(to_child[1], "w"), m_out = ::fdopen(from_child[0], "r");
    const std::string first = read_line();
    if (first != "ready") fail(first);
  }
  ~Peer() {
    if (m_in != nullptr) std::fclose(m_in);
    if (m_out != nullptr) std::fclose(m_out);
    if (m_pid > 0) ::waitpid(m_pid, nullptr, 0);
  }
  // One timed forward pass of the peer, in milliseconds.
  double run() {
    std::fputs("run\n", m_in), std::fflush(m_in);
    const std::string line = read_line();
    try {
      return std::stod(line);
    } catch (const std::exception&) {
      fail(line);
    }
    return 0;
  }
  // Ends the peer: its versions, and its last logits in *logits.
  nlohmann::json finish(HostTensor* logits) {
    std::fputs("quit\n", m_in), std::fflush(m_in);
    const std::string line = read_line();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      fail(line);
    }
    *logits = read_tensor_file(m_logits, "logits");
    return j;
  }

 private:
  std::string read_line() {
    std::string line;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, m_out) != nullptr) {
      line += buf;
      if (!line.empty() && line.back() == '\n') break;
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
  }
  // The peer said something else than expected: why, with its exit code and stderr.
  [[noreturn]] void fail(const std::string& said) {
    std::fclose(m_in), m_in = nullptr;
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    FMAV_CHECK(code != 3, m_python, " has no transformers (", said, "); install the peers with: ", kInstallHint,
               " (or give --python)");
    std::string tail;
    try {
      tail = read_file_bytes(m_err, 1u << 20);
    } catch (const std::exception&) {
    }
    if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
    throw Error("the transformers peer failed (exit " + std::to_string(code) + ", said '" + said + "'): " + m_python +
                "\n" + tail);
  }

  std::string m_python, m_err, m_logits;
  pid_t m_pid = -1;
  std::FILE* m_in = nullptr;
  std::FILE* m_out = nullptr;
};

double max_abs_diff(const HostTensor& a, const HostTensor& b) {
  FMAV_CHECK(a.shape == b.shape, "the peer's logits are ", shape_str(b.shape), ", ours ", shape_str(a.shape));
  double d = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a.f32()[i]) - double(b.f32()[i])));
  return d;
}

int run_bench_model(const BenchModelArgs& a) {
  FMAV_CHECK(a.repeats >= 1 && a.warmup >= 0, "--repeats must be >= 1 and --warmup >= 0");
  std::signal(SIGPIPE, SIG_IGN);  // a peer that dies is reported, not a reason to die
  FMAV_CHECK(fs::exists(a.python), "no Python at ", a.python, ": install the peers with: ", kInstallHint,
             " (or give --python PATH)");
  FMAV_CHECK(fs::exists(a.script), "the peer script ", a.script, " does not exist (give --script)");
  if (a.threads > 0) {
    ::setenv("FMAV_THREADS", std::to_string(a.threads).c_str(), 1);
    init_engine();
  }
  const int threads = device_info().threads;
  {  // the longest count's forward pass, here and in the transformers process, before either loads
    const HfConfig config = read_hf_folder_config(a.model);
    const std::vector<std::int64_t> counts = parse_counts(a.tokens);
    const std::int64_t n = std::min(*std::max_element(counts.begin(), counts.end()), config.max_positions);
    check_hf_forward_memory("bench-model:", a.model, config, n, 2);
  }
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
      // The two sides alternate pass by pass, so both see the same load on a shared machine.
      Peer peer(a, threads, ids_path, work);
      for (int i = 0; i < a.warmup; ++i) model.forward(ids, false);
      std::vector<double> mine, its, ratios;
      for (int i = 0; i < a.repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        HfForward f = model.forward(ids, false);
        mine.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        ours = std::move(f.logits);
        its.push_back(peer.run());
        ratios.push_back(mine.back() / its.back());
      }
      const nlohmann::json versions = peer.finish(&theirs);
      const double fmav_ms = median(mine), peer_ms = median(its), ratio = median(ratios);
      const double diff = max_abs_diff(ours, theirs);
      peer_versions = "torch " + versions.value("torch", "?") + ", transformers " + versions.value("transformers", "?");
      std::printf("%s, %lld tokens, %d threads: fmav %.2f ms, transformers %.2f ms (medians of %d alternating "
                  "passes), ratio fmav/transformers %.3f, max |logits difference| %.2e\n", c.model_type.c_str(),
                  static_cast<long long>(n), threads, fmav_ms, peer_ms, a.repeats, ratio, diff);
      std::fflush(stdout);
      results.push_back({{"tokens", n}, {"fmav_ms", fmav_ms}, {"transformers_ms", peer_ms},
                         {"ratio", ratio}, {"max_abs_logit_diff", diff}});
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
                     "transformers (scripts/bench_hf_peer.py) on the same ids and threads, alternating pass by\n"
                     "pass; prints both medians, the median of the per-pass ratios and the largest logits\n"
                     "difference, then a JSON line.");
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
