// .safetensors reader and writer: an 8-byte little-endian header size, a JSON header giving
// each tensor's dtype, shape and byte range, then the data buffer. Every entry is validated
// (range inside the buffer, byte count, no overlap) before any tensor is allocated. The
// mapped reader (MappedSafetensors) validates the same header in a read-only mmap of the file
// and leaves the data there.

#include "fmav/tensor_io.h"
#include "fmav/mapped_safetensors.h"

#include "fmav/error.h"
#include "json_util.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fmav {
namespace {

using HeaderJson = nlohmann::json;
using Metadata = std::map<std::string, std::string>;

constexpr char kMetadataKey[] = "__metadata__";
constexpr DType kDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                             DType::i64, DType::i32, DType::u8};

// One tensor's entry after validation, before its data is copied out.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// A name from a hostile file can be megabytes long; keep messages readable.
std::string quoted(const std::string& text) {
  constexpr std::size_t kMaxChars = 80;
  if (text.size() <= kMaxChars) return "'" + text + "'";
  return "'" + text.substr(0, kMaxChars) + "...'";
}

// A JSON value for a message, cut short: a hostile value can be megabytes long.
std::string brief(const HeaderJson& value) {
  constexpr std::size_t kMaxChars = 80;
  const std::string text = value.dump(-1, ' ', true, HeaderJson::error_handler_t::replace);
  return text.size() <= kMaxChars ? text : text.substr(0, kMaxChars) + "...";
}

// ---- reading ----

HeaderJson parse_json(const char* text, std::size_t size, const IoLimits& limits,
                const std::string& name) {
  FMAV_CHECK(json_depth(text, size, limits.max_json_depth) <= limits.max_json_depth, name,
             ": header JSON nests deeper than the limit of ", limits.max_json_depth, " levels");
  try {
    return HeaderJson::parse(text, text + size);
  } catch (const HeaderJson::exception& e) {
    throw Error(name + ": header is not valid JSON: " + e.what());
  }
}

Metadata parse_metadata(const HeaderJson& value, const std::string& name) {
  FMAV_CHECK(value.is_object(), name, ": __metadata__ must be an object of strings, got ",
             value.type_name());
  Metadata metadata;
  for (const auto& [key, item] : value.items()) {
    FMAV_CHECK(item.is_string(), name, ": __metadata__ value ", quoted(key),
               " must be a string, got ", item.type_name());
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// A JSON number that is a non-negative integer no larger than `max`.
std::uint64_t to_count(const HeaderJson& value, std::uint64_t max, const std::string& where,
                       const char* what) {
  FMAV_CHECK(value.is_number_unsigned() && value.get<std::uint64_t>() <= max, where, ": ", what,
             " must be non-negative integers, got ", brief(value));
  return value.get<std::uint64_t>();
}

DType parse_dtype(const HeaderJson& entry, const std::string& where) {
  const auto it = entry.find("dtype");
  FMAV_CHECK(it != entry.end() && it->is_string(), where, ": 'dtype' must be a string");
  const std::string text = it->get<std::string>();
  for (DType dtype : kDTypes) {
    if (text == dtype_name(dtype)) return dtype;
  }
  throw Error(where + ": unsupported dtype " + quoted(text) +
              ", expected one of F32 F64 F16 BF16 I64 I32 U8");
}

std::vector<std::int64_t> parse_shape(const HeaderJson& entry, const IoLimits& limits,
                                      const std::string& where) {
  const auto it = entry.find("shape");
  FMAV_CHECK(it != entry.end() && it->is_array(), where, ": 'shape' must be an array");
  FMAV_CHECK(it->size() <= static_cast<std::size_t>(std::max(limits.max_dims, 0)), where,
             ": 'shape' has ", it->size(), " dims, more than the limit of ", limits.max_dims);
  std::vector<std::int64_t> shape;
  for (const HeaderJson& dim : *it) {
    const std::uint64_t max_dim = std::numeric_limits<std::int64_t>::max();
    shape.push_back(static_cast<std::int64_t>(to_count(dim, max_dim, where, "'shape' dims")));
  }
  return shape;
}

Entry parse_entry(const std::string& tensor, const HeaderJson& value, std::uint64_t buffer_size,
                  const IoLimits& limits, const std::string& name) {
  const std::string where = name + ": tensor " + quoted(tensor);
  FMAV_CHECK(value.is_object(), where,
             " must be an object with dtype, shape and data_offsets, got ", value.type_name());
  Entry entry;
  entry.name = tensor;
  entry.dtype = parse_dtype(value, where);
  entry.shape = parse_shape(value, limits, where);

  const auto it = value.find("data_offsets");
  FMAV_CHECK(it != value.end() && it->is_array() && it->size() == 2, where,
             ": 'data_offsets' must be an array [begin, end]");
  const std::uint64_t kAny = std::numeric_limits<std::uint64_t>::max();
  entry.begin = to_count((*it)[0], kAny, where, "'data_offsets'");
  entry.end = to_count((*it)[1], kAny, where, "'data_offsets'");
  const std::string range =
      "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
  FMAV_CHECK(entry.begin <= entry.end, where, ": data_offsets ", range, " end before they begin");
  FMAV_CHECK(entry.end <= buffer_size, where, ": data_offsets ", range,
             " reach past the data buffer of ", buffer_size, " bytes");

  std::uint64_t nbytes = 0;
  FMAV_CHECK(checked_nbytes(entry.shape, dtype_size(entry.dtype), &nbytes), where, ": shape ",
             shape_str(entry.shape), " of ", dtype_name(entry.dtype),
             ", whose size in bytes overflows 64 bits");
  FMAV_CHECK(entry.end - entry.begin == nbytes, where, ": shape ", shape_str(entry.shape), " of ",
             dtype_name(entry.dtype), " needs ", nbytes, " bytes but data_offsets ", range,
             " hold ", entry.end - entry.begin);
  FMAV_CHECK(nbytes <= limits.max_tensor_bytes, where, ": tensor is ", nbytes,
             " bytes, more than the limit of ", limits.max_tensor_bytes);
  return entry;
}

// Two tensors sharing bytes would alias each other; empty ranges share none.
void check_overlaps(std::vector<Entry> entries, const std::string& name) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin == entry.end) continue;
    FMAV_CHECK(previous == nullptr || entry.begin >= previous->end, name, ": tensors ",
               quoted(previous->name), " [", previous->begin, ", ", previous->end, "] and ",
               quoted(entry.name), " [", entry.begin, ", ", entry.end, "] overlap");
    if (previous == nullptr || entry.end > previous->end) previous = &entry;
  }
}

// ---- writing ----

std::string serialize(const TensorMap& tensors, const Metadata& metadata, const std::string& name) {
  HeaderJson header = HeaderJson::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [tensor_name, tensor] : tensors) {
    FMAV_CHECK(tensor_name != kMetadataKey, name, ": ", kMetadataKey,
               " is reserved and cannot name a tensor");
    std::uint64_t nbytes = 0;
    FMAV_CHECK(checked_nbytes(tensor.shape, dtype_size(tensor.dtype), &nbytes) &&
                   nbytes == tensor.data.size(),
               name, ": tensor ", quoted(tensor_name), " of shape ", shape_str(tensor.shape),
               " and dtype ", dtype_name(tensor.dtype), " holds ", tensor.data.size(),
               " bytes of data, which does not match its shape");
    HeaderJson offsets = HeaderJson::array({offset, offset + nbytes});
    header[tensor_name] = HeaderJson::object(
        {{"dtype", dtype_name(tensor.dtype)}, {"shape", tensor.shape}, {"data_offsets", offsets}});
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const HeaderJson::exception& e) {
    throw Error(name + ": tensor names and metadata must be valid UTF-8: " + e.what());
  }
  // Spaces keep the data buffer 8-byte aligned, as the safetensors reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  out += text;
  for (const auto& entry : tensors) {
    out.append(reinterpret_cast<const char*>(entry.second.data.data()), entry.second.data.size());
  }
  return out;
}

}  // namespace

namespace {

// The validated header of a .safetensors image: each tensor's entry and where the data begin.
struct Parsed {
  std::vector<Entry> entries;
  const std::uint8_t* buffer = nullptr;
  Metadata metadata;
};

Parsed parse_header(const std::uint8_t* bytes, std::size_t size, const IoLimits& limits, const std::string& name) {
  FMAV_CHECK(bytes != nullptr || size == 0, name, ": null buffer of ", size, " bytes");
  FMAV_CHECK(size >= 8, name, ": file is ", size,
             " bytes, too short for the 8-byte safetensors header size (truncated?)");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  FMAV_CHECK(header_size <= size - 8, name, ": header size field says ", header_size,
             " bytes but the file holds only ", size - 8,
             " bytes after it (truncated, or not a .safetensors file?)");
  FMAV_CHECK(header_size <= limits.max_header_bytes, name, ": header is ", header_size,
             " bytes, more than the limit of ", limits.max_header_bytes);

  const auto* text = reinterpret_cast<const char*>(bytes) + 8;
  const HeaderJson header = parse_json(text, static_cast<std::size_t>(header_size), limits, name);
  FMAV_CHECK(header.is_object(), name, ": header must be a JSON object, got ", header.type_name());

  Parsed parsed;
  parsed.buffer = bytes + 8 + header_size;
  const std::uint64_t buffer_size = size - 8 - header_size;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      parsed.metadata = parse_metadata(value, name);
    } else {
      parsed.entries.push_back(parse_entry(key, value, buffer_size, limits, name));
    }
  }
  check_overlaps(parsed.entries, name);
  return parsed;
}

// A read-only mapping of a whole file, unmapped with it.
struct Mapping {
  void* address = MAP_FAILED;
  std::size_t size = 0;
  ~Mapping() {
    if (address != MAP_FAILED) munmap(address, size);
  }
};

}  // namespace

TensorMap parse_safetensors(const std::uint8_t* bytes, std::size_t size, Metadata* metadata,
                            const IoLimits& limits, const std::string& name) {
  Parsed parsed = parse_header(bytes, size, limits, name);
  TensorMap tensors;
  for (Entry& entry : parsed.entries) {
    HostTensor& tensor = tensors[entry.name];
    tensor.dtype = entry.dtype;
    tensor.shape = std::move(entry.shape);
    tensor.data.assign(parsed.buffer + entry.begin, parsed.buffer + entry.end);
  }
  if (metadata != nullptr) *metadata = std::move(parsed.metadata);
  return tensors;
}

MappedSafetensors::MappedSafetensors(const std::string& path, const IoLimits& limits) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FMAV_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat info {};
  const bool stated = ::fstat(fd, &info) == 0;
  const int stat_errno = errno;
  auto mapping = std::make_shared<Mapping>();
  if (stated && S_ISREG(info.st_mode) && info.st_size > 0) {
    mapping->size = static_cast<std::size_t>(info.st_size);
    mapping->address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  const int map_errno = errno;
  ::close(fd);
  FMAV_CHECK(stated, path, ": cannot stat: ", std::strerror(stat_errno));
  FMAV_CHECK(S_ISREG(info.st_mode), path, ": not a regular file");
  FMAV_CHECK(info.st_size == 0 || mapping->address != MAP_FAILED, path, ": cannot map: ", std::strerror(map_errno));
  // Each tensor is read once, front to back, when it is copied out.
  if (mapping->address != MAP_FAILED) ::madvise(mapping->address, mapping->size, MADV_SEQUENTIAL);
  const auto* bytes = mapping->address == MAP_FAILED ? nullptr : static_cast<const std::uint8_t*>(mapping->address);
  Parsed parsed = parse_header(bytes, mapping->size, limits, path);
  for (Entry& entry : parsed.entries) {
    TensorView& view = m_tensors[entry.name];
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.data = parsed.buffer + entry.begin;
    view.nbytes = static_cast<std::size_t>(entry.end - entry.begin);
  }
  m_metadata = std::move(parsed.metadata);
  m_mapping = std::move(mapping);
}

TensorMap read_safetensors(const std::string& path, Metadata* metadata, const IoLimits& limits) {
  // No cap on the file as a whole: it may hold any number of tensors, each of which is checked
  // against max_tensor_bytes, and reading it allocates no more than its real size.
  const std::string bytes = read_file_bytes(path, std::numeric_limits<std::uint64_t>::max());
  return parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                           metadata, limits, path);
}

std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  return serialize(tensors, metadata, "serialize_safetensors");
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata) {
  write_file_atomic(path, serialize(tensors, metadata, path));
}

}  // namespace fmav
