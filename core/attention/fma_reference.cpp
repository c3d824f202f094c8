// The dense reference of every FMA variant (docs/DESIGN.md §2-§4), the oracle of the tests:
// every query takes one masked softmax over an extended key set (the N keys, then every
// coarse slot of every level, 2D cells row-major); a mask matrix built entry by entry from
// the geometry's lists says which entries it sees and with what multiplicity. The linear
// variants (§3) score each level's slots with the query's summary query. O(N^2) memory.

#include <cmath>
#include <functional>
#include <limits>

#include "fma_internal.h"
#include "fmav/error.h"
#include "fmav/fma2d.h"

namespace fmav {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// The extended key set and, per column segment (0: the N keys, l: level l's slots), the
// query each row scores it with.
struct Extended {
  std::vector<at::Tensor> keys, values, queries;  // (B, H, C_s, D) and (B, H, N, D)
  std::vector<std::int64_t> base;                 // first column of each segment
  std::int64_t columns = 0;
  at::Tensor log_weight;                          // (N, columns): log multiplicity or -inf
};

// Calls visit(column, log multiplicity) for every column query i sees (§2 lists).
using Visit = std::function<void(std::int64_t, double)>;

double log_weight_of(double multiplicity, const FmaConfig& config) {
  if (multiplicity <= 0) return kNegInf;
  return config.count_multiplicity ? std::log(multiplicity) : 0.0;
}

void visit_1d(const Levels& lv, const FmaConfig& config, const std::vector<std::int64_t>& base,
              std::int64_t i, const Visit& visit) {
  const std::int64_t m = lv.block_size;
  std::int64_t offsets[3];
  const int near = near_offsets(config.causal, offsets);
  for (int o = 0; o < near; ++o) {
    const std::int64_t block = i / m + offsets[o];
    for (std::int64_t t = block * m; t < (block + 1) * m; ++t) {
      if (block >= 0 && t < lv.n && !(config.causal && t > i)) visit(t, 0.0);
    }
  }
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t g = i / lv.width(l);
    const int far = far_offsets(g, config.causal, offsets);
    for (int f = 0; f < far; ++f) {
      const std::int64_t h = g + offsets[f];
      if (h < 0 || h >= lv.groups(l)) continue;
      for (std::int64_t j = 0; j < config.rank; ++j) {
        visit(base[l] + h * config.rank + j, log_weight_of(slot_multiplicity(lv, config, l, h, j), config));
      }
    }
  }
}

void visit_2d(const Levels2d& lv, const FmaConfig& config, const std::vector<std::int64_t>& base,
              std::int64_t i, const Visit& visit) {
  const std::int64_t y = i / lv.width, x = i % lv.width, r = lv.cell;
  for (std::int64_t t = 0; t < lv.n(); ++t) {
    const std::int64_t ty = t / lv.width, tx = t % lv.width;
    if (std::abs(ty / r - y / r) <= 1 && std::abs(tx / r - x / r) <= 1) visit(t, 0.0);
  }
  std::int64_t far[kFarCells2d][2];
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t c = lv.cell_side(l), cells = lv.cells(l), cy = y / c, cx = x / c;
    far_cells_2d(cy, cx, far);
    for (const auto& o : far) {
      const std::int64_t ky = cy + o[0], kx = cx + o[1];
      if (ky < 0 || kx < 0 || ky >= cells || kx >= cells) continue;
      for (std::int64_t j = 0; j < config.rank; ++j) {
        const double mult = slot_multiplicity_2d(lv, config, l, ky, kx, j);
        visit(base[l] + (ky * cells + kx) * config.rank + j, log_weight_of(mult, config));
      }
    }
  }
}

// For the linear variants: the row of level l's summary queries (G p rows, then one zero row)
// that query i uses (§3): its group's sub-window; causal 1D takes the previous group's.
std::int64_t summary_row(const FmaConfig& config, int l, std::int64_t i, std::int64_t rows) {
  const std::int64_t c = config.block_size << (l - 1), p = config.rank;
  if (config.is_2d()) {
    const std::int64_t W = config.grid_width, y = i / W, x = i % W;
    const std::int64_t cells = make_levels_2d(config.grid_height, W, config.block_size).cells(l);
    return ((y / c) * cells + x / c) * p + sub_window_2d(y % c, x % c, c, p);
  }
  const std::int64_t g = i / c - (config.causal ? 1 : 0), j = (i % c) / (c / p);
  return g < 0 ? rows : g * p + j;
}

Extended extend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                const FmaWeights& weights, QuerySource source) {
  const std::int64_t N = k.size(2);
  const at::Tensor q_scaled = q * (1.0 / std::sqrt(static_cast<double>(q.size(3))));
  Extended ext;
  ext.keys = {k}, ext.values = {v}, ext.queries = {q_scaled}, ext.base = {0};
  ext.columns = N;
  const std::vector<at::Tensor> ks = summarize_levels(k, config, weights, Stream::k);
  const std::vector<at::Tensor> vs = summarize_levels(v, config, weights, Stream::v);
  std::vector<at::Tensor> qs;
  if (config.linear && source == QuerySource::summaries) qs = summarize_levels(q, config, weights, Stream::q);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const int l = static_cast<int>(i) + 1;
    ext.keys.push_back(ks[i].flatten(2, 3));
    ext.values.push_back(vs[i].flatten(2, 3));
    ext.base.push_back(ext.columns);
    ext.columns += ext.keys.back().size(2);
    if (qs.empty()) {
      ext.queries.push_back(q_scaled);
      continue;
    }
    const at::Tensor rows = qs[i].flatten(2, 3);
    const at::Tensor padded = at::constant_pad_nd(rows, {0, 0, 0, 1});  // a zero row at the end
    std::vector<std::int64_t> index(N);
    for (std::int64_t t = 0; t < N; ++t) index[t] = summary_row(config, l, t, rows.size(2));
    const at::Tensor idx = at::tensor(index, at::TensorOptions().dtype(at::kLong)).to(q.device());
    ext.queries.push_back(padded.index_select(2, idx) * (1.0 / std::sqrt(static_cast<double>(q.size(3)))));
  }

  std::vector<double> logw(static_cast<std::size_t>(N) * ext.columns, kNegInf);
  for (std::int64_t i = 0; i < N; ++i) {
    double* row = logw.data() + i * ext.columns;
    const Visit visit = [row](std::int64_t col, double w) { row[col] = w; };
    if (config.is_2d()) {
      visit_2d(make_levels_2d(config.grid_height, config.grid_width, config.block_size), config, ext.base, i, visit);
    } else {
      visit_1d(make_levels(N, config.block_size), config, ext.base, i, visit);
    }
  }
  ext.log_weight = at::tensor(logw, at::TensorOptions().dtype(at::kDouble)).view({N, ext.columns}).to(k.options());
  return ext;
}

at::Tensor reference_probabilities(const Extended& ext) {
  std::vector<at::Tensor> scores;
  for (std::size_t s = 0; s < ext.keys.size(); ++s) {
    scores.push_back(at::matmul(ext.queries[s], ext.keys[s].transpose(-1, -2)));
  }
  return at::softmax(at::cat(scores, -1) + ext.log_weight, -1);
}

}  // namespace

std::int64_t reference_columns(const FmaConfig& config, std::int64_t n) {
  std::int64_t columns = n;
  const int L = num_levels(config, n);
  for (int l = 1; l <= L; ++l) {
    if (config.is_2d()) {
      const std::int64_t cells = make_levels_2d(config.grid_height, config.grid_width, config.block_size).cells(l);
      columns += cells * cells * config.rank;
    } else {
      columns += make_levels(n, config.block_size).groups(l) * config.rank;
    }
  }
  return columns;
}

at::Tensor fma_reference_with_queries(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const FmaConfig& config, const FmaWeights& weights,
                                      QuerySource source) {
  assert_qkv(q, k, v);
  const Extended ext = extend(q, k, v, config, weights, source);
  return at::matmul(reference_probabilities(ext), at::cat(ext.values, 2));
}

at::Tensor fma_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const FmaConfig& config, const FmaWeights& weights) {
  return fma_reference_with_queries(q, k, v, config, weights, QuerySource::summaries);
}

at::Tensor fma_reference_map(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const FmaConfig& config, const FmaWeights& weights, QuerySource source) {
  assert_qkv(q, k, v);
  const Extended ext = extend(q, k, v, config, weights, source);
  const std::int64_t N = q.size(2), coarse = ext.columns - N;
  const at::Tensor probs = reference_probabilities(ext);
  const at::Tensor near = probs.narrow(-1, 0, N);
  if (coarse == 0) return near;
  // Spread each coarse slot evenly over the real tokens it stands for.
  std::vector<double> spread(static_cast<std::size_t>(coarse) * N, 0.0);
  const Levels lv1 = make_levels(N, config.block_size);
  const Levels2d lv2 = config.is_2d() ? make_levels_2d(config.grid_height, config.grid_width, config.block_size)
                                      : Levels2d{};
  for (std::size_t s = 1; s < ext.keys.size(); ++s) {
    const int l = static_cast<int>(s);
    const std::int64_t slots = ext.keys[s].size(2);
    for (std::int64_t col = 0; col < slots; ++col) {
      double* row = spread.data() + (ext.base[s] - N + col) * N;
      const std::int64_t g = col / config.rank, j = col % config.rank;
      if (config.is_2d()) {
        const CellRect rect = slot_rect_2d(lv2, config, l, g / lv2.cells(l), g % lv2.cells(l), j);
        for (std::int64_t y = rect.y0; y < rect.y1; ++y) {
          for (std::int64_t x = rect.x0; x < rect.x1; ++x) row[y * lv2.width + x] = 1.0 / rect.count();
        }
      } else {
        std::int64_t begin = 0, end = 0;
        slot_span(lv1, config, l, g, j, &begin, &end);
        for (std::int64_t t = begin; t < end; ++t) row[t] = 1.0 / (end - begin);
      }
    }
  }
  const at::Tensor spread_t = at::tensor(spread, at::TensorOptions().dtype(at::kDouble)).view({coarse, N}).to(q.options());
  return near + at::matmul(probs.narrow(-1, N, coarse), spread_t);
}

}  // namespace fmav
