#pragma once
// What the sidebar's controls choose, the source and the settings it is shown under: a model
// on an input, raw q, k, v from a file or the synthetic input (docs/DESIGN.md §2). The map
// worker (maps_worker.h), the heads overview and the q/k/v source all read it.

#include "fmav/attend.h"
#include "fmav/device.h"
#include "fmav/fma.h"

#include <cstdint>
#include <string>

namespace fmav::viewer {

// Head dimension D of the shipped synthetic input.
constexpr std::int64_t kHeadDim = 64;
// Largest n the viewer shows (any source).
constexpr std::int64_t kMaxTokens = 16384;

// What the controls edit; a change starts a new engine run.
struct MapParams {
  // Source: a model run on an input file (model non-empty), raw q, k, v from a file (qkv
  // non-empty; qkv_source.h), else the synthetic sample_qkv. At most one of model, qkv is set.
  std::string model, input;
  std::string qkv;
  std::string mask;  // a segmenter's ground truth for the input ("" = the ADE20K layout's, if any)
  int layer = 0, head = 0;
  std::int64_t offset = 0;       // text: first byte of the model's window
  std::int64_t n = 512;          // tokens (synthetic)
  std::int64_t block_size = 32;  // m (synthetic and q/k/v, like the settings below)
  std::int64_t rank = 4;         // p
  bool causal = false;
  Downsample downsample = Downsample::average;
  bool count_multiplicity = true;
  std::uint64_t seed = 0;  // of the sample input and the random weights
  // The method shown for the synthetic input and a q/k/v file (a model shows its own): FMA or
  // a peer, whose block is block_size (swin: on the most square grid of n).
  Method method = Method::fma;
  int hash_rounds = 2;     // reformer
  bool shifted = false;    // swin
  // A model run with `method` (FMA, or a peer) at block_size, rank, downsample and
  // count_multiplicity above instead of its own attention (a sweep point opened from the
  // Sweep tab); its learned weights fit only its own.
  bool model_fma_override = false;
  // Where a model's forward (the project's own models; a Hugging Face model's runs on the
  // cpu) and the maps' dense float64 work run (InspectRequest::device): the Engine panel's
  // choice, cuda only where a device can run.
  Device device = Device::cpu;

  bool operator==(const MapParams& o) const {
    return model == o.model && input == o.input && qkv == o.qkv && mask == o.mask && layer == o.layer && head == o.head &&
           offset == o.offset && n == o.n &&
           block_size == o.block_size && rank == o.rank && causal == o.causal &&
           downsample == o.downsample && count_multiplicity == o.count_multiplicity &&
           seed == o.seed && model_fma_override == o.model_fma_override && method == o.method &&
           hash_rounds == o.hash_rounds && shifted == o.shifted && device == o.device;
  }
  bool operator!=(const MapParams& o) const { return !(*this == o); }
};

}  // namespace fmav::viewer
