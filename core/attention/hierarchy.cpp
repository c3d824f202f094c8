// The index lists of FMA-1D (§2) and FMA2D (§4) over the hierarchy order of hierarchy.h.
// Morton order makes every cell of every 2D level one contiguous range of r^2 4^(l-1) tokens,
// so a 2D level is a 1D level with other lists.

#include "hierarchy.h"

#include "fma_internal.h"
#include "fmav/error.h"
#include "fmav/fma2d.h"

namespace fmav {
namespace {

// Interleaves the bits of (y, x): bit b of x goes to bit 2b, of y to 2b + 1.
std::int64_t morton(std::int64_t y, std::int64_t x) {
  std::int64_t z = 0;
  for (int b = 0; b < 31; ++b) {
    z |= ((x >> b) & 1) << (2 * b);
    z |= ((y >> b) & 1) << (2 * b + 1);
  }
  return z;
}

void unmorton(std::int64_t z, std::int64_t* y, std::int64_t* x) {
  *y = 0, *x = 0;
  for (int b = 0; b < 31; ++b) {
    *x |= ((z >> (2 * b)) & 1) << b;
    *y |= ((z >> (2 * b + 1)) & 1) << b;
  }
}

const auto kLong = at::TensorOptions().dtype(at::kLong);

GroupLists make_lists(std::int64_t width, std::int64_t groups, int fanout,
                      const std::vector<std::int64_t>& index, const std::vector<std::uint8_t>& present) {
  GroupLists out;
  out.width = width, out.groups = groups, out.fanout = fanout;
  out.index = at::tensor(index, kLong);
  out.present = at::tensor(present, at::TensorOptions().dtype(at::kByte)).to(at::kBool).view({groups, fanout});
  return out;
}

void push(std::vector<std::int64_t>* index, std::vector<std::uint8_t>* present, std::int64_t g, bool ok) {
  index->push_back(ok ? g : 0);
  present->push_back(ok ? 1 : 0);
}

Hierarchy hierarchy_1d(const FmaConfig& config, std::int64_t n) {
  const Levels lv = make_levels(n, config.block_size);
  Hierarchy h;
  h.n = n, h.n_pad = lv.n_pad, h.rank = config.rank, h.causal = config.causal, h.branch = 2;
  h.key_real = at::arange(lv.n_pad, kLong) < n;
  std::int64_t offsets[3];
  std::vector<std::int64_t> index;
  std::vector<std::uint8_t> present;
  const int near = near_offsets(config.causal, offsets);
  for (std::int64_t b = 0; b < lv.num_blocks; ++b) {
    for (int o = 0; o < near; ++o) push(&index, &present, b + offsets[o], b + offsets[o] >= 0 && b + offsets[o] < lv.num_blocks);
  }
  h.near = make_lists(lv.block_size, lv.num_blocks, near, index, present);
  const int fanout = max_far_offsets(config.causal);
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t G = lv.groups(l), w = lv.width(l);
    index.clear(), present.clear();
    for (std::int64_t g = 0; g < G; ++g) {
      const int count = far_offsets(g, config.causal, offsets);
      for (int f = 0; f < fanout; ++f) {
        const std::int64_t t = g + (f < count ? offsets[f] : -G - 1);
        push(&index, &present, t, f < count && t >= 0 && t < G);
      }
    }
    h.far.push_back(make_lists(w, G, fanout, index, present));
    h.log_mult.push_back(level_log_mult(config, n, l));
    if (w % config.rank == 0) h.sub_window.push_back(at::arange(w, kLong).div(w / config.rank, "floor"));
    else h.sub_window.emplace_back();
  }
  return h;
}

Hierarchy hierarchy_2d(const FmaConfig& config, std::int64_t n) {
  const Levels2d lv = make_levels_2d(config.grid_height, config.grid_width, config.block_size);
  FMAV_ASSERT(n == lv.n(), "FMA2D on a ", lv.height, " x ", lv.width, " grid needs N = ", lv.n(),
              " tokens, got N = ", n);
  const std::int64_t r = lv.cell, cells0 = lv.side / r;
  Hierarchy h;
  h.n = n, h.n_pad = lv.side * lv.side, h.rank = config.rank, h.causal = false, h.branch = 4;
  std::vector<std::int64_t> position(n);
  std::vector<std::uint8_t> real(h.n_pad, 0);
  for (std::int64_t y = 0; y < lv.height; ++y) {
    for (std::int64_t x = 0; x < lv.width; ++x) {
      const std::int64_t pos = morton(y / r, x / r) * r * r + (y % r) * r + x % r;
      position[y * lv.width + x] = pos;
      real[pos] = 1;
    }
  }
  h.position = at::tensor(position, kLong);
  h.key_real = at::tensor(real, at::TensorOptions().dtype(at::kByte)).to(at::kBool);

  std::vector<std::int64_t> index;
  std::vector<std::uint8_t> present;
  const auto add = [&](std::int64_t cy, std::int64_t cx, std::int64_t cells) {
    push(&index, &present, cy >= 0 && cx >= 0 && cy < cells && cx < cells ? morton(cy, cx) : 0,
         cy >= 0 && cx >= 0 && cy < cells && cx < cells);
  };
  std::int64_t near[kNearCells2d][2];
  near_cells_2d(near);
  for (std::int64_t z = 0; z < cells0 * cells0; ++z) {
    std::int64_t cy = 0, cx = 0;
    unmorton(z, &cy, &cx);
    for (const auto& o : near) add(cy + o[0], cx + o[1], cells0);
  }
  h.near = make_lists(r * r, cells0 * cells0, kNearCells2d, index, present);

  const std::int64_t s = rank_side(config.rank);
  for (int l = 1; l <= lv.num_levels; ++l) {
    const std::int64_t cells = lv.cells(l), c = lv.cell_side(l), G = cells * cells;
    index.clear(), present.clear();
    std::vector<std::int64_t> group_of(G);
    std::int64_t far[kFarCells2d][2];
    for (std::int64_t g = 0; g < G; ++g) {
      std::int64_t cy = 0, cx = 0;
      unmorton(g, &cy, &cx);
      group_of[g] = cy * cells + cx;
      far_cells_2d(cy, cx, far);
      for (const auto& o : far) add(cy + o[0], cx + o[1], cells);
    }
    h.far.push_back(make_lists(c * c, G, kFarCells2d, index, present));
    h.group_of.push_back(at::tensor(group_of, kLong));
    h.log_mult.push_back(level_log_mult(config, n, l).index_select(0, h.group_of.back()));
    if (s > 0 && c % s == 0) {
      // Position u inside a level-l cell: fine cell u / r^2 in Morton order, then row-major.
      std::vector<std::int64_t> sub(c * c);
      for (std::int64_t u = 0; u < c * c; ++u) {
        std::int64_t fy = 0, fx = 0;
        unmorton(u / (r * r), &fy, &fx);
        sub[u] = sub_window_2d(fy * r + (u % (r * r)) / r, fx * r + u % r, c, config.rank);
      }
      h.sub_window.push_back(at::tensor(sub, kLong));
    } else {
      h.sub_window.emplace_back();
    }
  }
  return h;
}

}  // namespace

Hierarchy make_hierarchy(const FmaConfig& config, std::int64_t n) {
  return config.is_2d() ? hierarchy_2d(config, n) : hierarchy_1d(config, n);
}

at::Tensor to_hierarchy_order(const at::Tensor& x, const Hierarchy& h) {
  if (!h.position.defined()) return pad_tokens(x, h.n_pad);
  at::Tensor out = at::zeros({x.size(0), x.size(1), h.n_pad, x.size(3)}, x.options());
  return out.index_copy(2, h.position.to(x.device()), x);
}

at::Tensor from_hierarchy_order(const at::Tensor& x, const Hierarchy& h) {
  if (!h.position.defined()) return x.narrow(2, 0, h.n);
  return x.index_select(2, h.position.to(x.device()));
}

at::Tensor groups_to_hierarchy_order(const at::Tensor& summaries, const Hierarchy& h, int level) {
  if (h.group_of.empty()) return summaries;
  return summaries.index_select(2, h.group_of[level - 1].to(summaries.device()));
}

}  // namespace fmav
