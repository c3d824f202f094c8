// FMA fitted into Hugging Face models (fmav/hf_fit.h, `fmav fit`, `fmav bench-model`) on the
// tiny random models make_hf_models.py writes with `transformers`: fitting lowers the
// distillation loss below average down-sampling's, the fitted folder scores as the base model
// with the same swap and weights, a cancelled fit resumes to the same weights, a swap file
// that lies is refused by name, and the commands run end to end.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include "fmav/hf_fit.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using fmav_test::expect_error;

class HfFit : public fmav_test::PythonMadeSuite {
 protected:
  static void SetUpTestSuite() {
    make("FMAV_HF_MAKER", "fmav_hf_fit");
    if (HasFatalFailure()) return;
    // Training text and held-out text: two slices of the project's corpus.
    const std::string corpus = fmav::read_text(std::string(FMAV_SOURCE_DIR) + "/assets/corpus.txt");
    std::ofstream(dir() + "/train.txt") << corpus.substr(0, 30000);
    std::ofstream(dir() + "/held.txt") << corpus.substr(100000, 6000);
  }
  static std::string model(const std::string& name) { return dir() + "/" + name; }

  // A fit of llama's two layers, m 8, p 2, windows of 64 tokens.
  static fmav::HfFitOptions options(const std::string& out, std::int64_t steps) {
    fmav::HfFitOptions o;
    o.model = model("llama"), o.out = dir() + "/" + out, o.data = dir() + "/train.txt";
    o.layers = {0, 1};
    o.fma.block_size = 8, o.fma.rank = 2, o.fma.downsample = fmav::Downsample::learned;
    o.tokens = 64, o.steps = steps, o.batch = 2, o.save_every = 5, o.lr = 3e-3;
    return o;
  }
  static std::vector<std::int64_t> held_ids(std::int64_t n) {
    return fmav::hf_input_ids(model("llama"), "", dir() + "/held.txt", n);
  }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The fitted weights as the base model's swap, read straight from the file.
fmav::HfSwap swap_from_files(const std::string& out, const std::vector<int>& layers) {
  fmav::HfSwap swap;
  swap.layers = layers;
  swap.options.method = fmav::Method::fma;
  swap.options.fma.block_size = 8, swap.options.fma.rank = 2, swap.options.fma.causal = true;
  swap.options.fma.downsample = fmav::Downsample::learned;
  for (const auto& [name, t] : fmav::read_safetensors(out + "/" + fmav::kHfSwapWeights)) {
    const std::size_t dot = name.find('.');
    swap.layer_weights[std::stoi(name.substr(5, dot - 5))][name.substr(dot + 1)] = t;
  }
  return swap;
}

TEST_F(HfFit, FittingLowersTheDistillationLossBelowAverage) {
  // A random model's attention depends sharply on its tokens: fitted on a few windows, the
  // weights must do better on those (held-out text is the trained model's table, scripts/).
  fmav::HfFitOptions o = options("lower", 100);
  o.data = dir() + "/small.txt", o.batch = 4;
  std::ofstream(o.data) << read_all(dir() + "/train.txt").substr(0, 2000);
  const fmav::HfFitResult r = fmav::fit_hf_swap(o);
  EXPECT_EQ(r.steps_done, 100);
  EXPECT_FALSE(r.cancelled);
  const fmav::HfModel base = fmav::HfModel::load(model("llama"));
  fmav::HfSwap average = swap_from_files(dir() + "/lower", {0, 1});
  average.layer_weights.clear();
  average.options.fma.downsample = fmav::Downsample::average;
  const fmav::HfSwap fitted = swap_from_files(dir() + "/lower", {0, 1});
  double before = 0, after = 0, train_before = 0, train_after = 0;
  const std::vector<std::int64_t> held = held_ids(0), train = fmav::hf_input_ids(model("llama"), "", o.data, 0);
  ASSERT_GE(train.size(), 64u * 6);
  for (int w = 0; w < 6; ++w) {
    const std::vector<std::int64_t> h(held.begin() + 64 * w, held.begin() + 64 * (w + 1));
    const std::vector<std::int64_t> t(train.begin() + 64 * w, train.begin() + 64 * (w + 1));
    before += fmav::hf_distill_loss(base, h, average), after += fmav::hf_distill_loss(base, h, fitted);
    train_before += fmav::hf_distill_loss(base, t, average), train_after += fmav::hf_distill_loss(base, t, fitted);
  }
  std::printf("distillation loss, 6 windows: training %g (average) -> %g (fitted), held-out %g -> %g\n",
              train_before, train_after, before, after);
  EXPECT_GT(train_before, 0);
  EXPECT_LT(train_after, 0.95 * train_before) << "fitted vs average on the fit's windows";
  EXPECT_LT(after, before) << "fitted vs average on held-out text";
  // Full attention's own output has no distillation loss: the loss measures what it says.
  EXPECT_GT(after, 0);
}

// --init average: learned and dense weights that make each summary its sub-window's mean, so
// a fit starts where `average` is (one step of a negligible learning rate changes nothing).
TEST_F(HfFit, TheFitStartsAtAverage) {
  const fmav::HfModel base = fmav::HfModel::load(model("llama"));
  const std::vector<std::int64_t> ids = held_ids(64);
  for (const fmav::Downsample kind : {fmav::Downsample::learned, fmav::Downsample::dense}) {
    const std::string name = std::string("start-") + fmav::to_string(kind);
    fmav::HfFitOptions o = options(name, 1);
    o.fma.downsample = kind, o.lr = 1e-9;
    fmav::fit_hf_swap(o);
    const fmav::HfModel m = fmav::HfModel::load(dir() + "/" + name);
    const fmav::HfFittedSwap fitted = fmav::load_hf_swap(dir() + "/" + name, m.config());
    EXPECT_EQ(fitted.swap.options.fma.downsample, kind);
    fmav::HfSwap average = fitted.swap;
    average.layer_weights.clear();
    average.options.fma.downsample = fmav::Downsample::average;
    const double want = fmav::hf_distill_loss(base, ids, average), got = fmav::hf_distill_loss(base, ids, fitted.swap);
    EXPECT_NEAR(got, want, 1e-4 * want) << fmav::to_string(kind);
  }
}

TEST_F(HfFit, TheFittedFolderScoresAsTheBaseWithTheSameSwap) {
  fmav::fit_hf_swap(options("trip", 10));
  const std::string out = dir() + "/trip";
  EXPECT_TRUE(fmav::has_hf_swap(out));
  EXPECT_FALSE(fmav::has_hf_swap(model("llama")));
  // The original's weights are linked (or copied), not rewritten.
  EXPECT_EQ(fs::file_size(out + "/model.safetensors"), fs::file_size(model("llama") + "/model.safetensors"));
  const fmav::HfModel fitted_model = fmav::HfModel::load(out);
  const fmav::HfFittedSwap fitted = fmav::load_hf_swap(out, fitted_model.config());
  EXPECT_EQ(fitted.tokens, 64);
  EXPECT_EQ(fitted.steps, 10);
  EXPECT_EQ(fitted.swap.layers, (std::vector<int>{0, 1}));
  const std::vector<std::int64_t> ids = held_ids(200);
  const fmav::HfEval got = fmav::evaluate_windows(fitted_model, ids, fitted.tokens, &fitted.swap);
  const fmav::HfModel base = fmav::HfModel::load(model("llama"));
  const fmav::HfSwap same = swap_from_files(out, {0, 1});
  const fmav::HfEval want = fmav::evaluate_windows(base, ids, 64, &same);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_DOUBLE_EQ(got.loss, want.loss);
  EXPECT_DOUBLE_EQ(got.accuracy, want.accuracy);
  // Windows: each scored alone, 200 tokens in 64s predict 63 + 63 + 63 + 7.
  EXPECT_EQ(want.tokens, 196);
  const fmav::HfEval plain = fmav::evaluate_windows(base, ids, 64);
  EXPECT_NE(plain.loss, want.loss) << "the swap changes the score";
  std::vector<std::int64_t> first(ids.begin(), ids.begin() + 64);
  EXPECT_DOUBLE_EQ(fmav::evaluate_windows(base, first, 64).loss, base.evaluate(first).loss);
}

TEST_F(HfFit, ACancelledFitResumesToTheSameWeights) {
  fmav::fit_hf_swap(options("whole", 12));
  std::atomic<bool> cancel{false};
  const fmav::HfFitResult part = fmav::fit_hf_swap(options("parts", 12), [&](const fmav::HfFitStatus& s) {
    if (s.step == 7) cancel = true;
  }, &cancel);
  EXPECT_TRUE(part.cancelled);
  EXPECT_EQ(part.steps_done, 7);
  const fmav::HfModel m = fmav::HfModel::load(dir() + "/parts");
  EXPECT_EQ(fmav::load_hf_swap(dir() + "/parts", m.config()).steps, 7) << "the cancelled step is kept";
  fmav::HfFitOptions resume;
  resume.out = dir() + "/parts", resume.resume = true, resume.steps = 12;
  const fmav::HfFitResult rest = fmav::fit_hf_swap(resume);
  EXPECT_EQ(rest.steps_done, 12);
  const fmav::TensorMap a = fmav::read_safetensors(dir() + "/whole/" + fmav::kHfSwapWeights);
  const fmav::TensorMap b = fmav::read_safetensors(dir() + "/parts/" + fmav::kHfSwapWeights);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    EXPECT_LT(fmav_test::max_abs_diff(fmav::to_tensor(t), fmav::to_tensor(b.at(name))), 1e-6) << name;
  }
  // Done is done: resuming a finished fit asks for more steps.
  expect_error([&] { fmav::fit_hf_swap(resume); }, "already run 12 of 12 steps");
  resume.out = dir() + "/nothing-here";
  expect_error([&] { fmav::fit_hf_swap(resume); }, "cannot resume");
}

TEST_F(HfFit, BadOptionsAreRefusedBeforeWriting) {
  fmav::HfFitOptions o = options("bad", 5);
  o.fma.downsample = fmav::Downsample::average;
  expect_error([&] { fmav::fit_hf_swap(o); }, "average down-sampling has no weights to fit");
  o = options("bad", 5);
  o.tokens = 16;  // m 8: no coarse level
  expect_error([&] { fmav::fit_hf_swap(o); }, "no coarse level to fit");
  o = options("bad", 5);
  o.ids = {1, 2, 3};
  expect_error([&] { fmav::fit_hf_swap(o); }, "the data has 3 tokens");
  o = options("bad", 5);
  o.out = o.model;
  expect_error([&] { fmav::fit_hf_swap(o); }, "must not be the model's folder");
  o = options("bad", 5);
  o.model = model("bert"), o.ids = std::vector<std::int64_t>(100, 5);  // a masked LM: bidirectional
  expect_error([&] { fmav::fit_hf_swap(o); }, "bert is a bert model, whose attention is not causal");
  EXPECT_FALSE(fs::exists(dir() + "/bad"));
}

TEST_F(HfFit, ASwapFileThatLiesIsNamed) {
  fmav::fit_hf_swap(options("good", 5));
  const fmav::HfModel m = fmav::HfModel::load(dir() + "/good");
  const std::string good = read_all(dir() + "/good/" + fmav::kHfSwapFile);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::string where = "fmav_swap.json";
  const std::vector<std::pair<std::string, std::string>> lies = {
      {with("\"fmav-hf-swap\"", "\"other\""), "\"format\" must be \"fmav-hf-swap\""},
      {with("\"format_version\": 1", "\"format_version\": 2"), "format_version 2 is not supported"},
      {with("\"method\": \"fma\"", "\"method\": \"local\""), "\"method\" must be \"fma\""},
      {with("\"rank\": 2", "\"rank\": 0"), "\"rank\" must be in [1"},
      {with("\"rank\": 2", "\"rank\": \"2\""), "\"rank\" must be an integer"},
      {with("\"downsample\": \"learned\"", "\"downsample\": \"average\""), "must be learned or dense"},
      {with("\"downsample\": \"learned\"", "\"downsample\": \"fancy\""), "fancy"},
      {with("\"tokens\": 64", "\"tokens\": 100000"), "\"tokens\" must be in [2, 256]"},
      {with("\"weights\": \"fmav_swap.safetensors\"", "\"weights\": \"../x\""), "\"weights\" must be"},
      {with("\"format\"", "\"colour\": 1, \"format\""), "colour"},
      {with("\"layers\": [\n    0,\n    1\n  ]", "\"layers\": [0, 7]"), "holds 7; the model's layers are 0..1"},
      {with("\"layers\": [\n    0,\n    1\n  ]", "\"layers\": [1, 1]"), "names layer 1 twice"},
      {with("\"layers\": [\n    0,\n    1\n  ]", "\"layers\": []"), "non-empty list"},
      {"{\"format\": ", "not valid JSON"},
      {"", "empty file"},
  };
  for (const auto& [text, message] : lies) {
    try {
      fmav::parse_hf_swap(text, where, m.config());
      ADD_FAILURE() << "accepted: " << text;
    } catch (const fmav::Error& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what() << "\nwanted: " << message;
    }
  }
  // The weights file: a missing level, a wrong shape, a tensor of no swapped layer.
  const std::string folder = dir() + "/liar";
  fs::create_directories(folder);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(dir() + "/good/" + f, folder + "/" + f);
  std::ofstream(folder + "/" + fmav::kHfSwapFile) << good;
  const fmav::TensorMap weights = fmav::read_safetensors(dir() + "/good/" + fmav::kHfSwapWeights);
  const auto expect_refused = [&](const fmav::TensorMap& t, const std::string& message) {
    fmav::write_safetensors(folder + "/" + fmav::kHfSwapWeights, t);
    try {
      fmav::load_hf_swap(folder, m.config());
      ADD_FAILURE() << "accepted weights; wanted " << message;
    } catch (const fmav::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fmav::kHfSwapWeights), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what() << "\nwanted: " << message;
    }
  };
  fmav::TensorMap t = weights;
  t.erase("layer1.level2.v.bias");
  expect_refused(t, "lack 'level2.v.bias'");
  t = weights;
  t["layer0.level1.k.weight"] = fmav::make_host_tensor(fmav::DType::f32, {3});
  expect_refused(t, "level1.k.weight must be");
  t = weights;
  t["layer5.level1.k.weight"] = weights.at("layer0.level1.k.weight");
  expect_refused(t, "\"layer5.level1.k.weight\" belongs to no swapped layer");
  t = weights;
  t["layer0.level9.k.weight"] = weights.at("layer0.level1.k.weight");
  expect_refused(t, "\"layer0.level9.k.weight\" is not a weight of learned FMA at the levels (1..2) of 64 tokens");
  t = weights;
  t["layer0.levelx.k.weight"] = weights.at("layer0.level1.k.weight");
  expect_refused(t, "\"layer0.levelx.k.weight\" is not a weight");
  fs::remove(folder + "/" + fmav::kHfSwapWeights);
  expect_error([&] { fmav::load_hf_swap(folder, m.config()); }, fmav::kHfSwapWeights);
}

// The commands as a user runs them.
TEST_F(HfFit, TheCliFitsEvaluatesResumesAndBenchmarks) {
  const std::string log = dir() + "/cli.txt", out = dir() + "/cli-fit";
  const auto run = [&](const std::string& args) {
    const int status = std::system((std::string(FMAV_BIN) + " " + args + " > " + log + " 2>&1").c_str());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_all(log));
  };
  const auto last_line = [](const std::string& text) {
    const std::size_t end = text.find_last_not_of('\n');
    return text.substr(text.rfind('\n', end) + 1, end - text.rfind('\n', end));
  };
  const std::string data = " --data " + dir() + "/held.txt";
  auto [code, text] = run("fit --model " + model("gpt2") + " --data " + dir() + "/train.txt --swap-layers 0-1 "
                          "--block 8 --rank 2 --tokens 64 --steps 6 --log-every 2 -o " + out);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("step 6/6  loss"), std::string::npos) << text;
  EXPECT_NE(text.find("fitted 6 steps"), std::string::npos) << text;
  std::tie(code, text) = run("fit --resume --steps 9 -o " + out);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("step 9/9"), std::string::npos) << text;
  EXPECT_EQ(text.find("step 2/9"), std::string::npos) << "resumed at step 6: " << text;
  std::tie(code, text) = run("fit --resume -o " + out);
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("has already run 9 of 9 steps"), std::string::npos) << "the recorded total: " << text;
  // eval of the folder says it swapped, and scores as the base with --window and the same weights.
  std::tie(code, text) = run("eval --model " + out + data + " --json");
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("with fitted fma (learned, m 8, p 2, 9 steps, from fmav_swap.json) in layers 0,1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("in windows of 64 tokens"), std::string::npos) << text;
  const std::string fitted_json = last_line(text);
  std::tie(code, text) = run("eval --model " + out + data + " --no-swap --json");
  ASSERT_EQ(code, 0) << text;
  EXPECT_EQ(text.find("with "), std::string::npos) << text;
  const std::string no_swap_json = last_line(text);
  std::tie(code, text) = run("eval --model " + model("gpt2") + data + " --window 64 --json");
  ASSERT_EQ(code, 0) << text;
  EXPECT_EQ(last_line(text), no_swap_json) << "--no-swap is the original";
  EXPECT_NE(fitted_json, no_swap_json);
  std::tie(code, text) = run("eval --model " + out + data + " --window 65");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("--window 65 is longer than the 64 tokens"), std::string::npos) << text;
  std::tie(code, text) = run("eval --model " + out + data + " --no-swap --swap-layers 0");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("--no-swap and --swap-layers contradict"), std::string::npos) << text;
  std::tie(code, text) = run("fit --model " + model("gpt2") + data + " --swap-layers 0 --downsample average -o " + out);
  EXPECT_NE(code, 0) << "average has nothing to fit";
  std::tie(code, text) = run("fit --model " + model("gpt2") + data + " --swap-layers 9 -o " + out + "-x");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("must lie in [0, 2)"), std::string::npos) << text;
  // Ctrl-C: the step in flight ends, its checkpoint is kept, exit 130; --resume would go on.
  const std::string stopped = dir() + "/cli-stopped";
  const std::string interrupt =
      "(" + std::string(FMAV_BIN) + " fit --model " + model("gpt2") + " --data " + dir() + "/train.txt --swap-layers 0"
      " --block 8 --rank 2 --tokens 64 --steps 1000000 --save-every 0 --log-every 1 -o " + stopped + " > " + log +
      " 2>&1 & pid=$!; i=0; while [ $i -lt 600 ] && ! grep -q 'step 3/' " + log + "; do sleep 0.1; i=$((i+1)); done;"
      " kill -INT $pid; wait $pid)";
  const int status = std::system(interrupt.c_str());
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  text = read_all(log);
  EXPECT_EQ(code, 130) << text;
  EXPECT_NE(text.find("interrupted at step"), std::string::npos) << text;
  EXPECT_NE(text.find("Resume with: fmav fit --resume -o " + stopped), std::string::npos) << text;
  const fmav::HfModel gpt2 = fmav::HfModel::load(stopped);
  EXPECT_GE(fmav::load_hf_swap(stopped, gpt2.config()).steps, 3);
  // bench-model: both sides time the same model and agree on its logits (no timing asserted).
  const std::string python = std::getenv("FMAV_TEST_PYTHON");
  std::tie(code, text) = run("bench-model --model " + model("gpt2") + " --tokens 16,32 --repeats 2 --threads 1 "
                             "--python " + python);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("gpt2, 16 tokens, 1 threads: fmav "), std::string::npos) << text;
  EXPECT_NE(text.find("ratio fmav/transformers"), std::string::npos) << text;
  const std::string json = last_line(text);
  EXPECT_EQ(json.rfind("{\"model\":", 0), 0u) << json;
  EXPECT_NE(json.find("\"results\":[{"), std::string::npos) << json;
  EXPECT_NE(json.find("\"tokens\":32"), std::string::npos) << json;
  const std::size_t d = json.find("\"max_abs_logit_diff\":");
  ASSERT_NE(d, std::string::npos) << json;
  EXPECT_LT(std::stod(json.substr(d + 21)), 1e-3) << json;
  std::tie(code, text) = run("bench-model --model " + model("gpt2") + " --python /nonexistent/python");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("fmav_install_test_peers"), std::string::npos) << text;
  if (fs::exists("/usr/bin/python3") && std::system("/usr/bin/python3 -c 'import transformers' 2> /dev/null") != 0) {
    std::tie(code, text) = run("bench-model --model " + model("gpt2") + " --tokens 16 --python /usr/bin/python3");
    EXPECT_EQ(code, 1);
    EXPECT_NE(text.find("has no transformers"), std::string::npos) << text;
    EXPECT_NE(text.find("fmav_install_test_peers"), std::string::npos) << text;
  }
  std::tie(code, text) = run("bench-model --model " + model("gpt2") + " --tokens 16 --python /bin/false");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("the transformers peer failed"), std::string::npos) << text;
}

}  // namespace
