#pragma once
// The attention methods by name, without LibTorch: FMA (its variant chosen by the FmaConfig),
// full attention and the paper's peers, their implementations and settings (AttendOptions),
// and the checks and parsing of those settings. File formats that name a method (sessions,
// sweep results, model configs) use it as well as the engine (fmav/attend.h).

#include <cstdint>
#include <string>

#include "fmav/device.h"
#include "fmav/fma.h"

namespace fmav {

// fma covers the four variants; which one is said by AttendOptions::fma (linear, grid).
// The peers (README "Attention methods"; the project's definitions in docs/METHODS.md):
//   htransformer  H-Transformer-1D (Zhu & Soricut 2021): own and sibling block exact, then
//                 each coarser level's sibling block from averaged Q, K and summed V.
//   linear        Linear Transformer (Katharopoulos et al. 2020), feature map elu(x) + 1.
//   reformer      Reformer LSH attention (Kitaev et al. 2020): shared QK, hashed rounds.
//   local         sliding-block attention: key blocks b-1, b, b+1 (causal: b-1, b).
//   swin          Swin windows on an H x W grid, shifted by half a window on request.
enum class Method { fma, full, htransformer, linear, reformer, local, swin };
// fma: reference | blocked | fused (1D: FMA-1D, and FMA-linear with the fused near field) |
// composed (FMA-1D forward from LibTorch's attention kernels merged by log-sum-exp,
// docs/DESIGN.md §8.6). full: math | sdpa. Peers: reference (the dense map of the method's
// definition, O(N^2)) | blocked (tensor ops, autograd, no N x N tensor); local: reference |
// fused (FMA's kernels). auto: fused in 1D (FMA-1D forward on CUDA: fused or composed,
// whichever was measured faster for the shape), blocked in 2D, sdpa for full attention,
// blocked (local: fused) for peers.
enum class Impl { automatic, reference, blocked, fused, composed, math, sdpa };

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

}  // namespace fmav
