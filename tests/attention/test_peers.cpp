// The paper's peers (peers.h, docs/METHODS.md): every fast path against the float64 dense
// reference (the map rows of each definition), the references against independent forms
// where one exists, causality, gradients, the inspector, and the input checks.

#include <cmath>
#include <limits>

#include "fmav/inspect.h"
#include "attention/peers.h"
#include "test_util.h"

namespace {

using fmav::AttendOptions;
using fmav::Method;
using fmav_test::max_abs_diff;
using fmav_test::random_bhnd;

AttendOptions peer(Method method, std::int64_t block, bool causal) {
  AttendOptions o;
  o.method = method;
  o.fma.block_size = block;
  o.fma.causal = causal;
  return o;
}

AttendOptions swin(std::int64_t h, std::int64_t w, std::int64_t window, bool shifted) {
  AttendOptions o = peer(Method::swin, window, false);
  o.fma.grid_height = h, o.fma.grid_width = w;
  o.peer.shifted = shifted;
  return o;
}

struct Qkv {
  at::Tensor q, k, v;
};
Qkv random_qkv(std::int64_t b, std::int64_t h, std::int64_t n, std::int64_t d, std::uint64_t seed,
               at::ScalarType dtype = at::kDouble) {
  return {random_bhnd(b, h, n, d, seed, dtype), random_bhnd(b, h, n, d, seed + 1, dtype),
          random_bhnd(b, h, n, d, seed + 2, dtype)};
}

// Dense masked softmax attention: scores (B, H, N, N) with -inf where hidden.
at::Tensor dense(const at::Tensor& scores, const at::Tensor& v) { return at::matmul(at::softmax(scores, -1), v); }

at::Tensor plain_scores(const Qkv& x) {
  return at::matmul(x.q, x.k.transpose(-1, -2)) / std::sqrt(static_cast<double>(x.q.size(3)));
}

// ---- every fast path against the dense reference ----

struct Case {
  AttendOptions options;
  std::int64_t n;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (bool causal : {false, true}) {
    for (std::int64_t n : {1, 7, 64, 97, 300}) {
      out.push_back({peer(Method::htransformer, 8, causal), n});
      out.push_back({peer(Method::linear, 1, causal), n});
      out.push_back({peer(Method::local, 16, causal), n});
      AttendOptions r = peer(Method::reformer, 16, causal);
      r.peer.hash_rounds = 3;
      out.push_back({r, n});
    }
  }
  for (const auto& [h, w, window] : {std::tuple{1, 1, 4}, {7, 9, 4}, {8, 8, 4}, {12, 10, 5}, {5, 5, 8}}) {
    out.push_back({swin(h, w, window, false), h * w});
    out.push_back({swin(h, w, window, true), h * w});
  }
  return out;
}

std::string describe(const Case& c) {
  return std::string(fmav::to_string(c.options.method)) + " n=" + std::to_string(c.n) + " block=" +
         std::to_string(c.options.fma.block_size) + (c.options.fma.causal ? " causal" : "") +
         (c.options.peer.shifted ? " shifted" : "");
}

TEST(Peers, FastPathsMatchTheDenseReferenceInFloat64) {
  for (const Case& c : cases()) {
    const Qkv x = random_qkv(2, 2, c.n, 6, 11 + c.n);
    const at::Tensor ref = fmav::peer_reference(x.q, x.k, x.v, c.options);
    const at::Tensor fast = fmav::peer_attention(x.q, x.k, x.v, c.options);
    EXPECT_LT(max_abs_diff(fast, ref), 1e-10) << describe(c);
  }
}

TEST(Peers, FastPathsInFloat32StayNearTheReference) {
  for (const Case& c : cases()) {
    const Qkv x = random_qkv(1, 2, c.n, 8, 5 + c.n);
    const at::Tensor ref = fmav::peer_reference(x.q, x.k, x.v, c.options);
    const at::Tensor fast = fmav::peer_attention(x.q.to(at::kFloat), x.k.to(at::kFloat), x.v.to(at::kFloat), c.options);
    EXPECT_EQ(fast.scalar_type(), at::kFloat);
    EXPECT_LT(max_abs_diff(fast, ref), 2e-5) << describe(c);
  }
}

TEST(Peers, AttendDispatchesEveryImplementation) {
  const Qkv x = random_qkv(1, 2, 100, 4, 3);
  for (Method m : {Method::htransformer, Method::linear, Method::reformer, Method::local}) {
    AttendOptions o = peer(m, 8, true);
    o.impl = fmav::Impl::reference;
    const fmav::HostTensor ref = fmav::attend(fmav::to_host(x.q), fmav::to_host(x.k), fmav::to_host(x.v), o, {});
    o.impl = fmav::Impl::automatic;
    const fmav::HostTensor fast = fmav::attend(fmav::to_host(x.q), fmav::to_host(x.k), fmav::to_host(x.v), o, {});
    EXPECT_LT(max_abs_diff(fmav::to_tensor(fast), fmav::to_tensor(ref)), 1e-10) << fmav::to_string(m);
  }
  AttendOptions o = peer(Method::linear, 8, false);
  o.impl = fmav::Impl::fused;
  fmav_test::expect_error([&] { fmav::attend(fmav::to_host(x.q), fmav::to_host(x.k), fmav::to_host(x.v), o, {}); },
                          "impl for linear must be reference or blocked, got fused");
  o = peer(Method::local, 8, false);
  o.impl = fmav::Impl::blocked;
  fmav_test::expect_error([&] { fmav::attend(fmav::to_host(x.q), fmav::to_host(x.k), fmav::to_host(x.v), o, {}); },
                          "impl for local must be reference or fused, got blocked");
}

// ---- the references against independent forms ----

TEST(Peers, LinearReferenceIsTheNormalizedFeatureMapProduct) {
  for (bool causal : {false, true}) {
    const Qkv x = random_qkv(1, 2, 50, 5, 21);
    at::Tensor w = at::matmul(at::elu(x.q) + 1, (at::elu(x.k) + 1).transpose(-1, -2));
    if (causal) w = w.tril();
    const at::Tensor expected = at::matmul(w / w.sum(-1, true), x.v);
    EXPECT_LT(max_abs_diff(fmav::peer_reference(x.q, x.k, x.v, peer(Method::linear, 1, causal)), expected), 1e-12);
  }
}

TEST(Peers, LocalReferenceIsTheMaskedNearField) {
  for (bool causal : {false, true}) {
    const Qkv x = random_qkv(1, 1, 77, 4, 31);
    EXPECT_LT(max_abs_diff(fmav::peer_reference(x.q, x.k, x.v, peer(Method::local, 10, causal)),
                           fmav::local_attention_math(x.q, x.k, x.v, 10, causal)),
              1e-12);
  }
}

TEST(Peers, SwinWindowsAreTheShiftedPartition) {
  // Windows as Swin makes them: roll the grid by -shift, cut w x w windows, and keep apart
  // what the roll brought together (its mask regions: the slices [0, H - w), [H - w, H - s),
  // [H - s, H) of each rolled axis). The engine cuts windows with edges at shift + j w.
  const std::int64_t h = 8, w = 12, win = 4, shift = 2;
  const Qkv x = random_qkv(1, 2, h * w, 5, 41);
  const auto window_id = [&](std::int64_t t, bool shifted) {
    const std::int64_t s = shifted ? shift : 0;
    const auto axis = [&](std::int64_t a, std::int64_t size) {
      const std::int64_t rolled = (a - s + size) % size;
      const std::int64_t region = !shifted ? 0 : rolled < size - win ? 0 : rolled < size - s ? 1 : 2;
      return rolled / win * 3 + region;
    };
    return axis(t / w, h) * 1000 + axis(t % w, w);
  };
  for (bool shifted : {false, true}) {
    at::Tensor hidden = at::zeros({h * w, h * w}, at::kBool);
    for (std::int64_t i = 0; i < h * w; ++i) {
      for (std::int64_t t = 0; t < h * w; ++t) hidden[i][t] = window_id(i, shifted) != window_id(t, shifted);
    }
    const at::Tensor expected = dense(plain_scores(x).masked_fill(hidden, -INFINITY), x.v);
    EXPECT_LT(max_abs_diff(fmav::peer_reference(x.q, x.k, x.v, swin(h, w, win, shifted)), expected), 1e-12)
        << (shifted ? "shifted" : "plain");
  }
  // A window as large as the grid is full attention.
  EXPECT_LT(max_abs_diff(fmav::peer_attention(x.q, x.k, x.v, swin(h, w, 12, false)), dense(plain_scores(x), x.v)),
            1e-12);
}

TEST(Peers, HTransformerCoversShortSequencesExactly) {
  // N <= 2 Nr: the own block and its sibling are every key.
  for (bool causal : {false, true}) {
    const Qkv x = random_qkv(1, 2, 30, 4, 51);
    at::Tensor scores = plain_scores(x);
    if (causal) scores = scores.masked_fill(at::ones({30, 30}, at::kBool).triu(1), -INFINITY);
    EXPECT_LT(max_abs_diff(fmav::peer_attention(x.q, x.k, x.v, peer(Method::htransformer, 16, causal)),
                           dense(scores, x.v)),
              1e-12);
  }
}

TEST(Peers, HTransformerCountsEveryTokenOfACoarseKey) {
  // q = 0: every score is 0, so each key weighs the same whichever level covers it, and the
  // output is the mean of v (causal: of v up to the query) — only if a coarse key counts
  // its 2^l tokens in numerator and denominator.
  for (bool causal : {false, true}) {
    Qkv x = random_qkv(1, 1, 200, 3, 61);
    x.q.zero_();
    const at::Tensor out = fmav::peer_attention(x.q, x.k, x.v, peer(Method::htransformer, 4, causal));
    const at::Tensor count = at::arange(1, 201, at::kDouble).view({1, 1, 200, 1});
    const at::Tensor mean = causal ? x.v.cumsum(2) / count : x.v.mean(2, true).expand_as(x.v);
    EXPECT_LT(max_abs_diff(out, mean), 1e-12);
  }
}

TEST(Peers, ReformerWithOneChunkIsSharedQkFullAttention) {
  for (bool causal : {false, true}) {
    const Qkv x = random_qkv(1, 2, 40, 6, 71);
    AttendOptions o = peer(Method::reformer, 64, causal);  // one chunk holds every token
    const at::Tensor keys = x.q / x.q.norm(2, -1, true);
    at::Tensor scores = at::matmul(x.q, keys.transpose(-1, -2)) / std::sqrt(6.0);
    scores = scores.masked_fill(at::eye(40, at::kBool), fmav::kReformerSelfScore);
    if (causal) scores = scores.masked_fill(at::ones({40, 40}, at::kBool).triu(1), -INFINITY);
    EXPECT_LT(max_abs_diff(fmav::peer_attention(x.q, x.k, x.v, o), dense(scores, x.v)), 1e-10);
    // Its k is not read.
    EXPECT_LT(max_abs_diff(fmav::peer_attention(x.q, x.v, x.v, o), dense(scores, x.v)), 1e-10);
  }
}

TEST(Peers, ReformerRoundsSortTokensByBucket) {
  const Qkv x = random_qkv(1, 1, 64, 8, 81);
  AttendOptions o = peer(Method::reformer, 8, false);
  o.peer.hash_rounds = 2;
  const at::Tensor buckets = fmav::reformer_hash(x.q, o);
  ASSERT_EQ(buckets.sizes(), (std::vector<std::int64_t>{1, 1, 2, 64}));
  EXPECT_EQ(fmav::reformer_buckets(o, 64), 8);
  EXPECT_GE(buckets.min().item<std::int64_t>(), 0);
  EXPECT_LT(buckets.max().item<std::int64_t>(), 8);
  // Rounds differ; a token's scaled copy hashes alike (the hash sees directions only).
  EXPECT_FALSE(at::equal(buckets.select(2, 0), buckets.select(2, 1)));
  EXPECT_TRUE(at::equal(fmav::reformer_hash(x.q * 3.0, o), buckets));
  // Chunks follow the sort: a token's chunk never falls below one of a lower bucket.
  const at::Tensor chunk = fmav::reformer_chunks(fmav::reformer_order(buckets), 8);
  for (std::int64_t a = 0; a < 64; ++a) {
    for (std::int64_t b = 0; b < 64; ++b) {
      if (buckets[0][0][0][a].item<std::int64_t>() < buckets[0][0][0][b].item<std::int64_t>()) {
        EXPECT_LE(chunk[0][0][0][a].item<std::int64_t>(), chunk[0][0][0][b].item<std::int64_t>());
      }
    }
  }
}

// ---- causality ----

TEST(Peers, CausalOutputsIgnoreTheFuture) {
  // Changing tokens >= t leaves outputs < t unchanged. Reformer is left out: its masks hide
  // future keys, but future tokens move chunk boundaries of the sort (checked below).
  const std::int64_t n = 150, t = 77;
  const Qkv x = random_qkv(1, 2, n, 5, 91);
  Qkv y = x;
  y.q = x.q.clone(), y.k = x.k.clone(), y.v = x.v.clone();
  for (at::Tensor* z : {&y.q, &y.k, &y.v}) z->narrow(2, t, n - t).normal_();
  for (Method m : {Method::htransformer, Method::linear, Method::local}) {
    const at::Tensor a = fmav::peer_attention(x.q, x.k, x.v, peer(m, 8, true));
    const at::Tensor b = fmav::peer_attention(y.q, y.k, y.v, peer(m, 8, true));
    EXPECT_TRUE(at::equal(a.narrow(2, 0, t), b.narrow(2, 0, t))) << fmav::to_string(m);
    EXPECT_FALSE(at::equal(a.narrow(2, t, n - t), b.narrow(2, t, n - t))) << fmav::to_string(m);
  }
}

TEST(Peers, CausalMapsHaveNoFutureKey) {
  const std::int64_t n = 90;
  const Qkv x = random_qkv(1, 1, n, 4, 101);
  for (Method m : {Method::htransformer, Method::linear, Method::local, Method::reformer}) {
    const fmav::PeerHead h = fmav::prepare_peer_head(x.q[0][0], x.k[0][0], x.v[0][0], peer(m, 8, true));
    std::vector<double> row(n);
    std::vector<std::int8_t> level(n);
    for (std::int64_t i = 0; i < n; ++i) {
      fmav::peer_row(h, i, row.data(), level.data());
      double sum = 0;
      for (std::int64_t t = 0; t < n; ++t) {
        sum += row[t];
        if (t > i) {
          EXPECT_TRUE(row[t] == 0 && level[t] == -1) << fmav::to_string(m) << " i=" << i << " t=" << t;
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
  }
}

// ---- gradients ----

TEST(Peers, GradientsMatchFiniteDifferences) {
  std::vector<AttendOptions> methods = {peer(Method::htransformer, 4, false), peer(Method::htransformer, 4, true),
                                        peer(Method::linear, 1, false), peer(Method::linear, 1, true),
                                        peer(Method::reformer, 4, true), swin(4, 5, 3, true)};
  for (const AttendOptions& o : methods) {
    const std::int64_t n = o.method == Method::swin ? 20 : 19;
    const Qkv x = random_qkv(1, 1, n, 3, 111);
    const at::Tensor up = random_bhnd(1, 1, n, 3, 7);
    const auto loss = [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
      return (fmav::peer_attention(q, k, v, o) * up).sum();
    };
    std::vector<at::Tensor> leaves = {x.q.clone().requires_grad_(true), x.k.clone().requires_grad_(true),
                                      x.v.clone().requires_grad_(true)};
    loss(leaves[0], leaves[1], leaves[2]).backward();
    const double eps = 1e-6;
    for (int which = 0; which < 3; ++which) {
      if (o.method == Method::reformer && which == 1) {  // k is not read
        EXPECT_TRUE(!leaves[1].grad().defined() || leaves[1].grad().abs().max().item<double>() == 0);
        continue;
      }
      for (std::int64_t e : {0, 13, 40, 56}) {
        std::vector<at::Tensor> plus = {x.q.clone(), x.k.clone(), x.v.clone()};
        std::vector<at::Tensor> minus = {x.q.clone(), x.k.clone(), x.v.clone()};
        plus[which].view({-1})[e] += eps;
        minus[which].view({-1})[e] -= eps;
        const double numeric = (loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])).item<double>() / (2 * eps);
        EXPECT_NEAR(leaves[which].grad().view({-1})[e].item<double>(), numeric, 1e-6)
            << fmav::to_string(o.method) << (o.fma.causal ? " causal" : "") << " input " << which << " element " << e;
      }
    }
  }
}

// ---- the inspector ----

TEST(Peers, InspectorShowsTheReferenceMap) {
  const std::int64_t n = 70;
  for (const AttendOptions& o : {peer(Method::htransformer, 8, false), peer(Method::linear, 1, true),
                                 peer(Method::reformer, 8, false), peer(Method::local, 8, true),
                                 swin(7, 10, 3, true)}) {
    const Qkv x = random_qkv(1, 2, n, 4, 121);
    fmav::InspectRequest which;
    which.head = 1;
    const fmav::Inspector inspector(fmav::to_host(x.q), fmav::to_host(x.k), fmav::to_host(x.v), o, {}, which);
    EXPECT_EQ(inspector.method(), o.method);
    // Its output is the reference's; the error is against full attention (reformer: shared QK).
    const at::Tensor ref = fmav::peer_reference(x.q, x.k, x.v, o).narrow(1, 1, 1);
    EXPECT_LT(max_abs_diff(fmav::to_tensor(inspector.fma_output()), ref), 1e-12) << fmav::to_string(o.method);
    Qkv head = {x.q.narrow(1, 1, 1), x.k.narrow(1, 1, 1), x.v.narrow(1, 1, 1)};
    at::Tensor scores = plain_scores(head);
    if (o.method == Method::reformer) {
      const at::Tensor keys = head.q / head.q.norm(2, -1, true);
      scores = at::matmul(head.q, keys.transpose(-1, -2)) / 2.0;
      scores = scores.masked_fill(at::eye(n, at::kBool), fmav::kReformerSelfScore);
    }
    if (o.fma.causal) scores = scores.masked_fill(at::ones({n, n}, at::kBool).triu(1), -INFINITY);
    const at::Tensor full = dense(scores, head.v);
    EXPECT_NEAR(inspector.output_rel_error(), ((ref - full).norm() / full.norm()).item<double>(), 1e-10);
    const fmav::PeerHead h = fmav::prepare_peer_head(head.q[0][0], head.k[0][0], head.v[0][0], o);
    fmav::InspectRequest r;
    r.row_begin = 5, r.row_end = 40, r.col_begin = 3, r.col_end = 66;
    const fmav::Inspection map = inspector.map(r);
    std::vector<double> row(n);
    std::vector<std::int8_t> level(n);
    for (std::int64_t i = r.row_begin; i < r.row_end; ++i) {
      fmav::peer_row(h, i, row.data(), level.data());
      const std::int64_t a = i - r.row_begin;
      double mass = 0;
      for (int l = 0; l <= map.num_levels; ++l) mass += map.level_mass[a * (map.num_levels + 1) + l];
      EXPECT_NEAR(mass, 1.0, 1e-12);
      for (std::int64_t t = r.col_begin; t < r.col_end; ++t) {
        EXPECT_EQ(map.fma_map[a * map.cols + t - r.col_begin], row[t]);
        EXPECT_EQ(map.level_map[a * map.cols + t - r.col_begin], level[t]);
        EXPECT_NEAR(map.full_map[a * map.cols + t - r.col_begin], at::softmax(scores[0][0][i], -1)[t].item<double>(), 1e-12);
      }
    }
  }
}

TEST(Peers, HTransformerLevelsAreSiblingBlocks) {
  const std::int64_t n = 64;
  const Qkv x = random_qkv(1, 1, n, 4, 131);
  const fmav::PeerHead h = fmav::prepare_peer_head(x.q[0][0], x.k[0][0], x.v[0][0], peer(Method::htransformer, 8, false));
  EXPECT_EQ(h.levels, 2);  // N = 8 * 2^3: blocks of 8 and 16 exact/coarse at 1, 2
  std::vector<double> row(n);
  std::vector<std::int8_t> level(n);
  fmav::peer_row(h, 10, row.data(), level.data());  // block 1: own 8..15, sibling 0..7
  for (std::int64_t t = 0; t < n; ++t) EXPECT_EQ(level[t], t < 16 ? 0 : t < 32 ? 1 : 2) << t;
  // A coarse key's tokens share one probability (2 tokens at level 1, 4 at level 2).
  EXPECT_EQ(row[16], row[17]);
  EXPECT_NE(row[17], row[18]);
  EXPECT_EQ(row[32], row[35]);
}

// ---- names and checks ----

TEST(Peers, NamesParseAndBadSettingsAreNamed) {
  AttendOptions o;
  fmav::parse_method("reformer", "", &o);
  EXPECT_EQ(o.method, Method::reformer);
  EXPECT_STREQ(fmav::method_name(o), "reformer");
  fmav::parse_method("swin", "4x6", &o);
  EXPECT_EQ(o.method, Method::swin);
  EXPECT_EQ(o.fma.grid_height, 4);
  fmav_test::expect_error([&] { fmav::parse_method("swin", "", &o); }, "swin needs a grid HxW");
  fmav_test::expect_error([&] { fmav::parse_method("linear", "4x4", &o); }, "is for fma2d, fma2d-linear and swin, not linear");
  fmav_test::expect_error([&] { fmav::parse_method("performer", "", &o); }, "got 'performer'");
  AttendOptions r = peer(Method::reformer, 8, false);
  r.peer.hash_rounds = 0;
  fmav_test::expect_error([&] { fmav::validate_peer(r, 64); }, "reformer: hash rounds must be in 1..8, got 0");
  r.peer.hash_rounds = 2, r.peer.buckets = 5;
  fmav_test::expect_error([&] { fmav::validate_peer(r, 64); }, "buckets must be even");
  AttendOptions s = swin(4, 4, 2, false);
  s.fma.causal = true;
  fmav_test::expect_error([&] { fmav::validate_peer(s, 16); }, "swin attention is bidirectional");
  fmav_test::expect_error([&] { fmav::validate_peer(swin(4, 4, 2, false), 15); }, "swin: the grid 4x4 has 16 tokens, the input 15");
  fmav_test::expect_error([&] { fmav::validate_peer(peer(Method::local, 0, false), 8); }, "local: block size must be >= 1, got 0");
  std::int64_t h = 0, w = 0;
  fmav::square_grid(4096, &h, &w);
  EXPECT_EQ(h, 64);
  EXPECT_EQ(w, 64);
  fmav::square_grid(12, &h, &w);
  EXPECT_EQ(h, 4);
  EXPECT_EQ(w, 3);
}

}  // namespace
