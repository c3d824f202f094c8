// FMA2D (docs/DESIGN.md §4) and FMA2D-linear: the geometry's lists cover every pair exactly once,
// the separable down-sampling against plain loops, the blocked paths (Morton order) against
// the dense reference (row-major), gradients, exactness checks, inspection and input checks.

#include <gtest/gtest.h>

#include <cmath>

#include "fmav/attend.h"
#include "fmav/fma2d.h"
#include "fmav/inspect.h"
#include "test_util.h"

namespace {

using namespace fmav_test;

fmav::FmaConfig grid_config(std::int64_t h, std::int64_t w, std::int64_t r, std::int64_t p, const char* kind,
                            bool linear, bool mult = true) {
  fmav::FmaConfig c;
  c.grid_height = h, c.grid_width = w, c.block_size = r, c.rank = p;
  c.downsample = fmav::parse_downsample(kind);
  c.linear = linear, c.count_multiplicity = mult;
  return c;
}

std::string describe(const fmav::FmaConfig& c) {
  return std::string(fmav::variant_name(c)) + " " + std::to_string(c.grid_height) + "x" +
         std::to_string(c.grid_width) + " r=" + std::to_string(c.block_size) + " p=" + std::to_string(c.rank) +
         " " + fmav::to_string(c.downsample) + (c.count_multiplicity ? "" : " no-multiplicity");
}

// ---- geometry ----

TEST(Fma2dGeometry, PaddingAndLevels) {
  const fmav::Levels2d a = fmav::make_levels_2d(14, 14, 4);  // 14 -> 16 = 4 * 2^2
  EXPECT_EQ(a.side, 16);
  EXPECT_EQ(a.num_levels, 1);
  EXPECT_EQ(a.cells(1), 4);
  const fmav::Levels2d b = fmav::make_levels_2d(3, 100, 2);  // 100 -> 128 = 2 * 2^6
  EXPECT_EQ(b.side, 128);
  EXPECT_EQ(b.num_levels, 5);
  EXPECT_EQ(b.cell_side(5), 32);
  EXPECT_EQ(fmav::make_levels_2d(1, 1, 8).num_levels, 0);
  EXPECT_EQ(fmav::rank_side(9), 3);
  EXPECT_EQ(fmav::rank_side(8), 0);
}

TEST(Fma2dGeometry, ListsCoverEveryPairExactlyOnce) {
  const std::vector<std::array<std::int64_t, 3>> grids = {{16, 16, 2}, {13, 7, 2}, {9, 30, 3}, {32, 32, 4}, {5, 5, 8}};
  for (const auto& [H, W, r] : grids) {
    const fmav::Levels2d lv = fmav::make_levels_2d(H, W, r);
    std::int64_t near[fmav::kNearCells2d][2], far[fmav::kFarCells2d][2];
    fmav::near_cells_2d(near);
    std::vector<int> count(lv.n()), level(lv.n());
    const auto cover = [&](std::int64_t cy, std::int64_t cx, std::int64_t side, int l) {
      for (std::int64_t y = cy * side; y < (cy + 1) * side; ++y) {
        for (std::int64_t x = cx * side; x < (cx + 1) * side; ++x) {
          if (cy < 0 || cx < 0 || y >= H || x >= W) continue;
          ++count[y * W + x];
          level[y * W + x] = l;
        }
      }
    };
    for (std::int64_t i = 0; i < lv.n(); ++i) {
      std::fill(count.begin(), count.end(), 0);
      const std::int64_t y = i / W, x = i % W;
      for (const auto& o : near) cover(y / r + o[0], x / r + o[1], r, 0);
      for (int l = 1; l <= lv.num_levels; ++l) {
        const std::int64_t c = lv.cell_side(l);
        fmav::far_cells_2d(y / c, x / c, far);
        for (const auto& o : far) cover(y / c + o[0], x / c + o[1], c, l);
      }
      for (std::int64_t t = 0; t < lv.n(); ++t) {
        ASSERT_EQ(count[t], 1) << H << "x" << W << " r=" << r << " pair (" << i << ", " << t << ")";
        ASSERT_EQ(fmav::level_of_2d(lv, i, t), level[t]) << H << "x" << W << " pair (" << i << ", " << t << ")";
      }
    }
  }
}

// ---- down-sampling ----

TEST(Fma2d, SeparableSummariesMatchPlainLoops) {
  const std::int64_t H = 11, W = 6, r = 2, p = 3, D = 2;
  const fmav::FmaConfig c = grid_config(H, W, r, p, "learned", false);
  const VariantInputs in = make_variant_inputs(c, 1, 1, H * W, D, 3);
  const std::vector<at::Tensor> got = fmav::summarize_levels(in.k, c, in.weights, fmav::Stream::k);
  const fmav::Levels2d lv = fmav::make_levels_2d(H, W, r);
  ASSERT_EQ(static_cast<int>(got.size()), lv.num_levels);
  const std::vector<double> k = flat(in.k);
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t side = lv.cell_side(l), cells = lv.cells(l);
    const std::string name = "level" + std::to_string(l) + ".k.";
    const std::vector<double> wr = flat(fmav::to_tensor(in.set.at(name + "row.weight")));
    const std::vector<double> wc = flat(fmav::to_tensor(in.set.at(name + "col.weight")));
    const std::vector<double> b = flat(fmav::to_tensor(in.set.at(name + "bias")));
    const at::Tensor g = got[l - 1][0][0];  // (cells^2, p, D)
    for (std::int64_t cy = 0; cy < cells; ++cy) {
      for (std::int64_t cx = 0; cx < cells; ++cx) {
        for (std::int64_t j = 0; j < p; ++j) {
          for (std::int64_t ch = 0; ch < D; ++ch) {
            double sum = b[ch * p + j];
            for (std::int64_t y = 0; y < side; ++y) {
              for (std::int64_t x = 0; x < side; ++x) {
                const std::int64_t ty = cy * side + y, tx = cx * side + x;
                if (ty >= H || tx >= W) continue;
                sum += wc[(ch * p + j) * side + y] * wr[(ch * p + j) * side + x] * k[(ty * W + tx) * D + ch];
              }
            }
            EXPECT_NEAR(g[cy * cells + cx][j][ch].item<double>(), sum, 1e-12) << "level " << l;
          }
        }
      }
    }
  }
}

// ---- blocked vs reference ----

std::vector<fmav::FmaConfig> configs_to_check() {
  std::vector<fmav::FmaConfig> out;
  const std::vector<std::array<std::int64_t, 3>> grids = {{1, 1, 2}, {5, 7, 2}, {8, 8, 2}, {13, 3, 2},
                                                          {16, 16, 2}, {11, 20, 4}, {9, 9, 4}};
  for (const auto& [H, W, r] : grids) {
    for (bool linear : {false, true}) {
      for (const char* kind : {"learned", "average"}) {
        for (std::int64_t p : {1, 4}) {
          out.push_back(grid_config(H, W, r, p, kind, linear, true));
        }
      }
      out.push_back(grid_config(H, W, r, 4, "average", linear, false));
    }
    out.push_back(grid_config(H, W, r, 3, "learned", false, true));  // any rank without sub-windows
  }
  return out;
}

TEST(Fma2d, BlockedMatchesReferenceFloat64) {
  for (const fmav::FmaConfig& c : configs_to_check()) {
    const std::int64_t n = c.grid_height * c.grid_width;
    const VariantInputs in = make_variant_inputs(c, 1, 2, n, 5, 100 + n);
    const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, c, in.weights);
    const at::Tensor out = fmav::fma_blocked(in.q, in.k, in.v, c, in.weights);
    ASSERT_EQ(out.sizes(), in.q.sizes());
    EXPECT_LT(max_abs_diff(ref, out), 1e-12) << describe(c);
    if (c.linear) {  // the one-softmax form of the linear variant (inspection's) agrees too
      const at::Tensor probs_out = fmav::fma_slot_probabilities(in.q, in.k, in.v, c, in.weights).out;
      EXPECT_LT(max_abs_diff(ref, probs_out), 1e-12) << describe(c);
    }
  }
}

TEST(Fma2d, BlockedMatchesReferenceOnALargerGridFloat32) {
  for (bool linear : {false, true}) {
    const fmav::FmaConfig c = grid_config(30, 32, 4, 4, "learned", linear);  // L = 2
    const VariantInputs in = make_variant_inputs(c, 1, 2, 30 * 32, 16, 9, at::kFloat);
    const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, c, in.weights);
    const at::Tensor out = fmav::fma_blocked(in.q, in.k, in.v, c, in.weights);
    EXPECT_EQ(out.scalar_type(), at::kFloat);
    EXPECT_LT(max_abs_diff(ref, out), 2e-5) << describe(c);
  }
}

TEST(Fma2d, GradientsMatchReferenceFloat64) {
  for (bool linear : {false, true}) {
    for (const char* kind : {"learned", "average"}) {
      for (const auto& [H, W] : std::vector<std::pair<std::int64_t, std::int64_t>>{{7, 10}, {16, 16}}) {
        const fmav::FmaConfig c = grid_config(H, W, 2, 4, kind, linear);
        const VariantInputs in = make_variant_inputs(c, 1, 2, H * W, 3, 11);
        const at::Tensor upstream = random_bhnd(1, 2, H * W, 3, 12);
        const std::vector<at::Tensor> ref = all_gradients(fmav::fma_reference, in, upstream);
        const std::vector<at::Tensor> got = all_gradients(fmav::fma_blocked, in, upstream);
        ASSERT_EQ(ref.size(), got.size());
        for (std::size_t i = 0; i < ref.size(); ++i) {
          EXPECT_LT(max_abs_diff(ref[i], got[i]), 1e-11) << describe(c) << " leaf " << i;
        }
      }
    }
  }
}

// ---- exactness ----

TEST(Fma2d, ExactWhenTheNearFieldCoversTheGrid) {
  for (const auto& [H, W] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {8, 8}, {3, 8}, {5, 2}}) {
    for (bool linear : {false, true}) {
      const fmav::FmaConfig c = grid_config(H, W, 4, 4, "learned", linear);  // sides <= 2r
      const VariantInputs in = make_variant_inputs(c, 1, 2, H * W, 6, 5);
      const at::Tensor full = fmav::full_attention_math(in.q, in.k, in.v, false);
      EXPECT_LT(max_abs_diff(fmav::fma_blocked(in.q, in.k, in.v, c, in.weights), full), 1e-12) << describe(c);
      EXPECT_LT(max_abs_diff(fmav::fma_reference(in.q, in.k, in.v, c, in.weights), full), 1e-12) << describe(c);
    }
  }
}

// Full softmax over all keys where a far pair at level l uses the mean key and value of the
// real tokens of the key's level-l cell (§2's check, in 2D), by plain loops.
std::vector<double> cell_expanded_attention(const std::vector<double>& q, const std::vector<double>& k,
                                            const std::vector<double>& v, const fmav::Levels2d& lv, std::int64_t d) {
  const std::int64_t n = lv.n(), W = lv.width;
  std::vector<double> out(n * d, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> scores(n), values(n * d);
    for (std::int64_t t = 0; t < n; ++t) {
      const int level = fmav::level_of_2d(lv, i, t);
      std::vector<double> key(d, 0.0), value(d, 0.0);
      const std::int64_t c = level == 0 ? 1 : lv.cell_side(level);
      const std::int64_t y0 = level == 0 ? t / W : (t / W) / c * c, x0 = level == 0 ? t % W : (t % W) / c * c;
      double members = 0;
      for (std::int64_t y = y0; y < std::min(y0 + c, lv.height); ++y) {
        for (std::int64_t x = x0; x < std::min(x0 + c, W); ++x, ++members) {
          for (std::int64_t e = 0; e < d; ++e) key[e] += k[(y * W + x) * d + e], value[e] += v[(y * W + x) * d + e];
        }
      }
      double s = 0;
      for (std::int64_t e = 0; e < d; ++e) s += q[i * d + e] * key[e] / members;
      scores[t] = s / std::sqrt(static_cast<double>(d));
      for (std::int64_t e = 0; e < d; ++e) values[t * d + e] = value[e] / members;
    }
    const double top = *std::max_element(scores.begin(), scores.end());
    double z = 0;
    for (std::int64_t t = 0; t < n; ++t) z += std::exp(scores[t] - top);
    for (std::int64_t t = 0; t < n; ++t) {
      const double pr = std::exp(scores[t] - top) / z;
      for (std::int64_t e = 0; e < d; ++e) out[i * d + e] += pr * values[t * d + e];
    }
  }
  return out;
}

TEST(Fma2d, AverageRankOneEqualsCellExpandedAttention) {
  for (const auto& [H, W] : std::vector<std::pair<std::int64_t, std::int64_t>>{{16, 16}, {13, 9}, {20, 6}}) {
    const fmav::FmaConfig c = grid_config(H, W, 2, 1, "average", false);
    const std::int64_t d = 4;
    const VariantInputs in = make_variant_inputs(c, 1, 1, H * W, d, 77);
    const fmav::Levels2d lv = fmav::make_levels_2d(H, W, 2);
    const at::Tensor expect =
        at::tensor(cell_expanded_attention(flat(in.q), flat(in.k), flat(in.v), lv, d), at::kDouble).view({1, 1, H * W, d});
    EXPECT_LT(max_abs_diff(fmav::fma_blocked(in.q, in.k, in.v, c, in.weights), expect), 1e-12) << describe(c);
    EXPECT_LT(max_abs_diff(fmav::fma_reference(in.q, in.k, in.v, c, in.weights), expect), 1e-12) << describe(c);
  }
}

TEST(Fma2d, LinearWithIdentityQueriesEqualsFma2d) {
  for (const char* kind : {"learned", "average"}) {
    fmav::FmaConfig c = grid_config(16, 12, 2, 4, kind, true);
    const VariantInputs in = make_variant_inputs(c, 1, 2, 16 * 12, 4, 8);
    fmav::FmaConfig plain = c;
    plain.linear = false;
    const at::Tensor fma2d = fmav::fma_reference(in.q, in.k, in.v, plain, in.weights);
    const at::Tensor fast = fmav::fma_linear_blocked(in.q, in.k, in.v, c, in.weights, fmav::QuerySource::identity);
    const at::Tensor ref = fmav::fma_reference_with_queries(in.q, in.k, in.v, c, in.weights, fmav::QuerySource::identity);
    EXPECT_LT(max_abs_diff(fast, fma2d), 1e-12) << describe(c);
    EXPECT_LT(max_abs_diff(ref, fma2d), 1e-12) << describe(c);
    // With real summaries the two differ: the check above is not vacuous.
    EXPECT_GT(max_abs_diff(fmav::fma_blocked(in.q, in.k, in.v, c, in.weights), fma2d), 1e-6) << describe(c);
  }
}

// ---- inspection ----

TEST(Fma2d, InspectionMapMatchesReferenceMap) {
  for (bool linear : {false, true}) {
    for (const char* kind : {"learned", "average"}) {
      const fmav::FmaConfig c = grid_config(10, 13, 2, 4, kind, linear);
      const std::int64_t n = 130, d = 4;
      const VariantInputs in = make_variant_inputs(c, 1, 2, n, d, 21);
      fmav::InspectRequest req;
      req.head = 1;
      const fmav::Inspection ins = fmav::inspect(fmav::to_host(in.q), fmav::to_host(in.k), fmav::to_host(in.v), c,
                                                 in.set, req);
      const auto head = [](const at::Tensor& x) { return x.narrow(1, 1, 1); };
      const at::Tensor ref = fmav::fma_reference_map(head(in.q), head(in.k), head(in.v), c, in.weights)[0][0];
      const at::Tensor got = at::tensor(ins.fma_map, at::kDouble).view({n, n});
      EXPECT_LT(max_abs_diff(ref, got), 1e-12) << describe(c);
      EXPECT_LT((got.sum(1) - 1).abs().max().item<double>(), 1e-12) << describe(c);
      const fmav::Levels2d lv = fmav::make_levels_2d(10, 13, 2);
      for (std::int64_t i = 0; i < n; i += 7) {
        double mass = 0;
        for (int l = 0; l <= ins.num_levels; ++l) mass += ins.level_mass[i * (ins.num_levels + 1) + l];
        EXPECT_NEAR(mass, 1.0, 1e-12);
        for (std::int64_t t = 0; t < n; ++t) ASSERT_EQ(ins.level_map[i * n + t], fmav::level_of_2d(lv, i, t));
      }
      const at::Tensor out = fmav::fma_reference(head(in.q), head(in.k), head(in.v), c, in.weights);
      const at::Tensor full = fmav::full_attention_math(head(in.q), head(in.k), head(in.v), false);
      EXPECT_NEAR(ins.output_rel_error, ((out - full).norm() / full.norm()).item<double>(), 1e-12);
    }
  }
}

// ---- input checks ----

TEST(Fma2d, InputChecks) {
  fmav::FmaConfig c = grid_config(8, 8, 4, 4, "learned", false);
  c.causal = true;
  expect_error([&] { fmav::validate(c); }, "FMA2D is bidirectional; causal is not supported on a grid");
  c.causal = false;
  c.downsample = fmav::Downsample::dense;
  expect_error([&] { fmav::validate(c); }, "FMA2D down-samples learned (separable) or average, got dense");
  c = grid_config(8, 8, 4, 2, "average", false);
  expect_error([&] { fmav::validate(c); },
               "fma2d with average down-sampling needs the rank p = s^2 with s dividing the cell side r, got r = 4, p = 2");
  c = grid_config(8, 8, 3, 4, "learned", true);
  expect_error([&] { fmav::validate(c); },
               "fma2d-linear with query down-sampling needs the rank p = s^2 with s dividing the cell side r, got r = 3");
  expect_error([] { fmav::make_levels_2d(0, 4, 2); }, "grid must be at least 1 x 1, got 0 x 4");
  std::int64_t h = 0, w = 0;
  for (const char* bad : {"32", "x4", "4x", "0x3", "3x-1", "axb", "4x4x4"}) {
    expect_error([&] { fmav::parse_grid(bad, &h, &w); }, std::string("grid must be HxW with sides >= 1 (e.g. 32x32), got '") + bad + "'");
  }
  fmav::parse_grid("14x9", &h, &w);
  EXPECT_EQ(h, 14);
  EXPECT_EQ(w, 9);

  fmav::AttendOptions opt;
  expect_error([&] { fmav::parse_method("fma2d", "", &opt); }, "fma2d needs a grid HxW of the tokens (row-major)");
  expect_error([&] { fmav::parse_method("fma", "4x4", &opt); }, "a grid (4x4) is for fma2d, fma2d-linear and swin, not fma");
  expect_error([&] { fmav::parse_method("flash", "", &opt); },
               "method must be fma, fma-linear, fma2d, fma2d-linear, full, htransformer, linear, reformer, local or swin, got 'flash'");
  fmav::parse_method("fma2d-linear", "4x6", &opt);
  EXPECT_STREQ(fmav::method_name(opt), "fma2d-linear");
  opt.fma.block_size = 2;
  opt.fma.rank = 1;
  const fmav::HostTensor x = fmav::to_host(random_bhnd(1, 1, 25, 4, 1));
  expect_error([&] { fmav::attend(x, x, x, opt, {}); }, "FMA2D on a 4 x 6 grid needs N = 24 tokens, got N = 25");
  const fmav::HostTensor y = fmav::to_host(random_bhnd(1, 1, 24, 4, 1));
  opt.impl = fmav::Impl::fused;
  expect_error([&] { fmav::attend(y, y, y, opt, {}); }, "the fused kernels are 1D (fma, fma-linear); fma2d-linear runs blocked or reference");
  opt.impl = fmav::Impl::automatic;
  fmav::parse_method("fma2d", "16x16", &opt);
  const fmav::HostTensor z = fmav::to_host(random_bhnd(1, 1, 256, 4, 1));
  fmav::WeightSet set = fmav::random_downsample_weights(opt.fma, 4, 2, 1);
  set.erase("level2.v.col.weight");
  expect_error([&] { fmav::attend(z, z, z, opt, set); },
               "weights lack 'level2.v.col.weight': fma2d with learned down-sampling at this N and block size needs levels 1..2");
  set = fmav::random_downsample_weights(opt.fma, 4, 2, 1);
  set["level1.k.row.weight"] = fmav::make_host_tensor(fmav::DType::f32, {1, 1, 2});
  expect_error([&] { fmav::attend(z, z, z, opt, set); },
               "weights: level1.k.row.weight must be [4, 1, 2] for learned down-sampling with p = 1, got [1, 1, 2]");
}

}  // namespace
