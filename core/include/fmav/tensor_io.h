#pragma once
// Readers and writers for the two raw tensor formats: NumPy .npy (v1-v3, C order,
// little-endian) and .safetensors. Hardened against hostile files: every size, offset and
// shape is checked against the file before anything is allocated; errors name the file
// and what was wrong. Writers are atomic (write a temporary file, then rename).

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "fmav/tensor.h"

namespace fmav {

// Limits that keep a hostile header from causing a huge allocation or a deep parse.
struct IoLimits {
  std::uint64_t max_header_bytes = 16u << 20;       // npy and safetensors headers
  std::uint64_t max_tensor_bytes = 64ull << 30;     // one tensor's payload
  int max_dims = 8;
  int max_json_depth = 16;
};

// The limits a read uses when none is given: process-wide, IoLimits{} unless changed at
// start-up (fmav's --max-tensor-mib and --max-header-mib). Set them before any thread reads.
IoLimits io_limits();
void set_io_limits(const IoLimits& limits);

// Reads one .npy file. Supported dtypes: <f4 <f8 <f2 <i8 <i4 |u1 (and = or | byte orders
// where unambiguous). Throws fmav::Error for anything else or any inconsistency.
HostTensor read_npy(const std::string& path, const IoLimits& limits = io_limits());
HostTensor parse_npy(const std::uint8_t* bytes, std::size_t size, const IoLimits& limits = io_limits(),
                     const std::string& name = "<memory>");
// Writes a .npy v1.0 (v2.0 when the header needs it) file atomically.
void write_npy(const std::string& path, const HostTensor& tensor);
std::string serialize_npy(const HostTensor& tensor);

using TensorMap = std::map<std::string, HostTensor>;
// Reads every tensor of a .safetensors file; __metadata__ (string to string) goes to
// `metadata` when given.
TensorMap read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr,
                           const IoLimits& limits = io_limits());
TensorMap parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                            std::map<std::string, std::string>* metadata = nullptr,
                            const IoLimits& limits = io_limits(), const std::string& name = "<memory>");
// Writes tensors (names sorted, 8-byte aligned header) atomically.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});
std::string serialize_safetensors(const TensorMap& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// A tensor file by extension: .npy gives one tensor; .safetensors must hold exactly one
// tensor, or one named `key` when key is not empty. Throws fmav::Error otherwise.
HostTensor read_tensor_file(const std::string& path, const std::string& key = "");
// Writes by extension (.npy, or .safetensors under the name `key`, default "tensor").
void write_tensor_file(const std::string& path, const HostTensor& tensor, const std::string& key = "");

// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed, then
// renamed over `path`; on failure nothing at `path` changes and the temporary is removed.
void write_file_atomic(const std::string& path, const std::string& bytes);
// Appends `line` and a newline to an open results file and forces it to disk (fflush,
// fsync), so a crash after it loses nothing written; throws fmav::Error naming `path`
// (e.g. a full disk), what was there before stays.
void append_line_synced(std::FILE* file, const std::string& line, const std::string& path);
// Reads a whole file; throws fmav::Error naming the path when it cannot.
std::string read_file_bytes(const std::string& path, std::uint64_t max_bytes);

}  // namespace fmav
