// The r x p sweep (fmav/sweep.h): the grid, the results file (round trip, strict parsing, a
// crash's cut-off line), running and resuming without losing or repeating a point,
// cancelling, shards merged into the unsharded file, and honest metrics.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "fmav/engine.h"
#include "fmav/sweep.h"
#include "fmav/tensor_io.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using fmav_test::expect_error;

fmav::SweepSpec small_spec() {
  fmav::SweepSpec s;
  s.ns = {64};
  s.heads = 2, s.dim = 8;
  s.block_sizes = {8, 16};
  s.ranks = {1, 2};
  s.repeats = 1;
  return s;
}

class Sweep : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() /
            ("fmav_sweep_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }
  fs::path m_dir;
};

std::vector<std::int64_t> indexes(const fmav::SweepFile& f) {
  std::vector<std::int64_t> out;
  for (const auto& r : f.results) out.push_back(r.index);
  return out;
}

TEST(SweepGrid, PointsInNestingOrderAndBadGridsRefused) {
  fmav::SweepSpec s = small_spec();
  s.ns = {32, 64};
  const auto points = fmav::sweep_points(s);
  ASSERT_EQ(points.size(), 8u);
  EXPECT_EQ(fmav::sweep_key(points[0]), "n=32 r=8 p=1 average mult f32");
  EXPECT_EQ(fmav::sweep_key(points[1]), "n=32 r=8 p=2 average mult f32");
  EXPECT_EQ(fmav::sweep_key(points[7]), "n=64 r=16 p=2 average mult f32");
  s = small_spec();
  s.ranks = {0};
  expect_error([&] { fmav::sweep_points(s); },
               "sweep: each --p (rank) value must be an integer in [1, 16777216], got 0");
  s = small_spec();
  s.block_sizes.clear();
  expect_error([&] { fmav::sweep_points(s); }, "every grid axis needs at least one value");
  s = small_spec();
  s.shard = 2, s.shards = 2;
  expect_error([&] { fmav::sweep_points(s); }, "shard 2/2 must satisfy 0 <= i < N");
  s = small_spec();
  s.model = "m", s.input = "i", s.ns = {1, 2};
  expect_error([&] { fmav::sweep_points(s); }, "a model runs at its own length");
}

TEST(SweepGrid, ParetoFrontKeepsTheUnbeatenPoints) {
  //                    0    1    2    3    4    5     6
  const std::vector<double> cost = {1.0, 2.0, 2.0, 3.0, 4.0, 0.5, std::nan("")};
  const std::vector<double> error = {0.5, 0.6, 0.3, 0.3, 0.1, 0.9, 0.0};
  // 5 is cheapest; 0 beats it on error; 1 is beaten by 0; 2 (same cost as 1, lower error)
  // is kept; 3 ties 2's error at a higher cost; 4 is the most accurate; 6 has no cost.
  EXPECT_EQ(fmav::pareto_front(cost, error), (std::vector<std::size_t>{5, 0, 2, 4}));
  EXPECT_TRUE(fmav::pareto_front({}, {}).empty());
  expect_error([] { fmav::pareto_front({1.0}, {}); }, "pareto_front: 1 costs but 0 errors");
}

TEST(SweepFile, RoundTripsAndKeepsNaN) {
  fmav::SweepSpec s = small_spec();
  s.downsamples = {fmav::Downsample::learned, fmav::Downsample::dense};
  s.multiplicities = {true, false};
  s.dtypes = {fmav::DType::f32, fmav::DType::f64};
  fmav::SweepResult r;
  r.index = 3, r.point = fmav::sweep_points(s)[3], r.status = "ok";
  r.output_rel_error = 0.125, r.mean_tv = 0.25, r.mean_kl = 0.5;
  r.heads = {{0, 1, 0.1, 0.2, 0.3}};
  r.loss = r.bpc = r.accuracy = std::nan("");
  r.latency_ms = 1.5, r.peak_bytes = 4096, r.seconds = 0.01;
  const std::string text = fmav::sweep_header_json(s) + "\n" + fmav::sweep_result_json(r) + "\n";
  const fmav::SweepFile f = fmav::parse_sweep_file(text);
  EXPECT_TRUE(fmav::same_sweep(f.spec, s));
  ASSERT_EQ(f.results.size(), 1u);
  const fmav::SweepResult& g = f.results[0];
  EXPECT_EQ(fmav::sweep_key(g.point), fmav::sweep_key(r.point));
  EXPECT_EQ(g.output_rel_error, 0.125);
  EXPECT_TRUE(std::isnan(g.bpc));
  ASSERT_EQ(g.heads.size(), 1u);
  EXPECT_EQ(g.heads[0].head, 1);
  EXPECT_EQ(g.heads[0].mean_kl, 0.3);
  EXPECT_EQ(g.peak_bytes, 4096);
  EXPECT_FALSE(f.truncated_tail);
  EXPECT_EQ(f.valid_bytes, text.size());
}

// The device axis: innermost in the grid, in the key and the files; files from before it
// (no "devices", no "device") read as cpu; cuda only where the kernels time FMA in f32.
TEST(SweepFile, DeviceAxisRoundTripsAndOldFilesReadAsCpu) {
  fmav::SweepSpec s = small_spec();
  s.devices = {fmav::Device::cpu, fmav::Device::cuda};
  const auto points = fmav::sweep_points(s);
  ASSERT_EQ(points.size(), 8u);
  EXPECT_EQ(fmav::sweep_key(points[0]), "n=64 r=8 p=1 average mult f32");
  EXPECT_EQ(fmav::sweep_key(points[1]), "n=64 r=8 p=1 average mult f32 cuda");
  fmav::SweepResult r;
  r.index = 1, r.point = points[1], r.status = "ok";
  const std::string text = fmav::sweep_header_json(s) + "\n" + fmav::sweep_result_json(r) + "\n";
  EXPECT_NE(text.find("\"devices\":[\"cpu\",\"cuda\"]"), std::string::npos) << text;
  const fmav::SweepFile f = fmav::parse_sweep_file(text);
  EXPECT_TRUE(fmav::same_sweep(f.spec, s));
  EXPECT_EQ(f.spec.devices, s.devices);
  ASSERT_EQ(f.results.size(), 1u);
  EXPECT_EQ(f.results[0].point.device, fmav::Device::cuda);
  EXPECT_FALSE(fmav::same_sweep(f.spec, small_spec()));
  // A cpu sweep's file is as before the axis, but for each point's "device"; without it, cpu.
  const fmav::SweepSpec cpu = small_spec();
  const std::string header = fmav::sweep_header_json(cpu);
  EXPECT_EQ(header.find("devices"), std::string::npos) << header;
  r.point = fmav::sweep_points(cpu)[0];
  std::string old = fmav::sweep_result_json(r);
  old.erase(old.find(",\"device\":\"cpu\""), 15);
  ASSERT_EQ(old.find("device"), std::string::npos) << old;
  const fmav::SweepFile g = fmav::parse_sweep_file(header + "\n" + old + "\n");
  EXPECT_EQ(g.spec.devices, std::vector<fmav::Device>{fmav::Device::cpu});
  EXPECT_EQ(g.results[0].point.device, fmav::Device::cpu);
  std::string bad = fmav::sweep_result_json(r);
  bad.replace(bad.find("\"cpu\""), 5, "\"tpu\"");
  expect_error([&] { fmav::parse_sweep_file(header + "\n" + bad + "\n"); }, "\"device\" must be cpu or cuda, got 'tpu'");
  std::string bad_header = fmav::sweep_header_json(s);
  bad_header.replace(bad_header.find("\"cuda\""), 6, "\"auto\"");
  expect_error([&] { fmav::parse_sweep_file(bad_header + "\n"); }, "\"devices\" values must be \"cpu\" or \"cuda\"");
  s.dtypes = {fmav::DType::f64};
  expect_error([&] { fmav::sweep_points(s); }, "sweep: on cuda the timed path is FMA in f32");
  s = small_spec();
  s.devices = {fmav::Device::automatic};
  expect_error([&] { fmav::sweep_points(s); }, "auto is resolved before the sweep");
}

// A cuda point without a GPU: the error names why, before the results file exists.
TEST_F(Sweep, CudaWithoutADeviceIsAnErrorBeforeAnyWork) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  fmav::SweepSpec s = small_spec();
  s.devices = {fmav::Device::cuda};
  expect_error([&] { fmav::run_sweep(s, path("s.jsonl")); }, "device cuda: " + fmav::cuda_unavailable_reason());
  EXPECT_FALSE(fs::exists(path("s.jsonl")));
}

// On a GPU: a cpu,cuda sweep measures both, with the same errors (the host's maps).
TEST_F(Sweep, CudaPointsMatchTheCpuPoints) {
  if (fmav::cuda_device_count() == 0) GTEST_SKIP() << fmav::cuda_unavailable_reason();
  fmav::SweepSpec s = small_spec();
  s.devices = {fmav::Device::cpu, fmav::Device::cuda};
  const auto results = fmav::run_sweep(s, path("s.jsonl"));
  ASSERT_EQ(results.size(), 8u);
  for (std::size_t i = 0; i < results.size(); i += 2) {
    EXPECT_EQ(results[i + 1].status, "ok") << results[i + 1].error;
    EXPECT_EQ(results[i + 1].point.device, fmav::Device::cuda);
    EXPECT_EQ(results[i].output_rel_error, results[i + 1].output_rel_error);
    EXPECT_GT(results[i + 1].latency_ms, 0);
  }
}

TEST(SweepFile, RefusesHostileTextButSetsACutOffLineAside) {
  const fmav::SweepSpec s = small_spec();
  const std::string header = fmav::sweep_header_json(s) + "\n";
  fmav::SweepResult r;
  r.point = fmav::sweep_points(s)[0], r.status = "ok";
  const std::string line = fmav::sweep_result_json(r);
  // A crash mid-write: the last line has no newline; it is set aside, not an error.
  const fmav::SweepFile cut = fmav::parse_sweep_file(header + line + "\n" + line.substr(0, 20));
  EXPECT_TRUE(cut.truncated_tail);
  EXPECT_EQ(cut.results.size(), 1u);
  EXPECT_EQ(cut.valid_bytes, header.size() + line.size() + 1);
  expect_error([] { fmav::parse_sweep_file(""); }, "empty; a results file starts with its header line");
  expect_error([&] { fmav::parse_sweep_file(header.substr(0, 30)); }, "the header line is incomplete");
  expect_error([&] { fmav::parse_sweep_file(header + "{oops\n"); }, "sweep.jsonl line 2: not JSON");
  std::string bad = line;
  bad.replace(bad.find("\"ok\""), 4, "\"great\"");
  expect_error([&] { fmav::parse_sweep_file(header + bad + "\n"); },
               "line 2: \"status\" must be ok, oom or failed, got 'great'");
  bad = line;
  bad.replace(bad.find("\"index\""), 7, "\"indx\"");
  expect_error([&] { fmav::parse_sweep_file(header + bad + "\n"); }, "unknown key \"indx\"");
  std::string other = header;
  other.replace(other.find("fmav-sweep"), 10, "fmav-model");
  expect_error([&] { fmav::parse_sweep_file(other); }, "\"format\" must be \"fmav-sweep\"");
  other = header;
  other.replace(other.find("\"ranks\":[1,2]"), 13, "\"ranks\":[0]");
  expect_error([&] { fmav::parse_sweep_file(other); }, "\"ranks\" values must be integers in [1,");
}

TEST_F(Sweep, RunsResumesAndNeitherLosesNorRepeatsPoints) {
  const fmav::SweepSpec s = small_spec();
  // Cancelled after two points: the file holds exactly those two.
  std::atomic<bool> cancel{false};
  const auto first = fmav::run_sweep(s, path("r.jsonl"), [&](const fmav::SweepProgress& p) {
    if (p.finished == 2) cancel = true;
  }, &cancel);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(indexes(fmav::read_sweep_file(path("r.jsonl"))), (std::vector<std::int64_t>{0, 1}));
  // A crash while writing the third: a cut-off line at the end.
  { std::ofstream(path("r.jsonl"), std::ios::app) << "{\"index\":2,\"n\":6"; }
  // The estimate sees the two points in the file and prices the other two.
  const fmav::SweepEstimate e = fmav::estimate_sweep(s, path("r.jsonl"));
  EXPECT_EQ(e.points, 4);
  EXPECT_EQ(e.done, 2);
  EXPECT_GT(e.seconds, 0);
  EXPECT_GT(e.peak_bytes, 0);
  // The same sweep again: the cut-off line is dropped and only the rest is run.
  std::int64_t done_before = -1;
  const auto second = fmav::run_sweep(s, path("r.jsonl"), [&](const fmav::SweepProgress& p) {
    if (done_before < 0) done_before = p.estimate.done;
  });
  EXPECT_EQ(done_before, 2);
  ASSERT_EQ(second.size(), 2u);
  const fmav::SweepFile f = fmav::read_sweep_file(path("r.jsonl"));
  EXPECT_FALSE(f.truncated_tail);
  EXPECT_EQ(indexes(f), (std::vector<std::int64_t>{0, 1, 2, 3}));
  for (const auto& r : f.results) {
    EXPECT_EQ(r.status, "ok") << r.error;
    EXPECT_GT(r.latency_ms, 0);
    EXPECT_EQ(r.heads.size(), 2u);
  }
  // Complete: nothing left to run.
  EXPECT_TRUE(fmav::run_sweep(s, path("r.jsonl")).empty());
  // Another sweep's file is refused.
  fmav::SweepSpec other = s;
  other.ranks = {4};
  expect_error([&] { fmav::run_sweep(other, path("r.jsonl")); }, "holds results of another sweep");
}

TEST_F(Sweep, MergedShardsEqualTheUnshardedSweep) {
  fmav::SweepSpec s = small_spec();
  fmav::run_sweep(s, path("all.jsonl"));
  std::vector<std::string> parts;
  for (int i = 0; i < 3; ++i) {  // 4 points over 3 shards: 0,3 / 1 / 2
    s.shard = i, s.shards = 3;
    parts.push_back(path("shard" + std::to_string(i) + ".jsonl"));
    fmav::run_sweep(s, parts.back());
  }
  EXPECT_EQ(indexes(fmav::read_sweep_file(parts[0])), (std::vector<std::int64_t>{0, 3}));
  fmav::merge_sweep_files({parts[2], parts[0], parts[1]}, path("merged.jsonl"));
  const fmav::SweepFile all = fmav::read_sweep_file(path("all.jsonl"));
  const fmav::SweepFile merged = fmav::read_sweep_file(path("merged.jsonl"));
  EXPECT_TRUE(fmav::same_sweep(all.spec, merged.spec));
  EXPECT_EQ(merged.spec.shards, 1);
  ASSERT_EQ(indexes(merged), indexes(all));
  for (std::size_t i = 0; i < all.results.size(); ++i) {
    // Deterministic metrics agree exactly; latencies are measurements and differ.
    EXPECT_EQ(merged.results[i].output_rel_error, all.results[i].output_rel_error);
    EXPECT_EQ(merged.results[i].mean_tv, all.results[i].mean_tv);
    EXPECT_EQ(merged.results[i].mean_kl, all.results[i].mean_kl);
  }
  expect_error([&] { fmav::merge_sweep_files({parts[0], parts[2]}, path("x.jsonl")); },
               "the sweep is incomplete, nothing written: 1 of 4 points\n  shard 1/3: all 1 points (1)");
  const fmav::SweepMerge partial = fmav::merge_sweep_files({parts[0], parts[2]}, path("x.jsonl"), true);
  EXPECT_EQ(partial.merged, 3);
  EXPECT_EQ(partial.missing, (std::vector<std::int64_t>{1}));
  fmav::SweepSpec other = small_spec();
  other.seed = 5;
  fmav::run_sweep(other, path("other.jsonl"));
  expect_error([&] { fmav::merge_sweep_files({parts[0], path("other.jsonl")}, path("x.jsonl")); },
               "holds a different sweep than");
}

TEST_F(Sweep, ErrorsAreZeroWhereFmaIsExactAndGrowWithCoarseness) {
  fmav::SweepSpec s = small_spec();
  s.ns = {32};
  s.block_sizes = {16, 4};  // N <= 2m: FMA is full attention; m = 4: three coarse levels
  s.ranks = {1};
  const auto results = fmav::run_sweep(s, path("r.jsonl"));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_LT(results[0].output_rel_error, 1e-12);
  EXPECT_LT(results[0].mean_tv, 1e-12);
  EXPECT_GT(results[1].output_rel_error, 1e-3);
  EXPECT_GT(results[1].mean_tv, 1e-3);
}

}  // namespace

namespace {

TEST_F(Sweep, PeerSweepsMeasureThePeerAndRoundTripItsName) {
  fmav::SweepSpec s = small_spec();
  s.method = "reformer";
  s.ns = {64};
  s.block_sizes = {8, 32};  // chunk 32 of 64 tokens: own + previous chunk is every key
  s.ranks = {1};
  const auto results = fmav::run_sweep(s, path("r.jsonl"));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_GT(results[0].output_rel_error, 1e-3);
  EXPECT_LT(results[1].output_rel_error, 1e-12);  // against shared-QK full attention
  const fmav::SweepFile file = fmav::read_sweep_file(path("r.jsonl"));
  EXPECT_EQ(file.spec.method, "reformer");
  // Resuming with FMA's spec is another sweep.
  fmav::SweepSpec other = s;
  other.method = "fma";
  expect_error([&] { fmav::run_sweep(other, path("r.jsonl")); }, "holds results of another sweep");
  // A peer has no p to sweep; an unknown method is named.
  s.ranks = {1, 2};
  expect_error([&] { fmav::sweep_points(s); }, "sweep: reformer has no rank p, down-sampling or multiplicity");
  s.ranks = {1}, s.method = "performer";
  expect_error([&] { fmav::sweep_points(s); }, "sweep: method must be fma, htransformer, linear, reformer, local or swin, got 'performer'");
}

}  // namespace
