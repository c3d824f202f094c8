// --device for fmav train, eval, inspect and sweep, and --precision for train, as a user runs
// them: cuda without a GPU is an error naming why before any output exists; auto runs on the
// cpu with a note on stderr and gives the cpu's results; a bad name is refused. On a GPU the
// cuda runs are checked against the cpu's.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "fmav/engine.h"
#include "fmav/sweep_file.h"
#include "fmav/tensor_io.h"
#include "test_util.h"

namespace {

using namespace fmav_test;
namespace fs = std::filesystem;

const char* const kTinyModel = " --context 64 --d-model 32 --layers 1 --heads 2 --d-mlp 64 --block 8 --rank 2";
const char* const kAutoNote = "fmav: note: --device auto runs on the cpu: ";

class CliDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("fmav_cli_device_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(m_dir);
    std::ofstream text(path("t.txt"));
    for (int i = 0; i < 200; ++i) text << "the fox jumps over the dog " << (i % 5) << ". ";
  }
  void TearDown() override { fs::remove_all(m_dir); }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }
  CommandResult run(const std::string& args) const {
    return run_command(std::string(FMAV_BIN) + " " + args, path("log.txt"));
  }
  std::string bytes(const std::string& name) const { return fmav::read_file_bytes(path(name), 1 << 26); }

  // The command lines of every command the option serves; `out` names their outputs.
  std::string train(const std::string& out) const {
    return "train --data " + path("t.txt") + " --out " + path(out) + kTinyModel + " --steps 3 --batch 2 --eval-every 0";
  }
  std::string eval() const { return "eval --model " + path("m") + " --data " + path("t.txt") + " --json"; }
  std::string inspect(const std::string& out) const {
    return "inspect --model " + path("m") + " --input " + path("t.txt") + " --rows 0:16 --out " + path(out);
  }
  std::string sweep(const std::string& out) const {
    return "sweep --n 64 --r 8 --p 2 --repeats 1 --out " + path(out);
  }

  fs::path m_dir;
};

std::string last_line(const std::string& output) {
  const std::size_t end = output.find_last_not_of('\n');
  return output.substr(output.rfind('\n', end) + 1, end - output.rfind('\n', end));
}

TEST_F(CliDevice, CudaWithoutAGpuNamesWhyBeforeAnyOutput) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  ASSERT_EQ(run(train("m")).code, 0);
  const std::string why = "device cuda: " + fmav::cuda_unavailable_reason() + "; use --device cpu or auto";
  const std::pair<std::string, std::string> commands[] = {
      {train("never") + " --device cuda", "never"}, {eval() + " --device cuda", ""},
      {inspect("ins") + " --device cuda", "ins"}, {sweep("s.jsonl") + " --device cuda", "s.jsonl"},
      {sweep("s2.jsonl") + " --device cpu,cuda", "s2.jsonl"}};
  for (const auto& [command, output] : commands) {
    const CommandResult r = run(command);
    EXPECT_EQ(r.code, 1) << command << "\n" << r.output;
    EXPECT_NE(r.output.find(why), std::string::npos) << command << "\n" << r.output;
    EXPECT_EQ(r.output.find("step "), std::string::npos) << command << ": work began\n" << r.output;
    if (!output.empty()) {
      EXPECT_FALSE(fs::exists(path(output))) << command;
    }
  }
}

TEST_F(CliDevice, BadNamesAreRefused) {
  for (const std::string& command : {train("x") + " --device gpu", eval() + " --device gpu",
                                     inspect("x") + " --device gpu", sweep("x.jsonl") + " --device tpu"}) {
    const CommandResult r = run(command);
    EXPECT_NE(r.code, 0) << command;
    EXPECT_TRUE(r.output.find("--device") != std::string::npos ||
                r.output.find("device must be cpu, cuda or auto") != std::string::npos) << command << "\n" << r.output;
    EXPECT_FALSE(fs::exists(path("x"))) << command;
  }
  const CommandResult p = run(train("x") + " --precision fp16");
  EXPECT_NE(p.code, 0);
  EXPECT_NE(p.output.find("--precision"), std::string::npos) << p.output;
}

// auto without a GPU: the note, then exactly the cpu's results.
TEST_F(CliDevice, AutoWithoutAGpuNotesAndEqualsCpu) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  const CommandResult cpu = run(train("m") + " --device cpu");
  ASSERT_EQ(cpu.code, 0) << cpu.output;
  EXPECT_EQ(cpu.output.find("note:"), std::string::npos) << cpu.output;
  const CommandResult automatic = run(train("a") + " --device auto");
  ASSERT_EQ(automatic.code, 0) << automatic.output;
  EXPECT_NE(automatic.output.find(kAutoNote + fmav::cuda_unavailable_reason()), std::string::npos) << automatic.output;
  EXPECT_NE(automatic.output.find("on cpu ("), std::string::npos) << automatic.output;
  EXPECT_NE(automatic.output.find("peak memory"), std::string::npos) << automatic.output;
  EXPECT_EQ(bytes("m/model.safetensors"), bytes("a/model.safetensors"));

  const CommandResult e1 = run(eval()), e2 = run(eval() + " --device auto");
  ASSERT_EQ(e1.code, 0) << e1.output;
  ASSERT_EQ(e2.code, 0) << e2.output;
  EXPECT_NE(e2.output.find(kAutoNote), std::string::npos) << e2.output;
  EXPECT_EQ(last_line(e1.output), last_line(e2.output));

  ASSERT_EQ(run(inspect("i1")).code, 0);
  const CommandResult i2 = run(inspect("i2") + " --device auto");
  ASSERT_EQ(i2.code, 0) << i2.output;
  EXPECT_NE(i2.output.find(kAutoNote), std::string::npos) << i2.output;
  EXPECT_EQ(bytes("i1/fma_map.npy"), bytes("i2/fma_map.npy"));
  EXPECT_NE(bytes("i2/summary.json").find("\"device\": \"cpu\""), std::string::npos) << bytes("i2/summary.json");

  ASSERT_EQ(run(sweep("s1.jsonl")).code, 0);
  const CommandResult s2 = run(sweep("s2.jsonl") + " --device auto");
  ASSERT_EQ(s2.code, 0) << s2.output;
  EXPECT_NE(s2.output.find(kAutoNote), std::string::npos) << s2.output;
  const fmav::SweepFile a = fmav::read_sweep_file(path("s1.jsonl")), b = fmav::read_sweep_file(path("s2.jsonl"));
  ASSERT_EQ(a.results.size(), b.results.size());
  EXPECT_TRUE(fmav::same_sweep(a.spec, b.spec));
  for (std::size_t i = 0; i < a.results.size(); ++i) {
    EXPECT_EQ(b.results[i].point.device, fmav::Device::cpu);
    EXPECT_EQ(a.results[i].output_rel_error, b.results[i].output_rel_error);
  }
}

// --precision bf16: trains, is recorded, and a resume keeps it (its checkpoint's).
TEST_F(CliDevice, Bf16TrainsAndResumesInBf16) {
  const CommandResult t = run(train("b") + " --precision bf16 --save-every 3");
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_NE(t.output.find("precision bf16"), std::string::npos) << t.output;
  EXPECT_NE(bytes("b/config.json").find("\"precision\": \"bf16\""), std::string::npos) << bytes("b/config.json");
  const CommandResult r = run("train --resume --out " + path("b") + " --steps 5");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("precision bf16"), std::string::npos) << r.output;
  const CommandResult back = run("train --resume --out " + path("b") + " --steps 6 --precision fp32");
  ASSERT_EQ(back.code, 0) << back.output;
  EXPECT_NE(back.output.find("--precision fp32 (checkpoint: bf16)"), std::string::npos) << back.output;
}

// The long-context figure: bars of every row; bad results files are refused by name.
TEST_F(CliDevice, LongContextFigure) {
  std::ofstream(path("r.json")) << R"({"format": "fmav-long-context", "mode": "smoke", "rows": [
    {"task": "copy", "context": 128, "method": "fma", "status": "ok", "answer_accuracy": 0.5, "test_bpc": 2.5,
     "tokens_per_s": 1000, "peak_mib": 300},
    {"task": "copy", "context": 128, "method": "full", "status": "failed", "answer_accuracy": null, "test_bpc": null,
     "tokens_per_s": null, "peak_mib": null}]})";
  const CommandResult r = run("figure --kind long-context --results " + path("r.json") + " --out " + path("f.svg"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string svg = bytes("f.svg");
  EXPECT_NE(svg.find("<title>fma, context 128: 50</title>"), std::string::npos) << svg;  // accuracy in %
  EXPECT_NE(svg.find("<title>fma, context 128: 2.5</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<title>full, context"), std::string::npos);  // failed: an x, no bar
  std::ofstream(path("bad.json")) << R"({"format": "fmav-sweep", "rows": []})";
  const std::pair<std::string, std::string> bad[] = {
      {"--results " + path("bad.json"), "is not a long-context results file"},
      {"--results " + path("none.json"), "none.json"},
      {"", "--results goes with --kind long-context"}};
  for (const auto& [args, message] : bad) {
    const CommandResult e = run("figure --kind long-context " + args + " --out " + path("g.svg"));
    EXPECT_EQ(e.code, 1) << args;
    EXPECT_NE(e.output.find(message), std::string::npos) << e.output;
  }
  EXPECT_FALSE(fs::exists(path("g.svg")));
}

// On a GPU: the cuda runs of every command agree with the cpu's.
TEST_F(CliDevice, CudaRunsMatchTheCpu) {
  if (fmav::cuda_device_count() == 0) GTEST_SKIP() << fmav::cuda_unavailable_reason();
  ASSERT_EQ(run(train("m")).code, 0);
  const CommandResult c = run(train("c") + " --device cuda");
  ASSERT_EQ(c.code, 0) << c.output;
  EXPECT_NE(c.output.find("CUDA allocator"), std::string::npos) << c.output;
  const CommandResult e1 = run(eval()), e2 = run(eval() + " --device cuda");
  ASSERT_EQ(e2.code, 0) << e2.output;
  const auto j1 = nlohmann::json::parse(last_line(e1.output)), j2 = nlohmann::json::parse(last_line(e2.output));
  EXPECT_NEAR(j1.at("loss").get<double>(), j2.at("loss").get<double>(), 1e-3);
  ASSERT_EQ(run(inspect("i1")).code, 0);
  ASSERT_EQ(run(inspect("i2") + " --device cuda").code, 0);
  const fmav::HostTensor a = fmav::read_npy(path("i1/fma_map.npy")), b = fmav::read_npy(path("i2/fma_map.npy"));
  for (std::int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a.f64()[i], b.f64()[i], 1e-4) << i;
  const CommandResult s = run(sweep("s.jsonl") + " --device cpu,cuda");
  ASSERT_EQ(s.code, 0) << s.output;
  EXPECT_EQ(fmav::read_sweep_file(path("s.jsonl")).results.size(), 2u);
}

}  // namespace
