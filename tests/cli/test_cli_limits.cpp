// The limits a command is held to before it works (issue 22): one set of size limits shared
// by the options, the runners and the results files' readers (a round trip over their
// edges); every output's limit checked before anything is computed or written; and the
// predicted memory against the machine or --max-memory (refused, or a sweep's or bench's
// point recorded as `oom` "predicted: ..."), run under a memory cap. Only fmav_io: the
// commands run as the fmav binary.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fmav/bench_file.h"
#include "fmav/error.h"
#include "fmav/memory_budget.h"
#include "fmav/size_limits.h"
#include "fmav/sweep_file.h"
#include "fmav/tensor_io.h"
#include "test_helpers.h"

namespace {

namespace fs = std::filesystem;

using Result = fmav_test::CommandResult;

class Limits : public fmav_test::TempFolder {
 protected:
  void TearDown() override {
    TempFolder::TearDown();
    fmav::set_max_memory(0);
  }

  // fmav with `args`, after the shell commands in `before` (e.g. a ulimit).
  Result run(const std::string& args, const std::string& before = "") const {
    return fmav_test::run_command("bash -c '" + before + " exec " + std::string(FMAV_BIN) + " " + args + "'",
                                  path("log.txt"));
  }

  // An (n, d) float32 tensor file of small values.
  std::string tensor(const std::string& name, std::int64_t n, std::int64_t d) const {
    fmav::HostTensor t = fmav::make_host_tensor(fmav::DType::f32, {n, d});
    for (std::int64_t i = 0; i < n * d; ++i) t.f32()[i] = static_cast<float>((i * 7919) % 101) / 101.0f - 0.5f;
    fmav::write_npy(path(name), t);
    return path(name);
  }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- point 2: one set of size limits, the writer's and the reader's ----

fmav::SweepSpec sweep_at_the_limits() {
  fmav::SweepSpec s;
  s.model = "m", s.input = "i.txt";
  s.offset = fmav::kMaxOffset, s.heads = fmav::kMaxHeads, s.dim = fmav::kMaxDim;
  s.ns = {fmav::kMaxTokens}, s.block_sizes = {fmav::kMaxTokens}, s.ranks = {fmav::kMaxTokens};
  s.repeats = static_cast<int>(fmav::kMaxRepeats);
  s.seed = std::numeric_limits<std::uint64_t>::max();
  s.shards = static_cast<int>(fmav::kMaxShards), s.shard = s.shards - 1;
  s.layer = static_cast<int>(fmav::kMaxIndex), s.head = static_cast<int>(fmav::kMaxIndex), s.ids = "ids.npy";
  return s;
}

TEST_F(Limits, SweepFileRoundTripsAtTheLimitsAndRefusesOneMore) {
  const fmav::SweepSpec s = sweep_at_the_limits();
  ASSERT_EQ(fmav::sweep_points(s).size(), 1u);  // the writer's check
  fmav::SweepResult r;
  r.index = 0, r.point = fmav::sweep_points(s)[0], r.status = "ok";
  for (std::int64_t i = 0; i < fmav::kMaxSweepHeadErrors; ++i) {  // the longest line: every value 17 digits
    r.heads.push_back({static_cast<int>(fmav::kMaxIndex), static_cast<int>(fmav::kMaxIndex), -1.2345678901234567e-300,
                       -1.2345678901234567e-300, -1.2345678901234567e-300});
  }
  r.error = std::string(500, 'x');
  const std::string text = fmav::sweep_header_json(s) + "\n" + fmav::sweep_result_json(r) + "\n";
  const fmav::SweepFile f = fmav::parse_sweep_file(text);
  EXPECT_TRUE(fmav::same_sweep(f.spec, s));
  EXPECT_EQ(f.spec.seed, s.seed);
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].heads.size(), static_cast<std::size_t>(fmav::kMaxSweepHeadErrors));

  // One more than each limit: the writer refuses it, naming the option and the range.
  const auto refused = [](fmav::SweepSpec bad, const std::string& expected) {
    try {
      fmav::sweep_points(bad);
      ADD_FAILURE() << "accepted; expected: " << expected;
    } catch (const fmav::Error& e) {
      EXPECT_TRUE(has(e.what(), expected)) << e.what();
    }
  };
  fmav::SweepSpec bad = s;
  bad.heads += 1;
  refused(bad, "--heads must be an integer in [1, 8192], got 8193");
  bad = s, bad.dim += 1;
  refused(bad, "--dim must be an integer in [1, 65536], got 65537");
  bad = s, bad.ns = {fmav::kMaxTokens + 1};
  refused(bad, "each --n value must be an integer in [1, 16777216], got 16777217");
  bad = s, bad.block_sizes = {fmav::kMaxTokens + 1};
  refused(bad, "each --r (block size) value must be an integer in [1, 16777216]");
  bad = s, bad.repeats += 1;
  refused(bad, "--repeats must be an integer in [1, 1000], got 1001");
  bad = s, bad.shards += 1;
  refused(bad, "N of --shard i/N must be an integer in [1, 65536], got 65537");
  bad = s, bad.offset += 1;
  refused(bad, "--offset must be an integer in [0, 1125899906842624]");
  // and the reader refuses such a file (written by hand)
  std::string over = fmav::sweep_header_json(s);
  over.replace(over.find("\"heads\":8192"), 12, "\"heads\":8193");
  EXPECT_THROW(fmav::parse_sweep_file(over + "\n"), fmav::Error);
}

TEST_F(Limits, BenchFileRoundTripsAtTheLimits) {
  fmav::BenchConfig c;
  c.methods = {"fma"}, c.ns = {1, fmav::kMaxTokens};
  c.batch = fmav::kMaxBatch, c.heads = fmav::kMaxHeads, c.dim = fmav::kMaxDim;
  c.block_size = c.rank = c.cell = fmav::kMaxTokens;
  c.repeats = static_cast<int>(fmav::kMaxRepeats), c.threads = static_cast<int>(fmav::kMaxThreads);
  c.hash_rounds = 8, c.seed = std::numeric_limits<std::uint64_t>::max();  // --seed takes any 64-bit value
  const fmav::BenchFile f = fmav::parse_bench_file(fmav::bench_header_json(c) + "\n");
  EXPECT_EQ(f.config.ns, c.ns);
  EXPECT_EQ(f.config.batch, c.batch);
  EXPECT_EQ(f.config.heads, c.heads);
  EXPECT_EQ(f.config.dim, c.dim);
  EXPECT_EQ(f.config.cell, c.cell);
  EXPECT_EQ(f.config.repeats, c.repeats);
  EXPECT_EQ(f.config.threads, c.threads);
  EXPECT_EQ(f.config.seed, c.seed);
  // --n's parser: the largest N, and one more named with the range.
  EXPECT_EQ(fmav::parse_n_list("16777216"), std::vector<std::int64_t>{fmav::kMaxTokens});
  EXPECT_EQ(fmav::parse_n_list("8388608:16777216").size(), 2u);
  try {
    fmav::parse_n_list("1:16777217");
    ADD_FAILURE() << "accepted";
  } catch (const fmav::Error& e) {
    EXPECT_TRUE(has(e.what(), "--n values must be integers in [1, 16777216], got 16777217")) << e.what();
  }
}

// The commands at their largest sizes write files that read back (every point predicted out
// of memory, so nothing that size is allocated); one more is refused as the options are
// parsed, naming the option and the range, and writes nothing.
TEST_F(Limits, CommandsAtTheLimitsWriteFilesTheyReadBack) {
  const Result sweep = run("sweep --n 16777216 --heads 8192 --dim 65536 --r 16777216 --p 16777216 --repeats 1000 "
                           "--shard 65535/65536 --out " + path("max.jsonl"));
  // The grid's one point is point 0: shard 65535 has none to run, so the file is just its header.
  ASSERT_EQ(sweep.code, 0) << sweep.output;
  EXPECT_EQ(fmav::read_sweep_file(path("max.jsonl")).spec.heads, fmav::kMaxHeads);
  const Result point = run("sweep --n 16777216 --heads 8192 --dim 65536 --r 16777216 --p 16777216 --repeats 1000 "
                           "--out " + path("point.jsonl"));
  ASSERT_EQ(point.code, 0) << point.output;
  const fmav::SweepFile f = fmav::read_sweep_file(path("point.jsonl"));
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].status, "oom");
  EXPECT_EQ(f.results[0].error.rfind("predicted to need ", 0), 0u) << f.results[0].error;

  const Result bench = run("bench --methods fma --n 16777216 --batch 65536 --heads 8192 --dim 65536 --repeats 1000 "
                           "--jsonl " + path("max_bench.jsonl"));
  ASSERT_EQ(bench.code, 0) << bench.output;
  const fmav::BenchFile b = fmav::read_bench_file(path("max_bench.jsonl"));
  ASSERT_EQ(b.rows.size(), 1u);
  EXPECT_EQ(b.rows[0].status, "oom");
  EXPECT_TRUE(has(b.rows[0].note, "q, k, v predicted to need ")) << b.rows[0].note;

  struct Over {
    std::string args, expected;
  };
  const std::vector<Over> over = {
      {"sweep --heads 8193", "--heads: Value 8193 not in range 1 to 8192"},
      {"sweep --heads 100000", "--heads: Value 100000 not in range 1 to 8192"},
      {"sweep --dim 65537", "--dim: Value 65537 not in range 1 to 65536"},
      {"sweep --repeats 1001", "--repeats: Value 1001 not in range 1 to 1000"},
      {"sweep --n 16777217", "--n values must be integers in [1, 16777216], got 16777217"},
      {"sweep --n 1073741824", "--n values must be integers in [1, 16777216], got 1073741824"},
      {"sweep --r 8,16777217", "--r values must be integers in [1, 16777216], got 16777217"},
      {"sweep --shard 0/65537", "--shard must be i/N with 0 <= i < N <= 65536, got '0/65537'"},
      {"bench --heads 8193", "--heads: Value 8193 not in range 1 to 8192"},
      {"bench --batch 65537", "--batch: Value 65537 not in range 1 to 65536"},
      {"bench --n 8388608:33554432", "--n values must be integers in [1, 16777216], got 33554432"},
      {"bench --repeats 1001", "--repeats: Value 1001 not in range 1 to 1000"},
  };
  for (const Over& o : over) {
    const std::string out = path("over.jsonl");
    const Result r = run(o.args + (o.args.rfind("sweep", 0) == 0 ? " --out " : " --jsonl ") + out);
    EXPECT_NE(r.code, 0) << o.args;
    EXPECT_TRUE(has(r.output, o.expected)) << o.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(out)) << o.args << ": a refused run wrote its results file";
  }
}

// ---- point 6: every output's limit before anything is computed or written ----

TEST_F(Limits, AttendChecksTheMapLimitBeforeComputingOrWriting) {
  const std::string q = tensor("q.npy", 32768, 2);
  const std::string io = " --q " + q + " --k " + q + " --v " + q + " --block 64 --rank 2";
  const Result r = run("attend" + io + " --save-weights " + path("w.safetensors") + " --out " + path("o.npy") +
                       " --map-out " + path("map.npy"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "--map-out: 1 maps of 32768 x 32768 exceed the 4 GiB limit")) << r.output;
  EXPECT_FALSE(fs::exists(path("o.npy")));
  EXPECT_FALSE(fs::exists(path("w.safetensors")));
  EXPECT_FALSE(fs::exists(path("map.npy")));
  // A bad output name, found before the work too.
  const Result name = run("attend" + io + " --out " + path("o.npy") + " --level-map-out " + path("levels.txt"));
  EXPECT_EQ(name.code, 1) << name.output;
  EXPECT_TRUE(has(name.output, "--level-map-out " + path("levels.txt") + ": expected a .npy or .safetensors"))
      << name.output;
  EXPECT_FALSE(fs::exists(path("o.npy")));
}

TEST_F(Limits, AttendWritesAllItsOutputsOrNone) {
  // The output (8 KiB) fits under `ulimit -f` 100 KiB, the map (2 MiB) does not: the map's
  // write fails as on a full disk, and the output written before it is removed.
  const std::string q = tensor("q.npy", 512, 4);
  const std::string io = " --q " + q + " --k " + q + " --v " + q + " --block 16 --rank 2 --downsample average";
  const Result r = run("attend" + io + " --out " + path("o.npy") + " --map-out " + path("map.npy"),
                       "trap \"\" XFSZ; ulimit -f 100;");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_FALSE(fs::exists(path("o.npy"))) << r.output;
  EXPECT_FALSE(fs::exists(path("map.npy"))) << r.output;
  // Without the cap both are written.
  const Result ok = run("attend" + io + " --out " + path("o.npy") + " --map-out " + path("map.npy"));
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_TRUE(fs::exists(path("o.npy")) && fs::exists(path("map.npy")));
}

// ---- point 1: the predicted memory against the limit ----

TEST_F(Limits, ShortfallNamesThePredictionTheLimitAndTheFlag) {
  fmav::set_max_memory(std::int64_t{100} << 20);
  EXPECT_EQ(fmav::memory_limit().bytes, std::int64_t{100} << 20);
  EXPECT_EQ(fmav::memory_shortfall(50.0 * (1 << 20)), "");
  EXPECT_EQ(fmav::memory_shortfall(400.0 * (1 << 20)),
            "predicted to need 400 MiB, more than the 100 MiB of --max-memory; use smaller sizes, or "
            "--max-memory MiB to override");
  try {
    fmav::check_memory("attend:", 1e12);
    ADD_FAILURE() << "accepted";
  } catch (const fmav::Error& e) {
    EXPECT_TRUE(has(e.what(), "attend: predicted to need 953675 MiB, more than the 100 MiB")) << e.what();
  }
  fmav::set_max_memory(0);  // the machine's: positive, and named
  EXPECT_GT(fmav::memory_limit().bytes, 0);
  EXPECT_FALSE(fmav::memory_limit().source.empty());
}

// Each command sized by the user's numbers, under `ulimit -v` (here the address space
// LibTorch maps at start-up, about 3 GB, plus 1 GB): refused with exit 1 (not killed),
// naming the prediction, the limit and --max-memory, and writing nothing.
TEST_F(Limits, CommandsOverTheMemoryLimitRefuseUnderACap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: `ulimit -v` cannot cap this run";
#endif
  const std::string cap = "ulimit -v 4000000;";
  const std::string q = tensor("q.npy", 8192, 8), big = tensor("big.npy", 16384, 8);
  const std::string io = " --q " + big + " --k " + big + " --v " + big;
  struct Case {
    std::string args, what, output;
  };
  const std::vector<Case> cases = {
      // the dense reference: 2 x 16384^2 float64 = 4 GiB of scores, and a 2 GiB map
      {"attend" + io + " --impl reference --map-out " + path("map.npy") + " --out " + path("o.npy"), "attend:",
       path("o.npy")},
      {"gen-task sample-qkv --n 1048576 --heads 64 --dim 1024 --out " + path("qkv.safetensors"),
       "gen-task sample-qkv:", path("qkv.safetensors")},
      {"gen-task copy --records 1000000 --length 1024 --out " + path("t.txt"), "gen-task:", path("t.txt")},
      {"train --data " + q + " --context 65536 --d-model 1024 --layers 16 --heads 8 --d-mlp 4096 --steps 1 --out " +
           path("model"),
       "train:", path("model")},
      {"inspect --input " + path("qkv3.safetensors") + " --out " + path("ins"), "inspect:", path("ins")},
  };
  {  // inspect's raw q, k, v: 8192 x 8192 maps
    fmav::TensorMap qkv;
    for (const char* name : {"q", "k", "v"}) qkv[name] = fmav::read_npy(q);
    fmav::write_safetensors(path("qkv3.safetensors"), qkv);
  }
  for (const Case& c : cases) {
    const Result r = run("--max-memory 900 " + c.args, cap);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.output;  // an error, not a kill (-1) or an abort
    EXPECT_TRUE(has(r.output, c.what + " predicted to need ")) << c.args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "MiB, more than the 900 MiB of --max-memory; use smaller sizes, or --max-memory MiB "
                              "to override")) << r.output;
    EXPECT_FALSE(fs::exists(c.output)) << c.args;
    // Without --max-memory the cap itself is the limit, named as such (or the machine's
    // available memory, when that is less).
    const Result capped = run(c.args, cap);
    EXPECT_EQ(capped.code, 1) << c.args << "\n" << capped.output;
    EXPECT_TRUE(has(capped.output, "ulimit -v") || has(capped.output, "MemAvailable")) << capped.output;
    EXPECT_FALSE(fs::exists(c.output)) << c.args;
  }
  // eval of the shipped model with 64k windows per forward
  const Result eval = run("--max-memory 100 eval --batch 100000", cap);
  EXPECT_EQ(eval.code, 1) << eval.output;
  EXPECT_TRUE(has(eval.output, "eval: predicted to need ")) << eval.output;
}

// The commands whose sizes come from a file: a resumed training run (its checkpoint's model
// and batch), and the Hugging Face models of fit, eval and bench-model (from config.json,
// before the weights load: here a gpt2-sized config beside no weights at all). Each is
// refused under a small --max-memory with the prediction, the limit and the flag, exit 1,
// nothing written.
TEST_F(Limits, ResumedAndHuggingFaceRunsPredictTheirMemory) {
  {
    std::ofstream text(path("t.txt"));
    for (int i = 0; i < 200; ++i) text << i << " the quick brown fox jumps over the lazy dog\n";
  }
  const std::string model = path("m");
  const Result trained = run("train --data " + path("t.txt") + " --out " + model + " --context 64 --d-model 32 "
                             "--layers 1 --heads 2 --d-mlp 64 --block 8 --rank 2 --steps 1 --batch 16 --eval-every 0 "
                             "--eval-tokens 100");
  ASSERT_EQ(trained.code, 0) << trained.output;
  const std::string checkpoint = fmav::read_file_bytes(model + "/checkpoint.safetensors", 1 << 30);
  fs::create_directories(path("hf"));
  {  // gpt2's own sizes: 124 M parameters
    std::ofstream(path("hf/config.json")) << R"({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768,
        "n_layer": 12, "n_head": 12, "n_positions": 1024})";
    fmav::HostTensor ids = fmav::make_host_tensor(fmav::DType::i64, {1024});
    for (std::int64_t i = 0; i < 1024; ++i) reinterpret_cast<std::int64_t*>(ids.data.data())[i] = i % 50257;
    fmav::write_npy(path("ids.npy"), ids);
  }
  struct Case {
    std::string args, what;
  };
  const std::vector<Case> cases = {
      {"train --resume --out " + model + " --steps 2", "train:"},  // the checkpoint's batch of 16
      {"fit --model " + path("hf") + " --ids " + path("ids.npy") + " --swap-layers 0-11 -o " + path("fitted"), "fit:"},
      {"eval --model " + path("hf") + " --ids " + path("ids.npy"), "eval:"},
      {"bench-model --model " + path("hf") + " --python /bin/sh --script " + path("t.txt") + " --tokens 128,1024",
       "bench-model:"},
  };
  for (const Case& c : cases) {
    const Result r = run("--max-memory 1 " + c.args);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, c.what + " predicted to need ")) << c.args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "MiB, more than the 1 MiB of --max-memory; use smaller sizes, or --max-memory MiB "
                              "to override")) << c.args << "\n" << r.output;
  }
  EXPECT_EQ(fmav::read_file_bytes(model + "/checkpoint.safetensors", 1 << 30), checkpoint);  // not resumed
  EXPECT_FALSE(fs::exists(path("fitted")));
  // The predictions are the weights' and the work's: gpt2 on 1024 tokens needs more than its
  // 500 MB of float32 weights, so --max-memory 400 refuses it and a generous one lets the
  // command go on to its next check (here: there are no weights to load).
  const Result eval = run("--max-memory 400 eval --model " + path("hf") + " --ids " + path("ids.npy"));
  EXPECT_TRUE(has(eval.output, "eval: predicted to need ")) << eval.output;
  const Result ok = run("--max-memory 100000 eval --model " + path("hf") + " --ids " + path("ids.npy"));
  EXPECT_EQ(ok.code, 1) << ok.output;
  EXPECT_FALSE(has(ok.output, "predicted to need")) << ok.output;
  const Result resumed = run("--max-memory 100000 train --resume --out " + model + " --steps 2");
  EXPECT_EQ(resumed.code, 0) << resumed.output;
}

// Sweeps and benches record a point over the limit as `oom` ("predicted: ...") and go on.
TEST_F(Limits, SweepAndBenchRecordPredictedOutOfMemoryAndGoOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: `ulimit -v` cannot cap this run";
#endif
  const std::string cap = "ulimit -v 4000000;";
  const Result sweep = run("--max-memory 200 sweep --n 256,65536,512 --r 16 --p 2 --repeats 1 --out " +
                           path("s.jsonl"), cap);
  ASSERT_EQ(sweep.code, 0) << sweep.output;
  const fmav::SweepFile s = fmav::read_sweep_file(path("s.jsonl"));
  ASSERT_EQ(s.results.size(), 3u);
  EXPECT_EQ(s.results[0].status, "ok");
  EXPECT_EQ(s.results[1].status, "oom");
  EXPECT_EQ(s.results[1].error,
            "predicted to need 1088 MiB, more than the 200 MiB of --max-memory; use smaller sizes, or --max-memory "
            "MiB to override");
  EXPECT_EQ(s.results[2].status, "ok");  // the sweep went on
  EXPECT_TRUE(has(sweep.output, "oom")) << sweep.output;

  const Result bench = run("--max-memory 200 bench --methods fma,full --n 512,8192 --heads 2 --repeats 1 --jsonl " +
                           path("b.jsonl"), cap);
  ASSERT_EQ(bench.code, 0) << bench.output;
  const fmav::BenchFile b = fmav::read_bench_file(path("b.jsonl"));
  ASSERT_EQ(b.rows.size(), 4u);
  for (const fmav::BenchRow& row : b.rows) {
    const bool over = row.method == "full" && row.n == 8192;  // 2 x 2 x 2 x 8192^2 float32 scores: 1 GiB
    EXPECT_EQ(row.status, over ? "oom" : "ok") << row.method << " " << row.n << " " << row.note;
    if (over) {
      EXPECT_TRUE(has(row.note, "predicted to need ")) << row.note;
    }
  }
}

}  // namespace
