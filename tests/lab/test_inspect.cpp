// Inspection data (docs/DESIGN.md §2): the full-resolution FMA map against the reference's,
// rows summing to 1, level map and mass per level, tiles, pooled overviews, progress and
// cancelling, metrics and input checks.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "fmav/inspect.h"
#include "test_util.h"

namespace {

using namespace fmav_test;

struct Problem {
  fmav::HostTensor q, k, v;
  fmav::FmaConfig config;
  fmav::WeightSet set;
};

Problem make_setup(const NaiveConfig& c, std::int64_t n, std::int64_t d) {
  Problem s;
  s.config = to_config(c);
  s.q = fmav::to_host(random_bhnd(1, 2, n, d, 3));
  s.k = fmav::to_host(random_bhnd(1, 2, n, d, 4));
  s.v = fmav::to_host(random_bhnd(1, 2, n, d, 5));
  s.set = fmav::random_downsample_weights(s.config, d, fmav::make_levels(n, c.m).num_levels, 6);
  return s;
}

TEST(Inspect, MapMatchesReferenceMapAndRowsSumToOne) {
  for (std::int64_t n : {7, 97, 256}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        NaiveConfig c{8, 2, causal, kind, true};
        const Problem s = make_setup(c, n, 4);
        fmav::InspectRequest req;
        req.head = 1;
        const fmav::Inspection ins = fmav::inspect(s.q, s.k, s.v, s.config, s.set, req);
        ASSERT_EQ(ins.rows, n);
        ASSERT_EQ(ins.cols, n);
        const fmav::FmaWeights w = fmav::to_fma_weights(s.set, s.config, 4, ins.num_levels, at::kDouble);
        const auto head = [](const fmav::HostTensor& x) { return fmav::to_tensor(x).narrow(1, 1, 1); };
        const at::Tensor ref = fmav::fma_reference_map(head(s.q), head(s.k), head(s.v), s.config, w)[0][0];
        const at::Tensor got = at::tensor(ins.fma_map, at::kDouble).view({n, n});
        EXPECT_LT(max_abs_diff(ref, got), 1e-12) << kind << " n=" << n << " causal=" << causal;
        EXPECT_LT((got.sum(1) - 1).abs().max().item<double>(), 1e-12);
        EXPECT_LT((at::tensor(ins.full_map, at::kDouble).view({n, n}).sum(1) - 1).abs().max().item<double>(), 1e-12);
        // Mass per level: the map's entries in that level's region, and 1 in total.
        for (std::int64_t i = 0; i < n; ++i) {
          std::vector<double> by_level(ins.num_levels + 1, 0.0), full_by_level(ins.num_levels + 1, 0.0);
          for (std::int64_t t = 0; t < n; ++t) {
            const int level = ins.level_map[i * n + t];
            ASSERT_EQ(level, naive_level(i, t, n, c));
            if (level >= 0) by_level[level] += ins.fma_map[i * n + t], full_by_level[level] += ins.full_map[i * n + t];
            else ASSERT_EQ(ins.fma_map[i * n + t], 0.0) << "masked pair (" << i << ", " << t << ") has mass";
          }
          // Full attention's mass on the same keys: FMA covers every key it may see, so 1 in all.
          double full_total = 0;
          for (int l = 0; l <= ins.num_levels; ++l) {
            EXPECT_NEAR(ins.level_mass[i * (ins.num_levels + 1) + l], by_level[l], 1e-12);
            EXPECT_NEAR(ins.full_level_mass[i * (ins.num_levels + 1) + l], full_by_level[l], 1e-12);
            full_total += ins.full_level_mass[i * (ins.num_levels + 1) + l];
          }
          EXPECT_NEAR(full_total, 1.0, 1e-12);
        }
      }
    }
  }
}

TEST(Inspect, TilesAreWindowsOfTheWholeMap) {
  NaiveConfig c{4, 2, false, "learned", true};
  const Problem s = make_setup(c, 100, 4);
  const fmav::Inspection whole = fmav::inspect(s.q, s.k, s.v, s.config, s.set, {});
  fmav::InspectRequest req;
  req.row_begin = 30, req.row_end = 45, req.col_begin = 60, req.col_end = 100;
  const fmav::Inspection tile = fmav::inspect(s.q, s.k, s.v, s.config, s.set, req);
  ASSERT_EQ(tile.rows, 15);
  ASSERT_EQ(tile.cols, 40);
  for (std::int64_t r = 0; r < 15; ++r) {
    for (std::int64_t col = 0; col < 40; ++col) {
      // Products over different row counts may round differently: ulp-level tolerance.
      EXPECT_NEAR(tile.fma_map[r * 40 + col], whole.fma_map[(30 + r) * 100 + 60 + col], 1e-15);
      EXPECT_NEAR(tile.full_map[r * 40 + col], whole.full_map[(30 + r) * 100 + 60 + col], 1e-15);
      EXPECT_EQ(tile.level_map[r * 40 + col], whole.level_map[(30 + r) * 100 + 60 + col]);
    }
    EXPECT_NEAR(tile.row_tv[r], whole.row_tv[30 + r], 1e-14);
    for (int l = 0; l <= whole.num_levels; ++l) {  // per row, over all keys, whatever the tile's columns
      const std::size_t L1 = whole.num_levels + 1;
      EXPECT_NEAR(tile.full_level_mass[r * L1 + l], whole.full_level_mass[(30 + r) * L1 + l], 1e-14);
    }
  }
  EXPECT_EQ(tile.output_rel_error, whole.output_rel_error);
}

TEST(Inspect, PooledOverviewIsTheMeanOfItsBlocks) {
  for (bool causal : {false, true}) {
    NaiveConfig c{4, 2, causal, "learned", true};
    const Problem s = make_setup(c, 101, 4);  // 101 = 5 * 20 + 1: a last block of one row and column
    const fmav::Inspector inspector(s.q, s.k, s.v, s.config, s.set, {});
    const fmav::Inspection whole = inspector.map({});
    fmav::InspectRequest req;
    req.pool = 5;
    const fmav::Inspection pooled = inspector.map(req);
    ASSERT_EQ(pooled.rows, 21);
    ASSERT_EQ(pooled.cols, 21);
    ASSERT_EQ(pooled.pool, 5);
    const std::int64_t n = 101, L1 = whole.num_levels + 1;
    for (std::int64_t a = 0; a < 21; ++a) {
      const std::int64_t i0 = a * 5, i1 = std::min<std::int64_t>(i0 + 5, n);
      double tv = 0;
      for (std::int64_t i = i0; i < i1; ++i) tv += whole.row_tv[i] / (i1 - i0);
      EXPECT_NEAR(pooled.row_tv[a], tv, 1e-14);
      for (std::int64_t l = 0; l < L1; ++l) {
        double mass = 0;
        for (std::int64_t i = i0; i < i1; ++i) mass += whole.level_mass[i * L1 + l] / (i1 - i0);
        EXPECT_NEAR(pooled.level_mass[a * L1 + l], mass, 1e-14);
      }
      for (std::int64_t b = 0; b < 21; ++b) {
        const std::int64_t t0 = b * 5, t1 = std::min<std::int64_t>(t0 + 5, n);
        double fma = 0, full = 0;
        int finest = -1;
        for (std::int64_t i = i0; i < i1; ++i) {
          for (std::int64_t t = t0; t < t1; ++t) {
            fma += whole.fma_map[i * n + t], full += whole.full_map[i * n + t];
            const int level = whole.level_map[i * n + t];
            if (level >= 0 && (finest < 0 || level < finest)) finest = level;
          }
        }
        const double cells = static_cast<double>((i1 - i0) * (t1 - t0));
        EXPECT_NEAR(pooled.fma_map[a * 21 + b], fma / cells, 1e-15) << a << "," << b;
        EXPECT_NEAR(pooled.full_map[a * 21 + b], full / cells, 1e-15) << a << "," << b;
        EXPECT_EQ(pooled.level_map[a * 21 + b], finest) << a << "," << b;
      }
    }
    EXPECT_EQ(pooled.output_rel_error, whole.output_rel_error);
  }
}

TEST(Inspect, ProgressReportsBandsAndCancels) {
  NaiveConfig c{4, 2, false, "average", true};
  const Problem s = make_setup(c, 64, 4);
  const fmav::Inspector inspector(s.q, s.k, s.v, s.config, s.set, {});
  fmav::InspectRequest req;
  std::int64_t last = 0, total = 0;
  req.progress = [&](std::int64_t done, std::int64_t all) {
    EXPECT_GT(done, last);
    last = done, total = all;
    return true;
  };
  inspector.map(req);
  EXPECT_EQ(last, 64);
  EXPECT_EQ(total, 64);
  req.progress = [](std::int64_t, std::int64_t) { return false; };
  EXPECT_THROW(inspector.map(req), fmav::Cancelled);
}

TEST(Inspect, FmaOutputIsTheBlockedFloat64Output) {
  NaiveConfig c{4, 2, true, "learned", true};
  const Problem s = make_setup(c, 50, 4);
  fmav::InspectRequest which;
  which.head = 1;
  const fmav::Inspector inspector(s.q, s.k, s.v, s.config, s.set, which);
  const auto head = [](const fmav::HostTensor& x) { return fmav::head_of(x, 0, 1, fmav::DType::f64); };
  fmav::AttendOptions options;
  options.impl = fmav::Impl::blocked, options.fma = s.config;
  const fmav::HostTensor want = fmav::attend(head(s.q), head(s.k), head(s.v), options, s.set);
  const fmav::HostTensor got = inspector.fma_output();
  ASSERT_EQ(got.shape, (std::vector<std::int64_t>{1, 1, 50, 4}));
  EXPECT_LT(max_abs_diff(fmav::to_tensor(want), fmav::to_tensor(got)), 1e-13);
}

TEST(Inspect, HeadOfCopiesOneHead) {
  const fmav::HostTensor x = fmav::to_host(random_bhnd(2, 3, 5, 4, 7));
  const fmav::HostTensor h = fmav::head_of(x, 1, 2, fmav::DType::f64);
  ASSERT_EQ(h.shape, (std::vector<std::int64_t>{1, 1, 5, 4}));
  EXPECT_EQ(max_abs_diff(fmav::to_tensor(h)[0][0], fmav::to_tensor(x)[1][2].to(at::kDouble)), 0.0);
  EXPECT_EQ(fmav::head_of(x, 0, 0, fmav::DType::f32).dtype, fmav::DType::f32);
  expect_error([&] { fmav::head_of(x, 2, 0, fmav::DType::f32); }, "batch 2 outside [0, 2)");
  expect_error([&] { fmav::head_of(x, 0, 3, fmav::DType::f32); }, "head 3 outside [0, 3)");
  expect_error([&] { fmav::head_of(x, 0, 0, fmav::DType::i32); }, "dtype must be F32 or F64, got I32");
}

TEST(Inspect, MetricsVanishWhenFmaIsExact) {
  NaiveConfig c{16, 4, true, "learned", true};
  const Problem s = make_setup(c, 32, 8);  // N <= 2m: FMA is full attention
  const fmav::Inspection ins = fmav::inspect(s.q, s.k, s.v, s.config, s.set, {});
  EXPECT_LT(ins.output_rel_error, 1e-12);
  for (std::int64_t r = 0; r < ins.rows; ++r) {
    EXPECT_LT(ins.row_tv[r], 1e-12);
    EXPECT_LT(std::abs(ins.row_kl[r]), 1e-12);
    EXPECT_EQ(ins.row_topk[r], 1.0);
  }
}

TEST(Inspect, MetricsSeeTheApproximation) {
  NaiveConfig c{4, 1, false, "average", true};
  const Problem s = make_setup(c, 256, 8);
  const fmav::Inspection ins = fmav::inspect(s.q, s.k, s.v, s.config, s.set, {});
  const double mean_tv = std::accumulate(ins.row_tv.begin(), ins.row_tv.end(), 0.0) / ins.rows;
  EXPECT_GT(mean_tv, 1e-3);
  EXPECT_LT(mean_tv, 1.0);
  EXPECT_GT(ins.output_rel_error, 1e-3);
}

// A row that meets NaN or Inf has NaN metrics, never the KL 0 / overlap 1 that comparing NaN
// with NaN gives; the other rows keep theirs (issue 22.3).
TEST(Inspect, NonFiniteRowsHaveNoMetrics) {
  NaiveConfig c{8, 2, false, "average", true};
  const std::int64_t n = 64, d = 4;
  Problem s = make_setup(c, n, d);
  s.q.f64()[(0 * n + 5) * d + 1] = std::numeric_limits<double>::quiet_NaN();  // head 0, token 5
  fmav::InspectRequest req;
  for (std::int64_t pool : {1, 4}) {
    req.pool = pool;
    const fmav::Inspection ins = fmav::inspect(s.q, s.k, s.v, s.config, s.set, req);
    for (std::int64_t r = 0; r < ins.rows; ++r) {
      const bool bad = r == 5 / pool;
      EXPECT_EQ(std::isnan(ins.row_tv[r]), bad) << "pool " << pool << " row " << r;
      EXPECT_EQ(std::isnan(ins.row_kl[r]), bad) << "pool " << pool << " row " << r;
      EXPECT_EQ(std::isnan(ins.row_topk[r]), bad) << "pool " << pool << " row " << r;
    }
  }
  std::fill(s.q.f64(), s.q.f64() + s.q.numel(), std::numeric_limits<double>::quiet_NaN());
  s.k.f64()[3] = std::numeric_limits<double>::infinity();
  req.pool = 1;
  const fmav::Inspection all = fmav::inspect(s.q, s.k, s.v, s.config, s.set, req);
  for (std::int64_t r = 0; r < all.rows; ++r) {
    EXPECT_TRUE(std::isnan(all.row_kl[r]) && std::isnan(all.row_topk[r]) && std::isnan(all.row_tv[r])) << r;
  }
}

TEST(Inspect, InputChecks) {
  NaiveConfig c{4, 2, false, "average", true};
  const Problem s = make_setup(c, 20, 4);
  fmav::InspectRequest req;
  req.head = 2;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); }, "head 2 outside [0, 2)");
  req = {};
  req.batch = -1;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); }, "batch -1 outside [0, 1)");
  req = {};
  req.row_begin = 5, req.row_end = 5;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); },
               "row range [5, 5) must be non-empty and inside [0, 20)");
  req = {};
  req.col_end = 21;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); },
               "column range [0, 21) must be non-empty and inside [0, 20)");
  req = {};
  req.top_k = 0;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); }, "top_k must be >= 1, got 0");
  req = {};
  req.pool = 0;
  expect_error([&] { fmav::inspect(s.q, s.k, s.v, s.config, s.set, req); }, "pool must be >= 1, got 0");
  expect_error([] { fmav::Inspector().map({}); }, "the inspector is empty");
}

}  // namespace
