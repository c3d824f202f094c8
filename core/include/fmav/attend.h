#pragma once
// Attention on host tensors: FMA in its four variants (FMA-1D, FMA-linear, FMA2D,
// FMA2D-linear; reference, blocked or fused), full attention (math or LibTorch's SDPA) and
// the paper's peers (H-Transformer-1D, Linear Transformer, Reformer, local and Swin windows).
// The entry point of `fmav attend`; no LibTorch in this header.

#include <cstdint>
#include <map>
#include <string>

#include "fmav/device.h"
#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

// Down-sampling weights by name, for l = 1..L and each summarized stream s: k and v, and q
// for the linear variants (§3). Output channel c*p + j is summary j of channel c; float32
// or float64. 1D (§2): level{l}.{s}.weight, learned (p*D, 1, w_l) or dense (p*D, D, w_l),
// and level{l}.{s}.bias (p*D). 2D (§4): level{l}.{s}.row.weight and level{l}.{s}.col.weight,
// both (p*D, 1, c_l) with c_l = r 2^(l-1), and level{l}.{s}.bias (p*D).
using WeightSet = std::map<std::string, HostTensor>;

// fma covers the four variants; which one is said by AttendOptions::fma (linear, grid).
// The peers (README "Attention methods"; the project's definitions in docs/METHODS.md):
//   htransformer  H-Transformer-1D (Zhu & Soricut 2021): own and sibling block exact, then
//                 each coarser level's sibling block from averaged Q, K and summed V.
//   linear        Linear Transformer (Katharopoulos et al. 2020), feature map elu(x) + 1.
//   reformer      Reformer LSH attention (Kitaev et al. 2020): shared QK, hashed rounds.
//   local         sliding-block attention: key blocks b-1, b, b+1 (causal: b-1, b).
//   swin          Swin windows on an H x W grid, shifted by half a window on request.
enum class Method { fma, full, htransformer, linear, reformer, local, swin };
// fma: reference | blocked | fused (1D: FMA-1D, and FMA-linear with the fused near field).
// full: math | sdpa. Peers: reference (the dense map of the method's definition, O(N^2)) |
// blocked (tensor ops, autograd, no N x N tensor); local: reference | fused (FMA's kernels).
// auto: fused in 1D, blocked in 2D, sdpa for full attention, blocked (local: fused) for peers.
enum class Impl { automatic, reference, blocked, fused, math, sdpa };

const char* to_string(Impl impl);
Impl parse_impl(const std::string& name);      // "auto" | "reference" | ...; throws

// The peers' own settings; their window, chunk or block is FmaConfig::block_size.
struct PeerOptions {
  int hash_rounds = 2;            // reformer: hashing rounds (1..8)
  std::int64_t buckets = 0;       // reformer: buckets per round, even; 0 = about N / chunk
  std::uint64_t hash_seed = 1;    // reformer: seed of the random rotations
  bool shifted = false;           // swin: windows shifted by half a window (odd layers)
};

struct AttendOptions {
  Method method = Method::fma;
  Impl impl = Impl::automatic;
  // FMA's configuration. Full attention reads only causal; the peers read block_size (the
  // htransformer block Nr, the reformer chunk, the local block, the swin window side),
  // causal (all but swin) and the grid (swin).
  FmaConfig fma;
  PeerOptions peer;
  // Where attend() computes: cuda runs FMA-1D on the fused CUDA kernels (fma-linear and
  // FMA2D blocked, in LibTorch ops) and full attention on SDPA, from float32 inputs; the
  // peers run on the CPU only. auto: cuda when it can run here.
  Device device = Device::cpu;
};

bool is_peer(Method method);
// "fma" | "full" | "htransformer" | "linear" | "reformer" | "local" | "swin".
const char* to_string(Method method);
// FMA and the peers: the methods the viewer's sidebar, its sessions and sweeps offer.
inline constexpr Method kFmaAndPeers[] = {Method::fma,      Method::htransformer, Method::linear,
                                          Method::reformer, Method::local,        Method::swin};
// "fma" or a peer's name into its Method: the methods the viewer's sidebar, its sessions and
// sweeps take (not full, not the FMA variants' names). Throws fmav::Error naming the text,
// after `where: ` when given.
Method parse_fma_or_peer(const std::string& name, const std::string& where = "");
// The method's name: "full", a peer's, or the FMA variant's ("fma", "fma-linear", "fma2d",
// "fma2d-linear").
const char* method_name(const AttendOptions& options);
// Sets options->method, fma.linear and the grid from a method name ("fma" | "fma-linear" |
// "fma2d" | "fma2d-linear" | "full" | a peer's) and a grid "HxW", which the 2D methods
// (fma2d, fma2d-linear, swin) need and the others refuse (empty = none). Throws
// fmav::Error naming the bad name or grid.
void parse_method(const std::string& name, const std::string& grid, AttendOptions* options);
// Throws fmav::Error naming the first bad setting of a peer method for n tokens: block size
// >= 1, hash rounds in 1..8, buckets even (or 0), swin needs a grid of n tokens and is
// bidirectional. Does nothing for fma and full.
void validate_peer(const AttendOptions& options, std::int64_t n);
// Reformer's buckets per round for n tokens: options.peer.buckets, or (when 0) the even
// number nearest n / chunk, at least 2.
std::int64_t reformer_buckets(const AttendOptions& options, std::int64_t n);
// The most square grid H x W = n with H >= W (a prime n gives n x 1): where a 1D input is
// laid out for the 2D methods.
void square_grid(std::int64_t n, std::int64_t* height, std::int64_t* width);

// Weights for levels 1..num_levels drawn from `seed` like PyTorch's Conv1d default
// (uniform in +-1/sqrt(fan_in); 2D row and column kernels +-1/sqrt(c) each), in float32: k, v
// of every level, then q, so FMA and FMA-linear share K and V weights for one seed.
// learned and dense only; average has none.
WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed);

// Attention of q, k, v shaped (B, H, N, D), (H, N, D) or (N, D), all the same shape and
// dtype (float32 or float64; on CUDA float32). Returns the output with the input's shape
// and dtype, on the host.
// learned/dense FMA needs weights for every level the (padded) N has; extra levels are
// ignored. Throws fmav::Error naming the bad argument.
HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights);

// One head of x, shaped (B, H, N, D), (H, N, D) or (N, D), as a (1, 1, N, D) copy in dtype
// (float32 or float64). Throws fmav::Error for a bad shape, batch, head or dtype.
HostTensor head_of(const HostTensor& x, std::int64_t batch, std::int64_t head, DType dtype);

}  // namespace fmav
