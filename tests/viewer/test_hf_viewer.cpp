// Hugging Face folders in the viewer and in `fmav attend` / `fmav sweep` (docs/DESIGN.md §7.6),
// against models `transformers` makes with random weights (models/make_hf_models.py) and their
// reference attention: HfModel::layer_qkv equals the forward's q, k, v; the viewer's source
// (app/viewer/hf_source.cpp) is the model's own q, k, v, and its full map the model's
// attention; the CLI's maps, outputs and sweep errors equal the model's and `fmav inspect`'s;
// a bad layer or head is named.

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "hf_source.h"

#include "fmav/error.h"
#include "fmav/hf_fit.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/inspect.h"
#include "fmav/sweep_file.h"
#include "fmav/tensor_io.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace fmav_test;

class HfViewer : public fmav_test::PythonMadeSuite {
 protected:
  static void SetUpTestSuite() {
    make("FMAV_HF_MAKER", "fmav_hf_viewer");
    if (HasFatalFailure()) return;
    // The reference input's ids as a .npy, as a user gives them.
    fmav::write_npy(ids_npy(), reference("llama").at("ids"));
  }
  static std::string model(const std::string& name) { return dir() + "/" + name; }
  static std::string ids_npy() { return dir() + "/ids.npy"; }
  static fmav::TensorMap reference(const std::string& name) {
    return fmav::read_safetensors(model(name) + "/reference.safetensors");
  }
  // fmav with `args`: its exit code and what it printed.
  static std::pair<int, std::string> run(const std::string& args) {
    const std::string log = dir() + "/cli.txt";
    const int status = std::system((std::string(FMAV_BIN) + " " + args + " > " + log + " 2>&1").c_str());
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
  }
};

std::vector<std::int64_t> ids_of(const fmav::HostTensor& t) {
  const at::Tensor ids = fmav::to_tensor(t).to(at::kLong).contiguous();
  return std::vector<std::int64_t>(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + ids.numel());
}

double diff(const fmav::HostTensor& a, const fmav::HostTensor& b) {
  return max_abs_diff(fmav::to_tensor(a).to(at::kDouble), fmav::to_tensor(b).to(at::kDouble));
}

at::Tensor map_of(const std::vector<double>& values, std::int64_t n) {
  return at::tensor(values, at::kDouble).view({n, n});
}

TEST_F(HfViewer, LayerQkvEqualsTheForwardsWithoutMaps) {
  for (const char* name : {"gpt2", "llama", "llama3-tied", "qwen2", "llama-linear-bf16"}) {
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    const std::vector<std::int64_t> ids = ids_of(reference(name).at("ids"));
    const fmav::HfForward all = m.forward(ids, true);
    const std::int64_t last = m.config().layers - 1;
    const fmav::HfForward some = m.layer_qkv(ids, {static_cast<int>(last), 0});
    ASSERT_EQ(some.q.size(), 2u) << name;
    EXPECT_TRUE(some.probs.empty() && some.logits.data.empty()) << name;
    for (std::size_t i = 0; i < 2; ++i) {
      const std::size_t l = i == 0 ? static_cast<std::size_t>(last) : 0;
      EXPECT_EQ(some.q[i].shape, all.q[l].shape) << name;
      EXPECT_EQ(some.k[i].shape, all.k[l].shape) << name << ": K repeated per query head";
      // Layer 0 is the same arithmetic; later layers follow fused instead of eager attention.
      EXPECT_LT(diff(some.q[i], all.q[l]), 1e-4) << name << " layer " << l;
      EXPECT_LT(diff(some.k[i], all.k[l]), 1e-4) << name << " layer " << l;
      EXPECT_LT(diff(some.v[i], all.v[l]), 1e-4) << name << " layer " << l;
    }
    try {
      m.layer_qkv(ids, {static_cast<int>(last + 1)});
      ADD_FAILURE() << name << ": a layer past the last was accepted";
    } catch (const fmav::Error& e) {
      EXPECT_NE(std::string(e.what()).find("layer " + std::to_string(last + 1) + " is not in [0, " +
                                           std::to_string(last + 1) + ")"),
                std::string::npos)
          << e.what();
    }
  }
}

// The viewer's source: the model's own q, k, v of the layer; its full map is the model's
// attention as transformers computes it; FMA is compared causal at the sidebar's settings.
TEST_F(HfViewer, TheViewersSourceIsTheModelsOwnAttention) {
  fmav::viewer::MapParams p;
  p.model = model("llama"), p.input = ids_npy(), p.layer = 1, p.head = 2;
  p.block_size = 8, p.rank = 2, p.causal = false;  // the model is causal whatever the checkbox says
  ASSERT_TRUE(fmav::viewer::is_hf_folder(p.model));
  EXPECT_FALSE(fmav::viewer::is_hf_folder(dir()));
  const fmav::viewer::HfLayers hf = fmav::viewer::hf_layers(p, {1});
  const fmav::HfModel m = fmav::HfModel::load(model("llama"));
  const fmav::HfForward f = m.forward(ids_of(reference("llama").at("ids")), true);
  EXPECT_LT(diff(hf.q[0], f.q[1]), 1e-4);
  EXPECT_LT(diff(hf.k[0], f.k[1]), 1e-4);
  EXPECT_LT(diff(hf.v[0], f.v[1]), 1e-4);
  EXPECT_TRUE(hf.options.fma.causal);
  EXPECT_EQ(hf.options.fma.block_size, 8);
  EXPECT_EQ(hf.options.fma.rank, 2);
  EXPECT_TRUE(hf.tokens->pieces.empty() == false);  // the folder has a tokenizer.json
  const at::Tensor want = fmav::to_tensor(reference("llama").at("probs.1")).to(at::kDouble);  // (H, N, N)
  const std::int64_t n = want.size(1);
  for (std::int64_t h = 0; h < m.config().heads; ++h) {
    fmav::InspectRequest request;
    request.head = h;
    const fmav::Inspection in = fmav::inspect(hf.q[0], hf.k[0], hf.v[0], hf.options, hf.weights, request);
    ASSERT_EQ(in.rows, n);
    EXPECT_LT(max_abs_diff(map_of(in.full_map, n), want[h]), 1e-5) << "head " << h;
    const at::Tensor fma = map_of(in.fma_map, n);
    EXPECT_LT((fma.sum(1) - 1).abs().max().item<double>(), 1e-9) << "head " << h;
    EXPECT_EQ(fma.triu(1).abs().max().item<double>(), 0.0) << "head " << h << ": causal";
    EXPECT_GT(in.output_rel_error, 0.0);
  }
}

// A text through the folder's tokenizer.json: tokenizers' ids (after the special tokens the
// post-processor adds, as transformers' tokenizer(text)), the pieces spell the text, and the
// window starts at the token offset.
TEST_F(HfViewer, TextIsTokenizedAndLabelledByPieces) {
  fmav::viewer::MapParams p;
  p.model = model("llama"), p.input = model("llama") + "/tokenizer_text.txt";
  const auto m = fmav::viewer::load_hf_model(p.model);
  const auto tokens = fmav::viewer::load_hf_tokens(p, *m);
  std::ifstream in(p.input, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  // The peer's ids of the text alone (tokenizers, add_special_tokens=False) end the input.
  const std::vector<std::int64_t> want =
      ids_of(fmav::read_safetensors(model("llama") + "/tokenizer_ids.safetensors").at("ids"));
  const std::vector<std::int64_t> with_special =
      fmav::HfTokenizer::load(model("llama") + "/tokenizer.json").encode(text.str(), true);
  ASSERT_LE(static_cast<std::int64_t>(with_special.size()), m->config().max_positions);
  EXPECT_EQ(tokens->ids, with_special);
  EXPECT_EQ(tokens->total, static_cast<std::int64_t>(with_special.size()));
  ASSERT_GE(tokens->ids.size(), want.size());
  const std::size_t added = tokens->ids.size() - want.size();
  EXPECT_EQ(std::vector<std::int64_t>(tokens->ids.begin() + added, tokens->ids.end()), want);
  std::string joined;
  for (std::size_t i = added; i < tokens->pieces.size(); ++i) joined += tokens->pieces[i];
  EXPECT_EQ(joined, text.str());

  p.offset = 5;
  const auto shifted = fmav::viewer::load_hf_tokens(p, *m);
  EXPECT_EQ(shifted->ids, std::vector<std::int64_t>(tokens->ids.begin() + 5, tokens->ids.end()));
  EXPECT_EQ(shifted->pieces.front(), tokens->pieces[5]);
  p.offset = tokens->total;
  try {
    fmav::viewer::load_hf_tokens(p, *m);
    ADD_FAILURE() << "an offset past the end was accepted";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("token offset"), std::string::npos) << e.what();
  }
  // A folder without tokenizer.json reads ids, and says so for a text.
  p.model = model("qwen2"), p.offset = 0;
  try {
    fmav::viewer::hf_layers(p, {0});
    ADD_FAILURE() << "a text for a folder without tokenizer.json was accepted";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no tokenizer.json"), std::string::npos) << e.what();
  }
  p.input = ids_npy();
  EXPECT_EQ(fmav::viewer::hf_layers(p, {0}).tokens->ids.size(), 40u);
  // An image model (vit) reads an image: its q, k, v are the forward's on the image's pixels,
  // bidirectional, its tokens named CLS then the patches row by row; text or ids are refused.
  p.model = model("vit"), p.input = model("vit") + "/image.png";
  const fmav::viewer::HfLayers vit = fmav::viewer::hf_layers(p, {1});
  const fmav::HfModel vit_model = fmav::HfModel::load(model("vit"));
  const fmav::HfForward seen = vit_model.forward_image(fmav::read_image(p.input), true);
  EXPECT_LT(diff(vit.q[0], seen.q[1]), 1e-5);
  EXPECT_LT(diff(vit.k[0], seen.k[1]), 1e-5);
  EXPECT_LT(diff(vit.v[0], seen.v[1]), 1e-5);
  EXPECT_FALSE(vit.options.fma.causal);
  EXPECT_FALSE(fmav::viewer::hf_folder_causal(model("vit")));  // what the sidebar says
  EXPECT_FALSE(fmav::viewer::hf_folder_causal(model("bert")));
  EXPECT_TRUE(fmav::viewer::hf_folder_causal(model("llama")));
  const fmav::HfConfig& vc = vit_model.config();
  const std::int64_t patches = (vc.image_height / vc.patch_height) * (vc.image_width / vc.patch_width);
  EXPECT_EQ(vit.tokens->count, 1 + patches);
  ASSERT_EQ(vit.tokens->pieces.size(), static_cast<std::size_t>(1 + patches));
  EXPECT_EQ(vit.tokens->pieces.front(), "[CLS]");
  EXPECT_EQ(vit.tokens->pieces[1], "patch 0,0");
  EXPECT_EQ(vit.q[0].shape[1], 1 + patches);
  p.input = ids_npy();
  try {
    fmav::viewer::hf_layers(p, {0});
    ADD_FAILURE() << "token ids were accepted by a vit";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("image classifier: it reads an image, not token ids"), std::string::npos)
        << e.what();
  }
  // Mistral's sliding window (8 tokens) is not what the full map shows on the 40 ids: refused
  // by name. On at most 8 tokens the window masks nothing, and the layer opens as any other.
  p.model = model("mistral");
  try {
    fmav::viewer::hf_layers(p, {0});
    ADD_FAILURE() << "a sliding-window model was accepted past its window";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sliding window of 8 tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the input has 40 tokens (give at most 8)"), std::string::npos) << e.what();
  }
  const std::vector<std::int64_t> eight = {5, 17, 3, 99, 42, 8, 61, 23};
  p.input = dir() + "/eight_ids.npy";
  fmav::write_npy(p.input, fmav::to_host(at::tensor(eight, at::kLong)));
  const fmav::viewer::HfLayers windowed = fmav::viewer::hf_layers(p, {1});
  const fmav::HfForward own = fmav::HfModel::load(model("mistral")).forward(eight, true);
  EXPECT_LT(diff(windowed.q[0], own.q[1]), 1e-4);
  EXPECT_LT(diff(windowed.k[0], own.k[1]), 1e-4);
}

TEST_F(HfViewer, PieceLabelsAreDrawable) {
  using fmav::viewer::piece_label;
  EXPECT_EQ(piece_label(" caf\xc3\xa9"), " caf\xc3\xa9");  // UTF-8 kept
  EXPECT_EQ(piece_label("a\nb\t"), "a\xc2\xb6" "b\xc2\xbb");
  EXPECT_EQ(piece_label("\xc3"), "\xc2\xb7");          // half a character
  EXPECT_EQ(piece_label(std::string("\x01", 1)), "\xc2\xb7");
  EXPECT_EQ(piece_label(""), "\xc2\xb7");
}

// fmav attend --model: the layer's own q, k, v; full attention's map is the model's
// attention, FMA's output the one on those tensors written out; a bad layer or head is named.
TEST_F(HfViewer, AttendReadsAModelsLayer) {
  const std::string llama = model("llama"), out = dir() + "/attend";
  fs::create_directories(out);
  auto [code, text] = run("attend --model " + llama + " --ids " + ids_npy() + " --layer 1 --method full --out " +
                          out + "/full.npy --map-out " + out + "/map.npy");
  ASSERT_EQ(code, 0) << text;
  const at::Tensor want = fmav::to_tensor(reference("llama").at("probs.1")).to(at::kDouble);
  const at::Tensor map = fmav::to_tensor(fmav::read_npy(out + "/map.npy"));
  ASSERT_EQ(map.sizes(), want.sizes());
  EXPECT_LT(max_abs_diff(map, want), 1e-5);

  // One head under FMA equals FMA on that head's tensors from the forward, causal.
  std::tie(code, text) = run("attend --model " + llama + " --ids " + ids_npy() +
                             " --layer 1 --head 2 --block 8 --rank 2 --downsample average --out " + out + "/fma.npy");
  ASSERT_EQ(code, 0) << text;
  const fmav::HfForward f = fmav::HfModel::load(llama).forward(ids_of(reference("llama").at("ids")), true);
  for (const auto& [name, t] : {std::pair{"q", &f.q[1]}, std::pair{"k", &f.k[1]}, std::pair{"v", &f.v[1]}}) {
    fmav::write_npy(out + "/" + name + ".npy", fmav::to_host(fmav::to_tensor(*t).narrow(0, 2, 1).contiguous()));
  }
  std::tie(code, text) = run("attend --q " + out + "/q.npy --k " + out + "/k.npy --v " + out + "/v.npy --causal" +
                             " --block 8 --rank 2 --downsample average --out " + out + "/want.npy");
  ASSERT_EQ(code, 0) << text;
  const fmav::HostTensor got = fmav::read_npy(out + "/fma.npy"), expected = fmav::read_npy(out + "/want.npy");
  EXPECT_EQ(got.shape, (std::vector<std::int64_t>{1, 40, 16}));
  EXPECT_LT(diff(got, expected), 1e-5);

  std::tie(code, text) = run("attend --model " + llama + " --ids " + ids_npy() + " --layer 2 --out " + out + "/x.npy");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("--layer 2 is not in [0, 2)"), std::string::npos) << text;
  std::tie(code, text) = run("attend --model " + llama + " --ids " + ids_npy() + " --head 4 --out " + out + "/x.npy");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("--head 4 is not in [0, 4)"), std::string::npos) << text;
  std::tie(code, text) = run("attend --q " + out + "/q.npy --k " + out + "/k.npy --v " + out + "/v.npy --layer 1 " +
                             "--out " + out + "/x.npy");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("are for a Hugging Face --model"), std::string::npos) << text;

  // A vit on its image: full attention's map is the model's own (bidirectional) attention.
  const std::string vit = model("vit");
  std::tie(code, text) = run("attend --model " + vit + " --input " + vit + "/image.png --layer 1 --method full " +
                             "--out " + out + "/vit.npy --map-out " + out + "/vit_map.npy");
  ASSERT_EQ(code, 0) << text;
  const at::Tensor vit_want = fmav::to_tensor(reference("vit").at("probs.1")).to(at::kDouble);
  const at::Tensor vit_map = fmav::to_tensor(fmav::read_npy(out + "/vit_map.npy"));
  ASSERT_EQ(vit_map.sizes(), vit_want.sizes());
  EXPECT_LT(max_abs_diff(vit_map, vit_want), 1e-5);
  std::tie(code, text) = run("attend --model " + vit + " --ids " + ids_npy() + " --out " + out + "/x.npy");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("is an image classifier (vit): give an image with --input"), std::string::npos) << text;
}

// fmav sweep --model: one layer's (head's) errors at each point equal `fmav inspect`'s on the
// same layer and head, and the model is scored with that layer swapped.
TEST_F(HfViewer, SweepMeasuresAModelsLayer) {
  const std::string llama = model("llama"), results = dir() + "/sweep.jsonl";
  auto [code, text] = run("sweep --model " + llama + " --ids " + ids_npy() +
                          " --layer 1 --head 2 --r 8,16 --p 1,2 --downsample average --repeats 1 --out " + results);
  ASSERT_EQ(code, 0) << text;
  const fmav::SweepFile file = fmav::read_sweep_file(results);
  ASSERT_EQ(file.results.size(), 4u);
  EXPECT_EQ(file.spec.layer, 1);
  EXPECT_EQ(file.spec.head, 2);
  EXPECT_TRUE(file.spec.causal);
  EXPECT_EQ(file.spec.ns, std::vector<std::int64_t>{40});
  for (const fmav::SweepResult& r : file.results) {
    ASSERT_EQ(r.status, "ok") << r.error;
    ASSERT_EQ(r.heads.size(), 1u);
    EXPECT_EQ(r.heads[0].layer, 1);
    EXPECT_EQ(r.heads[0].head, 2);
    const std::string out = dir() + "/inspect_" + std::to_string(r.index);
    std::tie(code, text) = run("inspect --model " + llama + " --ids " + ids_npy() + " --layer 1 --head 2 --block " +
                               std::to_string(r.point.block_size) + " --rank " + std::to_string(r.point.rank) +
                               " --downsample average --out " + out);
    ASSERT_EQ(code, 0) << text;
    std::ifstream in(out + "/summary.json");
    const nlohmann::json summary = nlohmann::json::parse(in);
    EXPECT_NEAR(r.output_rel_error, summary.at("output_rel_error").get<double>(), 1e-9) << r.index;
    EXPECT_NEAR(r.mean_tv, summary.at("mean_tv").get<double>(), 1e-9) << r.index;
    EXPECT_GT(r.loss, 0.0);  // the model scored with the layer's attention swapped
  }
  // A resumed sweep has nothing left to do; another layer is another sweep.
  std::tie(code, text) = run("sweep --model " + llama + " --ids " + ids_npy() +
                             " --layer 1 --head 2 --r 8,16 --p 1,2 --downsample average --repeats 1 --out " + results);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("0 points measured"), std::string::npos) << text;
  std::tie(code, text) = run("sweep --model " + llama + " --ids " + ids_npy() + " --layer 0 --r 8 --p 1 --out " +
                             results);
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("another sweep"), std::string::npos) << text;

  std::tie(code, text) = run("sweep --model " + llama + " --ids " + ids_npy() + " --layer 5 --out " + dir() + "/b.jsonl");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("--layer 5 is not in [0, 2)"), std::string::npos) << text;
  std::tie(code, text) = run("sweep --model " + llama + " --ids " + ids_npy() + " --head 9 --out " + dir() + "/b.jsonl");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("--head 9 is not in [0, 4)"), std::string::npos) << text;
  std::tie(code, text) = run("sweep --layer 1 --out " + dir() + "/c.jsonl");
  EXPECT_NE(code, 0);
  EXPECT_NE(text.find("are for a Hugging Face model folder"), std::string::npos) << text;
}

}  // namespace

namespace {

// The encoders (bert, roberta) in the viewer: the layer's own q, k, v (layer_qkv through the
// forward with maps), compared bidirectional whatever the causal checkbox says, so the full
// map is the model's own attention as transformers computes it.
TEST_F(HfViewer, EncodersShowTheirOwnBidirectionalAttention) {
  for (const char* name : {"bert", "roberta"}) {
    const fmav::TensorMap ref = reference(name);
    const std::string ids = dir() + "/" + name + "_ids.npy";
    fmav::write_npy(ids, ref.at("ids"));
    const fmav::HfModel m = fmav::HfModel::load(model(name));
    const fmav::HfForward f = m.forward(ids_of(ref.at("ids")), true);
    const fmav::HfForward some = m.layer_qkv(ids_of(ref.at("ids")), {1, 0});
    ASSERT_EQ(some.q.size(), 2u) << name;
    EXPECT_EQ(diff(some.q[0], f.q[1]), 0.0) << name;
    EXPECT_EQ(diff(some.k[1], f.k[0]), 0.0) << name;
    EXPECT_EQ(diff(some.v[0], f.v[1]), 0.0) << name;
    EXPECT_TRUE(some.probs.empty()) << name;

    fmav::viewer::MapParams p;
    p.model = model(name), p.input = ids, p.layer = 1, p.causal = true;  // the checkbox does not apply
    p.block_size = 4, p.rank = 2;
    const fmav::viewer::HfLayers hf = fmav::viewer::hf_layers(p, {1});
    EXPECT_FALSE(hf.options.fma.causal) << name;
    const at::Tensor want = fmav::to_tensor(ref.at("probs.1")).to(at::kDouble);  // (H, N, N)
    const std::int64_t n = want.size(1);
    for (std::int64_t h = 0; h < m.config().heads; ++h) {
      fmav::InspectRequest request;
      request.head = h;
      const fmav::Inspection in = fmav::inspect(hf.q[0], hf.k[0], hf.v[0], hf.options, hf.weights, request);
      ASSERT_EQ(in.rows, n) << name;
      EXPECT_LT(max_abs_diff(map_of(in.full_map, n), want[h]), 1e-5) << name << " head " << h;
      const at::Tensor fma = map_of(in.fma_map, n);
      EXPECT_LT((fma.sum(1) - 1).abs().max().item<double>(), 1e-9) << name << " head " << h;
      EXPECT_GT(fma.triu(1).sum().item<double>(), 0.1) << name << " head " << h << ": bidirectional";
    }
  }
}

// A fitted folder (fmav fit) lends its swapped layers' weights to FMA at the fit's settings;
// at other settings, or a layer it did not fit, FMA's weights are drawn from the seed, and
// the note says which.
TEST_F(HfViewer, AFittedFolderLendsItsWeightsAtItsSettings) {
  fmav::HfFitOptions o;
  o.model = model("llama"), o.out = dir() + "/fitted";
  const std::vector<std::int64_t> ids = ids_of(reference("llama").at("ids"));
  for (int copy = 0; copy < 4; ++copy) o.ids.insert(o.ids.end(), ids.begin(), ids.end());
  o.layers = {1};
  o.fma.block_size = 8, o.fma.rank = 2, o.fma.downsample = fmav::Downsample::learned;
  o.tokens = 64, o.steps = 2, o.batch = 1, o.save_every = 0;
  fmav::fit_hf_swap(o);

  fmav::viewer::MapParams p;
  p.model = o.out, p.input = ids_npy(), p.layer = 1;
  p.block_size = 8, p.rank = 2, p.downsample = fmav::Downsample::learned;
  const fmav::viewer::HfLayers hf = fmav::viewer::hf_layers(p, {0, 1});
  ASSERT_EQ(hf.fitted.size(), 1u);
  std::size_t compared = 0;
  for (const auto& [name, t] : fmav::read_safetensors(o.out + "/" + fmav::kHfSwapWeights)) {
    ASSERT_EQ(name.rfind("layer1.", 0), 0u) << name;
    const fmav::WeightSet& fitted = hf.weights_of(1);
    ASSERT_EQ(fitted.count(name.substr(7)), 1u) << name;
    EXPECT_EQ(diff(fitted.at(name.substr(7)), t), 0.0) << name;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
  EXPECT_EQ(&hf.weights_of(0), &hf.weights) << "layer 0 was not fitted: the seed's weights";
  EXPECT_NE(hf.weights_note.find("fitted weights (fmav fit) in layer 1"), std::string::npos) << hf.weights_note;

  p.rank = 4;
  const fmav::viewer::HfLayers other = fmav::viewer::hf_layers(p, {1});
  EXPECT_TRUE(other.fitted.empty());
  EXPECT_NE(other.weights_note.find("fitted weights are for r = 8, p = 2, learned"), std::string::npos)
      << other.weights_note;
}

}  // namespace
