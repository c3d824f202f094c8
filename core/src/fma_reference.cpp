// The dense reference of FMA-1D (DESIGN.md §2), the oracle of the tests: every query takes
// one masked softmax over an extended key set (all N keys, then every coarse slot of every
// level); a mask matrix built slot by slot from the interaction lists says which entries
// it sees and with what multiplicity. O(N^2) memory: small N only.

#include <cmath>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"

namespace fmav {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct Extended {
  Levels levels;
  at::Tensor keys, values;        // (B, H, N_pad + S, D)
  at::Tensor log_weight;          // (N, N_pad + S): log multiplicity of visible entries, else -inf
  std::vector<std::int64_t> level_base;  // first extended column of each level (index l)
  std::vector<LevelSummaries> summaries;
};

Extended extend(const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                const FmaWeights& weights) {
  const std::int64_t N = k.size(2);
  Extended ext;
  ext.levels = make_levels(N, config.block_size);
  const Levels& lv = ext.levels;
  const at::Tensor k_pad = pad_tokens(k, lv.n_pad), v_pad = pad_tokens(v, lv.n_pad);
  std::vector<at::Tensor> keys{k_pad}, values{v_pad};
  std::int64_t columns = lv.n_pad;
  ext.level_base.assign(lv.num_levels + 1, 0);
  ext.summaries.resize(lv.num_levels + 1);
  for (int l = 1; l <= lv.num_levels; ++l) {
    LevelSummaries s = downsample_level(k_pad, v_pad, lv, config, l, weights);
    keys.push_back(s.k.flatten(2, 3));
    values.push_back(s.v.flatten(2, 3));
    ext.level_base[l] = columns;
    columns += s.k.size(2) * s.k.size(3);
    ext.summaries[l] = std::move(s);
  }
  ext.keys = at::cat(keys, 2);
  ext.values = at::cat(values, 2);

  // The mask, entry by entry: near-field keys of the real queries, then each level's slots.
  std::vector<double> logw(static_cast<std::size_t>(N) * columns, kNegInf);
  const std::int64_t m = lv.block_size, p = config.rank;
  std::vector<at::Tensor> log_mult(lv.num_levels + 1);
  for (int l = 1; l <= lv.num_levels; ++l) {
    log_mult[l] = ext.summaries[l].log_mult.to(at::kCPU, at::kDouble).contiguous();
  }
  std::int64_t offsets[3];
  for (std::int64_t i = 0; i < N; ++i) {
    double* row = logw.data() + i * columns;
    const int near = near_offsets(config.causal, offsets);
    for (int o = 0; o < near; ++o) {
      const std::int64_t block = i / m + offsets[o];
      for (std::int64_t t = block * m; t < (block + 1) * m; ++t) {
        if (block < 0 || t >= N || (config.causal && t > i)) continue;
        row[t] = 0.0;
      }
    }
    for (int l = 1; l <= lv.num_levels; ++l) {
      const std::int64_t g = i / lv.width(l), G = lv.groups(l);
      const double* lmp = log_mult[l].data_ptr<double>();
      const int far = far_offsets(g, config.causal, offsets);
      for (int f = 0; f < far; ++f) {
        const std::int64_t h = g + offsets[f];
        if (h < 0 || h >= G) continue;
        for (std::int64_t j = 0; j < p; ++j) row[ext.level_base[l] + h * p + j] = lmp[h * p + j];
      }
    }
  }
  ext.log_weight = at::tensor(logw, at::TensorOptions().dtype(at::kDouble))
                       .view({N, columns})
                       .to(k.options());
  return ext;
}

at::Tensor reference_probabilities(const at::Tensor& q, const Extended& ext) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const at::Tensor scores = at::matmul(q * scale, ext.keys.transpose(-1, -2)) + ext.log_weight;
  return at::softmax(scores, -1);
}

}  // namespace

std::int64_t reference_columns(const Levels& levels, const FmaConfig& config) {
  std::int64_t columns = levels.n_pad;
  for (int l = 1; l <= levels.num_levels; ++l) columns += levels.groups(l) * config.rank;
  return columns;
}

at::Tensor fma_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const FmaConfig& config, const FmaWeights& weights) {
  check_qkv(q, k, v);
  validate(config);
  const Extended ext = extend(k, v, config, weights);
  return at::matmul(reference_probabilities(q, ext), ext.values);
}

at::Tensor fma_reference_map(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const FmaConfig& config, const FmaWeights& weights) {
  check_qkv(q, k, v);
  validate(config);
  const Extended ext = extend(k, v, config, weights);
  const Levels& lv = ext.levels;
  const std::int64_t N = lv.n, columns = ext.keys.size(2);
  const at::Tensor probs = reference_probabilities(q, ext);
  // Spread each coarse slot evenly over the real tokens it stands for.
  std::vector<double> spread(static_cast<std::size_t>(columns - lv.n_pad) * N, 0.0);
  for (int l = 1; l <= lv.num_levels; ++l) {
    for (std::int64_t g = 0; g < lv.groups(l); ++g) {
      for (std::int64_t j = 0; j < config.rank; ++j) {
        std::int64_t begin = 0, end = 0;
        slot_span(lv, config, l, g, j, &begin, &end);
        const std::int64_t row = ext.level_base[l] - lv.n_pad + g * config.rank + j;
        for (std::int64_t t = begin; t < end; ++t) spread[row * N + t] = 1.0 / (end - begin);
      }
    }
  }
  const at::Tensor near = probs.narrow(-1, 0, N);
  if (columns == lv.n_pad) return near;
  const at::Tensor spread_t = at::tensor(spread, at::TensorOptions().dtype(at::kDouble))
                                  .view({columns - lv.n_pad, N})
                                  .to(q.options());
  return near + at::matmul(probs.narrow(-1, lv.n_pad, columns - lv.n_pad), spread_t);
}

}  // namespace fmav
