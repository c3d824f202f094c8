#pragma once
// Raw q, k, v from files as a source of fma-viewer's maps, next to a model on an input and
// the synthetic input: the tensors `fmav attend` and `fmav inspect` read, compared under the
// FMA settings the sidebar sets (README "The GUI").

#include "map_params.h"

#include "fmav/attend.h"
#include "fmav/fma.h"
#include "fmav/tensor.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace fmav::viewer {

// q, k, v as read from their file(s) and checked.
struct QkvTensors {
  HostTensor q, k, v;  // one shape, (B, H, N, D), (H, N, D) or (N, D); float32 or float64
  std::int64_t batch = 1, heads = 1, tokens = 0, dim = 0;  // B, H, N, D
};

// What the map worker runs the engine on for a q/k/v file.
struct QkvSource {
  std::shared_ptr<const QkvTensors> tensors;
  AttendOptions options;  // FMA at the sidebar's settings, or the chosen peer
  WeightSet weights;  // drawn from the seed (FMA learned, dense); empty otherwise
};

// The sidebar's method on n tokens of the synthetic input or a q/k/v file: FMA with its
// settings, or a peer with its block (swin: on the most square grid of n, bidirectional).
// Throws fmav::Error naming a bad setting.
AttendOptions source_options(const MapParams& params, std::int64_t n);

// The files q, k and v are read from: a .safetensors holds all three (named q, k, v), so
// `path` three times; a .npy holds one, so <prefix>q.npy, <prefix>k.npy, <prefix>v.npy side
// by side, where `path` is any of them and the prefix is empty or ends in '_', '-' or '.'
// (q.npy, layer3_q.npy). Throws fmav::Error naming the path for any other name.
std::array<std::string, 3> qkv_files(const std::string& path);

// Reads and checks q, k, v of `path` (qkv_files). The last file read is kept, so asking
// again while its files are unchanged (same path and modification times) reads nothing.
// Throws fmav::Error naming the file: unreadable, no tensor q, k or v, a dtype other than
// float32 or float64, shapes that differ or are not (B, H, N, D), (H, N, D) or (N, D), an
// empty dimension (N >= 1), or N over the viewer's kMaxTokens.
std::shared_ptr<const QkvTensors> load_qkv(const std::string& path);

// The source for params.qkv under params' FMA settings (m, p, causal, down-sampling,
// multiplicity; the seed draws learned or dense weights, as `fmav inspect` does). Throws
// fmav::Error for the file (load_qkv) or settings validate() refuses.
QkvSource qkv_source(const MapParams& params);

}  // namespace fmav::viewer
