// The viewer's raw q/k/v source (app/viewer/qkv_source.h): which files a path names, reading and
// checking them (every refusal names the file and what was wrong), the cache of the last
// file, and the FMA configuration and weights made from the sidebar's settings.

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_helpers.h"
#include "qkv_source.h"

#include "fmav/tensor_io.h"

namespace {

using fmav_test::throws_error;
using fmav::viewer::kMaxTokens;
using fmav::viewer::load_qkv;
using fmav::viewer::qkv_files;
using QkvFile = fmav_test::TempFolder;

// A tensor of `shape` holding 0.01 * (i mod 97), i the flat index: small enough for softmax.
fmav::HostTensor ramp(std::vector<std::int64_t> shape, fmav::DType dtype = fmav::DType::f32) {
  fmav::HostTensor t = fmav::make_host_tensor(dtype, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double value = 0.01 * static_cast<double>(i % 97);
    if (dtype == fmav::DType::f32) t.f32()[i] = static_cast<float>(value);
    if (dtype == fmav::DType::f64) t.f64()[i] = value;
  }
  return t;
}

fmav::TensorMap qkv_map(const std::vector<std::int64_t>& shape) {
  return {{"q", ramp(shape)}, {"k", ramp(shape)}, {"v", ramp(shape)}};
}

bool refused(const std::string& path, const std::string& message) {
  return throws_error([&] { load_qkv(path); }, message);
}

// ---- which files ----

TEST(QkvFiles, SafetensorsIsOneFileNpyIsThreeSideBySide) {
  EXPECT_EQ(qkv_files("/d/qkv.safetensors"),
            (std::array<std::string, 3>{"/d/qkv.safetensors", "/d/qkv.safetensors", "/d/qkv.safetensors"}));
  const std::array<std::string, 3> plain = {"/d/q.npy", "/d/k.npy", "/d/v.npy"};
  EXPECT_EQ(qkv_files("/d/q.npy"), plain);
  EXPECT_EQ(qkv_files("/d/v.npy"), plain);
  EXPECT_EQ(qkv_files("/d/layer3_k.npy"),
            (std::array<std::string, 3>{"/d/layer3_q.npy", "/d/layer3_k.npy", "/d/layer3_v.npy"}));
  EXPECT_EQ(qkv_files("x-q.NPY")[2], "x-v.NPY");
}

TEST(QkvFiles, RefusesOtherNamesAndExtensions) {
  EXPECT_TRUE(throws_error([] { qkv_files("/d/sample.txt"); },
                           "/d/sample.txt: a q/k/v source is a .safetensors file or .npy files, not '.txt'"));
  EXPECT_TRUE(throws_error([] { qkv_files("/d/keys.npy"); },
                           "/d/keys.npy: a .npy holds one tensor; name the three q.npy, k.npy and v.npy"));
  EXPECT_TRUE(throws_error([] { qkv_files("/d/qkv.npy"); }, "/d/qkv.npy: a .npy holds one tensor"));
}

// ---- reading ----

TEST_F(QkvFile, ReadsSafetensorsAndNpyOfEveryRank) {
  fmav::write_safetensors(path("qkv.safetensors"), qkv_map({2, 3, 40, 8}));
  const auto four = load_qkv(path("qkv.safetensors"));
  EXPECT_EQ(four->batch, 2);
  EXPECT_EQ(four->heads, 3);
  EXPECT_EQ(four->tokens, 40);
  EXPECT_EQ(four->dim, 8);
  EXPECT_EQ(four->q.shape, (std::vector<std::int64_t>{2, 3, 40, 8}));

  for (const char* name : {"a_q.npy", "a_k.npy", "a_v.npy"}) {
    fmav::write_npy(path(name), ramp({5, 1, 4}, fmav::DType::f64));
  }
  const auto three = load_qkv(path("a_k.npy"));
  EXPECT_EQ(three->batch, 1);
  EXPECT_EQ(three->heads, 5);
  EXPECT_EQ(three->tokens, 1);  // N = 1 is a map of one cell
  EXPECT_EQ(three->dim, 4);

  fmav::write_safetensors(path("two.safetensors"), qkv_map({97, 16}));
  const auto two = load_qkv(path("two.safetensors"));
  EXPECT_EQ(two->heads, 1);
  EXPECT_EQ(two->tokens, 97);
}

TEST_F(QkvFile, RefusesMissingFilesAndTensors) {
  EXPECT_TRUE(refused(path("none.safetensors"), path("none.safetensors")));
  fmav::write_npy(path("q.npy"), ramp({8, 4}));
  fmav::write_npy(path("v.npy"), ramp({8, 4}));
  EXPECT_TRUE(refused(path("q.npy"), path("k.npy")));  // the missing sibling is named
  fmav::TensorMap two = qkv_map({8, 4});
  two.erase("v");
  fmav::write_safetensors(path("qk.safetensors"), two);
  EXPECT_TRUE(refused(path("qk.safetensors"),
                      path("qk.safetensors") + ": no tensor named 'v'; a q/k/v file holds q, k and v"));
}

TEST_F(QkvFile, RefusesBadDtypesShapesAndSizes) {
  const auto with = [&](const std::string& name, const fmav::HostTensor& k) {
    fmav::TensorMap map = qkv_map({2, 8, 4});
    map["k"] = k;
    fmav::write_safetensors(path(name), map);
    return path(name);
  };
  EXPECT_TRUE(refused(with("int.safetensors", fmav::make_host_tensor(fmav::DType::i32, {2, 8, 4})),
                      "int.safetensors: k must be float32 or float64, got I32"));
  EXPECT_TRUE(refused(with("f64.safetensors", ramp({2, 8, 4}, fmav::DType::f64)),
                      "f64.safetensors: k is F64 but q is F32; q, k and v must have one dtype"));
  EXPECT_TRUE(refused(with("shape.safetensors", ramp({2, 9, 4})),
                      "shape.safetensors: k is [2, 9, 4] but q is [2, 8, 4]; q, k and v must have one shape"));
  EXPECT_TRUE(refused(with("flat.safetensors", ramp({64})),
                      "flat.safetensors: k must be (B, H, N, D), (H, N, D) or (N, D), got [64]"));
  EXPECT_TRUE(refused(with("five.safetensors", ramp({1, 2, 1, 8, 4})),
                      "five.safetensors: k must be (B, H, N, D), (H, N, D) or (N, D), got [1, 2, 1, 8, 4]"));

  fmav::write_safetensors(path("empty.safetensors"), qkv_map({2, 0, 4}));
  EXPECT_TRUE(refused(path("empty.safetensors"),
                      "empty.safetensors: q has an empty dimension (N >= 1 tokens needed), got [2, 0, 4]"));
  fmav::write_safetensors(path("long.safetensors"), qkv_map({kMaxTokens + 1, 2}));
  EXPECT_TRUE(refused(path("long.safetensors"), "long.safetensors: N = " + std::to_string(kMaxTokens + 1) +
                                                    " tokens, more than the viewer shows (" +
                                                    std::to_string(kMaxTokens) + ")"));
}

// ---- the cache ----

TEST_F(QkvFile, KeepsTheLastFileUntilItChanges) {
  const std::string file = path("qkv.safetensors");
  fmav::write_safetensors(file, qkv_map({16, 4}));
  const auto first = load_qkv(file);
  EXPECT_EQ(load_qkv(file), first);  // not read again
  fmav::write_safetensors(file, qkv_map({32, 4}));
  // The rewrite's time may equal the first's on a coarse clock; a later one is certain.
  std::filesystem::last_write_time(file, std::filesystem::last_write_time(file) + std::chrono::seconds(2));
  const auto second = load_qkv(file);
  EXPECT_NE(second, first);
  EXPECT_EQ(second->tokens, 32);
}

// ---- the source ----

TEST_F(QkvFile, SourceFollowsTheSettings) {
  fmav::write_safetensors(path("qkv.safetensors"), qkv_map({1, 2, 100, 8}));
  fmav::viewer::MapParams params;
  params.qkv = path("qkv.safetensors");
  params.block_size = 16, params.rank = 4, params.causal = true;
  params.downsample = fmav::Downsample::average;
  fmav::viewer::QkvSource source = fmav::viewer::qkv_source(params);
  EXPECT_EQ(source.tensors->heads, 2);
  EXPECT_EQ(source.options.method, fmav::Method::fma);
  EXPECT_EQ(source.options.fma.block_size, 16);
  EXPECT_EQ(source.options.fma.rank, 4);
  EXPECT_TRUE(source.options.fma.causal);
  EXPECT_TRUE(source.weights.empty());  // average has none

  params.downsample = fmav::Downsample::learned;
  source = fmav::viewer::qkv_source(params);
  EXPECT_FALSE(source.weights.empty());  // drawn from the seed, as `fmav inspect` does
  const fmav::WeightSet again = fmav::viewer::qkv_source(params).weights;
  ASSERT_EQ(again.size(), source.weights.size());
  EXPECT_EQ(again.begin()->second.data, source.weights.begin()->second.data);  // the same seed

  params.downsample = fmav::Downsample::average, params.rank = 3;
  EXPECT_TRUE(throws_error([&] { fmav::viewer::qkv_source(params); },
                           "average down-sampling need the rank p to divide the block size m, got m = 16, p = 3"));
}

TEST_F(QkvFile, SourceRunsThePeerChosen) {
  fmav::write_safetensors(path("qkv.safetensors"), qkv_map({1, 2, 100, 8}));
  fmav::viewer::MapParams params;
  params.qkv = path("qkv.safetensors");
  params.block_size = 4, params.causal = true, params.downsample = fmav::Downsample::learned;
  params.method = fmav::Method::swin, params.shifted = true;
  const fmav::viewer::QkvSource source = fmav::viewer::qkv_source(params);
  EXPECT_EQ(source.options.method, fmav::Method::swin);
  EXPECT_EQ(source.options.fma.grid_height, 10);  // the most square grid of 100 tokens
  EXPECT_EQ(source.options.fma.grid_width, 10);
  EXPECT_FALSE(source.options.fma.causal);        // swin is bidirectional
  EXPECT_TRUE(source.options.peer.shifted);
  EXPECT_TRUE(source.weights.empty());            // a peer has no down-sampling weights
  params.method = fmav::Method::reformer, params.hash_rounds = 9;
  EXPECT_TRUE(throws_error([&] { fmav::viewer::qkv_source(params); }, "reformer: hash rounds must be in 1..8, got 9"));
}

}  // namespace
