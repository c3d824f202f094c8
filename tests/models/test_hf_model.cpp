// Hugging Face checkpoints (fmav/hf_model.h) against `transformers` itself: tiny random
// models of every family it reads, made and run by make_hf_models.py (gpt2, sharded gpt2,
// llama with grouped-query attention, llama3 RoPE with tied embeddings, linear RoPE in
// bfloat16, qwen2's q/k/v biases, mistral's sliding window in float16); the C++ forward must
// give the same logits and every layer's attention probabilities. Then every way a folder
// can be wrong. The encoders at the end: bert (tied; untied with ReLU), roberta in float16,
// vit in bfloat16 on a PNG, with the masked-LM and image scores.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <sys/wait.h>

#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace fmav_test;

class HfModel : public fmav_test::PythonMadeSuite {
 protected:
  static void SetUpTestSuite() {
    make("FMAV_HF_MAKER", "fmav_hf");
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
  config_error(R"({"model_type": "t5"})", "c.json: model_type \"t5\" is not supported");
  config_error(R"({"vocab_size": 3})", "c.json: missing key \"model_type\"");
  config_error("[1, 2]", "c.json: must be a JSON object");
  config_error("{", "c.json: not valid JSON");
  config_error(std::string(100, '[') + std::string(100, ']'), "nests deeper than");
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
  // A weight holding NaN (fmav/finite.h): named with its file, the count and the first position.
  ASSERT_EQ(weights.at("model.norm.weight").dtype, fmav::DType::f32);
  const std::string nan = with("nan", [](fmav::TensorMap& w) {
    w.at("model.norm.weight").f32()[7] = std::numeric_limits<float>::quiet_NaN();
  });
  expect_error([&] { fmav::HfModel::load(nan); }, "weight \"model.norm.weight\" (" + nan +
               "/model.safetensors) holds 1 NaN and 0 Inf values; the first at [7]; pass --allow-nonfinite");
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

// ---- encoders: bert, roberta (masked LMs), vit (image classifier) ----

const char* const kMaskedLms[] = {"bert", "bert-untied-relu", "roberta"};

void expect_maps(const fmav::HfModel& m, const fmav::HfForward& out, const fmav::TensorMap& ref, std::int64_t n,
                 const std::string& name) {
  const at::Tensor want = fmav::to_tensor(ref.at("logits")), got = fmav::to_tensor(out.logits);
  ASSERT_EQ(got.sizes(), want.sizes()) << name;
  EXPECT_LT(max_abs_diff(got, want) / want.abs().max().item<double>(), 1e-4) << name;
  ASSERT_EQ(static_cast<std::int64_t>(out.probs.size()), m.config().layers) << name;
  for (std::int64_t l = 0; l < m.config().layers; ++l) {
    const at::Tensor p = fmav::to_tensor(out.probs[l]), p_want = fmav::to_tensor(ref.at("probs." + std::to_string(l)));
    ASSERT_EQ(p.sizes(), p_want.sizes()) << name << " layer " << l;
    EXPECT_LT(max_abs_diff(p, p_want), 1e-5) << name << " layer " << l;
    EXPECT_EQ(out.q[l].shape, (std::vector<std::int64_t>{m.config().heads, n, m.config().head_dim})) << name;
  }
}

TEST_F(HfModel, EncodersMatchTransformers) {
  for (const char* name : kMaskedLms) {
    const fmav::TensorMap ref = fmav::read_safetensors(model(name) + "/reference.safetensors");
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    EXPECT_EQ(m.kind(), fmav::HfKind::masked_lm) << name;
    EXPECT_FALSE(m.causal()) << name;
    expect_maps(m, m.forward(ids_of(ref.at("ids")), true), ref, 40, name);
    // Bidirectional: the first query sees the last key.
    EXPECT_GT(fmav::to_tensor(m.forward(ids_of(ref.at("ids")), true).probs[0])[0][0][39].item<float>(), 0.0f);
  }
  EXPECT_EQ(fmav::HfModel::load(model("roberta")).config().max_positions, 64) << "66 positions from pad + 1 = 2";
  const fmav::TensorMap ref = fmav::read_safetensors(model("vit") + "/reference.safetensors");
  const fmav::HfModel vit = fmav::HfModel::load(model("vit"));
  EXPECT_EQ(vit.kind(), fmav::HfKind::image_classifier);
  EXPECT_EQ(vit.config().labels, (std::vector<std::string>{"cat", "dog", "ship", "frog", "truck"}));
  const fmav::Image image = fmav::read_image(model("vit") + "/image.png");
  EXPECT_LT(max_abs_diff(fmav::to_tensor(vit.pixels(image)), fmav::to_tensor(ref.at("pixels"))), 1e-5)
      << "rescaled and normalized as preprocessor_config.json says";
  expect_maps(vit, vit.forward_image(image, true), ref, 17, "vit");
}

TEST_F(HfModel, MaskedLmScoresMatchTransformers) {
  for (const char* name : kMaskedLms) {
    const fmav::TensorMap ref = fmav::read_safetensors(model(name) + "/reference.safetensors");
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    const std::vector<std::int64_t> ids = ids_of(ref.at("ids"));
    fmav::HfMasking masking = m.masking();
    EXPECT_EQ(masking.mask_id, -1) << name << ": no tokenizer.json names the mask";
    expect_error([&] { m.evaluate(ids); }, "the mask token is unknown");
    masking.mask_id = ids_of(ref.at("mask_id"))[0];
    EXPECT_EQ(fmav::hf_masked_positions(ids, masking), ids_of(ref.at("masked_positions"))) << name;
    const fmav::HfEval e = m.evaluate_masked(ids, masking);
    const double want = fmav::to_tensor(ref.at("masked_loss")).item<double>();
    EXPECT_EQ(e.tokens, 6) << name;
    EXPECT_NEAR(e.loss, want, 1e-5 * want) << name;
    EXPECT_NEAR(e.bits_per_token, want / std::log(2.0), 1e-4) << name;
  }
  // The rule skips special ids; a tokenizer.json's special [MASK] gives the mask id.
  fmav::HfMasking rule;
  rule.mask_id = 9, rule.special_ids = {0};
  EXPECT_EQ(fmav::hf_masked_positions({0, 5, 9, 5, 5, 5, 5, 5, 5, 5, 0, 5, 5}, rule), (std::vector<std::int64_t>{1, 9}));
  const std::string f = copy_of("bert", "bert_tok");
  std::ofstream(f + "/tokenizer.json") << R"({"added_tokens": [{"id": 119, "content": "[MASK]", "special": true},
      {"id": 3, "content": "[CLS]", "special": true}, {"id": 4, "content": "word", "special": false}]})";
  const fmav::HfModel with_tok = fmav::HfModel::load(f);
  EXPECT_EQ(with_tok.masking().mask_id, 119);
  EXPECT_EQ(with_tok.masking().special_ids, (std::vector<std::int64_t>{0, 119, 3}));
  EXPECT_EQ(with_tok.evaluate({3, 10, 11, 12}).tokens, 1);
  expect_error([&] { with_tok.evaluate({3, 0}); }, "masks none of the 2 tokens");
  fmav::HfMasking outside = with_tok.masking();
  outside.mask_id = 120;
  expect_error([&] { with_tok.evaluate_masked({5, 6}, outside); }, "the mask token id 120 is outside the vocabulary");
}

TEST_F(HfModel, VitScoresAnImage) {
  const fmav::TensorMap ref = fmav::read_safetensors(model("vit") + "/reference.safetensors");
  const fmav::HfModel vit = fmav::HfModel::load(model("vit"));
  const fmav::Image image = fmav::read_image(model("vit") + "/image.png");
  const fmav::HfEval e = vit.evaluate_image(image, 3);
  const double want = fmav::to_tensor(ref.at("loss")).item<double>();
  EXPECT_EQ(e.tokens, 1);
  EXPECT_NEAR(e.loss, want, 1e-5 * want);
  const at::Tensor logits = fmav::to_tensor(ref.at("logits"));
  EXPECT_EQ(e.accuracy, logits.argmax().item<std::int64_t>() == 3 ? 1.0 : 0.0);
  expect_error([&] { vit.evaluate_image(image, 5); }, "label 5 is outside the model's classes [0, 5)");
  expect_error([&] { vit.forward({1, 2}, false); }, "a vit model reads images, not token ids");
  expect_error([&] { vit.evaluate({1, 2}); }, "classifies images");
  expect_error([&] { vit.forward_pixels(fmav::make_host_tensor(fmav::DType::f32, {3, 16, 32}), false); },
               "pixels must be F32 [3, 32, 32], got F32 [3, 16, 32]");
  // Other sizes are resized (bilinear): a constant image stays constant, so 48 x 40 of one
  // colour gives the logits of 32 x 32 of that colour.
  const auto constant = [](std::int64_t h, std::int64_t w) {
    fmav::Image im;
    im.height = h, im.width = w;
    for (std::int64_t i = 0; i < h * w; ++i) im.rgb.insert(im.rgb.end(), {0.2f, 0.6f, 0.8f});
    return im;
  };
  EXPECT_LT(max_abs_diff(fmav::to_tensor(vit.forward_image(constant(48, 40), false).logits),
                         fmav::to_tensor(vit.forward_image(constant(32, 32), false).logits)), 1e-5);
  const std::string f = copy_of("vit", "vit_noresize");
  std::ofstream(f + "/preprocessor_config.json") << R"({"do_resize": false, "image_mean": [0.5, 0.5, 0.5]})";
  expect_error([&] { fmav::HfModel::load(f).forward_image(constant(48, 40), false); },
               "the image is 48x40; the model takes 32x32 and preprocessor_config.json says do_resize: false");
  std::ofstream(f + "/preprocessor_config.json") << R"({"size": {"height": 64, "width": 64}})";
  expect_error([&] { fmav::HfModel::load(f).forward_image(constant(32, 32), false); },
               "preprocessor_config.json resizes to 64x64, but the model takes 32x32 images");
  std::ofstream(f + "/preprocessor_config.json") << R"({"resample": 3})";
  expect_error([&] { fmav::HfModel::load(f).forward_image(constant(20, 20), false); },
               "resample 3 is not supported (2: bilinear)");
  const auto processor_error = [](const std::string& json, const std::string& expected) {
    expect_error([&] { fmav::parse_hf_image_processor(json, "p.json"); }, expected);
  };
  processor_error(R"({"size": {"shortest_edge": 224}})", "shortest_edge / longest_edge is not supported");
  processor_error(R"({"do_center_crop": true})", "\"do_center_crop\": true is not supported");
  processor_error(R"({"image_std": [0.5, 0, 0.5]})", "\"image_std\" must be positive, got 0");
  processor_error(R"({"image_mean": [0.5, 0.5]})", "\"image_mean\" must be 3 numbers (R, G, B)");
  processor_error("{", "p.json: not valid JSON");
}

// Swapped attention is bidirectional for the encoders: full attention and FMA whose near
// field covers every token give the model's logits; small blocks change them.
TEST_F(HfModel, EncodersSwapBidirectionalAttention) {
  const auto swap_of = [](fmav::Method method, std::int64_t block, const std::vector<int>& layers) {
    fmav::HfSwap swap;
    swap.layers = layers;
    swap.options.method = method;
    swap.options.fma.block_size = block, swap.options.fma.rank = 2;
    swap.options.fma.downsample = fmav::Downsample::average;
    return swap;
  };
  const fmav::HfModel bert = fmav::HfModel::load(model("bert"));
  const std::vector<std::int64_t> ids = ids_of(fmav::read_safetensors(model("bert") + "/reference.safetensors").at("ids"));
  const at::Tensor own = fmav::to_tensor(bert.forward(ids, false).logits);
  const auto bert_logits = [&](const fmav::HfSwap& swap) { return fmav::to_tensor(bert.forward(ids, false, &swap).logits); };
  EXPECT_LT(max_abs_diff(bert_logits(swap_of(fmav::Method::full, 8, {0, 1})), own), 1e-5);
  EXPECT_LT(max_abs_diff(bert_logits(swap_of(fmav::Method::fma, 32, {0, 1})), own), 1e-5) << "N <= 2m is exact";
  EXPECT_GT(max_abs_diff(bert_logits(swap_of(fmav::Method::fma, 4, {1})), own), 1e-4);
  // A causal swap would differ from the model's bidirectional attention: the maps show it is not.
  const fmav::HfModel vit = fmav::HfModel::load(model("vit"));
  const fmav::Image image = fmav::read_image(model("vit") + "/image.png");
  const at::Tensor vit_own = fmav::to_tensor(vit.forward_image(image, false).logits);
  const auto vit_logits = [&](const fmav::HfSwap& swap) {
    return fmav::to_tensor(vit.forward_image(image, false, &swap).logits);
  };
  EXPECT_LT(max_abs_diff(vit_logits(swap_of(fmav::Method::full, 8, {0, 1})), vit_own), 1e-5);
  EXPECT_LT(max_abs_diff(vit_logits(swap_of(fmav::Method::fma, 16, {0, 1})), vit_own), 1e-5) << "17 tokens, m = 16";
  EXPECT_GT(max_abs_diff(vit_logits(swap_of(fmav::Method::fma, 2, {0})), vit_own), 1e-5);
  fmav::HfSwap grid = swap_of(fmav::Method::fma, 2, {0});
  grid.options.fma.grid_height = grid.options.fma.grid_width = 4;
  expect_error([&] { vit.forward_image(image, false, &grid); }, "2D FMA over the patch grid is not supported");
}

TEST_F(HfModel, TheCliScoresAndInspectsEncoders) {
  const std::string log = dir() + "/cli_enc.txt", out = dir() + "/inspect_enc";
  const auto run = [&](const std::string& args) {
    const int status = std::system((std::string(FMAV_BIN) + " " + args + " > " + log + " 2>&1").c_str());
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str());
  };
  const auto json_value = [](const std::string& text, const std::string& key) {
    const std::string last = text.substr(text.rfind('{'));
    return std::stod(last.substr(last.find("\"" + key + "\": ") + key.size() + 4));
  };
  const fmav::TensorMap ref = fmav::read_safetensors(model("roberta") + "/reference.safetensors");
  const std::string ids = dir() + "/roberta_ids.npy";
  fmav::write_npy(ids, ref.at("ids"));
  const double want = fmav::to_tensor(ref.at("masked_loss")).item<double>();
  const auto [code, text] = run("eval --model " + model("roberta") + " --ids " + ids + " --mask-id 119 --json");
  ASSERT_EQ(code, 0) << text;
  EXPECT_NEAR(json_value(text, "loss"), want, 1e-5 * want) << text;
  EXPECT_EQ(json_value(text, "tokens"), 6) << text;
  const auto [swapped, swapped_text] = run("eval --model " + model("roberta") + " --ids " + ids +
                                           " --mask-id 119 --swap-layers 0-1 --swap-method fma --block 32 --json");
  ASSERT_EQ(swapped, 0) << swapped_text;
  EXPECT_NEAR(json_value(swapped_text, "loss"), want, 1e-4 * want) << "bidirectional FMA, N <= 2m: " << swapped_text;
  const auto [no_mask, no_mask_text] = run("eval --model " + model("roberta") + " --ids " + ids);
  EXPECT_EQ(no_mask, 1);
  EXPECT_NE(no_mask_text.find("the mask token is unknown"), std::string::npos) << no_mask_text;
  const auto [inspect, inspect_text] = run("inspect --model " + model("roberta") + " --ids " + ids +
                                           " --layer 1 --head 2 --block 8 --rank 2 -o " + out);
  ASSERT_EQ(inspect, 0) << inspect_text;
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::read_npy(out + "/full_map.npy")),
                         fmav::to_tensor(ref.at("probs.1"))[2].to(at::kDouble)), 1e-5);
  const at::Tensor fma = fmav::to_tensor(fmav::read_npy(out + "/fma_map.npy"));
  EXPECT_LT((fma.sum(1) - 1).abs().max().item<double>(), 1e-9);
  EXPECT_GT(fma[0][39].item<double>(), 0.0) << "bidirectional FMA: the first query sees the last key";

  const fmav::TensorMap vref = fmav::read_safetensors(model("vit") + "/reference.safetensors");
  const std::string png = model("vit") + "/image.png";
  const auto [vit, vit_text] = run("eval --model " + model("vit") + " --input " + png + " --label 3 --json");
  ASSERT_EQ(vit, 0) << vit_text;
  const double vwant = fmav::to_tensor(vref.at("loss")).item<double>();
  EXPECT_NEAR(json_value(vit_text, "loss"), vwant, 1e-5 * vwant) << vit_text;
  EXPECT_NE(vit_text.find("label 3 (frog)"), std::string::npos) << vit_text;
  const std::int64_t best = fmav::to_tensor(vref.at("logits")).argmax().item<std::int64_t>();
  const std::vector<std::string> names{"cat", "dog", "ship", "frog", "truck"};
  EXPECT_NE(vit_text.find("top classes:\n    " + std::to_string(best) + "  " + names[best]), std::string::npos)
      << "transformers' top class first, by its id2label name: " << vit_text;
  const auto [vinspect, vinspect_text] =
      run("inspect --model " + model("vit") + " --input " + png + " --layer 0 --head 1 --block 4 --rank 2 -o " + out);
  ASSERT_EQ(vinspect, 0) << vinspect_text;
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::read_npy(out + "/full_map.npy")),
                         fmav::to_tensor(vref.at("probs.0"))[1].to(at::kDouble)), 1e-5);
  const auto [no_image, no_image_text] = run("eval --model " + model("vit"));
  EXPECT_EQ(no_image, 1);
  EXPECT_NE(no_image_text.find("is an image classifier (vit): give an image (--input IMAGE)"), std::string::npos)
      << no_image_text;
  const auto [label, label_text] = run("eval --model " + model("roberta") + " --ids " + ids + " --label 2");
  EXPECT_EQ(label, 1);
  EXPECT_NE(label_text.find("--label is for image classifiers"), std::string::npos) << label_text;
}

TEST_F(HfModel, EncoderConfigsItCannotRunAreNamed) {
  const auto config_error = [](const std::string& json, const std::string& expected) {
    expect_error([&] { fmav::parse_hf_config(json, "c.json"); }, expected);
  };
  const std::string bert = R"({"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2)";
  const fmav::HfConfig c = fmav::parse_hf_config(bert + "}", "c.json");
  EXPECT_EQ(c.kind, fmav::HfKind::masked_lm);
  EXPECT_EQ(c.max_positions, 512);
  config_error(bert + R"(, "position_embedding_type": "relative_key"})",
               "position_embedding_type \"relative_key\" is not supported (absolute)");
  config_error(bert + R"(, "is_decoder": true})", "\"is_decoder\": true is not supported");
  config_error(bert + R"(, "add_cross_attention": true})", "\"add_cross_attention\": true is not supported");
  config_error(bert + R"(, "hidden_act": "swish"})", "hidden_act \"swish\" is not supported");
  config_error(bert + R"(, "num_attention_heads": 3})", "hidden_size (8) must be a multiple of num_attention_heads (3)");
  const std::string roberta = R"({"model_type": "roberta", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2)";
  config_error(roberta + R"(, "pad_token_id": null})", "roberta needs \"pad_token_id\"");
  config_error(roberta + R"(, "max_position_embeddings": 2})", "leaves no position after the offset 2");
  const std::string vit = R"({"model_type": "vit", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
      "num_attention_heads": 2, "image_size": 32, "patch_size": 8)";
  const fmav::HfConfig v = fmav::parse_hf_config(vit + "}", "c.json");
  EXPECT_EQ(v.max_positions, 17);
  EXPECT_EQ(v.labels, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  config_error(vit + R"(, "num_channels": 1})", "num_channels 1 is not supported (3: RGB images)");
  config_error(vit + R"(, "id2label": {"0": "a", "2": "b"}})", "\"1\" is missing or not a string");
  config_error(vit + R"(, "patch_size": 64})", "patch_size is larger than image_size");
  config_error(vit + R"(, "hidden_act": "quick_gelu"})", "hidden_act \"quick_gelu\" is not supported");
}

TEST_F(HfModel, EncoderFoldersThatLieAreRefused) {
  const auto with = [&](const std::string& name, const std::string& as,
                        const std::function<void(fmav::TensorMap&)>& change) {
    const std::string f = copy_of(name, as);
    fmav::TensorMap w = fmav::read_safetensors(model(name) + "/model.safetensors");
    change(w);
    fmav::write_safetensors(f + "/model.safetensors", w);
    return f;
  };
  const std::string no_head = with("vit", "vit_no_head", [](fmav::TensorMap& w) { w.erase("classifier.bias"); });
  expect_error([&] { fmav::HfModel::load(no_head); }, "the weights lack \"classifier.bias\"");
  // A sequence classifier saved under model_type roberta is not the masked LM.
  const std::string seq = with("roberta", "roberta_seq", [](fmav::TensorMap& w) {
    w["classifier.dense.weight"] = w.at("lm_head.dense.weight");
  });
  expect_error([&] { fmav::HfModel::load(seq); }, "tensor \"classifier.dense.weight\" is not part of a roberta model");
  const std::string shape = with("bert", "bert_shape", [](fmav::TensorMap& w) {
    w["bert.embeddings.token_type_embeddings.weight"] = fmav::make_host_tensor(fmav::DType::f32, {1, 64});
  });
  expect_error([&] { fmav::HfModel::load(shape); },
               "tensor \"bert.embeddings.token_type_embeddings.weight\" has shape [1, 64], expected [2, 64]");
  // What BertForMaskedLM leaves unused is skipped: a pre-training checkpoint's pooler and
  // next-sentence head, the position-id buffer, LayerNorm's old gamma/beta names.
  const std::string pretraining = with("bert", "bert_pretraining", [](fmav::TensorMap& w) {
    w["bert.pooler.dense.weight"] = fmav::make_host_tensor(fmav::DType::f32, {64, 64});
    w["cls.seq_relationship.bias"] = fmav::make_host_tensor(fmav::DType::f32, {2});
    w["bert.embeddings.LayerNorm.gamma"] = w.at("bert.embeddings.LayerNorm.weight");
    w.erase("bert.embeddings.LayerNorm.weight");
  });
  const std::vector<std::int64_t> ids{5, 6, 7};
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::HfModel::load(pretraining).forward(ids, false).logits),
                         fmav::to_tensor(fmav::HfModel::load(model("bert")).forward(ids, false).logits)), 1e-6);
  // A Hugging Face cache snapshot: the folder's files are links into ../../blobs.
  const std::string cache = dir() + "/hub/models--x--bert";
  fs::create_directories(cache + "/blobs");
  fs::create_directories(cache + "/snapshots/0123abc");
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(model("bert") + "/" + file, cache + "/blobs/" + file + ".blob");
    fs::create_symlink(std::string("../../blobs/") + file + ".blob", cache + "/snapshots/0123abc/" + file);
  }
  EXPECT_TRUE(fmav::is_hf_model_folder(cache + "/snapshots/0123abc"));
  EXPECT_LT(max_abs_diff(fmav::to_tensor(fmav::HfModel::load(cache + "/snapshots/0123abc").forward(ids, false).logits),
                         fmav::to_tensor(fmav::HfModel::load(model("bert")).forward(ids, false).logits)), 1e-6);
  const fmav::HfModel bert = fmav::HfModel::load(model("bert"));
  expect_error([&] { bert.forward(std::vector<std::int64_t>(65, 5), false); }, "this model takes at most 64");
  expect_error([&] { bert.forward({5, 120}, false); }, "token 1 has id 120, outside the vocabulary [0, 120)");
  expect_error([&] { bert.pixels(fmav::Image{}); }, "a bert model does not read images");
}

}  // namespace
