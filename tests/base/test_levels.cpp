// The level geometry of docs/DESIGN.md §2: padding, level counts, and interaction lists that
// cover every (query, key) pair exactly once.

#include <gtest/gtest.h>

#include <vector>

#include "fmav/fma.h"
#include "naive_fma.h"
#include "test_helpers.h"

namespace {

using fmav_test::expect_error;

TEST(Levels, PaddingAndLevelCounts) {
  const fmav::Levels a = fmav::make_levels(1, 64);
  EXPECT_EQ(a.n_pad, 64);
  EXPECT_EQ(a.num_levels, 0);
  const fmav::Levels b = fmav::make_levels(128, 64);
  EXPECT_EQ(b.n_pad, 128);
  EXPECT_EQ(b.num_levels, 0);
  const fmav::Levels c = fmav::make_levels(1000, 64);  // 1024 = 64 * 2^4
  EXPECT_EQ(c.n_pad, 1024);
  EXPECT_EQ(c.num_blocks, 16);
  EXPECT_EQ(c.num_levels, 3);
  EXPECT_EQ(c.width(1), 64);
  EXPECT_EQ(c.width(3), 256);  // N / 4
  EXPECT_EQ(c.groups(3), 4);
}

TEST(Levels, InputChecks) {
  expect_error([] { fmav::make_levels(0, 64); }, "sequence length N must be >= 1, got 0");
  expect_error([] { fmav::make_levels(10, 0); }, "block size m must be >= 1, got 0");
  expect_error([] { fmav::make_levels(INT64_MAX, 3); }, "too large");
  fmav::FmaConfig config;
  config.rank = 0;
  expect_error([&] { fmav::validate(config); }, "rank p must be >= 1, got 0");
  config.rank = 3;
  config.block_size = 16;
  config.downsample = fmav::Downsample::average;
  expect_error([&] { fmav::validate(config); }, "rank p to divide the block size m, got m = 16, p = 3");
  expect_error([] { fmav::parse_downsample("conv"); }, "downsample must be learned, average or dense, got 'conv'");
}

// Counts, for every pair, how many slots of the lists (near blocks, far groups) cover it.
void expect_exact_cover(std::int64_t n, std::int64_t m, bool causal) {
  const fmav::Levels lv = fmav::make_levels(n, m);
  const std::int64_t np = lv.n_pad;
  std::vector<int> count(np * np, 0);
  std::int64_t offsets[3];
  for (std::int64_t i = 0; i < np; ++i) {
    const int near = fmav::near_offsets(causal, offsets);
    for (int o = 0; o < near; ++o) {
      const std::int64_t b = i / m + offsets[o];
      if (b < 0 || b >= lv.num_blocks) continue;
      for (std::int64_t t = b * m; t < (b + 1) * m; ++t) {
        if (!causal || t <= i) ++count[i * np + t];
      }
    }
    for (int l = 1; l <= lv.num_levels; ++l) {
      const std::int64_t w = lv.width(l), g = i / w;
      const int far = fmav::far_offsets(g, causal, offsets);
      for (int f = 0; f < far; ++f) {
        const std::int64_t h = g + offsets[f];
        if (h < 0 || h >= lv.groups(l)) continue;
        for (std::int64_t t = h * w; t < (h + 1) * w; ++t) {
          ASSERT_FALSE(causal && t > i) << "causal list of query " << i << " reaches key " << t;
          ++count[i * np + t];
        }
      }
    }
  }
  for (std::int64_t i = 0; i < np; ++i) {
    for (std::int64_t t = 0; t < np; ++t) {
      const int expected = causal && t > i ? 0 : 1;
      ASSERT_EQ(count[i * np + t], expected) << "pair (" << i << ", " << t << "), N_pad = " << np;
    }
  }
}

TEST(Levels, ListsCoverEveryPairExactlyOnce) {
  for (bool causal : {false, true}) {
    for (std::int64_t n : {1, 7, 64, 97, 256, 1000}) {
      for (std::int64_t m : {1, 4, 16}) expect_exact_cover(n, m, causal);
    }
  }
}

TEST(Levels, LevelOfMatchesTheIndependentRules) {
  for (bool causal : {false, true}) {
    for (std::int64_t n : {5, 97, 300}) {
      for (std::int64_t m : {2, 8}) {
        fmav_test::NaiveConfig c;
        c.m = m, c.causal = causal;
        const fmav::Levels lv = fmav::make_levels(n, m);
        for (std::int64_t i = 0; i < n; ++i) {
          for (std::int64_t t = 0; t < n; ++t) {
            ASSERT_EQ(fmav::level_of(lv, causal, i, t), fmav_test::naive_level(i, t, n, c))
                << "(" << i << ", " << t << ") n=" << n << " m=" << m << " causal=" << causal;
          }
        }
      }
    }
  }
}

TEST(Levels, SlotMultiplicityCountsRealTokens) {
  fmav::FmaConfig config;
  config.block_size = 8;
  config.rank = 2;
  const fmav::Levels lv = fmav::make_levels(50, 8);  // n_pad 64, level 2 width 16
  EXPECT_DOUBLE_EQ(fmav::slot_multiplicity(lv, config, 2, 0, 0), 8.0);   // 16 real / p
  EXPECT_DOUBLE_EQ(fmav::slot_multiplicity(lv, config, 2, 3, 1), 1.0);   // 48..50: 2 real / p
  config.downsample = fmav::Downsample::average;
  EXPECT_DOUBLE_EQ(fmav::slot_multiplicity(lv, config, 2, 3, 0), 2.0);   // 48..56 -> 48..50
  EXPECT_DOUBLE_EQ(fmav::slot_multiplicity(lv, config, 2, 3, 1), 0.0);   // 56..64: none, masked
  std::int64_t b = 0, e = 0;
  fmav::slot_span(lv, config, 2, 3, 0, &b, &e);
  EXPECT_EQ(b, 48);
  EXPECT_EQ(e, 50);
}

}  // namespace
