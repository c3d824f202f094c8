// FMA-linear (docs/DESIGN.md §3): the O(N) push-down against the dense reference (outputs and
// gradients), the identity limit in which it is FMA-1D, causal leakage, exactness, the
// inspection map, and the input checks.

#include <gtest/gtest.h>

#include "fmav/attend.h"
#include "fmav/inspect.h"
#include "test_util.h"

namespace {

using namespace fmav_test;

fmav::FmaConfig linear_config(std::int64_t m, std::int64_t p, bool causal, const char* kind, bool mult = true) {
  fmav::FmaConfig c;
  c.block_size = m, c.rank = p, c.causal = causal, c.count_multiplicity = mult, c.linear = true;
  c.downsample = fmav::parse_downsample(kind);
  return c;
}

std::string describe(const fmav::FmaConfig& c, std::int64_t n) {
  return "N=" + std::to_string(n) + " m=" + std::to_string(c.block_size) + " p=" + std::to_string(c.rank) + " " +
         fmav::to_string(c.downsample) + (c.causal ? " causal" : " bidirectional") +
         (c.count_multiplicity ? "" : " no-multiplicity");
}

TEST(FmaLinear, BlockedMatchesReferenceFloat64) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> mp = {{16, 4}, {8, 2}, {4, 1}};
  for (std::int64_t n : {1, 7, 64, 97, 1000, 1025}) {
    for (const auto& [m, p] : mp) {
      if (n == 1025 && m != 16) continue;  // the dense reference is O(N^2)
      for (bool causal : {false, true}) {
        for (const char* kind : {"learned", "average", "dense"}) {
          for (bool mult : {true, false}) {
            const fmav::FmaConfig c = linear_config(m, p, causal, kind, mult);
            const VariantInputs in = make_variant_inputs(c, 1, 2, n, 6, 200 + n);
            const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, c, in.weights);
            const at::Tensor out = fmav::fma_blocked(in.q, in.k, in.v, c, in.weights);
            ASSERT_EQ(out.sizes(), in.q.sizes());
            ASSERT_LT(max_abs_diff(ref, out), 1e-12) << describe(c, n);
            ASSERT_LT(max_abs_diff(ref, fmav::fma_linear_fused(in.q, in.k, in.v, c, in.weights)), 1e-12)
                << "fused " << describe(c, n);
            const at::Tensor probs_out = fmav::fma_slot_probabilities(in.q, in.k, in.v, c, in.weights).out;
            ASSERT_LT(max_abs_diff(ref, probs_out), 1e-12) << "slot probabilities " << describe(c, n);
          }
        }
      }
    }
  }
}

TEST(FmaLinear, BlockedMatchesReferenceFloat32) {
  for (bool causal : {false, true}) {
    const fmav::FmaConfig c = linear_config(16, 4, causal, "learned");
    const VariantInputs in = make_variant_inputs(c, 2, 2, 1000, 16, 7, at::kFloat);
    const at::Tensor ref = fmav::fma_reference(in.q, in.k, in.v, c, in.weights);
    for (const at::Tensor& out : {fmav::fma_blocked(in.q, in.k, in.v, c, in.weights),
                                  fmav::fma_linear_fused(in.q, in.k, in.v, c, in.weights)}) {
      EXPECT_EQ(out.scalar_type(), at::kFloat);
      EXPECT_LT(max_abs_diff(ref, out), 2e-5) << describe(c, 1000);
    }
  }
}

TEST(FmaLinear, GradientsMatchReferenceFloat64) {
  for (std::int64_t n : {7, 97, 200}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average", "dense"}) {
        const fmav::FmaConfig c = linear_config(8, 2, causal, kind);
        const VariantInputs in = make_variant_inputs(c, 1, 2, n, 4, 11);
        const at::Tensor upstream = random_bhnd(1, 2, n, 4, 12);
        const std::vector<at::Tensor> ref = all_gradients(fmav::fma_reference, in, upstream);
        for (const auto& [name, fn] : std::vector<std::pair<const char*, VariantFn>>{
                 {"blocked", fmav::fma_blocked}, {"fused", fmav::fma_linear_fused}}) {
          const std::vector<at::Tensor> got = all_gradients(fn, in, upstream);
          ASSERT_EQ(ref.size(), got.size());
          for (std::size_t i = 0; i < ref.size(); ++i) {
            EXPECT_LT(max_abs_diff(ref[i], got[i]), 1e-11) << name << " " << describe(c, n) << " leaf " << i;
          }
        }
      }
    }
  }
}

// §3's limit: when every query is its own summary, FMA-linear is FMA-1D.
TEST(FmaLinear, IdentityQueriesGiveFma1d) {
  for (std::int64_t n : {97, 512}) {
    for (bool causal : {false, true}) {
      for (const char* kind : {"learned", "average"}) {
        const fmav::FmaConfig c = linear_config(8, 2, causal, kind);
        const VariantInputs in = make_variant_inputs(c, 1, 2, n, 5, 31);
        fmav::FmaConfig plain = c;
        plain.linear = false;
        const at::Tensor fma = fmav::fma_fused(in.q, in.k, in.v, plain, in.weights);
        const at::Tensor fast = fmav::fma_linear_blocked(in.q, in.k, in.v, c, in.weights, fmav::QuerySource::identity);
        const at::Tensor ref = fmav::fma_reference_with_queries(in.q, in.k, in.v, c, in.weights, fmav::QuerySource::identity);
        EXPECT_LT(max_abs_diff(fast, fma), 1e-12) << describe(c, n);
        EXPECT_LT(max_abs_diff(ref, fma), 1e-12) << describe(c, n);
        EXPECT_GT(max_abs_diff(fmav::fma_blocked(in.q, in.k, in.v, c, in.weights), fma), 1e-6)
            << "summary queries should differ from FMA-1D: " << describe(c, n);
      }
    }
  }
}

TEST(FmaLinear, CausalOutputsIgnoreTheFutureBitForBit) {
  for (const char* kind : {"learned", "average", "dense"}) {
    for (std::int64_t n : {97, 1000}) {
      const fmav::FmaConfig c = linear_config(8, 2, true, kind);
      const VariantInputs in = make_variant_inputs(c, 1, 2, n, 8, 5, at::kFloat);
      for (std::int64_t cut : {std::int64_t{1}, n / 3, n / 2 + 3, n - 1}) {
        at::Tensor q2 = in.q.clone(), k2 = in.k.clone(), v2 = in.v.clone();
        for (at::Tensor* t : {&q2, &k2, &v2}) t->narrow(2, cut, n - cut).normal_(0.0, 10.0);
        for (const auto& [name, fn] : std::vector<std::pair<const char*, VariantFn>>{
                 {"blocked", fmav::fma_blocked}, {"fused", fmav::fma_linear_fused},
                 {"reference", fmav::fma_reference}}) {
          const at::Tensor a = fn(in.q, in.k, in.v, c, in.weights).narrow(2, 0, cut);
          const at::Tensor b = fn(q2, k2, v2, c, in.weights).narrow(2, 0, cut);
          EXPECT_TRUE(at::equal(a, b)) << name << " " << describe(c, n) << " cut=" << cut;
        }
      }
    }
  }
}

TEST(FmaLinear, ExactWhenTheNearFieldCoversEverything) {
  for (std::int64_t n : {1, 5, 16, 31, 32}) {  // N <= 2m with m = 16
    for (bool causal : {false, true}) {
      const fmav::FmaConfig c = linear_config(16, 4, causal, "learned");
      const VariantInputs in = make_variant_inputs(c, 2, 3, n, 8, 9);
      const at::Tensor full = fmav::full_attention_math(in.q, in.k, in.v, causal);
      EXPECT_LT(max_abs_diff(fmav::fma_blocked(in.q, in.k, in.v, c, in.weights), full), 1e-12) << describe(c, n);
      EXPECT_LT(max_abs_diff(fmav::fma_linear_fused(in.q, in.k, in.v, c, in.weights), full), 1e-12) << describe(c, n);
    }
  }
}

TEST(FmaLinear, InspectionMapMatchesReferenceMap) {
  for (bool causal : {false, true}) {
    for (const char* kind : {"learned", "average"}) {
      const fmav::FmaConfig c = linear_config(8, 2, causal, kind);
      const std::int64_t n = 150, d = 4;
      const VariantInputs in = make_variant_inputs(c, 1, 2, n, d, 23);
      fmav::InspectRequest req;
      req.head = 1, req.row_begin = 20, req.row_end = 90;
      const fmav::Inspection ins = fmav::inspect(fmav::to_host(in.q), fmav::to_host(in.k), fmav::to_host(in.v), c,
                                                 in.set, req);
      const auto head = [](const at::Tensor& x) { return x.narrow(1, 1, 1); };
      const at::Tensor ref = fmav::fma_reference_map(head(in.q), head(in.k), head(in.v), c, in.weights)[0][0];
      const at::Tensor got = at::tensor(ins.fma_map, at::kDouble).view({70, n});
      EXPECT_LT(max_abs_diff(ref.narrow(0, 20, 70), got), 1e-12) << describe(c, n);
      EXPECT_LT((got.sum(1) - 1).abs().max().item<double>(), 1e-12);
    }
  }
}

TEST(FmaLinear, InputChecks) {
  fmav::FmaConfig c = linear_config(8, 3, false, "learned");
  expect_error([&] { fmav::validate(c); },
               "fma-linear's query windows need the rank p to divide the block size m, got m = 8, p = 3");
  c = linear_config(8, 2, false, "learned");
  fmav::AttendOptions opt;
  fmav::parse_method("fma-linear", "", &opt);
  opt.fma = c;
  const fmav::HostTensor x = fmav::to_host(random_bhnd(1, 1, 64, 4, 1));
  fmav::WeightSet set = fmav::random_downsample_weights(c, 4, 2, 1);
  ASSERT_EQ(set.count("level2.q.bias"), 1u);
  set.erase("level2.q.bias");
  expect_error([&] { fmav::attend(x, x, x, opt, set); },
               "weights lack 'level2.q.bias': fma-linear with learned down-sampling at this N and block size needs levels 1..2");
  // K and V weights are shared with FMA-1D for one seed, so the two compare like for like.
  fmav::FmaConfig plain = c;
  plain.linear = false;
  const fmav::WeightSet fma_set = fmav::random_downsample_weights(plain, 4, 2, 1);
  const fmav::WeightSet lin_set = fmav::random_downsample_weights(c, 4, 2, 1);
  EXPECT_EQ(fma_set.size() + 4, lin_set.size());
  for (const auto& [name, t] : fma_set) EXPECT_TRUE(t.data == lin_set.at(name).data) << name;
}

}  // namespace
