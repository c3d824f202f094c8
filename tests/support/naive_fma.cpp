// Plain-loop FMA-1D, straight from the text of docs/DESIGN.md §2 (see naive_fma.h).

#include "naive_fma.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fmav_test {
namespace {

struct Geometry {
  std::int64_t n_pad = 0;
  int levels = 0;
};

Geometry geometry(std::int64_t n, std::int64_t m) {
  Geometry g;
  int k = 0;
  g.n_pad = m;
  while (g.n_pad < n) g.n_pad *= 2, ++k;
  g.levels = std::max(0, k - 1);
  return g;
}

bool in_far_list(std::int64_t g, std::int64_t h, bool causal) {
  const std::int64_t d = h - g;
  const bool even = g % 2 == 0;
  if (causal) return even ? d == -2 : (d == -3 || d == -2);
  return even ? (d == -2 || d == 2 || d == 3) : (d == -3 || d == -2 || d == 2);
}

bool in_near_field(std::int64_t i, std::int64_t t, std::int64_t m, bool causal) {
  const std::int64_t bi = i / m, bt = t / m;
  if (causal) return bt == bi - 1 || (bt == bi && t <= i);
  return bt >= bi - 1 && bt <= bi + 1;
}

const std::vector<double>& weight(const NaiveWeights& w, const std::string& name) {
  const auto it = w.find(name);
  if (it == w.end()) throw std::runtime_error("naive_fma: missing weight " + name);
  return it->second;
}

// Summaries (G, p, d) of x at one level and the real token count behind each slot.
void summarize(const std::vector<double>& x, std::int64_t n, std::int64_t d, std::int64_t width,
               std::int64_t groups, const NaiveConfig& c, const std::vector<double>* w,
               const std::vector<double>* b, std::vector<double>* out, std::vector<double>* real) {
  out->assign(groups * c.p * d, 0.0);
  real->assign(groups * c.p, 0.0);
  for (std::int64_t g = 0; g < groups; ++g) {
    for (std::int64_t j = 0; j < c.p; ++j) {
      double* s = out->data() + (g * c.p + j) * d;
      if (c.kind == "average") {
        const std::int64_t sub = width / c.p, lo = g * width + j * sub;
        std::int64_t count = 0;
        for (std::int64_t t = lo; t < lo + sub && t < n; ++t, ++count) {
          for (std::int64_t ch = 0; ch < d; ++ch) s[ch] += x[t * d + ch];
        }
        for (std::int64_t ch = 0; ch < d && count > 0; ++ch) s[ch] /= count;
        (*real)[g * c.p + j] = count;
        continue;
      }
      (*real)[g * c.p + j] = std::clamp<std::int64_t>(n - g * width, 0, width);
      for (std::int64_t ch = 0; ch < d; ++ch) {
        const std::int64_t o = ch * c.p + j;  // output channel c*p + j
        double acc = (*b)[o];
        for (std::int64_t t = 0; t < width; ++t) {
          const std::int64_t tok = g * width + t;
          if (tok >= n) break;
          if (c.kind == "learned") {
            acc += (*w)[o * width + t] * x[tok * d + ch];
          } else {
            for (std::int64_t ci = 0; ci < d; ++ci) acc += (*w)[(o * d + ci) * width + t] * x[tok * d + ci];
          }
        }
        s[ch] = acc;
      }
    }
  }
}

}  // namespace

std::vector<double> naive_fma(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, std::int64_t n, std::int64_t d,
                              const NaiveConfig& c, const NaiveWeights& weights) {
  const Geometry geo = geometry(n, c.m);
  std::vector<std::vector<double>> ks(geo.levels + 1), vs(geo.levels + 1), real(geo.levels + 1);
  for (int l = 1; l <= geo.levels; ++l) {
    const std::int64_t width = c.m << (l - 1), groups = geo.n_pad / width;
    const std::string pre = "level" + std::to_string(l) + ".";
    const bool learned = c.kind != "average";
    std::vector<double> unused;
    summarize(k, n, d, width, groups, c, learned ? &weight(weights, pre + "k.weight") : nullptr,
              learned ? &weight(weights, pre + "k.bias") : nullptr, &ks[l], &real[l]);
    summarize(v, n, d, width, groups, c, learned ? &weight(weights, pre + "v.weight") : nullptr,
              learned ? &weight(weights, pre + "v.bias") : nullptr, &vs[l], &unused);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> out(n * d, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    // Every slot of the query: (score, multiplicity, value).
    std::vector<double> score, mult;
    std::vector<const double*> value;
    const auto dot = [&](const double* key) {
      double s = 0;
      for (std::int64_t ch = 0; ch < d; ++ch) s += q[i * d + ch] * key[ch];
      return s * scale;
    };
    for (std::int64_t t = 0; t < n; ++t) {
      if (!in_near_field(i, t, c.m, c.causal)) continue;
      score.push_back(dot(&k[t * d]));
      mult.push_back(1.0);
      value.push_back(&v[t * d]);
    }
    for (int l = 1; l <= geo.levels; ++l) {
      const std::int64_t width = c.m << (l - 1), groups = geo.n_pad / width, g = i / width;
      for (std::int64_t h = 0; h < groups; ++h) {
        if (!in_far_list(g, h, c.causal)) continue;
        for (std::int64_t j = 0; j < c.p; ++j) {
          const double r = real[l][h * c.p + j];
          if (r <= 0) continue;  // a slot with no real tokens is masked
          score.push_back(dot(&ks[l][(h * c.p + j) * d]));
          mult.push_back(!c.multiplicity ? 1.0 : c.kind == "average" ? r : r / c.p);
          value.push_back(&vs[l][(h * c.p + j) * d]);
        }
      }
    }
    const double top = *std::max_element(score.begin(), score.end());
    double denom = 0;
    for (std::size_t s = 0; s < score.size(); ++s) denom += mult[s] * std::exp(score[s] - top);
    for (std::size_t s = 0; s < score.size(); ++s) {
      const double prob = mult[s] * std::exp(score[s] - top) / denom;
      for (std::int64_t ch = 0; ch < d; ++ch) out[i * d + ch] += prob * value[s][ch];
    }
  }
  return out;
}

int naive_level(std::int64_t i, std::int64_t t, std::int64_t n, const NaiveConfig& c) {
  if (c.causal && t > i) return -1;
  if (in_near_field(i, t, c.m, c.causal)) return 0;
  const Geometry geo = geometry(n, c.m);
  for (int l = 1; l <= geo.levels; ++l) {
    const std::int64_t width = c.m << (l - 1);
    if (in_far_list(i / width, t / width, c.causal)) return l;
  }
  return -1;
}

std::vector<double> group_expanded_attention(const std::vector<double>& q, const std::vector<double>& k,
                                             const std::vector<double>& v, std::int64_t n,
                                             std::int64_t d, const NaiveConfig& c) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> out(n * d, 0.0), kbar(d), vbar(d), score(n);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::vector<double>> values(n);
    double top = -INFINITY;
    for (std::int64_t t = 0; t < n; ++t) {
      const int level = naive_level(i, t, n, c);
      score[t] = -INFINITY;
      if (level < 0) continue;
      std::vector<double> key(k.begin() + t * d, k.begin() + (t + 1) * d);
      values[t].assign(v.begin() + t * d, v.begin() + (t + 1) * d);
      if (level > 0) {
        const std::int64_t width = c.m << (level - 1), lo = t / width * width;
        const std::int64_t hi = std::min(lo + width, n);
        std::fill(key.begin(), key.end(), 0.0);
        std::fill(values[t].begin(), values[t].end(), 0.0);
        for (std::int64_t u = lo; u < hi; ++u) {
          for (std::int64_t ch = 0; ch < d; ++ch) {
            key[ch] += k[u * d + ch] / (hi - lo);
            values[t][ch] += v[u * d + ch] / (hi - lo);
          }
        }
      }
      double s = 0;
      for (std::int64_t ch = 0; ch < d; ++ch) s += q[i * d + ch] * key[ch];
      score[t] = s * scale;
      top = std::max(top, score[t]);
    }
    double denom = 0;
    for (std::int64_t t = 0; t < n; ++t) denom += std::exp(score[t] - top);
    for (std::int64_t t = 0; t < n; ++t) {
      if (score[t] == -INFINITY) continue;
      const double prob = std::exp(score[t] - top) / denom;
      for (std::int64_t ch = 0; ch < d; ++ch) out[i * d + ch] += prob * values[t][ch];
    }
  }
  return out;
}

}  // namespace fmav_test
