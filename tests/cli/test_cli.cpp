// `fmav attend` end to end: files in, files out, checked against the plain-loop oracle in
// float64 to <= 1e-10 relative error; shapes, formats, maps, and error messages.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <limits>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "fmav/bench.h"
#include "fmav/fma2d.h"
#include "fmav/gen_task.h"
#include "fmav/input.h"
#include "fmav/engine.h"
#include "fmav/sample.h"
#include "fmav/sweep.h"
#include "fmav/tensor_io.h"
#include "attention/peers.h"
#include "test_util.h"

namespace {

using namespace fmav_test;
namespace fs = std::filesystem;

using Result = CommandResult;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("fmav_cli_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }

  std::string path(const std::string& name) const { return (m_dir / name).string(); }

  Result run(const std::string& args) const { return shell(std::string(FMAV_BIN) + " " + args); }

  // A shell command line, its output and exit code.
  Result shell(const std::string& command) const { return run_command(command, path("log.txt")); }

  fs::path m_dir;
};

TEST_F(Cli, AttendMatchesTheOracleInFloat64) {
  const std::int64_t n = 300, d = 8;
  const at::Tensor q = random_bhnd(1, 1, n, d, 1), k = random_bhnd(1, 1, n, d, 2), v = random_bhnd(1, 1, n, d, 3);
  fmav::write_npy(path("q.npy"), fmav::to_host(q.view({n, d})));
  fmav::write_npy(path("k.npy"), fmav::to_host(k.view({n, d})));
  fmav::write_npy(path("v.npy"), fmav::to_host(v.view({n, d})));
  for (const char* kind : {"learned", "average", "dense"}) {
    for (bool causal : {false, true}) {
      NaiveConfig c{16, 4, causal, kind, true};
      const std::string args = "attend --q " + path("q.npy") + " --k " + path("k.npy") + " --v " +
                               path("v.npy") + " --block 16 --rank 4 --downsample " + kind +
                               (causal ? " --causal" : "") + " --seed 9 --save-weights " +
                               path("w.safetensors") + " --out " + path("o.npy");
      const Result r = run(args);
      ASSERT_EQ(r.code, 0) << r.output;
      const fmav::HostTensor out = fmav::read_npy(path("o.npy"));
      ASSERT_EQ(out.shape, (std::vector<std::int64_t>{n, d}));
      ASSERT_EQ(out.dtype, fmav::DType::f64);
      NaiveWeights w;
      if (std::string(kind) != "average") w = naive_weights(fmav::read_safetensors(path("w.safetensors")));
      const std::vector<double> expect = naive_fma(flat(q), flat(k), flat(v), n, d, c, w);
      const at::Tensor e = at::tensor(expect, at::kDouble);
      const at::Tensor got = fmav::to_tensor(out).view({-1});
      EXPECT_LT(((got - e).norm() / e.norm()).item<double>(), 1e-10) << kind << " causal=" << causal;
      // The same weights passed back in give the same output.
      if (std::string(kind) != "average") {
        const Result again = run("attend --q " + path("q.npy") + " --k " + path("k.npy") + " --v " +
                                 path("v.npy") + " --block 16 --rank 4 --downsample " + kind +
                                 (causal ? " --causal" : "") + " --weights " + path("w.safetensors") +
                                 " --out " + path("o2.npy"));
        ASSERT_EQ(again.code, 0) << again.output;
        EXPECT_EQ(fmav::read_npy(path("o2.npy")).data, out.data);
      }
    }
  }
}

// --device: auto computes what cpu does where no GPU is visible; cuda there is a clear error
// (exit 1, the reason named); anything else is refused by the option parser. On a GPU,
// cuda's float32 output is near the CPU's.
TEST_F(Cli, AttendDeviceChoice) {
  const std::int64_t n = 200, d = 32;
  fmav::write_npy(path("q.npy"), fmav::to_host(random_bhnd(1, 2, n, d, 1, at::kFloat)));
  fmav::write_npy(path("k.npy"), fmav::to_host(random_bhnd(1, 2, n, d, 2, at::kFloat)));
  fmav::write_npy(path("v.npy"), fmav::to_host(random_bhnd(1, 2, n, d, 3, at::kFloat)));
  const std::string in = "attend --q " + path("q.npy") + " --k " + path("k.npy") + " --v " + path("v.npy") +
                         " --block 16 --rank 2 --causal";
  Result r = run(in + " --out " + path("cpu.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const at::Tensor cpu = fmav::to_tensor(fmav::read_npy(path("cpu.npy")));
  r = run(in + " --device gpu --out " + path("x.npy"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--device"), std::string::npos) << r.output;
  r = run(in + " --device auto --out " + path("auto.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const at::Tensor automatic = fmav::to_tensor(fmav::read_npy(path("auto.npy")));
  r = run(in + " --device cuda --out " + path("cuda.npy"));
  if (fmav::cuda_device_count() == 0) {
    EXPECT_TRUE(at::equal(cpu, automatic));
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("device cuda: " + fmav::cuda_unavailable_reason()), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(path("cuda.npy")));
    return;
  }
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::read_npy(path("cuda.npy"))), cpu), 1e-4);
  EXPECT_LT(max_abs_diff(automatic, cpu), 1e-4);
}

TEST_F(Cli, SafetensorsInputMapsAndFullAttention) {
  const std::int64_t h = 2, n = 40, d = 4;
  fmav::TensorMap qkv;
  qkv["q"] = fmav::to_host(random_bhnd(1, h, n, d, 4, at::kFloat).view({h, n, d}));
  qkv["k"] = fmav::to_host(random_bhnd(1, h, n, d, 5, at::kFloat).view({h, n, d}));
  qkv["v"] = fmav::to_host(random_bhnd(1, h, n, d, 6, at::kFloat).view({h, n, d}));
  fmav::write_safetensors(path("qkv.safetensors"), qkv);
  const std::string in = " --q " + path("qkv.safetensors") + " --k " + path("qkv.safetensors") +
                         " --v " + path("qkv.safetensors");
  Result r = run("attend" + in + " --block 4 --rank 2 --downsample average --out " + path("o.safetensors") +
                 " --map-out " + path("map.npy") + " --level-map-out " + path("levels.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const fmav::HostTensor out = fmav::read_tensor_file(path("o.safetensors"));
  EXPECT_EQ(out.shape, (std::vector<std::int64_t>{h, n, d}));
  EXPECT_EQ(out.dtype, fmav::DType::f32);
  const at::Tensor map = fmav::to_tensor(fmav::read_npy(path("map.npy")));
  ASSERT_EQ(map.sizes(), (at::IntArrayRef{h, n, n}));
  EXPECT_LT((map.sum(-1) - 1).abs().max().item<double>(), 1e-6);
  const at::Tensor levels = fmav::to_tensor(fmav::read_npy(path("levels.npy")));
  ASSERT_EQ(levels.sizes(), (at::IntArrayRef{n, n}));
  EXPECT_EQ(levels[0][0].item<int>(), 0);
  // n_pad 64 = 4 * 2^4: levels 1..3; rows 0..15 see keys 32..47 at level 3.
  EXPECT_EQ(levels.max().item<int>(), 3);
  EXPECT_EQ(levels[0][35].item<int>(), 3);
  // Full attention through SDPA equals the math version, and its map's rows sum to 1.
  r = run("attend --method full" + in + " --out " + path("f1.npy") + " --map-out " + path("fmap.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("attend --method full --impl math" + in + " --out " + path("f2.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const at::Tensor f1 = fmav::to_tensor(fmav::read_npy(path("f1.npy")));
  const at::Tensor f2 = fmav::to_tensor(fmav::read_npy(path("f2.npy")));
  EXPECT_LT(max_abs_diff(f1, f2), 1e-5);
  const at::Tensor fmap = fmav::to_tensor(fmav::read_npy(path("fmap.npy")));
  EXPECT_LT((fmap.sum(-1) - 1).abs().max().item<double>(), 1e-6);
}

TEST_F(Cli, ErrorsAreClearAndNonZero) {
  fmav::write_npy(path("q.npy"), fmav::to_host(random_bhnd(1, 1, 10, 4, 1).view({10, 4})));
  fmav::write_npy(path("k.npy"), fmav::to_host(random_bhnd(1, 1, 11, 4, 1).view({11, 4})));
  std::ofstream(path("bad.npy")) << "not a numpy file";
  const std::string q = " --q " + path("q.npy");
  Result r = run("attend" + q + " --k " + path("missing.npy") + " --v " + path("q.npy") + " --out " + path("o.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("missing.npy"), std::string::npos) << r.output;
  r = run("attend" + q + " --k " + path("k.npy") + " --v " + path("q.npy") + " --out " + path("o.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("q, k and v must have the same shape"), std::string::npos) << r.output;
  r = run("attend" + q + " --k " + path("bad.npy") + " --v " + path("q.npy") + " --out " + path("o.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("bad.npy"), std::string::npos) << r.output;
  r = run("attend" + q + " --k " + path("q.npy") + " --v " + path("q.npy") + " --rank 3 --downsample average --out " +
          path("o.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("rank p to divide the block size m"), std::string::npos) << r.output;
  r = run("attend" + q + " --k " + path("q.npy") + " --v " + path("q.npy") + " --downsample sparse --out " + path("o.npy"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("sparse"), std::string::npos) << r.output;
  r = run("attend" + q + " --k " + path("q.npy") + " --v " + path("q.npy") + " --out " + path("o.txt"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("o.txt"), std::string::npos) << r.output;
  fmav::write_npy(path("ints.npy"), fmav::make_host_tensor(fmav::DType::i64, {10, 4}));
  r = run("attend --q " + path("ints.npy") + " --k " + path("q.npy") + " --v " + path("q.npy") + " --out " + path("o.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--q " + path("ints.npy") + ": q must be float32 or float64, got int64"), std::string::npos)
      << r.output;
  // inspect's raw q, k, v: the file named too, the dtype in words
  fmav::write_safetensors(path("ints.safetensors"), {{"q", fmav::make_host_tensor(fmav::DType::i64, {10, 4})},
                                                     {"k", fmav::read_npy(path("q.npy"))},
                                                     {"v", fmav::read_npy(path("q.npy"))}});
  r = run("inspect --input " + path("ints.safetensors") + " --out " + path("ins_ints"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--input " + path("ints.safetensors") + ": q must be float32 or float64, got int64"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("ins_ints")));
  EXPECT_FALSE(fs::exists(path("o.npy")));  // nothing written by the failed runs
  r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("attend"), std::string::npos) << r.output;
  r = run("info");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("LibTorch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fused kernels"), std::string::npos) << r.output;
  // Idle OpenMP workers sleep rather than spin (docs/BENCHMARKS.md), unless the user chose.
  EXPECT_NE(shell("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT " + std::string(FMAV_BIN) + " info").output.find(
                ", OpenMP wait passive\n"), std::string::npos);
  EXPECT_NE(shell("OMP_WAIT_POLICY=active " + std::string(FMAV_BIN) + " info").output.find(", OpenMP wait active\n"),
            std::string::npos);
  EXPECT_NE(shell("env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 " + std::string(FMAV_BIN) + " info").output.find(
                ", OpenMP wait GOMP_SPINCOUNT=1000\n"), std::string::npos);
}

TEST_F(Cli, BenchWritesRowsAndRejectsBadOptions) {
  Result r = run("bench --methods fma,sdpa,local --n 64,128 --heads 1 --dim 8 --block 16 --repeats 1 --json " +
                 path("b.json") + " --csv " + path("b.csv"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fitted exponent"), std::string::npos) << r.output;
  std::ifstream in(path("b.json"));
  std::stringstream text;
  text << in.rdbuf();
  for (const char* key : {"\"method\"", "\"speedup_vs_sdpa\"", "\"peak_bytes\"", "\"gflops\""}) {
    EXPECT_NE(text.str().find(key), std::string::npos) << key;
  }
  EXPECT_TRUE(fs::exists(path("b.csv")));
  // --deterministic is taken (it changes only FMA's CUDA backward; the CPU runs as before).
  r = run("bench --methods fma-fused --n 64 --heads 1 --dim 8 --block 16 --repeats 1 --backward --deterministic");
  EXPECT_EQ(r.code, 0) << r.output;
  r = run("bench --methods fma,flash --n 64");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("unknown method 'flash'"), std::string::npos) << r.output;
  r = run("bench --n 64:abc");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--n must be a list"), std::string::npos) << r.output;
  // Streamed rows: the header and one line per row, as the GUI's scaling panel reads them.
  r = run("bench --methods fma,sdpa --n 64,128 --heads 1 --dim 8 --block 16 --repeats 1 --jsonl " + path("b.jsonl"));
  ASSERT_EQ(r.code, 0) << r.output;
  const fmav::BenchFile f = fmav::read_bench_file(path("b.jsonl"));
  EXPECT_EQ(f.config.methods, (std::vector<std::string>{"fma", "sdpa"}));
  ASSERT_EQ(f.rows.size(), 4u);  // SDPA is measured first at each N (the speed-ups' base)
  EXPECT_EQ(f.rows[0].method, "sdpa");
  EXPECT_EQ(f.rows[1].method, "fma");
  EXPECT_EQ(f.rows[3].n, 128);
  EXPECT_GT(f.rows[3].median_ms, 0);
  r = run("bench --methods fma --n 64 --jsonl " + path("b.jsonl"));  // never over an earlier run
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("cannot create it (it must not exist yet)"), std::string::npos) << r.output;
  // --csv and --json refuse an existing file as --jsonl does, before measuring anything.
  const std::string csv_before = fmav::read_file_bytes(path("b.csv"), 1 << 20);
  r = run("bench --methods fma --n 64 --csv " + path("b.csv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--csv " + path("b.csv") + ": it exists already; bench does not overwrite results"),
            std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("N=64"), std::string::npos) << r.output;
  EXPECT_EQ(fmav::read_file_bytes(path("b.csv"), 1 << 20), csv_before);
  r = run("bench --methods fma --n 64 --json " + path("b.json"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--json " + path("b.json") + ": it exists already"), std::string::npos) << r.output;
  r = run("bench --methods fma --n 1000:2000");  // not a power-of-two range
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("both ends must be powers of two"), std::string::npos) << r.output;
  // The fitted exponent comes with its spread (three rows or more).
  r = run("bench --methods fma --n 64:256 --heads 1 --dim 8 --block 16 --repeats 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("± its standard error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" ± "), r.output.rfind("± its")) << r.output;
}

}  // namespace

namespace {

// The other variants through the CLI: output equals the engine's reference on the weights
// the CLI saved; the 2D level map is the geometry's; errors name the grid; figures are PNGs.
TEST_F(Cli, AttendRunsEveryVariant) {
  const std::int64_t h = 12, w = 10, n = h * w, d = 4;
  const at::Tensor q = random_bhnd(1, 2, n, d, 1), k = random_bhnd(1, 2, n, d, 2), v = random_bhnd(1, 2, n, d, 3);
  for (const auto& [name, t] : std::vector<std::pair<const char*, at::Tensor>>{{"q", q}, {"k", k}, {"v", v}}) {
    fmav::write_npy(path(std::string(name) + ".npy"), fmav::to_host(t));
  }
  const std::string io = " --q " + path("q.npy") + " --k " + path("k.npy") + " --v " + path("v.npy");
  for (const char* method : {"fma-linear", "fma2d", "fma2d-linear"}) {
    const bool two_d = std::string(method).rfind("fma2d", 0) == 0;
    const std::string args = std::string("attend --method ") + method + (two_d ? " --grid 12x10" : "") + io +
                             " --block " + (two_d ? "2" : "4") + " --rank 4 --seed 3 --save-weights " + path("w.safetensors") + " --out " +
                             path("o.npy") + " --level-map-out " + path("levels.npy");
    const Result r = run(args);
    ASSERT_EQ(r.code, 0) << method << ": " << r.output;
    fmav::FmaConfig c;
    c.block_size = two_d ? 2 : 4, c.rank = 4, c.linear = std::string(method).find("linear") != std::string::npos;
    if (two_d) c.grid_height = h, c.grid_width = w;
    const int levels = fmav::num_levels(c, n);
    const fmav::FmaWeights weights =
        fmav::to_fma_weights(fmav::read_safetensors(path("w.safetensors")), c, d, levels, at::kDouble);
    const at::Tensor expect = fmav::fma_reference(q, k, v, c, weights);
    const at::Tensor got = fmav::to_tensor(fmav::read_npy(path("o.npy")));
    EXPECT_LT(max_abs_diff(expect, got), 1e-12) << method;
    const fmav::HostTensor level_map = fmav::read_npy(path("levels.npy"));
    ASSERT_EQ(level_map.shape, (std::vector<std::int64_t>{n, n}));
    if (two_d) {
      const fmav::Levels2d lv = fmav::make_levels_2d(h, w, 2);
      const auto* lm = reinterpret_cast<const std::int32_t*>(level_map.data.data());
      for (std::int64_t i = 0; i < n; i += 13) {
        for (std::int64_t t = 0; t < n; ++t) ASSERT_EQ(lm[i * n + t], fmav::level_of_2d(lv, i, t));
      }
    }
  }
  const Result no_grid = run("attend --method fma2d" + io + " --out " + path("o.npy"));
  EXPECT_NE(no_grid.code, 0);
  EXPECT_NE(no_grid.output.find("fma2d needs a grid HxW of the tokens (row-major)"), std::string::npos) << no_grid.output;
  const Result bad_grid = run("attend --method fma2d --grid 11x10" + io + " --out " + path("o.npy"));
  EXPECT_NE(bad_grid.code, 0);
  EXPECT_NE(bad_grid.output.find("FMA2D on a 11 x 10 grid needs N = 110 tokens, got N = 120"), std::string::npos)
      << bad_grid.output;
  const Result causal = run("attend --method fma2d --grid 12x10 --causal" + io + " --out " + path("o.npy"));
  EXPECT_NE(causal.output.find("FMA2D is bidirectional"), std::string::npos) << causal.output;
}

TEST_F(Cli, FigureWritesPngs) {
  const Result lists = run("figure --grid 16x12 --cell 2 --query 5x6 --scale 4 --out " + path("lists.png"));
  ASSERT_EQ(lists.code, 0) << lists.output;
  const Result levels = run("figure --kind levels1d --n 64 --block 4 --causal --scale 2 --out " + path("levels.png"));
  ASSERT_EQ(levels.code, 0) << levels.output;
  for (const auto& [file, width, height] : std::vector<std::tuple<std::string, int, int>>{
           {"lists.png", 48, 64}, {"levels.png", 128, 128}}) {
    std::ifstream in(path(file), std::ios::binary);
    unsigned char header[24] = {};
    in.read(reinterpret_cast<char*>(header), sizeof header);
    ASSERT_EQ(std::string(reinterpret_cast<char*>(header) + 1, 3), "PNG") << file;
    const auto be32 = [&](int at) { return (header[at] << 24) | (header[at + 1] << 16) | (header[at + 2] << 8) | header[at + 3]; };
    EXPECT_EQ(be32(16), width) << file;
    EXPECT_EQ(be32(20), height) << file;
  }
  const Result outside = run("figure --grid 8x8 --cell 2 --query 9x1 --out " + path("x.png"));
  EXPECT_NE(outside.code, 0);
  EXPECT_NE(outside.output.find("figure: --query must be inside the 8x8 grid (1-based YxX), got '9x1'"),
            std::string::npos) << outside.output;
}

// ---- models: train, eval, inspect ----

// A text a one-layer model learns something of in a few steps.
void write_text(const std::string& path) {
  std::ofstream text(path);
  for (int i = 0; i < 200; ++i) text << "the fox jumps over the dog " << (i % 5) << ". ";
}

const char* const kTinyModel = " --context 64 --d-model 32 --layers 1 --heads 2 --d-mlp 64 --block 8 --rank 2";

TEST_F(Cli, TrainEvalInspectEndToEnd) {
  write_text(path("t.txt"));
  const Result t = run("train --data " + path("t.txt") + " --out " + path("m") + kTinyModel +
                       " --steps 6 --batch 4 --eval-every 3 --log-every 3");
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_NE(t.output.find("step 6/6  loss"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("valid: bpc"), std::string::npos) << t.output;
  const std::string config = fmav::read_file_bytes(path("m/config.json"), 1 << 20);
  EXPECT_NE(config.find("\"command\": \"fmav train --data"), std::string::npos) << config;

  const Result e = run("eval --model " + path("m") + " --data " + path("t.txt") + " --split test --json");
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_NE(e.output.find("evaluating: 100%\n"), std::string::npos) << e.output;  // progress runs to the end
  EXPECT_NE(e.output.find("test: bpc"), std::string::npos) << e.output;
  // --json: the same score as one JSON object on the last line (loss in nats, bits per byte).
  const nlohmann::json score = nlohmann::json::parse(e.output.substr(e.output.rfind('{')));
  const std::string bpc = e.output.substr(e.output.find("test: bpc ") + 10, 6);
  EXPECT_NEAR(score.at("bits_per_token").get<double>(), std::stod(bpc), 1e-4) << e.output;
  EXPECT_NEAR(score.at("loss").get<double>(), score.at("bits_per_token").get<double>() * std::log(2.0), 1e-9);
  EXPECT_GT(score.at("tokens").get<std::int64_t>(), 0);
  for (const char* key : {"perplexity", "accuracy"}) EXPECT_TRUE(score.at(key).is_number()) << key;
  const Result full = run("eval --model " + path("m") + " --data " + path("t.txt") + " --attention full");
  ASSERT_EQ(full.code, 0) << full.output;
  EXPECT_NE(full.output.find("full attention"), std::string::npos) << full.output;
  const Result linear = run("eval --model " + path("m") + " --data " + path("t.txt") + " --attention linear");
  ASSERT_EQ(linear.code, 0) << linear.output;
  EXPECT_NE(linear.output.find("linear attention"), std::string::npos) << linear.output;
  const Result reformer = run("train --data " + path("t.txt") + " --out " + path("r") + kTinyModel +
                              " --attention reformer --hash-rounds 3 --steps 2 --batch 2 --eval-every 0");
  ASSERT_EQ(reformer.code, 0) << reformer.output;
  EXPECT_NE(fmav::read_file_bytes(path("r/config.json"), 1 << 20).find("\"hash_rounds\": 3"), std::string::npos);

  const Result i = run("inspect --model " + path("m") + " --input " + path("t.txt") +
                       " --layer 0 --head 1 --rows 10:20 --out " + path("ins"));
  ASSERT_EQ(i.code, 0) << i.output;
  const fmav::HostTensor fma = fmav::read_npy(path("ins/fma_map.npy"));
  const fmav::HostTensor full_map = fmav::read_npy(path("ins/full_map.npy"));
  const fmav::HostTensor level = fmav::read_npy(path("ins/level_map.npy"));
  ASSERT_EQ(fma.shape, (std::vector<std::int64_t>{10, 64}));
  EXPECT_EQ(full_map.shape, fma.shape);
  EXPECT_EQ(level.dtype, fmav::DType::i32);
  for (std::int64_t r = 0; r < 10; ++r) {
    double a = 0, b = 0;
    for (std::int64_t c = 0; c < 64; ++c) a += fma.f64()[r * 64 + c], b += full_map.f64()[r * 64 + c];
    EXPECT_NEAR(a, 1.0, 1e-9);
    EXPECT_NEAR(b, 1.0, 1e-9);
  }
  EXPECT_EQ(fmav::read_npy(path("ins/level_mass.npy")).shape, (std::vector<std::int64_t>{10, 3}));  // 64 = 8 * 2^3: L = 2
  const std::string summary = fmav::read_file_bytes(path("ins/summary.json"), 1 << 20);
  for (const char* key : {"\"output_rel_error\"", "\"mean_tv\"", "\"mass_per_level\"", "\"rows\""}) {
    EXPECT_NE(summary.find(key), std::string::npos) << key << " in " << summary;
  }
}

// ---- sweeps ----

std::vector<std::int64_t> sweep_indexes(const std::string& file) {
  std::vector<std::int64_t> out;
  for (const auto& r : fmav::read_sweep_file(file).results) out.push_back(r.index);
  return out;
}

TEST_F(Cli, SweepKilledMidRunResumesWithoutLosingOrRepeatingPoints) {
  const std::string sweep = "sweep --n 2048 --r 8,16,32,64 --p 1,2,4 --heads 2 --repeats 1 --out " + path("s.jsonl");
  // SIGKILL (no chance to clean up) once two points are in the file.
  const Result killed = run(sweep + " > " + path("s.log") + " 2>&1 & pid=$!; for i in $(seq 600); do "
                            "[ -f " + path("s.jsonl") + " ] && [ $(wc -l < " + path("s.jsonl") + ") -ge 3 ] && break; sleep 0.1; done; "
                            "kill -KILL $pid; wait $pid");
  EXPECT_NE(killed.code, 0);
  const std::vector<std::int64_t> before = sweep_indexes(path("s.jsonl"));
  ASSERT_GE(before.size(), 2u);
  ASSERT_LT(before.size(), 12u) << "the sweep finished before it was killed; make it longer";
  const Result resumed = run(sweep);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(std::to_string(before.size()) + " already in"), std::string::npos) << resumed.output;
  std::vector<std::int64_t> all = sweep_indexes(path("s.jsonl"));
  std::vector<std::int64_t> expected(12);
  for (int i = 0; i < 12; ++i) expected[i] = i;
  EXPECT_EQ(all, expected);  // every point once, in grid order
}

// A full disk, as `ulimit -f` makes it (SIGXFSZ ignored, so writes fail with EFBIG): a sweep
// stops with a clear error keeping every line it wrote, and resumes; an atomic write fails
// leaving the file it would have replaced as it was.
TEST_F(Cli, FullDiskLosesNothingAlreadyWritten) {
  const std::string sweep = "sweep --n 256 --r 8,16,32 --p 1,2 --heads 1 --dim 8 --repeats 1 --out " + path("s.jsonl");
  const Result full = shell("trap '' XFSZ; ulimit -f 2; " + std::string(FMAV_BIN) + " " + sweep);  // 2 KiB
  EXPECT_NE(full.code, 0);
  EXPECT_NE(full.output.find("cannot append a line (File too large); the lines before it are kept"), std::string::npos)
      << full.output;
  const std::vector<std::int64_t> before = sweep_indexes(path("s.jsonl"));  // a cut-off last line is set aside
  ASSERT_GE(before.size(), 1u);
  ASSERT_LT(before.size(), 6u);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i], static_cast<std::int64_t>(i));
  const Result resumed = run(sweep);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(sweep_indexes(path("s.jsonl")), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));

  // An atomic write (the inspector's 32 KiB map) over an existing file: refused
  // whole. (The limit covers this test's log of the output too: 1 KiB leaves room for it.)
  const fmav::SampleQkv qkv = fmav::sample_qkv(64, 8, 1);
  fmav::write_safetensors(path("qkv.safetensors"), {{"q", qkv.q}, {"k", qkv.k}, {"v", qkv.v}});
  fs::create_directories(path("ins"));
  { std::ofstream(path("ins/fma_map.npy")) << "previous"; }
  const std::string inspect = "inspect --input " + path("qkv.safetensors") + " --block 8 --rank 2 --out " + path("ins");
  const Result failed = shell("trap '' XFSZ; ulimit -f 1; " + std::string(FMAV_BIN) + " " + inspect);
  EXPECT_NE(failed.code, 0);
  EXPECT_NE(failed.output.find("File too large"), std::string::npos) << failed.output;
  EXPECT_EQ(fmav::read_file_bytes(path("ins/fma_map.npy"), 100), "previous");
  for (const auto& entry : fs::directory_iterator(path("ins"))) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << "a temporary was left: " << entry.path();
  }
}

// Every file of the hostile-input corpus (tests/hostile/MANIFEST) is refused by the command
// that reads it with the message the manifest gives, exit status 1 (or the status a fourth
// column gives), under a 3.5 GB address space: a parser that trusted a declared size would
// run out of memory instead. {W} is an empty folder per line, in which a refused command
// writes nothing; {C} a fresh copy of the file or folder (commands that write into it);
// {H} the corpus folder; a file named "-" is none (a hostile command line).
TEST_F(Cli, HostileCorpusIsRefusedClearlyInBoundedMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: `ulimit -v` cannot cap this run";
#endif
  const std::string hostile = std::string(FMAV_SOURCE_DIR) + "/tests/hostile";
  std::ifstream manifest(hostile + "/MANIFEST");
  ASSERT_TRUE(manifest) << hostile << "/MANIFEST";
  const auto substitute = [](std::string text, const std::string& key, const std::string& value) {
    for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
      text.replace(at, key.size(), value);
    }
    return text;
  };
  int files = 0;
  for (std::string line; std::getline(manifest, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1), tab3 = line.find('\t', tab2 + 1);
    ASSERT_NE(tab2, std::string::npos) << "MANIFEST line without two tabs: " << line;
    const std::string name = line.substr(0, tab1);
    const int code = tab3 == std::string::npos ? 1 : std::stoi(line.substr(tab3 + 1));
    const std::string work = path("case" + std::to_string(files)), copy = path("copy" + std::to_string(files));
    fs::create_directories(work);
    if (line.find("{C}") != std::string::npos) fs::copy(hostile + "/" + name, copy, fs::copy_options::recursive);
    const auto fill = [&](std::string text) {
      text = substitute(substitute(text, "{F}", hostile + "/" + name), "{A}", FMAV_ASSETS);
      return substitute(substitute(substitute(text, "{W}", work), "{C}", copy), "{H}", hostile);
    };
    const std::string command = fill(line.substr(tab1 + 1, tab2 - tab1 - 1));
    const std::string expected = fill(line.substr(tab2 + 1, tab3 == std::string::npos ? std::string::npos : tab3 - tab2 - 1));
    const Result r = shell("ulimit -v 3500000; " + std::string(FMAV_BIN) + " " + command);
    EXPECT_EQ(r.code, code) << name << ": " << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << name << ": expected '" << expected << "', got " << r.output;
    if (code != 0) {
      EXPECT_TRUE(fs::is_empty(work)) << name << ": a refused command wrote into " << work;
    }
    ++files;
  }
  EXPECT_GE(files, 30);  // the manifest was read
}

// The readers' limits, changed by flag (before or after the subcommand), name themselves
// when they refuse an input; bad values are usage errors.
TEST_F(Cli, LimitsAreOverridableByFlag) {
  fmav::write_npy(path("big.npy"), fmav::to_host(random_bhnd(1, 1, 8192, 64, 1, at::kFloat)));  // 2 MiB
  const std::string io = " --q " + path("big.npy") + " --k " + path("big.npy") + " --v " + path("big.npy");
  const Result tensor = run("--max-tensor-mib 1 attend" + io + " --out " + path("o.npy"));
  EXPECT_EQ(tensor.code, 1);
  EXPECT_NE(tensor.output.find("tensor is 2097152 bytes, more than the limit of 1048576"), std::string::npos)
      << tensor.output;
  EXPECT_EQ(run("attend" + io + " --block 64 --out " + path("o.npy") + " --max-tensor-mib 2").code, 0);
  const Result image = run("inspect --model " + std::string(FMAV_ASSETS) + "/models/image-fma2d --input " +
                           std::string(FMAV_ASSETS) + "/sample.png --out " + path("ins") + " --max-image-side 100");
  EXPECT_NE(image.output.find("over the limit of 100 pixels per side"), std::string::npos) << image.output;
  { std::ofstream(path("big.txt")) << std::string((1 << 20) + 10, 'a'); }
  const Result text = run("--max-text-mib 1 eval --data " + path("big.txt"));
  EXPECT_NE(text.output.find("more than the limit of 1048576"), std::string::npos) << text.output;
  const Result zero = run("--max-image-side 0 info");
  EXPECT_NE(zero.code, 0) << zero.output;  // CLI11's usage error
  EXPECT_NE(zero.output.find("--max-image-side"), std::string::npos) << zero.output;
}

TEST_F(Cli, SweepRecordsOutOfMemoryPointsAndGoesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: `ulimit -v` cannot cap this run";
#endif
  // 3.5 GB of address space: LibTorch loads (about 3 GB), a 524288-token point cannot fit.
  // --max-memory above the cap: the point is run and fails for real (test_cli_limits has the
  // point predicted not to fit and recorded without being run).
  const std::string cmd = "bash -c 'ulimit -v 3500000; " + std::string(FMAV_BIN) +
                          " --max-memory 1000000 sweep --n 256,524288,512 --r 16 --p 2 --repeats 1 --out " + path("o.jsonl") + "' > " +
                          path("o.log") + " 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string log = fmav::read_file_bytes(path("o.log"), 1 << 20);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  const fmav::SweepFile f = fmav::read_sweep_file(path("o.jsonl"));
  ASSERT_EQ(f.results.size(), 3u) << log;
  EXPECT_EQ(f.results[0].status, "ok");
  EXPECT_EQ(f.results[1].status, "oom") << f.results[1].error;
  EXPECT_EQ(f.results[2].status, "ok");  // the sweep went on after it
  EXPECT_NE(log.find("oom"), std::string::npos) << log;
}

TEST_F(Cli, SweepShardsMergeIntoTheUnshardedFile) {
  const std::string grid = "sweep --n 128 --r 8,16 --p 1,2,4 --heads 2 --repeats 1";
  ASSERT_EQ(run(grid + " --out " + path("all.jsonl")).code, 0);
  for (int i = 0; i < 2; ++i) {
    const Result r = run(grid + " --shard " + std::to_string(i) + "/2 --out " + path("part" + std::to_string(i) + ".jsonl"));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  EXPECT_EQ(sweep_indexes(path("part1.jsonl")), (std::vector<std::int64_t>{1, 3, 5}));
  EXPECT_NE(run(grid + " --out " + path("all.jsonl")).output.find("Pareto front (output error vs latency):"),
            std::string::npos);  // a finished sweep run again measures nothing and prints its front
  const Result m = run("merge " + path("part1.jsonl") + " " + path("part0.jsonl") + " --out " + path("merged.jsonl"));
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("merged 2 files: 6 of 6 points"), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find("partial"), std::string::npos) << m.output;
  const fmav::SweepFile all = fmav::read_sweep_file(path("all.jsonl"));
  const fmav::SweepFile merged = fmav::read_sweep_file(path("merged.jsonl"));
  ASSERT_EQ(merged.results.size(), all.results.size());
  for (std::size_t i = 0; i < all.results.size(); ++i) {
    EXPECT_EQ(merged.results[i].index, all.results[i].index);
    EXPECT_EQ(merged.results[i].output_rel_error, all.results[i].output_rel_error);
    EXPECT_EQ(merged.results[i].mean_tv, all.results[i].mean_tv);
  }
}

// A merge compares with the plan in the headers: shard 0 of 2, or half of it, is refused with
// the missing points listed (nothing written); --partial writes it and says it is partial.
TEST_F(Cli, MergeListsMissingPointsAndNeedsPartial) {
  const std::string grid = "sweep --n 128 --r 8,16 --p 1,2,4 --heads 2 --repeats 1";
  ASSERT_EQ(run(grid + " --shard 0/2 --out " + path("part0.jsonl")).code, 0);
  const Result m = run("merge " + path("part0.jsonl") + " --out " + path("m.jsonl"));
  EXPECT_EQ(m.code, 1) << m.output;
  EXPECT_NE(m.output.find("the sweep is incomplete, nothing written: 3 of 6 points"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("shard 1/2: all 3 points (1, 3, 5)"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("first missing: [1] n=128 r=8 p=2 learned mult f32"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("--partial"), std::string::npos) << m.output;
  EXPECT_FALSE(fs::exists(path("m.jsonl")));
  const Result p = run("merge --partial " + path("part0.jsonl") + " --out " + path("m.jsonl"));
  EXPECT_EQ(p.code, 0) << p.output;
  EXPECT_NE(p.output.find("merged 1 files: 3 of 6 points"), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("partial: missing 3 of 6 points"), std::string::npos) << p.output;
  EXPECT_EQ(sweep_indexes(path("m.jsonl")), (std::vector<std::int64_t>{0, 2, 4}));
  // Half a shard: its first point only (a shard killed early), with shard 1 complete.
  ASSERT_EQ(run(grid + " --shard 1/2 --out " + path("part1.jsonl")).code, 0);
  const std::string text = fmav::read_file_bytes(path("part0.jsonl"), 1 << 20);
  std::size_t second_line = text.find('\n', text.find('\n') + 1);
  fmav::write_file_atomic(path("half0.jsonl"), text.substr(0, second_line + 1));
  const Result h = run("merge " + path("half0.jsonl") + " " + path("part1.jsonl") + " --out " + path("h.jsonl"));
  EXPECT_EQ(h.code, 1) << h.output;
  EXPECT_NE(h.output.find("2 of 6 points\n  shard 0/2: 2 of 3 points (2, 4)"), std::string::npos) << h.output;
  EXPECT_FALSE(fs::exists(path("h.jsonl")));
  const Result hp = run("merge --partial " + path("half0.jsonl") + " " + path("part1.jsonl") + " --out " + path("h.jsonl"));
  EXPECT_EQ(hp.code, 0) << hp.output;
  EXPECT_NE(hp.output.find("4 of 6 points"), std::string::npos) << hp.output;
  EXPECT_NE(hp.output.find("partial: missing 2 of 6 points"), std::string::npos) << hp.output;
  const Result full = run("merge " + path("part1.jsonl") + " " + path("part0.jsonl") + " --out " + path("f.jsonl"));
  EXPECT_EQ(full.code, 0) << full.output;
  EXPECT_NE(full.output.find("merged 2 files: 6 of 6 points"), std::string::npos) << full.output;
  EXPECT_EQ(full.output.find("partial"), std::string::npos) << full.output;
}

TEST_F(Cli, SweepOnTheShippedModelAndBadOptions) {
  const std::string model = std::string(FMAV_ASSETS) + "/models/lm-fma";
  const std::string input = std::string(FMAV_ASSETS) + "/sample.txt";
  // The model's own r = 32, p = 2 with its learned weights, and average at r = 16.
  const Result r = run("sweep --model " + model + " --input " + input +
                       " --r 16,32 --p 2 --downsample average,learned --repeats 1 --out " + path("m.jsonl"));
  ASSERT_EQ(r.code, 0) << r.output;
  const fmav::SweepFile f = fmav::read_sweep_file(path("m.jsonl"));
  ASSERT_EQ(f.results.size(), 4u);
  EXPECT_EQ(f.results[0].status, "ok");      // r = 16 average
  EXPECT_EQ(f.results[1].status, "failed");  // r = 16 learned: the model has no such weights
  EXPECT_NE(f.results[1].error.find("down-sampling weights"), std::string::npos) << f.results[1].error;
  EXPECT_EQ(f.results[3].status, "ok");      // r = 32 learned: the model as trained
  EXPECT_NEAR(f.results[3].bpc, 3.614, 0.01);  // its bpc on the sample (README)
  EXPECT_EQ(f.results[3].heads.size(), 16u);   // 4 layers x 4 heads
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"sweep --p 0 --out " + path("x.jsonl"), "--p must be a list like 1024,4096 or a power-of-two range"},
      {"sweep --shard 2/2 --out " + path("x.jsonl"), "--shard must be i/N with 0 <= i < N <= 65536, got '2/2'"},
      {"sweep --model " + model + " --out " + path("x.jsonl"), "--model and --input go together"},
      {"sweep --multiplicity maybe --out " + path("x.jsonl"), "--multiplicity must be on, off or both"},
      {"sweep --r 16 --p 2 --out " + path("m.jsonl"), "holds results of another sweep"},
      {"merge " + path("nothing.jsonl") + " --out " + path("x.jsonl"), "nothing.jsonl"},
  };
  for (const auto& [args, message] : bad) {
    const Result e = run(args);
    EXPECT_EQ(e.code, 1) << args;
    EXPECT_NE(e.output.find(message), std::string::npos) << args << "\n" << e.output;
  }
}

TEST_F(Cli, InterruptedTrainingSavesAndResumes) {
  write_text(path("t.txt"));
  // SIGINT after 4 s of a run far too long to finish: it saves and exits 130.
  const Result t = run("train --data " + path("t.txt") + " --out " + path("m") + kTinyModel +
                       " --steps 1000000 --batch 2 --eval-every 0 --save-every 0 --log-every 100000 > " +
                       path("train.log") + " 2>&1 & pid=$!; sleep 4; kill -INT $pid; wait $pid");
  EXPECT_EQ(t.code, 130) << t.output;
  const std::string log = fmav::read_file_bytes(path("train.log"), 1 << 20);
  EXPECT_NE(log.find("interrupted at step"), std::string::npos) << log;
  ASSERT_TRUE(fs::exists(path("m/checkpoint.safetensors")));
  const Result e = run("eval --model " + path("m") + " --data " + path("t.txt"));
  EXPECT_EQ(e.code, 0) << e.output;
  const Result r = run("train --resume --out " + path("m") + " --steps 1 --eval-every 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("has already run"), std::string::npos) << r.output;
}

// A resumed run is the same run: from another folder (the data path relative to the first),
// with the checkpoint's options but --steps (said so), eval_tokens kept, the commands and
// seconds extended; flags that shape the model are refused.
TEST_F(Cli, ResumeFromAnotherFolderIsTheSameRun) {
  write_text(path("t.txt"));
  fs::create_directories(path("a")), fs::create_directories(path("b/c"));
  const std::string bin = FMAV_BIN;
  const Result first = shell("cd " + path("a") + " && " + bin + " train --data ../t.txt --out m" + kTinyModel +
                             " --steps 2 --batch 2 --lr 0.003 --eval-every 0 --eval-tokens 100");
  ASSERT_EQ(first.code, 0) << first.output;
  std::map<std::string, std::string> meta;
  fmav::read_safetensors(path("a/m/checkpoint.safetensors"), &meta);
  const double seconds_before = nlohmann::json::parse(meta.at("options")).at("seconds").get<double>();
  EXPECT_GT(seconds_before, 0);
  const Result refused = shell("cd " + path("b/c") + " && " + bin + " train --resume --out ../../a/m --steps 4 --block 4");
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("--block shapes the model, which a resumed run takes from"), std::string::npos)
      << refused.output;
  const Result resumed = shell("cd " + path("b/c") + " && " + bin + " train --resume --out ../../a/m --steps 4");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming ../../a/m at step 2 of 4 with its checkpoint's options; overridden: "
                                "--steps 4 (checkpoint: 2)\n"), std::string::npos) << resumed.output;
  const nlohmann::json training =
      nlohmann::json::parse(fmav::read_file_bytes(path("a/m/config.json"), 1 << 20)).at("training");
  EXPECT_EQ(training.at("steps_done"), 4);
  EXPECT_EQ(training.at("eval_tokens"), 100);
  EXPECT_EQ(training.at("batch"), 2);
  EXPECT_DOUBLE_EQ(training.at("lr").get<double>(), 0.003);
  EXPECT_LE(training.at("valid").at("bytes").get<std::int64_t>(), 100);  // not the default 65 536's ~290
  const std::string command = training.at("command");
  EXPECT_NE(command.find("--steps 2"), std::string::npos) << command;
  EXPECT_NE(command.find("; "), std::string::npos) << command;
  EXPECT_NE(command.find("--resume --out ../../a/m --steps 4"), std::string::npos) << command;
  fmav::read_safetensors(path("a/m/checkpoint.safetensors"), &meta);
  const nlohmann::json options = nlohmann::json::parse(meta.at("options"));
  EXPECT_GT(options.at("seconds").get<double>(), seconds_before);  // this run's seconds added
  EXPECT_TRUE(fs::path(options.at("data").get<std::string>()).is_absolute()) << options.dump();
}

TEST_F(Cli, ModelCommandErrorsAreClear) {
  write_text(path("t.txt"));
  ASSERT_EQ(run("train --data " + path("t.txt") + " --out " + path("m") + kTinyModel + " --steps 1").code, 0);
  const std::pair<std::string, std::string> cases[] = {
      {"inspect --model " + path("m") + " --input " + path("t.txt") + " --rows 5:2 --out " + path("x"),
       "--rows 5:2 must lie within [0, 64)"},
      {"inspect --model " + path("m") + " --input " + path("t.txt") + " --rows abc --out " + path("x"),
       "--rows must be a:b"},
      {"inspect --model " + path("m") + " --input " + path("t.txt") + " --layer 3 --out " + path("x"),
       "layer must be in [0, 1)"},
      {"inspect --model " + path("m") + " --input " + path("nothing.txt") + " --out " + path("x"), "nothing.txt"},
      {"eval --model " + path("none") + " --data " + path("t.txt"), "does not exist"},
      {"eval --model " + path("m") + " --data " + path("t.txt") + " --attention fma-linear",
       "needs down-sampling weights"},
      {"train --data " + path("t.txt") + " --out " + path("m2") + " --arch seq2seq", "architecture must be"},
      {"train --data " + path("t.txt") + " --out " + path("m2") + " --heads 3 --d-model 32",
       "heads (3) must divide d_model (32)"},
      {"train --out " + path("m3") + " --resume", "cannot resume"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  }
}

TEST_F(Cli, ShippedDefaultsLoadAndRun) {
  // Without --model and --input: the shipped LM (assets/models/lm-fma) on assets/sample.txt.
  const Result e = run("eval");
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_NE(e.output.find("lm-fma (causal-lm, fma attention)"), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("all: bpc"), std::string::npos) << e.output;
  const Result i = run("inspect --layer 3 --head 3 --rows 500:512 --out " + path("ins"));
  ASSERT_EQ(i.code, 0) << i.output;
  EXPECT_EQ(fmav::read_npy(path("ins/fma_map.npy")).shape, (std::vector<std::int64_t>{12, 512}));
  // Every shipped model loads and evaluates on its shipped input.
  for (const char* m : {"lm-full", "image-fma2d"}) {
    const std::string model = std::string(FMAV_ASSETS) + "/models/" + m;
    const std::string input = std::string(FMAV_ASSETS) + (m[0] == 'l' ? "/sample.txt" : "/sample.png");
    const Result r = run("inspect --model " + model + " --input " + input + " --out " + path(m));
    ASSERT_EQ(r.code, 0) << m << "\n" << r.output;
    EXPECT_TRUE(fs::exists(path(std::string(m) + "/summary.json")));
  }
}

TEST_F(Cli, PeersRunInAttendInspectAndBench) {
  const std::int64_t n = 120, d = 4;
  const at::Tensor q = random_bhnd(1, 2, n, d, 1), k = random_bhnd(1, 2, n, d, 2), v = random_bhnd(1, 2, n, d, 3);
  for (const auto& [name, t] : std::vector<std::pair<const char*, at::Tensor>>{{"q", q}, {"k", k}, {"v", v}}) {
    fmav::write_npy(path(std::string(name) + ".npy"), fmav::to_host(t));
  }
  const std::string io = " --q " + path("q.npy") + " --k " + path("k.npy") + " --v " + path("v.npy");
  for (const char* method : {"htransformer", "linear", "reformer", "local", "swin"}) {
    const bool swin = std::string(method) == "swin";
    const std::string extra = swin ? " --grid 12x10 --shifted" : " --causal --hash-rounds 3 --hash-seed 5";
    const Result r = run(std::string("attend --method ") + method + extra + io + " -m 8 --out " + path("o.npy") +
                         " --map-out " + path("map.npy") + " --level-map-out " + path("levels.npy"));
    ASSERT_EQ(r.code, 0) << method << ": " << r.output;
    fmav::AttendOptions o;
    fmav::parse_method(method, swin ? "12x10" : "", &o);
    o.fma.block_size = 8, o.fma.causal = !swin;
    o.peer.hash_rounds = 3, o.peer.hash_seed = 5, o.peer.shifted = swin;
    EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::read_npy(path("o.npy"))), fmav::peer_reference(q, k, v, o)), 1e-12)
        << method;
    const at::Tensor map = fmav::to_tensor(fmav::read_npy(path("map.npy")));
    ASSERT_EQ(map.sizes().vec(), (std::vector<std::int64_t>{1, 2, n, n}));
    EXPECT_LT((map.sum(-1) - 1).abs().max().item<double>(), 1e-12) << method;
    // The map times v is the output.
    EXPECT_LT(max_abs_diff(at::matmul(map, v), fmav::peer_reference(q, k, v, o)), 1e-12) << method;
    EXPECT_EQ(fmav::read_npy(path("levels.npy")).shape, (std::vector<std::int64_t>{n, n}));
  }
  const Result bad = run("attend --method reformer --hash-rounds 0" + io + " --out " + path("o.npy"));
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("reformer: hash rounds must be in 1..8, got 0"), std::string::npos) << bad.output;
  const Result causal_swin = run("attend --method swin --grid 12x10 --causal" + io + " --out " + path("o.npy"));
  EXPECT_NE(causal_swin.output.find("swin attention is bidirectional"), std::string::npos) << causal_swin.output;

  fmav::write_safetensors(path("qkv.safetensors"),
                          {{"q", fmav::to_host(q)}, {"k", fmav::to_host(k)}, {"v", fmav::to_host(v)}});
  const Result i = run("inspect --input " + path("qkv.safetensors") + " --method htransformer --block 8 --out " +
                       path("ins"));
  ASSERT_EQ(i.code, 0) << i.output;
  const std::string summary = fmav::read_file_bytes(path("ins/summary.json"), 1 << 20);
  EXPECT_NE(summary.find("\"method\": \"htransformer\""), std::string::npos) << summary;
  EXPECT_EQ(fmav::read_npy(path("ins/level_mass.npy")).shape, (std::vector<std::int64_t>{n, 4}));  // 128 = 8 * 2^4

  const Result b = run("bench --methods sdpa,htransformer,linear,reformer,swin --n 256 --repeats 1 --heads 2 --dim 8 "
                       "--block 16 --cell 4 --jsonl " + path("b.jsonl"));
  ASSERT_EQ(b.code, 0) << b.output;
  const fmav::BenchFile file = fmav::read_bench_file(path("b.jsonl"));
  ASSERT_EQ(file.rows.size(), 5u);
  for (const fmav::BenchRow& row : file.rows) {
    EXPECT_EQ(row.status, "ok") << row.method << " " << row.note;
    EXPECT_GT(row.flops, 0) << row.method;
    if (row.method != "sdpa") {
      EXPECT_LT(row.check_error, 1e-4) << row.method;
    }
  }
}

TEST_F(Cli, InspectRawQkv) {
  const at::Tensor q = random_bhnd(1, 2, 40, 8, 1), k = random_bhnd(1, 2, 40, 8, 2), v = random_bhnd(1, 2, 40, 8, 3);
  fmav::write_safetensors(path("qkv.safetensors"),
                          {{"q", fmav::to_host(q)}, {"k", fmav::to_host(k)}, {"v", fmav::to_host(v)}});
  const Result r = run("inspect --input " + path("qkv.safetensors") + " --head 1 --block 8 --rank 2 --causal --out " +
                       path("ins"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(fmav::read_npy(path("ins/fma_map.npy")).shape, (std::vector<std::int64_t>{40, 40}));
  EXPECT_NE(fmav::read_file_bytes(path("ins/summary.json"), 1 << 20).find("\"causal\": true"), std::string::npos);
}

// NaN and Inf in q, k, v or a model's weights are refused with the tensor's name, the counts and
// the first position (issue 22.3); --allow-nonfinite lets them through, and inspect then reports
// its means as undefined rather than the 0 KL and full overlap NaN compared with NaN gives.
TEST_F(Cli, NonFiniteInputsAreRefusedUnlessAllowed) {
  const std::int64_t h = 2, n = 32, d = 8;
  at::Tensor q = random_bhnd(1, h, n, d, 1, at::kFloat).view({h, n, d}).clone();
  q[0][3][5] = std::numeric_limits<float>::quiet_NaN();
  fmav::write_npy(path("q.npy"), fmav::to_host(q));
  fmav::write_npy(path("k.npy"), fmav::to_host(random_bhnd(1, h, n, d, 2, at::kFloat).view({h, n, d})));
  fmav::write_npy(path("v.npy"), fmav::to_host(random_bhnd(1, h, n, d, 3, at::kFloat).view({h, n, d})));
  const std::string io = " --q " + path("q.npy") + " --k " + path("k.npy") + " --v " + path("v.npy") +
                         " --block 8 --rank 2 --out " + path("o.npy");
  Result r = run("attend" + io);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("q (" + path("q.npy") + ") holds 1 NaN and 0 Inf values; the first at [0, 3, 5]; "
                          "pass --allow-nonfinite to study them anyway"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("o.npy")));
  // Allowed, before or after the subcommand: it runs, says what it let through, and the NaN
  // spreads as attention spreads it.
  for (const std::string& args : {"--allow-nonfinite attend" + io, "attend" + io + " --allow-nonfinite"}) {
    r = run(args);
    ASSERT_EQ(r.code, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("warning: q (" + path("q.npy") + ") holds 1 NaN"), std::string::npos) << r.output;
    EXPECT_TRUE(fmav::to_tensor(fmav::read_npy(path("o.npy"))).isnan().any().item<bool>());
    fs::remove(path("o.npy"));
  }

  // inspect on an all-NaN q: refused; allowed, the means are undefined, never KL 0 / overlap 1.
  fmav::write_safetensors(path("qkv.safetensors"),
                          {{"q", fmav::to_host(at::full({1, 1, n, d}, std::numeric_limits<float>::quiet_NaN()))},
                           {"k", fmav::to_host(random_bhnd(1, 1, n, d, 2, at::kFloat))},
                           {"v", fmav::to_host(random_bhnd(1, 1, n, d, 3, at::kFloat))}});
  const std::string ins = "inspect --input " + path("qkv.safetensors") + " --block 8 --rank 2 --out " + path("ins");
  r = run(ins);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("holds 256 NaN and 0 Inf values; the first at [0, 0, 0, 0]"), std::string::npos)
      << r.output;
  r = run(ins + " --allow-nonfinite");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("mean KL undefined (32 of 32 rows non-finite)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mean top-8 overlap undefined"), std::string::npos) << r.output;
  const nlohmann::json summary = nlohmann::json::parse(fmav::read_file_bytes(path("ins/summary.json"), 1 << 20));
  EXPECT_TRUE(summary["mean_kl"].is_null()) << summary.dump();
  EXPECT_TRUE(summary["mean_topk_overlap"].is_null()) << summary.dump();
  EXPECT_TRUE(summary["mean_tv"].is_null()) << summary.dump();
  EXPECT_EQ(summary["nonfinite_rows"], n);

  // A model whose weights hold an Inf: eval refuses it naming the weight and the file.
  write_text(path("t.txt"));
  ASSERT_EQ(run("train --data " + path("t.txt") + " --out " + path("m") + kTinyModel + " --steps 1").code, 0);
  fmav::TensorMap weights = fmav::read_safetensors(path("m/model.safetensors"));
  const std::string poisoned = weights.begin()->first;
  weights.begin()->second.f32()[1] = -std::numeric_limits<float>::infinity();
  fmav::write_safetensors(path("m/model.safetensors"), weights);
  r = run("eval --model " + path("m") + " --data " + path("t.txt"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("weight \"" + poisoned + "\" (" + path("m") + "/model.safetensors) holds 0 NaN and 1 Inf "
                          "(0 +Inf, 1 -Inf) values"), std::string::npos) << r.output;
  EXPECT_EQ(run("eval --allow-nonfinite --model " + path("m") + " --data " + path("t.txt")).code, 0);
}

// One --downsample default (the engine's, learned) in attend, inspect and sweep.
TEST_F(Cli, DownsampleDefaultIsTheSameEverywhere) {
  const at::Tensor q = random_bhnd(1, 1, 40, 8, 1);
  fmav::write_safetensors(path("qkv.safetensors"), {{"q", fmav::to_host(q)}, {"k", fmav::to_host(q)}, {"v", fmav::to_host(q)}});
  ASSERT_EQ(run("inspect --input " + path("qkv.safetensors") + " --block 8 --rank 2 --out " + path("ins")).code, 0);
  EXPECT_NE(fmav::read_file_bytes(path("ins/summary.json"), 1 << 20).find("\"downsample\": \"learned\""),
            std::string::npos);
  ASSERT_EQ(run("sweep --n 64 --r 16 --p 1 --heads 1 --dim 8 --repeats 1 --out " + path("s.jsonl")).code, 0);
  EXPECT_EQ(fmav::read_sweep_file(path("s.jsonl")).spec.downsamples, (std::vector<fmav::Downsample>{fmav::Downsample::learned}));
  const Result help = run("attend --help");
  EXPECT_NE(help.output.find("--downsample TEXT:{learned,average,dense}=learned"), std::string::npos) << help.output;
}

}  // namespace

// ---- GenTask: `fmav gen-task` writes what the generators make, and refuses bad options ----

namespace {

TEST_F(Cli, GenTaskTextTasksWriteTextAndAnswerMasks) {
  Result r = run("gen-task kv-recall --records 5 --length 256 --seed 2 --out " + path("kv.txt"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + path("kv.txt") + ": kv-recall, 5 records of 256 bytes"), std::string::npos)
      << r.output;
  const fmav::TextTask kv = fmav::make_kv_recall(5, 256, 2);
  EXPECT_EQ(fmav::read_text(path("kv.txt")), kv.text);
  fmav::HostTensor mask = fmav::read_npy(path("kv.answers.npy"));
  EXPECT_EQ(mask.dtype, fmav::DType::u8);
  EXPECT_EQ(mask.shape, (std::vector<std::int64_t>{5 * 256}));
  EXPECT_EQ(mask.data, kv.answer_mask);

  r = run("gen-task copy --records 3 --length 101 --seed 4 -o " + path("copy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const fmav::TextTask copy = fmav::make_copy_task(3, 101, 4);
  EXPECT_EQ(fmav::read_text(path("copy")), copy.text);
  mask = fmav::read_npy(path("copy.answers.npy"));
  EXPECT_EQ(mask.data, copy.answer_mask);
}

TEST_F(Cli, GenTaskShapesAndSampleImage) {
  Result r = run("gen-task shapes --per-class 2 --size 16 --seed 3 --out " + path("shapes"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("8 images (4 classes x 2) of 16x16 pixels"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("writing images: 50%\n"), std::string::npos) << r.output;  // progress, on stderr
  EXPECT_NE(r.output.find("writing images: 100%\n"), std::string::npos) << r.output;
  const fmav::ImageFolder folder = fmav::list_image_folder(path("shapes"));
  EXPECT_EQ(folder.classes, fmav::shape_classes());
  ASSERT_EQ(folder.items.size(), 8u);
  EXPECT_EQ(fmav::read_image(folder.items[5].first).width, 16);

  r = run("gen-task sample-image --size 40 --seed 1 --out " + path("sample.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  const fmav::Image image = fmav::read_image(path("sample.png"));
  EXPECT_EQ(image.height, 40);
  EXPECT_EQ(image.width, 40);
}

// The viewer's synthetic input as raw q, k, v: head h is sample_qkv with seed + h.
TEST_F(Cli, GenTaskSampleQkv) {
  const Result r = run("gen-task sample-qkv --n 97 --heads 2 --dim 8 --seed 5 --out " + path("qkv.safetensors"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("q, k, v (1, 2, 97, 8) float32 (seed 5)"), std::string::npos) << r.output;
  const fmav::TensorMap qkv = fmav::read_safetensors(path("qkv.safetensors"));
  ASSERT_EQ(qkv.size(), 3u);
  const fmav::SampleQkv head1 = fmav::sample_qkv(97, 8, 6);
  const std::size_t head_bytes = head1.q.data.size();
  for (const auto& [name, sample] : {std::pair{"q", &head1.q}, std::pair{"k", &head1.k}, std::pair{"v", &head1.v}}) {
    const fmav::HostTensor& t = qkv.at(name);
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{1, 2, 97, 8})) << name;
    ASSERT_EQ(t.data.size(), 2 * head_bytes) << name;
    EXPECT_TRUE(std::equal(sample->data.begin(), sample->data.end(), t.data.begin() + head_bytes)) << name;
  }
}

TEST_F(Cli, GenTaskSampleQkvBadOptions) {
  Result r = run("gen-task sample-qkv --out " + path("q.npy"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("fmav: error: --out must be a .safetensors file, got '" + path("q.npy") + "'"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("q.npy")));
  r = run("gen-task sample-qkv --heads 65 --out " + path("qkv.safetensors"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--heads"), std::string::npos) << r.output;
  r = run("gen-task sample-qkv --n 0 --out " + path("qkv.safetensors"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--n"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("qkv.safetensors")));
}

TEST_F(Cli, GenTaskBadOptionsAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"gen-task kv-recall --length 10 --out " + path("t.txt"), "kv-recall: record length must be >= 64 bytes, got 10"},
      {"gen-task copy --records 0 --out " + path("t.txt"), "copy: records must be >= 1, got 0"},
      {"gen-task shapes --size 4 --out " + path("s"), "shapes: image size must be in 8..1024 pixels, got 4"},
      {"gen-task sample-image --size 5000 --out " + path("i.png"), "sample image: size must be in 8..4096 pixels"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("fmav: error: " + message), std::string::npos) << args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(path("t.txt")));
  EXPECT_FALSE(fs::exists(path("s")));
  Result r = run("gen-task kv-recall --records 2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--out is required"), std::string::npos) << r.output;
  r = run("gen-task");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("A subcommand is required"), std::string::npos) << r.output;
}

}  // namespace
