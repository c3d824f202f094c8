// The models and their file format: config.json parsing (strict, hostile inputs), the model
// folder round trip and its hostile variants, forward passes (FMA = full attention where
// §2 says so, causality, bidirectionality), gradients reaching every parameter, captures.

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <fstream>

#include "fmav/error.h"
#include "fmav/inspect.h"
#include "fmav/model.h"
#include "fmav/tensor_io.h"
#include "models/model_internal.h"
#include "test_util.h"

namespace {

using namespace fmav;
using fmav_test::expect_error;
namespace fs = std::filesystem;

ModelConfig small_lm(AttentionKind kind, Architecture arch = Architecture::causal_lm) {
  ModelConfig c;
  c.architecture = arch;
  c.d_model = 32, c.layers = 2, c.heads = 2, c.d_mlp = 64, c.context = 128;
  c.attention.kind = kind;
  c.attention.block_size = 16, c.attention.rank = 2;
  return c;
}

ModelConfig small_image() {
  ModelConfig c = image_preset("tiny");
  c.d_model = 32, c.layers = 2, c.heads = 2, c.d_mlp = 64;
  c.classes = {"a", "b", "c"};
  return c;
}

at::Tensor random_tokens(std::int64_t b, std::int64_t n, std::uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(0, 256, {b, n}, at::kLong);
}

// A fresh model's parameters after one backward pass of a squared-logits loss (LMs on n
// random tokens, image models on random pixels); every parameter must have a finite gradient.
void backward_once(const Model& m, std::int64_t n, std::uint64_t seed) {
  for (auto& [name, p] : m.state().params) p.requires_grad_(true);
  const ModelConfig& c = m.config();
  const at::Tensor loss = c.is_lm() ? lm_logits(m, random_tokens(2, n, seed)).pow(2).mean()
                                    : image_logits(m, at::rand({2, 32, 32, 3})).pow(2).mean();
  loss.backward();
  for (const auto& [name, p] : m.state().params) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(at::isfinite(p.grad()).all().item<bool>()) << attention_name(c.attention) << " " << name;
  }
}

class Folder : public fmav_test::TempDirTest {
 protected:
  void write(const std::string& name, const std::string& text) const { std::ofstream(path(name)) << text; }
};

// ---- config.json ----

TEST(ModelConfigJson, RoundTripsEveryArchitecture) {
  for (const ModelConfig& c : {small_lm(AttentionKind::fma), small_lm(AttentionKind::local, Architecture::masked_lm),
                               small_image()}) {
    const ModelConfig back = parse_model_config(model_config_json(c));
    EXPECT_EQ(model_config_json(back), model_config_json(c));
    EXPECT_EQ(back.classes, c.classes);
    EXPECT_EQ(count_parameters(back), count_parameters(c));
  }
}

TEST(ModelConfigJson, HostileConfigsNameWhatIsWrong) {
  const std::string good = model_config_json(small_lm(AttentionKind::fma));
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  expect_error([&] { parse_model_config(""); }, "empty file");
  expect_error([&] { parse_model_config("{\"format\": "); }, "not valid JSON");
  expect_error([&] { parse_model_config("[1, 2]"); }, "expected a JSON object");
  expect_error([&] { parse_model_config(std::string(100, '[') + std::string(100, ']')); }, "nests deeper");
  expect_error([&] { parse_model_config(with("\"format_version\": 1", "\"format_version\": 7")); },
               "format_version 7 is not supported");
  expect_error([&] { parse_model_config(with("\"fmav-model\"", "\"gpt\"")); }, "\"format\" must be");
  expect_error([&] { parse_model_config(with("\"d_model\": 32,", "")); }, "missing key \"d_model\"");
  expect_error([&] { parse_model_config(with("\"d_model\": 32", "\"d_model\": 32, \"dropout\": 0.1")); },
               "unknown key \"dropout\"");
  expect_error([&] { parse_model_config(with("\"layers\": 2", "\"layers\": \"2\"")); },
               "\"layers\" must be an integer");
  expect_error([&] { parse_model_config(with("\"heads\": 2", "\"heads\": -2")); }, "\"heads\" must be in");
  expect_error([&] { parse_model_config(with("\"heads\": 2", "\"heads\": 3")); }, "heads (3) must divide d_model");
  expect_error([&] { parse_model_config(with("\"causal-lm\"", "\"seq2seq\"")); }, "architecture must be");
  expect_error([&] { parse_model_config(with("\"kind\": \"fma\"", "\"kind\": \"magic\"")); },
               "kind must be fma, fma-linear, full, local, htransformer, linear, reformer or swin, got 'magic'");
  expect_error([&] { parse_model_config(with("\"rank\": 2", "\"rank\": 2, \"seed\": 3")); },
               "attention: unknown key \"seed\"");
  expect_error([&] { parse_model_config(with("\"count_multiplicity\": true", "\"count_multiplicity\": 1")); },
               "must be true or false");
  expect_error([&] { parse_model_config(with("\"d_model\": 32", "\"d_model\": 65536")); }, "model is too large");
  expect_error([&] { parse_model_config(with("\"d_model\": 32", "\"d_model\": 99999999999999999999")); },
               "\"d_model\"");
  expect_error([&] { parse_model_config(with("\"context\": 128", "\"image_size\": 32")); },
               "unknown key \"image_size\"");
}

TEST(ModelConfigJson, ArchitectureSpecificRules) {
  ModelConfig c = small_image();
  c.attention.kind = AttentionKind::local;
  expect_error([&] { validate(c); }, "local attention is 1D");
  c = small_image();
  c.classes = {"only"};
  expect_error([&] { validate(c); }, ">= 2 classes");
  c = small_image();
  c.patch_size = 5;
  expect_error([&] { validate(c); }, "patch_size (5) must divide image_size (32)");
  c = small_lm(AttentionKind::fma);
  c.attention.downsample = Downsample::average, c.attention.rank = 3;
  expect_error([&] { validate(c); }, "need the rank p to divide the block size m");
  ModelAttention a;
  expect_error([&] { parse_attention("local-average", &a); }, "attention must be");
  parse_attention("fma-linear-average", &a);
  EXPECT_EQ(a.kind, AttentionKind::fma_linear);
  EXPECT_EQ(a.downsample, Downsample::average);
  EXPECT_EQ(attention_name(a), "fma-linear-average");
}

TEST(ModelConfigJson, PresetsHaveViTSizes) {
  // ViT-B/16 has 86M parameters and ViT-L/16 304M; FMA2D adds its small summary kernels.
  const std::int64_t base = count_parameters(image_preset("fma2d-b"));
  const std::int64_t large = count_parameters(image_preset("fma2d-l"));
  EXPECT_GT(base, 85'000'000);
  EXPECT_LT(base, 87'000'000);
  EXPECT_GT(large, 302'000'000);
  EXPECT_LT(large, 306'000'000);
  EXPECT_EQ(image_preset("fma2d-b").grid_side(), 14);
  expect_error([] { image_preset("huge"); }, "image preset must be tiny, fma2d-b or fma2d-l");
}

// ---- the model folder ----

TEST_F(Folder, SaveLoadRoundTripsEveryTensor) {
  for (const ModelConfig& c : {small_lm(AttentionKind::fma_linear), small_image()}) {
    const Model m = Model::create(c, 7);
    m.save(path("m"));
    const Model back = Model::load(path("m"));
    EXPECT_EQ(model_config_json(back.config()), model_config_json(c));
    const auto a = m.tensors(), b = back.tensors();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_EQ(t.data, b.at(name).data) << name;
    EXPECT_NO_THROW(Model::load(path("m/config.json")));
    EXPECT_NO_THROW(Model::load(path("m/model.safetensors")));
  }
}

TEST_F(Folder, HostileModelFilesNameWhatIsWrong) {
  const Model m = Model::create(small_lm(AttentionKind::fma), 1);
  m.save(path("m"));
  expect_error([&] { Model::load(path("nothing")); }, "does not exist");
  fs::create_directories(path("empty"));
  expect_error([&] { Model::load(path("empty")); }, "has no config.json");
  write("other.txt", "x");
  expect_error([&] { Model::load(path("other.txt")); }, "must be a folder holding config.json");

  auto tensors = m.tensors();
  const auto rewrite = [&](const std::map<std::string, HostTensor>& t) {
    fs::create_directories(path("h"));
    fs::copy_file(path("m/config.json"), path("h/config.json"), fs::copy_options::overwrite_existing);
    write_safetensors(path("h/model.safetensors"), t);
  };
  auto missing = tensors;
  missing.erase("blocks.1.attn.level1.k.weight");
  rewrite(missing);
  expect_error([&] { Model::load(path("h")); }, "missing tensor \"blocks.1.attn.level1.k.weight\"");
  auto extra = tensors;
  extra["blocks.9.mlp.fc1.weight"] = make_host_tensor(DType::f32, {2});
  rewrite(extra);
  expect_error([&] { Model::load(path("h")); }, "unknown tensor \"blocks.9.mlp.fc1.weight\"");
  auto shape = tensors;
  shape["pos.weight"] = make_host_tensor(DType::f32, {64, 32});
  rewrite(shape);
  expect_error([&] { Model::load(path("h")); }, "tensor \"pos.weight\" must be [128, 32] for config.json, got [64, 32]");
  auto dtype = tensors;
  dtype["ln_f.bias"] = make_host_tensor(DType::f64, {32});
  rewrite(dtype);
  expect_error([&] { Model::load(path("h")); }, "tensor \"ln_f.bias\" must be F32, got F64");

  // Truncated and corrupt weights are refused by the safetensors reader, never half-loaded.
  const std::string bytes = read_file_bytes(path("m/model.safetensors"), 1u << 30);
  fs::create_directories(path("t"));
  fs::copy_file(path("m/config.json"), path("t/config.json"));
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    write_file_atomic(path("t/model.safetensors"), bytes.substr(0, cut));
    EXPECT_THROW(Model::load(path("t")), Error) << "cut at " << cut;
  }
  std::string corrupt = bytes;
  corrupt[10] = '\x01';
  write_file_atomic(path("t/model.safetensors"), corrupt);
  EXPECT_THROW(Model::load(path("t")), Error);
  // A config that no longer matches the weights (another width) is a shape error.
  ModelConfig wider = m.config();
  wider.d_model = 64;
  write("t/config.json", model_config_json(wider));
  write_file_atomic(path("t/model.safetensors"), bytes);
  expect_error([&] { Model::load(path("t")); }, "must be [");
}

// ---- forward passes ----

TEST(ModelForward, FmaEqualsFullAttentionWithinTheNearField) {
  // N <= 2m: the near field covers every key (§2), so the FMA model is the full model.
  for (Architecture arch : {Architecture::causal_lm, Architecture::masked_lm}) {
    const Model fma = Model::create(small_lm(AttentionKind::fma, arch), 3);
    ModelAttention full = fma.config().attention;
    full.kind = AttentionKind::full;
    const Model ref = fma.with_attention(full);
    const at::Tensor x = random_tokens(2, 32, 5);
    at::NoGradGuard no_grad;
    const at::Tensor a = lm_logits(fma, x), b = lm_logits(ref, x);
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
    // Beyond 2m the levels summarize, and the outputs differ (little: fresh attention is flat).
    const at::Tensor y = random_tokens(2, 128, 6);
    EXPECT_GT((lm_logits(fma, y) - lm_logits(ref, y)).abs().max().item<double>(), 1e-4);
  }
}

TEST(ModelConfigJson, PeersRoundTripAndReformerKeepsItsRounds) {
  ModelConfig r = small_lm(AttentionKind::reformer);
  r.attention.hash_rounds = 3;
  ModelConfig swin = small_image();
  swin.attention.kind = AttentionKind::swin, swin.attention.block_size = 4;
  for (const ModelConfig& c : {small_lm(AttentionKind::htransformer), small_lm(AttentionKind::linear), r, swin}) {
    const ModelConfig back = parse_model_config(model_config_json(c));
    EXPECT_EQ(back.attention.kind, c.attention.kind);
    EXPECT_EQ(back.attention.hash_rounds, c.attention.hash_rounds);
    EXPECT_EQ(model_config_json(back), model_config_json(c));
    EXPECT_EQ(model_levels(c), 0);  // no learned summaries
  }
  std::string text = model_config_json(small_lm(AttentionKind::fma));
  text.insert(text.find("\"count_multiplicity\""), "\"hash_rounds\": 2, ");
  expect_error([&] { parse_model_config(text); }, "config.json: attention: hash_rounds is for reformer, not fma");
  text = model_config_json(r);
  text.replace(text.find("\"hash_rounds\": 3"), 16, "\"hash_rounds\": 9");
  expect_error([&] { parse_model_config(text); }, "\"hash_rounds\" must be in [1, 8]");
  text = model_config_json(r);
  text.replace(text.find("\"reformer\""), 10, "\"performer\"");
  expect_error([&] { parse_model_config(text); }, "kind must be fma, fma-linear, full, local, htransformer, linear, "
                                                  "reformer or swin, got 'performer'");
  // Layers: reformer's rotations are seeded by the layer, swin shifts odd layers.
  EXPECT_NE(layer_attend_options(r, 0).peer.hash_seed, layer_attend_options(r, 1).peer.hash_seed);
  EXPECT_FALSE(layer_attend_options(swin, 0).peer.shifted);
  EXPECT_TRUE(layer_attend_options(swin, 1).peer.shifted);
  EXPECT_EQ(layer_attend_options(swin, 1).fma.grid_height, 8);
}

TEST(ModelForward, PeerModelsTrainAndShowTheirOwnMaps) {
  ModelConfig swin = small_image();
  swin.attention.kind = AttentionKind::swin, swin.attention.block_size = 4;
  ModelConfig linear_image = small_image();
  linear_image.attention.kind = AttentionKind::linear;
  for (const ModelConfig& c : {small_lm(AttentionKind::htransformer), small_lm(AttentionKind::linear),
                               small_lm(AttentionKind::reformer), small_lm(AttentionKind::local), swin, linear_image}) {
    const Model m = Model::create(c, 21);
    backward_once(m, 100, 22);
    EXPECT_GT(m.state().params.at("blocks.0.attn.qkv.weight").grad().abs().max().item<double>(), 0.0);
    // Its capture inspects the peer itself against full attention.
    const LayerCapture cap = c.is_lm() ? capture_text(m, std::string(90, 'x') + "yz", 1)
                                       : capture_image(m, std::vector<float>(32 * 32 * 3, 0.25f), 1);
    EXPECT_EQ(to_string(cap.method), std::string(to_string(c.attention.kind)));
    InspectRequest req;
    const Inspection ins = inspect(cap.q, cap.k, cap.v, cap.options(), cap.weights, req);
    double sum = 0;
    for (std::int64_t t = 0; t < ins.cols; ++t) sum += ins.fma_map[t];
    EXPECT_NEAR(sum, 1.0, 1e-9) << attention_name(c.attention);
  }
}

TEST(ModelForward, CausalModelsNeverSeeTheFuture) {
  for (AttentionKind kind : {AttentionKind::fma, AttentionKind::fma_linear, AttentionKind::local, AttentionKind::full,
                             AttentionKind::htransformer, AttentionKind::linear}) {
    const Model m = Model::create(small_lm(kind), 11);
    at::NoGradGuard no_grad;
    const at::Tensor x = random_tokens(1, 100, 12);
    at::Tensor y = x.clone();
    y.slice(1, 70).random_(0, 256);
    const at::Tensor a = lm_logits(m, x), b = lm_logits(m, y);
    EXPECT_TRUE(at::equal(a.slice(1, 0, 70), b.slice(1, 0, 70))) << to_string(kind);
    EXPECT_FALSE(at::equal(a.slice(1, 70), b.slice(1, 70))) << to_string(kind);
  }
}

TEST(ModelForward, MaskedModelSeesBothSides) {
  const Model m = Model::create(small_lm(AttentionKind::fma, Architecture::masked_lm), 13);
  at::NoGradGuard no_grad;
  const at::Tensor x = random_tokens(1, 128, 14);
  at::Tensor y = x.clone();
  y.index_put_({0, 120}, kMaskToken);  // the mask token is a valid input
  const at::Tensor a = lm_logits(m, x), b = lm_logits(m, y);
  EXPECT_FALSE(at::equal(a.slice(1, 0, 8), b.slice(1, 0, 8)));  // far-field influence, from the right
  EXPECT_EQ(a.sizes().vec(), (std::vector<std::int64_t>{1, 128, 256}));
}

TEST(ModelForward, ImageClassifierShapesAndErrors) {
  const Model m = Model::create(small_image(), 15);
  at::NoGradGuard no_grad;
  const at::Tensor logits = image_logits(m, at::rand({2, 32, 32, 3}));
  EXPECT_EQ(logits.sizes().vec(), (std::vector<std::int64_t>{2, 3}));
  expect_error([&] { image_logits(m, at::rand({2, 16, 16, 3})); }, "pixels must be (B, 32, 32, 3)");
  expect_error([&] { lm_logits(m, random_tokens(1, 4, 1)); }, "takes images, not tokens");
  const Model lm = Model::create(small_lm(AttentionKind::fma), 1);
  expect_error([&] { lm_logits(lm, random_tokens(1, 129, 1)); }, "1 <= N <= context 128");
}

TEST(ModelForward, GradientsReachEveryParameter) {
  for (const ModelConfig& c : {small_lm(AttentionKind::fma), small_lm(AttentionKind::fma_linear), small_image()}) {
    const Model m = Model::create(c, 17);
    backward_once(m, 128, 18);
    for (const auto& [name, p] : m.state().params) {
      if (name != "embed.weight") {
        EXPECT_GT(p.grad().abs().max().item<double>(), 0.0) << attention_name(c.attention) << " " << name;
      }
    }
  }
}

TEST(ModelForward, CapturesFeedInspect) {
  const Model m = Model::create(small_lm(AttentionKind::fma), 19);
  const LayerCapture cap = capture_text(m, std::string(100, 'a') + "bcdefgh", 1);
  EXPECT_EQ(cap.q.shape, (std::vector<std::int64_t>{1, 2, 107, 16}));
  EXPECT_TRUE(cap.fma.causal);
  EXPECT_EQ(cap.weights.count("level1.k.weight"), 1u);
  InspectRequest req;
  req.head = 1;
  const Inspection ins = inspect(cap.q, cap.k, cap.v, cap.fma, cap.weights, req);
  for (std::int64_t r = 0; r < ins.rows; ++r) {
    double sum = 0;
    for (std::int64_t t = 0; t < ins.cols; ++t) sum += ins.fma_map[r * ins.cols + t];
    EXPECT_NEAR(sum, 1.0, 1e-9);
  }
  expect_error([&] { capture_text(m, "abc", 2); }, "layer must be in [0, 2)");
  expect_error([&] { capture_text(m, "", 0); }, "text must have 1..128 bytes");
  const Model img = Model::create(small_image(), 20);
  const LayerCapture ic = capture_image(img, std::vector<float>(32 * 32 * 3, 0.5f), 0);
  EXPECT_EQ(ic.fma.grid_height, 8);
  EXPECT_EQ(ic.tokens, 64);
  expect_error([&] { capture_image(img, std::vector<float>(10), 0); }, "image must be 32 x 32 x 3");
  // A full-attention model is compared with FMA on the fixed average basis.
  ModelConfig full_config = small_lm(AttentionKind::full);
  const LayerCapture fc = capture_text(Model::create(full_config, 1), "hello world", 0);
  EXPECT_EQ(fc.fma.downsample, Downsample::average);
  EXPECT_TRUE(fc.weights.empty());
}

TEST_F(Folder, CapturesFromFilesOfEveryLayerAgree) {
  const Model m = Model::create(small_lm(AttentionKind::fma_linear), 21);
  write("t.txt", std::string(300, 'x') + "abcdefghij");
  const std::vector<LayerCapture> all = capture_file_layers(m, path("t.txt"), 200);
  ASSERT_EQ(all.size(), 2u);
  for (int l = 0; l < 2; ++l) {
    const LayerCapture one = capture_file(m, path("t.txt"), l, 200);
    EXPECT_EQ(one.q.shape, (std::vector<std::int64_t>{1, 2, 110, 16}));  // 110 bytes from 200
    EXPECT_EQ(one.q.data, all[l].q.data);
    EXPECT_EQ(one.v.data, all[l].v.data);
    EXPECT_EQ(one.weights.size(), all[l].weights.size());
    EXPECT_EQ(one.text, std::string(100, 'x') + "abcdefghij");  // the window the model saw
    EXPECT_EQ(all[l].text, one.text);
  }
  expect_error([&] { capture_file(m, path("t.txt"), 0, 310); }, "offset must be in [0, 310)");
  expect_error([&] { capture_file_layers(m, path("none.txt")); }, "none.txt");
}

}  // namespace
