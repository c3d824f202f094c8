// Raw q, k, v files for the viewer (qkv_source.h): named like `fmav attend`'s inputs, read
// with fmav/tensor_io.h and checked here so that a wrong file is refused with its name before
// the engine sees it; the last file is kept so that changing m or p reads nothing.

#include "qkv_source.h"

#include "fmav/error.h"
#include "fmav/tensor_io.h"

#include <cctype>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace fmav::viewer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kNames[3] = {"q", "k", "v"};

// What a file's contents are known by: its modification time (a rewrite changes it).
using Stamp = std::array<fs::file_time_type, 3>;

Stamp stamp_of(const std::array<std::string, 3>& files) {
  Stamp stamp{};
  for (int i = 0; i < 3; ++i) {
    std::error_code ec;
    stamp[i] = fs::last_write_time(files[i], ec);  // unreadable: the read below says why
  }
  return stamp;
}

// Checks one tensor of the three against q (the first); `file` is where it came from.
void check_tensor(const HostTensor& t, const char* name, const HostTensor& q, const std::string& file) {
  FMAV_CHECK(t.dtype == DType::f32 || t.dtype == DType::f64, file, ": ", name,
             " must be float32 or float64, got ", dtype_name(t.dtype));
  FMAV_CHECK(t.shape.size() >= 2 && t.shape.size() <= 4, file, ": ", name,
             " must be (B, H, N, D), (H, N, D) or (N, D), got ", shape_str(t.shape));
  for (std::int64_t d : t.shape) {
    FMAV_CHECK(d >= 1, file, ": ", name, " has an empty dimension (N >= 1 tokens needed), got ",
               shape_str(t.shape));
  }
  FMAV_CHECK(t.shape == q.shape, file, ": ", name, " is ", shape_str(t.shape), " but q is ",
             shape_str(q.shape), "; q, k and v must have one shape");
  FMAV_CHECK(t.dtype == q.dtype, file, ": ", name, " is ", dtype_name(t.dtype), " but q is ",
             dtype_name(q.dtype), "; q, k and v must have one dtype");
}

std::shared_ptr<const QkvTensors> read_qkv(const std::array<std::string, 3>& files) {
  auto out = std::make_shared<QkvTensors>();
  HostTensor* tensors[3] = {&out->q, &out->k, &out->v};
  if (files[0] == files[1]) {  // one .safetensors holding all three
    TensorMap map = read_safetensors(files[0]);
    for (int i = 0; i < 3; ++i) {
      const auto it = map.find(kNames[i]);
      FMAV_CHECK(it != map.end(), files[0], ": no tensor named '", kNames[i],
                 "'; a q/k/v file holds q, k and v");
      *tensors[i] = std::move(it->second);
    }
  } else {
    for (int i = 0; i < 3; ++i) *tensors[i] = read_npy(files[i]);
  }
  for (int i = 0; i < 3; ++i) check_tensor(*tensors[i], kNames[i], out->q, files[i]);
  const std::vector<std::int64_t>& shape = out->q.shape;
  const std::size_t rank = shape.size();
  out->tokens = shape[rank - 2], out->dim = shape[rank - 1];
  out->heads = rank >= 3 ? shape[rank - 3] : 1;
  out->batch = rank == 4 ? shape[0] : 1;
  FMAV_CHECK(out->tokens <= kMaxTokens, files[0], ": N = ", out->tokens,
             " tokens, more than the viewer shows (", kMaxTokens,
             "); `fmav inspect --rows a:b --cols c:d` writes a part of a larger map");
  return out;
}

}  // namespace

std::array<std::string, 3> qkv_files(const std::string& path) {
  const fs::path p(path);
  const std::string ext = p.extension().string();
  std::string lower = ext;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == ".safetensors") return {path, path, path};
  const std::string stem = p.stem().string();
  const char last = stem.empty() ? '\0' : stem.back();
  const bool named = (last == 'q' || last == 'k' || last == 'v') &&
                     (stem.size() == 1 || std::string("_-.").find(stem[stem.size() - 2]) != std::string::npos);
  FMAV_CHECK(lower == ".npy", path, ": a q/k/v source is a .safetensors file or .npy files, not '", ext, "'");
  FMAV_CHECK(named, path, ": a .npy holds one tensor; name the three q.npy, k.npy and v.npy (or ",
             "<prefix>_q.npy, ...) side by side, or put q, k and v in one .safetensors");
  const std::string prefix = stem.substr(0, stem.size() - 1);
  std::array<std::string, 3> files;
  for (int i = 0; i < 3; ++i) files[i] = (p.parent_path() / (prefix + kNames[i] + ext)).string();
  return files;
}

std::shared_ptr<const QkvTensors> load_qkv(const std::string& path) {
  static std::mutex mutex;
  static std::array<std::string, 3> cached_files;  // k.npy opens what q.npy did
  static Stamp cached_stamp;
  static std::shared_ptr<const QkvTensors> cached;
  const std::array<std::string, 3> files = qkv_files(path);
  const Stamp stamp = stamp_of(files);
  std::lock_guard<std::mutex> lock(mutex);
  if (!cached || cached_files != files || cached_stamp != stamp) {
    cached.reset();  // the old tensors go before the new ones are read
    cached = read_qkv(files);
    cached_files = files, cached_stamp = stamp;
  }
  return cached;
}

AttendOptions source_options(const MapParams& params, std::int64_t n) {
  AttendOptions o;
  o.method = params.method;
  o.fma = FmaConfig{params.block_size, params.rank, params.causal, params.downsample, params.count_multiplicity};
  if (o.method == Method::fma) {
    validate(o.fma);
    return o;
  }
  o.peer.hash_rounds = params.hash_rounds, o.peer.shifted = params.shifted;
  if (o.method == Method::swin) {
    o.fma.causal = false;
    square_grid(n, &o.fma.grid_height, &o.fma.grid_width);
  }
  validate_peer(o, n);
  return o;
}

QkvSource qkv_source(const MapParams& params) {
  QkvSource source;
  source.tensors = load_qkv(params.qkv);
  source.options = source_options(params, source.tensors->tokens);
  const FmaConfig& f = source.options.fma;
  if (params.method == Method::fma && f.downsample != Downsample::average) {
    source.weights = random_downsample_weights(f, source.tensors->dim, num_levels(f, source.tensors->tokens), params.seed);
  }
  return source;
}

}  // namespace fmav::viewer
