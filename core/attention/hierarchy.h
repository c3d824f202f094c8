#pragma once
// The geometry of an FMA variant as index lists over a hierarchy order of the tokens in
// which every group of every level is one contiguous range: the natural order in 1D, fine
// cells in Morton (Z) order in 2D (§4), each cell's tokens row-major. The blocked FMA and
// the linear variants (§3) run on these lists, the same code for 1D and 2D.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "fmav/fma.h"

namespace fmav {

// The groups of one level and each group's list of groups it attends to.
struct GroupLists {
  std::int64_t width = 0;   // tokens per group
  std::int64_t groups = 0;
  int fanout = 0;           // list entries per group
  at::Tensor index;         // (groups * fanout) long; absent entries point at group 0
  at::Tensor present;       // (groups, fanout) bool
};

struct Hierarchy {
  std::int64_t n = 0, n_pad = 0, rank = 0;
  bool causal = false;
  int branch = 2;                     // children per group: 2 in 1D, 4 in 2D
  at::Tensor position;                // (n) long: hierarchy position of token i; undefined in 1D
  at::Tensor key_real;                // (n_pad) bool: the position holds a real token
  GroupLists near;                    // fine blocks or cells and their near fields
  std::vector<GroupLists> far;        // coarse level l at index l - 1
  std::vector<at::Tensor> log_mult;   // level l: (G_l, p) float64 in hierarchy group order
  std::vector<at::Tensor> group_of;   // 2D, level l: (G_l) long, the row-major cell of each group
  // Level l: (w_l) long, the sub-window (0..p-1) of each position inside a group; defined
  // when the rank splits a group into sub-windows (average, linear).
  std::vector<at::Tensor> sub_window;
};

// Throws fmav::Error for a bad n, grid or configuration.
Hierarchy make_hierarchy(const FmaConfig& config, std::int64_t n);

// (B, H, N, D) -> (B, H, n_pad, D) in hierarchy order, padding zero; and back.
at::Tensor to_hierarchy_order(const at::Tensor& x, const Hierarchy& h);
at::Tensor from_hierarchy_order(const at::Tensor& x, const Hierarchy& h);
// Summaries (B, H, G, p, D) in natural group order (summarize_levels) -> hierarchy order.
at::Tensor groups_to_hierarchy_order(const at::Tensor& summaries, const Hierarchy& h, int level);

}  // namespace fmav
