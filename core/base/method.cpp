// The attention methods by name and their settings' checks (fmav/method.h), without LibTorch:
// the file formats that name a method (sessions, sweep results, model configs) parse and
// check them in fmav_io, the engine at its entry points.

#include "fmav/method.h"

#include <algorithm>

#include "fmav/error.h"

namespace fmav {

bool is_peer(Method method) { return method != Method::fma && method != Method::full; }

const char* to_string(Method method) {
  switch (method) {
    case Method::fma: return "fma";
    case Method::full: return "full";
    case Method::htransformer: return "htransformer";
    case Method::linear: return "linear";
    case Method::reformer: return "reformer";
    case Method::local: return "local";
    case Method::swin: return "swin";
  }
  return "?";
}

Method parse_fma_or_peer(const std::string& name, const std::string& where) {
  for (Method m : kFmaAndPeers) {
    if (name == to_string(m)) return m;
  }
  throw Error((where.empty() ? "" : where + ": ") + "method must be fma, htransformer, linear, reformer, local or swin, "
              "got '" + name + "'");
}

const char* to_string(Impl impl) {
  switch (impl) {
    case Impl::automatic: return "auto";
    case Impl::reference: return "reference";
    case Impl::blocked: return "blocked";
    case Impl::fused: return "fused";
    case Impl::composed: return "composed";
    case Impl::math: return "math";
    case Impl::sdpa: return "sdpa";
  }
  return "?";
}

Impl parse_impl(const std::string& name) {
  for (Impl impl : {Impl::automatic, Impl::reference, Impl::blocked, Impl::fused, Impl::composed, Impl::math,
                    Impl::sdpa}) {
    if (name == to_string(impl)) return impl;
  }
  throw Error("impl must be auto, reference, blocked, fused, composed, math or sdpa, got '" + name + "'");
}

const char* method_name(const AttendOptions& options) {
  return options.method == Method::fma ? variant_name(options.fma) : to_string(options.method);
}

void parse_method(const std::string& name, const std::string& grid, AttendOptions* options) {
  const bool two_d = name == "fma2d" || name == "fma2d-linear" || name == "swin";
  Method method = Method::fma;
  bool known = name == "fma" || name == "fma-linear" || two_d;
  for (Method m : {Method::full, Method::htransformer, Method::linear, Method::reformer, Method::local, Method::swin}) {
    if (name == to_string(m)) method = m, known = true;
  }
  FMAV_CHECK(known, "method must be fma, fma-linear, fma2d, fma2d-linear, full, htransformer, linear, reformer, "
             "local or swin, got '", name, "'");
  FMAV_CHECK(two_d || grid.empty(), "a grid (", grid, ") is for fma2d, fma2d-linear and swin, not ", name);
  FMAV_CHECK(!two_d || !grid.empty(), name, " needs a grid HxW of the tokens (row-major)");
  options->method = method;
  options->fma.linear = name == "fma-linear" || name == "fma2d-linear";
  options->fma.grid_height = options->fma.grid_width = 0;
  if (two_d) parse_grid(grid, &options->fma.grid_height, &options->fma.grid_width);
}

void validate_peer(const AttendOptions& options, std::int64_t n) {
  if (!is_peer(options.method)) return;
  const char* name = to_string(options.method);
  const FmaConfig& f = options.fma;
  FMAV_CHECK(f.block_size >= 1, name, ": block size must be >= 1, got ", f.block_size);
  FMAV_CHECK(n >= 1, name, ": sequence length N must be >= 1, got ", n);
  if (options.method == Method::swin) {
    FMAV_CHECK(f.grid_height >= 1 && f.grid_width >= 1, "swin needs a grid HxW of the tokens");
    FMAV_CHECK(f.grid_height * f.grid_width == n, "swin: the grid ", f.grid_height, "x", f.grid_width, " has ",
               f.grid_height * f.grid_width, " tokens, the input ", n);
    FMAV_CHECK(!f.causal, "swin attention is bidirectional; it has no causal form");
  } else {
    FMAV_CHECK(!f.is_2d(), name, " is 1D; a grid is for fma2d, fma2d-linear and swin");
  }
  if (options.method == Method::reformer) {
    const PeerOptions& p = options.peer;
    FMAV_CHECK(p.hash_rounds >= 1 && p.hash_rounds <= 8, "reformer: hash rounds must be in 1..8, got ",
               p.hash_rounds);
    FMAV_CHECK(p.buckets >= 0 && p.buckets % 2 == 0 && p.buckets <= (std::int64_t{1} << 20),
               "reformer: buckets must be even and at most 2^20 (0 = about N / chunk), got ", p.buckets);
  }
}

std::int64_t reformer_buckets(const AttendOptions& options, std::int64_t n) {
  if (options.peer.buckets > 0) return options.peer.buckets;
  const std::int64_t chunk = std::max<std::int64_t>(1, options.fma.block_size);
  return std::max<std::int64_t>(2, 2 * ((n / chunk + 1) / 2));
}

void square_grid(std::int64_t n, std::int64_t* height, std::int64_t* width) {
  *width = 1;
  for (std::int64_t d = 1; d * d <= n; ++d) {
    if (n % d == 0) *width = d;
  }
  *height = n / *width;
}

}  // namespace fmav
