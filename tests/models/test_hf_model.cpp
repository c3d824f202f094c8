// Hugging Face checkpoints (fmav/hf_model.h) against `transformers` itself: tiny random
// models of every family it reads, made and run by make_hf_models.py (gpt2, sharded gpt2,
// llama with grouped-query attention, llama3 RoPE with tied embeddings, linear RoPE in
// bfloat16, qwen2's q/k/v biases, mistral's sliding window in float16); the C++ forward must
// give the same logits and every layer's attention probabilities. Then every way a folder
// can be wrong.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <sstream>

#include <sys/wait.h>

#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/tensor_io.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace fmav_test;

class HfModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* python = std::getenv("FMAV_TEST_PYTHON");
    const char* maker = std::getenv("FMAV_HF_MAKER");
    ASSERT_TRUE(python != nullptr && maker != nullptr) << "run through ctest (FMAV_TEST_PYTHON, FMAV_HF_MAKER)";
    dir() = (fs::temp_directory_path() / ("fmav_hf_" + std::to_string(::getpid()))).string();
    const std::string command = std::string(python) + " " + maker + " " + dir() + " > " + dir() + ".log 2>&1";
    fs::create_directories(dir());
    ASSERT_EQ(std::system(command.c_str()), 0)
        << command << " failed; scripts/test.sh installs transformers into LibTorch's environment";
  }
  static void TearDownTestSuite() {
    fs::remove_all(dir());
    fs::remove(dir() + ".log");
  }
  static std::string& dir() {
    static std::string d;
    return d;
  }
  static std::string model(const std::string& name) { return dir() + "/" + name; }
  // A copy of a model folder to break.
  static std::string copy_of(const std::string& name, const std::string& as) {
    const std::string to = dir() + "/" + as;
    fs::remove_all(to);
    fs::copy(model(name), to, fs::copy_options::recursive);
    return to;
  }
};

std::vector<std::int64_t> ids_of(const fmav::HostTensor& t) {
  const at::Tensor ids = fmav::to_tensor(t);
  return std::vector<std::int64_t>(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + ids.numel());
}

TEST_F(HfModel, EveryFamilyMatchesTransformers) {
  for (const char* name : {"gpt2", "gpt2-sharded", "llama", "llama3-tied", "llama-linear-bf16", "qwen2", "mistral"}) {
    const fmav::TensorMap ref = fmav::read_safetensors(model(name) + "/reference.safetensors");
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    const fmav::HfForward out = m.forward(ids_of(ref.at("ids")), true);
    const at::Tensor want = fmav::to_tensor(ref.at("logits")), got = fmav::to_tensor(out.logits);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    EXPECT_LT(max_abs_diff(got, want) / want.abs().max().item<double>(), 1e-4) << name;
    ASSERT_EQ(static_cast<std::int64_t>(out.probs.size()), m.config().layers) << name;
    for (std::int64_t l = 0; l < m.config().layers; ++l) {
      const at::Tensor p = fmav::to_tensor(out.probs[l]), p_want = fmav::to_tensor(ref.at("probs." + std::to_string(l)));
      ASSERT_EQ(p.sizes(), p_want.sizes()) << name << " layer " << l;
      EXPECT_LT(max_abs_diff(p, p_want), 1e-5) << name << " layer " << l;
      EXPECT_EQ(out.q[l].shape, (std::vector<std::int64_t>{m.config().heads, 40, m.config().head_dim})) << name;
      EXPECT_EQ(out.k[l].shape, out.q[l].shape) << name << ": K repeated per query head";
    }
  }
  // mistral's window shows in its maps: nothing 8 or more tokens back.
  const fmav::HfForward mistral = fmav::HfModel::load(model("mistral")).forward({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true);
  EXPECT_EQ(fmav::to_tensor(mistral.probs[0])[0][9][1].item<float>(), 0.0f);
  EXPECT_GT(fmav::to_tensor(mistral.probs[0])[0][9][2].item<float>(), 0.0f);
}

TEST_F(HfModel, ScoresMatchTransformersLoss) {
  for (const char* name : {"gpt2", "llama", "qwen2"}) {
    const fmav::TensorMap ref = fmav::read_safetensors(model(name) + "/reference.safetensors");
    const fmav::HfEval e = fmav::HfModel::load(model(name)).evaluate(ids_of(ref.at("ids")));
    const double want = fmav::to_tensor(ref.at("loss")).item<double>();
    EXPECT_EQ(e.tokens, 39) << name;
    EXPECT_NEAR(e.loss, want, 1e-5 * want) << name;
    EXPECT_NEAR(e.perplexity, std::exp(want), 1e-4 * std::exp(want)) << name;
    EXPECT_NEAR(e.bits_per_token, want / std::log(2.0), 1e-4) << name;
    EXPECT_GE(e.accuracy, 0.0);
    EXPECT_LE(e.accuracy, 1.0);
  }
}

// fmav as a user runs it on a checkpoint folder: eval --json, inspect's maps.
TEST_F(HfModel, TheCliScoresAndInspectsIt) {
  const fmav::TensorMap ref = fmav::read_safetensors(model("llama") + "/reference.safetensors");
  const std::string ids = dir() + "/ids.npy", out = dir() + "/inspect", log = dir() + "/cli.txt";
  fmav::write_npy(ids, ref.at("ids"));
  const auto run = [&](const std::string& args) {
    const int status = std::system((std::string(FMAV_BIN) + " " + args + " > " + log + " 2>&1").c_str());
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str());
  };
  const auto [code, text] = run("eval --model " + model("llama") + " --ids " + ids + " --json");
  ASSERT_EQ(code, 0) << text;
  const std::string last = text.substr(text.rfind('{'));
  const double want = fmav::to_tensor(ref.at("loss")).item<double>();
  EXPECT_NE(last.find("\"tokens\": 39"), std::string::npos) << last;
  const double loss = std::stod(last.substr(last.find("\"loss\": ") + 8));
  EXPECT_NEAR(loss, want, 1e-5 * want) << last;

  const auto [icode, itext] = run("inspect --model " + model("llama") + " --ids " + ids +
                                  " --layer 1 --head 2 --block 8 --rank 2 -o " + out);
  ASSERT_EQ(icode, 0) << itext;
  const at::Tensor full = fmav::to_tensor(fmav::read_npy(out + "/full_map.npy"));
  const at::Tensor probs = fmav::to_tensor(ref.at("probs.1"))[2].to(at::kDouble);
  EXPECT_LT(max_abs_diff(full, probs), 1e-5) << "full_map is the model's own attention";
  const at::Tensor fma = fmav::to_tensor(fmav::read_npy(out + "/fma_map.npy"));
  EXPECT_LT((fma.sum(1) - 1).abs().max().item<double>(), 1e-9) << "FMA's rows are distributions";

  const auto [no_ids, no_ids_text] = run("inspect --model " + model("llama") + " -o " + out);
  EXPECT_EQ(no_ids, 1);
  EXPECT_NE(no_ids_text.find("is a Hugging Face model: give a text file, or token ids with --ids"), std::string::npos)
      << no_ids_text;
  const auto [window, window_text] = run("inspect --model " + model("mistral") + " --ids " + ids + " -o " + out);
  EXPECT_EQ(window, 1);
  EXPECT_NE(window_text.find("sliding window of 8 tokens"), std::string::npos) << window_text;
  // Text through the folder's tokenizer.json: the first max_positions (64) tokens.
  const auto [text_eval, text_eval_text] =
      run("eval --model " + model("gpt2") + " --data " + model("gpt2") + "/tokenizer_text.txt --json");
  ASSERT_EQ(text_eval, 0) << text_eval_text;
  std::vector<std::int64_t> tokens = ids_of(fmav::read_safetensors(model("gpt2") + "/tokenizer_ids.safetensors").at("ids"));
  ASSERT_GT(tokens.size(), 64u);
  tokens.resize(64);
  const fmav::HfEval direct = fmav::HfModel::load(model("gpt2")).evaluate(tokens);
  const std::string json = text_eval_text.substr(text_eval_text.rfind('{'));
  EXPECT_NE(json.find("\"tokens\": 63"), std::string::npos) << json;
  EXPECT_NEAR(std::stod(json.substr(json.find("\"loss\": ") + 8)), direct.loss, 1e-9) << json;
  const auto [swapped, swapped_text] = run("eval --model " + model("gpt2") + " --data " + model("gpt2") +
                                           "/tokenizer_text.txt --swap-layers 0-1 --swap-method full --json");
  ASSERT_EQ(swapped, 0) << swapped_text;
  EXPECT_NE(swapped_text.find("with full in layers 0-1: loss"), std::string::npos) << swapped_text;
  const std::string swapped_json = swapped_text.substr(swapped_text.rfind('{'));
  EXPECT_NEAR(std::stod(swapped_json.substr(swapped_json.find("\"loss\": ") + 8)), direct.loss, 1e-5) << swapped_json;
  const auto [bad_layers, bad_layers_text] =
      run("eval --model " + model("gpt2") + " --ids " + ids + " --swap-layers 5");
  EXPECT_EQ(bad_layers, 1);
  EXPECT_NE(bad_layers_text.find("must lie in [0, 2)"), std::string::npos) << bad_layers_text;
  const auto [no_tok, no_tok_text] = run("eval --model " + model("qwen2") + " --data " + model("gpt2") + "/tokenizer_text.txt");
  EXPECT_EQ(no_tok, 1);
  EXPECT_NE(no_tok_text.find("has no tokenizer.json: give token ids with --ids"), std::string::npos) << no_tok_text;
}

// Attention swapped into layers: full attention (and FMA whose near field covers all N
// tokens, §2.8) give the model's own logits; FMA with small blocks changes them.
TEST_F(HfModel, SwappedAttentionIsExactWhereItShouldBe) {
  for (const char* name : {"gpt2", "llama"}) {
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    const std::vector<std::int64_t> ids =
        ids_of(fmav::read_safetensors(model(name) + "/reference.safetensors").at("ids"));  // 40 tokens
    const at::Tensor own = fmav::to_tensor(m.forward(ids, false).logits);
    const auto logits = [&](fmav::Method method, std::int64_t block, const std::vector<int>& layers) {
      fmav::HfSwap swap;
      swap.layers = layers;
      swap.options.method = method;
      swap.options.fma.block_size = block, swap.options.fma.rank = 2;
      swap.options.fma.downsample = fmav::Downsample::average;
      return fmav::to_tensor(m.forward(ids, false, &swap).logits);
    };
    EXPECT_LT(max_abs_diff(logits(fmav::Method::full, 8, {0, 1}), own), 1e-5) << name;
    EXPECT_LT(max_abs_diff(logits(fmav::Method::fma, 32, {0, 1}), own), 1e-5) << name << ": N <= 2m is exact";
    EXPECT_GT(max_abs_diff(logits(fmav::Method::fma, 4, {1}), own), 1e-4) << name << ": coarse levels change it";
    EXPECT_GT(max_abs_diff(logits(fmav::Method::local, 4, {0}), own), 1e-4) << name;
  }
  EXPECT_EQ(fmav::parse_layer_list("4-6,1", 12), (std::vector<int>{1, 4, 5, 6}));
  expect_error([] { fmav::parse_layer_list("3-1", 12); }, "layers must be like 4-11, 0,2,5 or 3, got '3-1'");
  expect_error([] { fmav::parse_layer_list("2,2", 12); }, "name a layer twice");
  expect_error([] { fmav::parse_layer_list("11-12", 12); }, "must lie in [0, 12)");
  expect_error([] { fmav::parse_layer_list("x", 12); }, "got 'x'");
}

TEST_F(HfModel, ConfigsItCannotRunAreNamed) {
  const auto config_error = [](const std::string& json, const std::string& expected) {
    expect_error([&] { fmav::parse_hf_config(json, "c.json"); }, expected);
  };
  config_error(R"({"model_type": "bert"})", "c.json: model_type \"bert\" is not supported");
  config_error(R"({"vocab_size": 3})", "c.json: missing key \"model_type\"");
  config_error("[1, 2]", "c.json: must be a JSON object");
  config_error("{", "c.json: not JSON");
  config_error(std::string(100, '[') + std::string(100, ']'), "nested deeper than");
  const std::string llama =
      R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
          "num_attention_heads": 2)";
  EXPECT_EQ(fmav::parse_hf_config(llama + "}", "c.json").head_dim, 4);
  config_error(llama + R"(, "num_key_value_heads": 3})", "must be a multiple of num_key_value_heads (3)");
  config_error(llama + R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4}})", "rope_type \"yarn\" is not supported");
  config_error(llama + R"(, "hidden_act": "gelu"})", "hidden_act \"gelu\" is not supported");
  config_error(llama + R"(, "mlp_bias": true})", "\"mlp_bias\": true is not supported");
  config_error(llama + R"(, "num_hidden_layers": 0})", "num_hidden_layers");
  config_error(R"({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 1, "n_head": 3, "n_positions": 4})",
               "n_embd (8) must be a multiple of n_head (3)");
}

TEST_F(HfModel, FoldersThatLieAreRefused) {
  expect_error([&] { fmav::HfModel::load(dir() + "/nothing"); }, "not a folder");
  {
    const std::string f = copy_of("gpt2", "no_weights");
    fs::remove(f + "/model.safetensors");
    expect_error([&] { fmav::HfModel::load(f); }, "no model.safetensors or model.safetensors.index.json");
  }
  // A tensor missing, one too many, a wrong shape: by name.
  const fmav::TensorMap weights = fmav::read_safetensors(model("llama") + "/model.safetensors");
  const auto with = [&](const std::string& as, const std::function<void(fmav::TensorMap&)>& change) {
    const std::string f = copy_of("llama", as);
    fmav::TensorMap w = weights;
    change(w);
    fmav::write_safetensors(f + "/model.safetensors", w);
    return f;
  };
  const std::string missing = with("missing", [](fmav::TensorMap& w) { w.erase("model.norm.weight"); });
  expect_error([&] { fmav::HfModel::load(missing); }, "the weights lack \"norm.weight\"");
  const std::string extra = with("extra", [](fmav::TensorMap& w) { w["model.extra.weight"] = w.at("model.norm.weight"); });
  expect_error([&] { fmav::HfModel::load(extra); }, "tensor \"model.extra.weight\" is not part of a llama model");
  const std::string shape = with("shape", [](fmav::TensorMap& w) {
    w["model.norm.weight"] = fmav::make_host_tensor(fmav::DType::f32, {3});
  });
  expect_error([&] { fmav::HfModel::load(shape); }, "tensor \"model.norm.weight\" has shape [3], expected [64]");
  {
    const std::string f = copy_of("gpt2-sharded", "shard_escape");
    std::ofstream(f + "/model.safetensors.index.json") << R"({"weight_map": {"wte.weight": "../x.safetensors"}})";
    expect_error([&] { fmav::HfModel::load(f); }, "is not a file name in the folder");
  }
  // Inputs: ids outside the vocabulary, too many tokens, none.
  const fmav::HfModel gpt2 = fmav::HfModel::load(model("gpt2"));
  expect_error([&] { gpt2.forward({5, 320}, false); }, "token 1 has id 320, outside the vocabulary [0, 320)");
  expect_error([&] { gpt2.forward(std::vector<std::int64_t>(65, 1), false); }, "this model takes at most 64");
  expect_error([&] { gpt2.forward({}, false); }, "the input has no tokens");
}

}  // namespace
