// The benchmark (fmav/bench.h): --n parsing, exponent fitting, a small real run with its
// checks and statuses, the CSV/JSON files, and the tensor-memory accounting behind it; the
// device choice (its header key, its errors) and, on a GPU (BenchCuda), FMA against SDPA's
// backends.

#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fmav/bench.h"
#include "fmav/engine.h"
#include "attention/memory_tracker.h"
#include "test_util.h"

namespace {

using fmav_test::expect_error;

TEST(Bench, ParsesListsAndRanges) {
  EXPECT_EQ(fmav::parse_n_list("1024,4096"), (std::vector<std::int64_t>{1024, 4096}));
  EXPECT_EQ(fmav::parse_n_list("1024:8192"), (std::vector<std::int64_t>{1024, 2048, 4096, 8192}));
  EXPECT_EQ(fmav::parse_n_list("97"), (std::vector<std::int64_t>{97}));
  expect_error([] { fmav::parse_n_list("1024:abc"); }, "--n must be a list like 1024,4096");
  expect_error([] { fmav::parse_n_list("0,5"); }, "got '0,5'");
  expect_error([] { fmav::parse_n_list("8192:1024"); }, "--n range must run from small to large, got '8192:1024'");
  expect_error([] { fmav::parse_n_list(""); }, "--n");
  expect_error([] { fmav::parse_n_list("1000:2000"); }, "--n range a:b runs over powers of two, so both ends must "
               "be powers of two (like 1024:16384), got '1000:2000'");
  expect_error([] { fmav::parse_n_list("1024:3000", "--r"); }, "--r range a:b runs over powers of two");
  EXPECT_EQ(fmav::parse_n_list("1000,2000"), (std::vector<std::int64_t>{1000, 2000}));  // a list takes any
}

TEST(Bench, StreamedFilesRoundTripAndRefuseHostileLines) {
  fmav::BenchConfig c;
  c.methods = {"fma", "sdpa"}, c.ns = {1024, 2048}, c.causal = true, c.dtype = fmav::DType::f64;
  fmav::BenchRow row;
  row.method = "fma", row.n = 2048, row.status = "oom", row.note = "out of memory";
  row.median_ms = std::nan(""), row.peak_bytes = 123;
  const std::string header = fmav::bench_header_json(c) + "\n";
  const std::string line = fmav::bench_row_json(row);
  const fmav::BenchFile f = fmav::parse_bench_file(header + line + "\n" + line.substr(0, 9));
  EXPECT_EQ(f.config.methods, c.methods);
  EXPECT_EQ(f.config.ns, c.ns);
  EXPECT_TRUE(f.config.causal);
  EXPECT_EQ(f.config.dtype, fmav::DType::f64);
  ASSERT_EQ(f.rows.size(), 1u);
  EXPECT_EQ(f.rows[0].status, "oom");
  EXPECT_TRUE(std::isnan(f.rows[0].median_ms));
  EXPECT_EQ(f.rows[0].peak_bytes, 123);
  EXPECT_TRUE(f.truncated_tail);  // a crash's cut-off last line is set aside
  fmav_test::expect_error([] { fmav::parse_bench_file(""); }, "empty; a results file starts with its header line");
  fmav_test::expect_error([&] { fmav::parse_bench_file(header + "[[[[[[1]]]]]]\n"); }, "nests deeper");
  std::string bad = line;
  bad.replace(bad.find("\"method\""), 8, "\"methd\"");
  fmav_test::expect_error([&] { fmav::parse_bench_file(header + bad + "\n"); }, "line 2: unknown key \"methd\"");
  std::string other = header;
  other.replace(other.find("fmav-bench"), 10, "fmav-sweep");
  fmav_test::expect_error([&] { fmav::parse_bench_file(other); }, "\"format\" must be \"fmav-bench\"");
}

TEST(Bench, CrossoversWhereFmaStaysFaster) {
  const auto row = [](const char* method, std::int64_t n, double ms, const char* status = "ok") {
    fmav::BenchRow r;
    r.method = method, r.n = n, r.median_ms = ms, r.status = status;
    return r;
  };
  const std::vector<fmav::BenchRow> rows = {
      row("sdpa", 1024, 1.0),  row("fma", 1024, 2.0),  row("local", 1024, 0.5),
      row("sdpa", 2048, 4.0),  row("fma", 2048, 3.0),  row("local", 2048, 1.0),
      row("sdpa", 4096, 3.0),  row("fma", 4096, 3.5),  row("local", 4096, 2.0),  // sdpa faster again
      row("sdpa", 8192, 20.0), row("fma", 8192, 8.0),  row("local", 8192, 4.0),
      row("sdpa", 16384, std::nan(""), "oom"), row("fma", 16384, 16.0), row("local", 16384, 8.0)};
  const std::vector<fmav::BenchCrossover> c = fmav::bench_crossovers(rows, "fma");
  ASSERT_EQ(c.size(), 1u);  // never faster than local
  EXPECT_EQ(c[0].other, "sdpa");
  EXPECT_EQ(c[0].n, 8192);  // not 2048: at 4096 SDPA was faster again; SDPA's oom counts as slower
  EXPECT_EQ(c[0].median_ms, 8.0);
  EXPECT_TRUE(fmav::ran_out(rows[12]));
  EXPECT_FALSE(fmav::ran_out(rows[13]));
  EXPECT_TRUE(fmav::bench_crossovers(rows, "fma-linear").empty());
}

// Issue 21 point 4: a crossover is claimed only where the min..max intervals separate.
TEST(Bench, CrossoversNeedSeparateIntervals) {
  const auto row = [](const char* method, std::int64_t n, double lo, double median, double hi) {
    fmav::BenchRow r;
    r.method = method, r.n = n, r.status = "ok", r.min_ms = lo, r.median_ms = median, r.max_ms = hi;
    return r;
  };
  // FMA's median is below SDPA's from N = 512, but at 512 its slowest run (136 ms, a busy
  // machine) is slower than SDPA's fastest: faster only from N = 1024.
  std::vector<fmav::BenchRow> rows = {
      row("sdpa", 256, 0.3, 0.4, 0.5),    row("fma", 256, 0.5, 0.6, 0.9),
      row("sdpa", 512, 1.0, 1.2, 1.5),    row("fma", 512, 0.6, 0.8, 136.0),
      row("sdpa", 1024, 4.0, 4.5, 5.0),   row("fma", 1024, 1.5, 1.8, 3.9),
      row("sdpa", 2048, 16.0, 17.0, 19.0), row("fma", 2048, 3.0, 3.5, 4.0)};
  std::vector<fmav::BenchCrossover> c = fmav::bench_crossovers(rows, "fma");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].n, 1024);
  EXPECT_FALSE(fmav::bench_faster(rows[3], rows[2]));  // medians 0.8 < 1.2, but 136 > 1.0
  EXPECT_TRUE(fmav::bench_faster(rows[5], rows[4]));   // 3.9 < 4.0
  // Touching intervals do not separate: no claim at 2048 either, so none at all.
  rows[7].max_ms = 16.0;
  EXPECT_TRUE(fmav::bench_crossovers(rows, "fma").empty());
  // A row without a max (older files) stands for it with its median.
  rows[7].max_ms = std::nan("");
  EXPECT_TRUE(fmav::bench_faster(rows[7], rows[6]));
}

TEST(Bench, ReadsRowsWithAndWithoutMax) {
  fmav::BenchConfig c;
  c.methods = {"fma"}, c.ns = {64};
  fmav::BenchRow row;
  row.method = "fma", row.n = 64, row.status = "ok", row.repeats = 3;
  row.min_ms = 1, row.median_ms = 2, row.max_ms = 5;
  const std::string header = fmav::bench_header_json(c) + "\n";
  const std::string line = fmav::bench_row_json(row);
  EXPECT_NE(line.find("\"max_ms\":5"), std::string::npos) << line;
  EXPECT_EQ(fmav::parse_bench_file(header + line + "\n").rows.at(0).max_ms, 5.0);
  // A row as files before max_ms was recorded wrote it.
  std::string old = line;
  old.erase(old.find(",\"max_ms\":5.0"), std::string(",\"max_ms\":5.0").size());
  const fmav::BenchFile f = fmav::parse_bench_file(header + old + "\n");
  EXPECT_TRUE(std::isnan(f.rows.at(0).max_ms));
  EXPECT_EQ(f.rows.at(0).min_ms, 1.0);
}

TEST(Bench, FitsTheExponentOfOkRows) {
  std::vector<fmav::BenchRow> rows;
  for (std::int64_t n : {1024, 2048, 4096, 8192}) {
    fmav::BenchRow r;
    r.method = "x", r.n = n, r.status = "ok", r.median_ms = 3e-6 * std::pow(static_cast<double>(n), 1.5);
    rows.push_back(r);
  }
  rows.push_back(rows.back());
  rows.back().n = 16384, rows.back().status = "over-budget", rows.back().median_ms = 1e9;  // ignored
  EXPECT_NEAR(fmav::fit_exponent(rows, "x"), 1.5, 1e-12);
  EXPECT_NEAR(fmav::fit_exponent(rows, "x", 2048, 4096), 1.5, 1e-12);
  EXPECT_TRUE(std::isnan(fmav::fit_exponent(rows, "x", 4096, 4096)));
  EXPECT_TRUE(std::isnan(fmav::fit_exponent(rows, "y")));
  // The spread: none on an exact power law; rows off the line (timer noise) widen it.
  EXPECT_NEAR(fmav::fit_exponent_error(rows, "x"), 0, 1e-9);
  EXPECT_TRUE(std::isnan(fmav::fit_exponent_error(rows, "x", 2048, 4096)));  // two rows: no spread
  rows[0].median_ms *= 8;  // the smallest N at a noise floor
  EXPECT_LT(fmav::fit_exponent(rows, "x"), 1.0);
  EXPECT_GT(fmav::fit_exponent_error(rows, "x"), 0.3);
}

TEST(Bench, RunsEveryMethodChecksAndWritesFiles) {
  fmav::BenchConfig c;
  for (const std::string& m : fmav::bench_methods()) {
    // 1D methods, causal; not the sdpa-* rows, CUDA's (SdpaBackendsAreCudaOnly)
    if (m.rfind("fma2d", 0) != 0 && m != "swin" && m.rfind("sdpa-", 0) != 0) c.methods.push_back(m);
  }
  c.ns = {100, 256};
  c.heads = 2, c.dim = 16, c.block_size = 16, c.rank = 4, c.repeats = 2, c.causal = true;
  int streamed = 0;
  std::vector<fmav::BenchRow> rows = fmav::run_bench(c, [&](const fmav::BenchRow&) { ++streamed; });
  ASSERT_EQ(rows.size(), 28u);  // 14 methods (the 1D peers and FMA's three routes included) x 2 N
  EXPECT_EQ(streamed, 28);
  fmav::BenchConfig grid = c;  // the 2D methods, bidirectional, on 10 x 10 and 16 x 16 grids
  grid.methods = {"sdpa", "fma2d", "fma2d-linear", "swin"};
  grid.causal = false, grid.cell = 4;
  for (const fmav::BenchRow& r : fmav::run_bench(grid, nullptr)) rows.push_back(r);
  EXPECT_EQ(rows.front().method, "sdpa");  // SDPA runs first at each N
  for (const fmav::BenchRow& r : rows) {
    EXPECT_EQ(r.status, "ok") << r.method << " " << r.n << ": " << r.note;
    EXPECT_EQ(r.repeats, 2);
    EXPECT_GT(r.median_ms, 0);
    EXPECT_LE(r.min_ms, r.median_ms);
    EXPECT_LE(r.median_ms, r.max_ms);
    EXPECT_GT(r.flops, 0);
    EXPECT_GT(r.peak_bytes, 0) << r.method << ": the output alone is a tensor";
    EXPECT_FALSE(std::isnan(r.speedup_vs_sdpa));
    const bool checked = r.n == 100 && r.method != "reference" && r.method != "full";
    EXPECT_EQ(std::isnan(r.check_error), !checked) << r.method << " " << r.n;
    if (checked) {
      EXPECT_LT(r.check_error, 1e-4) << r.method;
    }
  }
  const std::string dir = std::filesystem::temp_directory_path() / ("fmav_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  fmav::write_bench_json(dir + "/b.json", rows);
  fmav::write_bench_csv(dir + "/b.csv", rows);
  std::ifstream json_in(dir + "/b.json");
  const nlohmann::json list = nlohmann::json::parse(json_in);
  ASSERT_TRUE(list.is_array());
  grid.causal = true;
  expect_error([&] { fmav::run_bench(grid, nullptr); }, "bench: fma2d is bidirectional; run it without --causal");
  ASSERT_EQ(list.size(), rows.size());
  for (const char* key : {"method", "n", "status", "median_ms", "gflops", "peak_bytes", "speedup_vs_sdpa"}) {
    EXPECT_TRUE(list[0].contains(key)) << key;
  }
  std::ifstream csv_in(dir + "/b.csv");
  std::string header;
  std::getline(csv_in, header);
  EXPECT_EQ(header.rfind("method,n,status,", 0), 0u);
  std::filesystem::remove_all(dir);
  EXPECT_NE(fmav::format_bench_table(rows).find("fma-average"), std::string::npos);
}

TEST(Bench, TheComposedRouteIsForwardOnly) {
  fmav::BenchConfig c;
  c.methods = {"fma-fused", "fma-composed"};
  c.ns = {200};
  c.heads = 1, c.dim = 8, c.block_size = 16, c.repeats = 1, c.backward = true;
  const std::vector<fmav::BenchRow> rows = fmav::run_bench(c, nullptr);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].status, "ok") << rows[0].note;
  EXPECT_EQ(rows[1].status, "skipped");
  EXPECT_NE(rows[1].note.find("forward only"), std::string::npos) << rows[1].note;
}

TEST(Bench, GivesUpOverBudgetAndRejectsBadConfigs) {
  fmav::BenchConfig c;
  c.methods = {"full", "fma"};
  c.ns = {512, 1024};
  c.heads = 1, c.dim = 8, c.block_size = 16, c.repeats = 1;
  c.budget_s = 1e-9;  // every call is over it
  const std::vector<fmav::BenchRow> rows = fmav::run_bench(c, nullptr);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, "over-budget");
  EXPECT_GT(rows[0].median_ms, 0);  // the one call made is still reported
  EXPECT_EQ(rows[2].status, "skipped");
  EXPECT_NE(rows[2].note.find("over budget at N = 512"), std::string::npos) << rows[2].note;
  c.budget_s = 60;
  c.methods = {"fast"};
  expect_error([&] { fmav::run_bench(c, nullptr); }, "bench: unknown method 'fast'");
  c.methods = {"fma"};
  c.repeats = 0;
  expect_error([&] { fmav::run_bench(c, nullptr); }, "bench: --repeats must be an integer in [1, 1000], got 0");
  c.repeats = 1;
  c.methods = {"fma-average"};
  c.rank = 3;
  expect_error([&] { fmav::run_bench(c, nullptr); }, "rank p to divide the block size m");
}

TEST(Bench, TrackerCountsTensorBytes) {
  fmav::install_memory_tracker();
  const std::int64_t before = fmav::tracked_live_bytes();
  fmav::reset_tracked_peak();
  {
    const at::Tensor t = at::empty({1 << 20}, at::kFloat);
    EXPECT_EQ(fmav::tracked_live_bytes() - before, 4 << 20);
  }
  EXPECT_EQ(fmav::tracked_live_bytes(), before);
  EXPECT_GE(fmav::tracked_peak_bytes() - before, 4 << 20);
  EXPECT_GT(fmav::peak_rss_bytes(), 0);
}

// ---- devices ----

fmav::BenchConfig tiny_config() {
  fmav::BenchConfig c;
  c.ns = {64};
  c.heads = 1, c.dim = 8, c.block_size = 16, c.repeats = 1;
  return c;
}

TEST(Bench, HeaderRecordsTheDeviceAndOlderFilesMeanTheCpu) {
  fmav::BenchConfig c = tiny_config();
  c.methods = {"fma", "sdpa-flash"}, c.device = fmav::Device::cuda, c.dtype = fmav::DType::bf16;
  const std::string name = "cuda:0 (NVIDIA H200, 139.8 GiB)";
  const fmav::BenchFile gpu = fmav::parse_bench_file(fmav::bench_header_json(c, name) + "\n");
  EXPECT_EQ(gpu.config.device, fmav::Device::cuda);
  EXPECT_EQ(gpu.config.dtype, fmav::DType::bf16);
  EXPECT_EQ(gpu.device_name, name);
  // A header without "device" (and without "device_name"): written before either existed.
  nlohmann::json old = nlohmann::json::parse(fmav::bench_header_json(c));
  EXPECT_FALSE(old.contains("device_name"));
  old["config"].erase("device");
  old["config"]["dtype"] = "float32";
  const fmav::BenchFile cpu = fmav::parse_bench_file(old.dump() + "\n");
  EXPECT_EQ(cpu.config.device, fmav::Device::cpu);
  EXPECT_EQ(cpu.device_name, "");
  old["config"]["device"] = "gpu";
  expect_error([&] { fmav::parse_bench_file(old.dump() + "\n"); }, "line 1: \"device\" must be cpu or cuda, got 'gpu'");
  old["config"]["device"] = "cpu";
  old["config"]["dtype"] = "float8";
  expect_error([&] { fmav::parse_bench_file(old.dump() + "\n"); },
               "\"dtype\" must be float32, float64, float16 or bfloat16, got 'float8'");
  c.device = fmav::Device::automatic;  // a results file says where its rows ran
  expect_error([&] { fmav::bench_header_json(c); }, "the device must be resolved (cpu or cuda)");
}

TEST(Bench, DtypesByName) {
  for (fmav::DType d : {fmav::DType::f32, fmav::DType::f64, fmav::DType::f16, fmav::DType::bf16}) {
    EXPECT_EQ(fmav::parse_bench_dtype(fmav::bench_dtype_name(d)), d);
  }
  expect_error([] { fmav::parse_bench_dtype("half"); },
               "--dtype must be float32, float64, float16 or bfloat16, got 'half'");
}

TEST(Bench, SdpaBackendsAreCudaOnlyAndTheCpuTakesItsDtypes) {
  fmav::BenchConfig c = tiny_config();
  c.methods = {"sdpa-flash", "fma", "sdpa", "sdpa-math"};
  const std::vector<fmav::BenchRow> rows = fmav::run_bench(c, nullptr);
  ASSERT_EQ(rows.size(), 4u);  // SDPA's rows first: sdpa-flash, sdpa, sdpa-math, fma
  for (int i : {0, 2}) {
    EXPECT_EQ(rows[i].status, "skipped") << rows[i].method;
    EXPECT_EQ(rows[i].note, "CUDA only: it forces one of SDPA's CUDA backends; run with --device cuda");
  }
  EXPECT_EQ(rows[1].method, "sdpa");
  EXPECT_EQ(rows[1].status, "ok");
  EXPECT_EQ(rows[1].speedup_vs_sdpa, 1.0);
  EXPECT_EQ(rows[3].method, "fma");
  EXPECT_NEAR(rows[3].speedup_vs_sdpa, rows[1].median_ms / rows[3].median_ms, 1e-12);
  EXPECT_GT(rows[3].input_bytes, 0);  // q, k, v and the weights
  const std::string help = fmav::bench_method_help();
  EXPECT_NE(help.find("sdpa-cudnn: SDPA forced onto its cuDNN backend (float16, bfloat16) [CUDA only]"),
            std::string::npos) << help;
  EXPECT_NE(help.find("[CPU only]"), std::string::npos);
  c.dtype = fmav::DType::bf16;
  expect_error([&] { fmav::run_bench(c, nullptr); },
               "bench: on the cpu --dtype must be float32 or float64, got bfloat16 (float16 and bfloat16 run "
               "with --device cuda)");
}

TEST(Bench, CudaWithoutADeviceSaysWhy) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  fmav::BenchConfig c = tiny_config();
  c.methods = {"fma"}, c.device = fmav::Device::cuda;
  expect_error([&] { fmav::run_bench(c, nullptr); }, "device cuda: " + fmav::cuda_unavailable_reason());
  c.device = fmav::Device::automatic;  // auto: the CPU here
  EXPECT_EQ(fmav::run_bench(c, nullptr).at(0).status, "ok");
}

// ---- on a GPU ----

struct SdpaSwitches {
  bool flash, efficient, cudnn, math;
  static SdpaSwitches now() {
    const at::Context& ctx = at::globalContext();
    return {ctx.userEnabledFlashSDP(), ctx.userEnabledMemEfficientSDP(), ctx.userEnabledCuDNNSDP(),
            ctx.userEnabledMathSDP()};
  }
  bool operator==(const SdpaSwitches& o) const {
    return flash == o.flash && efficient == o.efficient && cudnn == o.cudnn && math == o.math;
  }
};

TEST(BenchCuda, FmaAgainstEverySdpaBackend) {
  if (fmav::cuda_device_count() == 0) GTEST_SKIP() << fmav::cuda_unavailable_reason();
  fmav::BenchConfig c;
  c.methods = {"fma", "local", "sdpa", "sdpa-flash", "sdpa-efficient", "sdpa-cudnn", "sdpa-math", "full"};
  c.ns = {1024}, c.heads = 2, c.dim = 64, c.repeats = 2, c.causal = true, c.device = fmav::Device::cuda;
  const SdpaSwitches before = SdpaSwitches::now();
  for (const auto& [dtype, tolerance] : {std::pair{fmav::DType::f32, 2e-4}, std::pair{fmav::DType::bf16, 5e-2}}) {
    c.dtype = dtype;
    for (const fmav::BenchRow& r : fmav::run_bench(c, nullptr)) {
      const std::string what = r.method + " " + fmav::bench_dtype_name(dtype) + ": " + r.note;
      if (r.method == "full") {
        EXPECT_EQ(r.status, "skipped") << what;
        EXPECT_EQ(r.note, "CPU only: bench runs full on the CPU alone; run it with --device cpu");
        continue;
      }
      if (r.status == "skipped") {  // a forced backend that does not take these inputs
        EXPECT_EQ(r.method.rfind("sdpa-", 0), 0u) << what;
        EXPECT_NE(r.note.find("backend does not take these inputs"), std::string::npos) << what;
        continue;
      }
      ASSERT_EQ(r.status, "ok") << what;
      EXPECT_LT(r.check_error, tolerance) << what;  // NaN (unchecked) fails too
      EXPECT_GT(r.median_ms, 0) << what;
      EXPECT_GT(r.peak_bytes, 0) << what << ": the output alone is a tensor";
      EXPECT_GE(r.input_bytes, 3 * 2 * 1024 * 64 * 2) << what;  // q, k, v on the device
      EXPECT_FALSE(std::isnan(r.speedup_vs_sdpa)) << what;
    }
    EXPECT_TRUE(SdpaSwitches::now() == before) << "the forced backends' switches were not restored";
  }
  c.dtype = fmav::DType::f64;
  expect_error([&] { fmav::run_bench(c, nullptr); },
               "bench: on cuda --dtype must be float32, float16 or bfloat16, got float64");
  c.dtype = fmav::DType::f32, c.dim = 16;
  c.methods = {"fma"};
  EXPECT_EQ(fmav::run_bench(c, nullptr).at(0).note, "the CUDA kernels take head dimension D = 32, 64 or 128, got D = 16");
}

// --backward --deterministic: FMA's fused backward through the slots' workspace (bfloat16 at
// D = 128: the FlashAttention-2-class kernels) measures and checks as the default does.
TEST(BenchCuda, DeterministicBackwardRuns) {
  if (fmav::cuda_device_count() == 0) GTEST_SKIP() << fmav::cuda_unavailable_reason();
  fmav::BenchConfig c;
  c.methods = {"fma-fused"};
  c.ns = {1024}, c.heads = 2, c.dim = 128, c.repeats = 2, c.causal = true, c.device = fmav::Device::cuda;
  c.dtype = fmav::DType::bf16, c.backward = true, c.deterministic = true;
  const fmav::BenchRow r = fmav::run_bench(c, nullptr).at(0);
  ASSERT_EQ(r.status, "ok") << r.note;
  EXPECT_LT(r.check_error, 5e-2);
  EXPECT_GT(r.median_ms, 0);
}

}  // namespace
