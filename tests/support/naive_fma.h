#pragma once
// An independent float64 implementation of FMA-1D written from docs/DESIGN.md §2 with plain
// loops (no LibTorch, no engine code): the oracle the CLI and the engine are checked against.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fmav_test {

struct NaiveConfig {
  std::int64_t m = 16, p = 2;
  bool causal = false;
  std::string kind = "learned";  // learned | average | dense
  bool multiplicity = true;
};

// Flat float64 weights by name, laid out as docs/DESIGN.md §2 documents.
using NaiveWeights = std::map<std::string, std::vector<double>>;

// One head: q, k, v are (n, d) row-major; returns (n, d).
std::vector<double> naive_fma(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, std::int64_t n, std::int64_t d,
                              const NaiveConfig& config, const NaiveWeights& weights);

// Level covering (i, t) by the §2 rules, written without the engine: 0 near, l, -1 masked.
int naive_level(std::int64_t i, std::int64_t t, std::int64_t n, const NaiveConfig& config);

// Full softmax attention over the "group-expanded" matrix (§2 exactness check): far pairs
// at level l use the mean key and value of the real tokens of the key's level-l group.
std::vector<double> group_expanded_attention(const std::vector<double>& q, const std::vector<double>& k,
                                             const std::vector<double>& v, std::int64_t n,
                                             std::int64_t d, const NaiveConfig& config);

}  // namespace fmav_test
