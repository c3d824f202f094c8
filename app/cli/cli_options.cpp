// The options several subcommands share: the method names, the peers' settings
// (fmav/attend.h), the device (fmav/device.h); and the non-finite check of inputs.

#include "commands.h"

#include <cstdio>

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/finite.h"

namespace fmav::cli {

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"fma",          "fma-linear", "fma2d",    "fma2d-linear", "full",
                                                 "htransformer", "linear",     "reformer", "local",        "swin"};
  return names;
}

std::string default_downsample() { return to_string(FmaConfig{}.downsample); }

const char* method_help() {
  return "fma (1D, §2) | fma-linear (query down-sampling, §3) | fma2d (§4) | fma2d-linear |\n"
         "full | htransformer (H-Transformer-1D) | linear (Linear Transformer) | reformer\n"
         "(LSH) | local (blocks b-1, b, b+1) | swin (windows on --grid); the peers' block is -m";
}

void add_peer_options(CLI::App* cmd, PeerArgs* args) {
  cmd->add_option("--hash-rounds", args->hash_rounds, "reformer: hashing rounds (1..8)");
  cmd->add_option("--buckets", args->buckets, "reformer: buckets per round, even (0: about N / chunk)");
  cmd->add_option("--hash-seed", args->hash_seed, "reformer: seed of the random rotations");
  cmd->add_flag("--shifted", args->shifted, "swin: windows shifted by half a window");
}

PeerOptions peer_options(const PeerArgs& args) {
  PeerOptions o;
  o.hash_rounds = args.hash_rounds, o.buckets = args.buckets, o.hash_seed = args.hash_seed, o.shifted = args.shifted;
  return o;
}

void add_device_option(CLI::App* cmd, std::string* device) {
  cmd->add_option("--device", *device,
                  "cpu (default) | cuda: the fused CUDA kernels on the first GPU (an error\n"
                  "naming why where there is none) | auto: cuda when it can run, else cpu")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

Device resolve_device_option(const std::string& device) {
  const Device requested = parse_device(device);
  const Device resolved = resolve_device(requested);
  if (requested == Device::automatic && resolved == Device::cpu) {
    std::fprintf(stderr, "fmav: note: --device auto runs on the cpu: %s\n", cuda_unavailable_reason().c_str());
  }
  return resolved;
}

void check_finite_input(const HostTensor& tensor, const std::string& name) {
  const NonFinite found = check_finite(tensor, name);
  if (found.any()) {
    std::fprintf(stderr, "fmav: warning: %s (let through by --allow-nonfinite)\n",
                 nonfinite_summary(found, name).c_str());
  }
}

const char* dtype_words(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::i64: return "int64";
    case DType::i32: return "int32";
    case DType::u8: return "uint8";
  }
  return "an unknown dtype";
}

void check_float_input(const HostTensor& tensor, const std::string& name, const std::string& flag,
                       const std::string& path) {
  FMAV_CHECK(tensor.dtype == DType::f32 || tensor.dtype == DType::f64, flag, " ", path, ": ", name,
             " must be float32 or float64, got ", dtype_words(tensor.dtype));
}

}  // namespace fmav::cli
