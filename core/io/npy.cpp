// NumPy .npy reader and writer (format versions 1.0-3.0, C order, little-endian). The header
// is a Python dict literal, parsed here by a small parser that is lenient about spacing and
// strict about meaning; every size is checked against the file before the payload is allocated.

#include "fmav/tensor_io.h"

#include "fmav/error.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace fmav {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

struct NpyDType {
  const char* descr;  // what the writer emits and the reader accepts first
  DType dtype;
  const char* numpy_name;
};

constexpr NpyDType kNpyDTypes[] = {
    {"<f4", DType::f32, "float32"}, {"<f8", DType::f64, "float64"}, {"<f2", DType::f16, "float16"},
    {"<i8", DType::i64, "int64"},   {"<i4", DType::i32, "int32"},   {"|u1", DType::u8, "uint8"},
};

const NpyDType* find_npy_dtype(DType dtype) {
  for (const NpyDType& entry : kNpyDTypes) {
    if (entry.dtype == dtype) return &entry;
  }
  return nullptr;
}

// Bytes of a (possibly binary) snippet, printable: \x93NUMPY.
std::string printable(const char* bytes, std::size_t size, std::size_t max_chars = 160) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (size > max_chars) out += "...";
  return out;
}

// "(2, 3)", "(5,)", "()": the shape as numpy writes it.
std::string tuple_str(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

// ---- header parsing ----

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Parses {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } in any key order, with
// any spacing and trailing commas. Only the three keys numpy writes are allowed, as in numpy.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name, int max_dims)
      : m_text(text), m_name(name), m_max_dims(max_dims) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{', "'{' opening the header dict");
    while (!eat('}')) {
      const std::string key = parse_string("a quoted key");
      expect(':', "':' after the key");
      if (key == "descr") {
        check_once(&seen_descr, key);
        if (peek() == '[') fail("structured dtypes (descr is a list) are not supported");
        header.descr = parse_string("a quoted dtype for 'descr', such as '<f4'");
      } else if (key == "fortran_order") {
        check_once(&seen_fortran, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        check_once(&seen_shape, key);
        header.shape = parse_shape();
      } else {
        fail("unknown key '" + key + "', expected only 'descr', 'fortran_order' and 'shape'");
      }
      if (!eat(',')) {
        expect('}', "',' or '}' after a value");
        break;
      }
    }
    skip_space();
    if (m_pos != m_text.size()) fail("unexpected text after the closing '}'");
    if (!seen_descr) fail("missing key 'descr'");
    if (!seen_fortran) fail("missing key 'fortran_order'");
    if (!seen_shape) fail("missing key 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(m_name + ": bad npy header: " + what + " (at byte " + std::to_string(m_pos) +
                " of header " + printable(m_text.data(), m_text.size()) + ")");
  }

  void check_once(bool* seen, const std::string& key) const {
    if (*seen) fail("key '" + key + "' appears twice");
    *seen = true;
  }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

  void skip_space() {
    while (m_pos < m_text.size() && is_space(m_text[m_pos])) ++m_pos;
  }

  // The next character after spaces; '\0' at the end (never a character the parser wants).
  char peek() {
    skip_space();
    return m_pos < m_text.size() ? m_text[m_pos] : '\0';
  }

  bool eat(char c) {
    if (peek() == c) {
      ++m_pos;
      return true;
    }
    return false;
  }

  void expect(char c, const char* what) {
    if (!eat(c)) fail(std::string("expected ") + what);
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(std::string("expected ") + what);
    std::string out;
    for (++m_pos; m_pos < m_text.size(); ++m_pos) {
      char c = m_text[m_pos];
      if (c == quote) {
        ++m_pos;
        return out;
      }
      if (c == '\\' && m_pos + 1 < m_text.size()) c = m_text[++m_pos];
      out += c;
    }
    fail("unterminated string");
  }

  // A bare token: a word or number, up to the next delimiter.
  std::string parse_token() {
    skip_space();
    const std::size_t begin = m_pos;
    while (m_pos < m_text.size() && !is_space(m_text[m_pos]) &&
           std::strchr(",:(){}", m_text[m_pos]) == nullptr) {
      ++m_pos;
    }
    return m_text.substr(begin, m_pos - begin);
  }

  bool parse_bool() {
    const std::string token = parse_token();
    if (token == "True") return true;
    if (token == "False") return false;
    fail("'fortran_order' must be True or False, got '" + printable(token.data(), token.size()) +
         "'");
  }

  std::vector<std::int64_t> parse_shape() {
    expect('(', "a tuple such as (2, 3) for 'shape'");
    std::vector<std::int64_t> shape;
    while (!eat(')')) {
      shape.push_back(parse_dim());
      if (shape.size() > static_cast<std::size_t>(m_max_dims)) {
        fail("'shape' has more than " + std::to_string(m_max_dims) + " dims (the limit)");
      }
      if (!eat(',')) {
        expect(')', "',' or ')' in 'shape'");
        break;
      }
    }
    return shape;
  }

  // A non-negative integer; Python 2 era files may spell it with an L suffix ("3L").
  std::int64_t parse_dim() {
    std::string token = parse_token();
    const std::string shown = printable(token.data(), token.size());
    if (!token.empty() && (token.back() == 'L' || token.back() == 'l')) token.pop_back();
    if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos) {
      fail("'shape' dims must be non-negative integers, got '" + shown + "'");
    }
    std::int64_t value = 0;
    for (char c : token) {
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, c - '0', &value)) {
        fail("'shape' dim " + shown + " does not fit in 64 bits");
      }
    }
    return value;
  }

  const std::string& m_text;
  const std::string& m_name;
  int m_max_dims;
  std::size_t m_pos = 0;
};

// '<f4' and friends; '=' (native) is little-endian on every machine fmav runs on, and a
// one-byte type has no byte order at all.
DType dtype_from_descr(const std::string& descr, const std::string& name) {
  const std::string shown = printable(descr.data(), descr.size());
  if (descr.size() == 3 && descr[0] == '>' && descr.substr(1) != "u1") {
    throw Error(name + ": big-endian dtype '" + shown +
                "' is not supported; save it little-endian, e.g. a.astype('<" + descr.substr(1) +
                "')");
  }
  std::string normalized = descr;
  if (normalized.size() == 3 && normalized[0] == '=') normalized[0] = '<';
  if (normalized == "u1" || normalized == "<u1" || normalized == ">u1") normalized = "|u1";
  for (const NpyDType& entry : kNpyDTypes) {
    if (normalized == entry.descr) return entry.dtype;
  }
  throw Error(name + ": unsupported dtype '" + shown +
              "', expected one of <f4 <f8 <f2 <i8 <i4 |u1");
}

std::uint64_t read_le(const std::uint8_t* bytes, std::size_t count) {
  std::uint64_t value = 0;
  for (std::size_t i = count; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

// The preamble: magic, version, header length. Returns the header's offset and length.
std::pair<std::size_t, std::uint64_t> parse_preamble(const std::uint8_t* bytes, std::size_t size,
                                                     const IoLimits& limits,
                                                     const std::string& name) {
  const auto* chars = reinterpret_cast<const char*>(bytes);
  const std::size_t magic_seen = size < kMagicSize ? size : kMagicSize;
  FMAV_CHECK(std::memcmp(chars, kMagic, magic_seen) == 0, name,
             ": not a .npy file: expected the magic \\x93NUMPY, got ",
             printable(chars, magic_seen));
  FMAV_CHECK(size >= kMagicSize + 2, name, ": file is ", size,
             " bytes, too short for the npy preamble (truncated?)");
  const int major = bytes[6], minor = bytes[7];
  FMAV_CHECK(major >= 1 && major <= 3 && minor == 0, name, ": unsupported npy version ", major, ".",
             minor, ", expected 1.0, 2.0 or 3.0");
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t preamble = kMagicSize + 2 + length_size;
  FMAV_CHECK(size >= preamble, name, ": file is ", size, " bytes, too short for the npy ", major,
             ".0 preamble of ", preamble, " bytes (truncated?)");
  const std::uint64_t header_len = read_le(bytes + kMagicSize + 2, length_size);
  FMAV_CHECK(header_len <= limits.max_header_bytes, name, ": header is ", header_len,
             " bytes, more than the limit of ", limits.max_header_bytes);
  FMAV_CHECK(header_len <= size - preamble, name, ": header declares ", header_len,
             " bytes but the file holds only ", size - preamble,
             " bytes after the preamble (truncated?)");
  return {preamble, header_len};
}

// The whole file: magic, version, header length, header padded to 64 bytes, data.
std::string serialize(const HostTensor& tensor, const std::string& name) {
  const NpyDType* entry = find_npy_dtype(tensor.dtype);
  FMAV_CHECK(entry != nullptr, name, ": dtype ", dtype_name(tensor.dtype),
             " has no .npy equivalent (numpy has no bfloat16); write .safetensors or convert");
  std::uint64_t nbytes = 0;
  FMAV_CHECK(checked_nbytes(tensor.shape, dtype_size(tensor.dtype), &nbytes), name, ": shape ",
             shape_str(tensor.shape), " must have non-negative dims");
  FMAV_CHECK(nbytes == tensor.data.size(), name, ": tensor of shape ", shape_str(tensor.shape),
             " and dtype ", dtype_name(tensor.dtype), " needs ", nbytes, " bytes of data, has ",
             tensor.data.size());

  const std::string dict = std::string("{'descr': '") + entry->descr +
                           "', 'fortran_order': False, 'shape': " + tuple_str(tensor.shape) + ", }";
  // numpy pads the header with spaces and a final '\n' so that the data starts 64-aligned.
  std::size_t preamble = kMagicSize + 4;
  std::size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  if (total - preamble > 0xffff) {
    preamble = kMagicSize + 6;
    total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  }
  const std::uint64_t header_len = total - preamble;

  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(preamble == kMagicSize + 4 ? 1 : 2);
  out += '\0';
  for (std::size_t i = 0; i < preamble - kMagicSize - 2; ++i) {
    out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  }
  out += dict;
  out.append(total - out.size() - 1, ' ');
  out += '\n';
  out.append(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
  return out;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
}

}  // namespace

HostTensor parse_npy(const std::uint8_t* bytes, std::size_t size, const IoLimits& limits,
                     const std::string& name) {
  FMAV_CHECK(bytes != nullptr || size == 0, name, ": null buffer of ", size, " bytes");
  static const std::uint8_t kEmpty = 0;
  if (bytes == nullptr) bytes = &kEmpty;
  const auto [preamble, header_len] = parse_preamble(bytes, size, limits, name);
  const std::string text(reinterpret_cast<const char*>(bytes) + preamble,
                         static_cast<std::size_t>(header_len));
  NpyHeader header = HeaderParser(text, name, limits.max_dims).parse();

  const DType dtype = dtype_from_descr(header.descr, name);
  FMAV_CHECK(!header.fortran_order, name,
             ": fortran_order is True; only C-order arrays are supported "
             "(save np.ascontiguousarray(a))");
  const char* numpy_name = find_npy_dtype(dtype)->numpy_name;
  std::uint64_t nbytes = 0;
  FMAV_CHECK(checked_nbytes(header.shape, dtype_size(dtype), &nbytes), name,
             ": header declares shape ", tuple_str(header.shape), " of ", numpy_name,
             ", whose size in bytes overflows 64 bits");
  const std::size_t offset = preamble + static_cast<std::size_t>(header_len);
  const std::size_t available = size - offset;
  FMAV_CHECK(nbytes == available, name, ": header declares shape ", tuple_str(header.shape), " of ",
             numpy_name, " = ", nbytes, " bytes but the file holds ", available,
             " bytes after the header");
  FMAV_CHECK(nbytes <= limits.max_tensor_bytes, name, ": tensor is ", nbytes,
             " bytes, more than the limit of ", limits.max_tensor_bytes);

  HostTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(header.shape);
  tensor.data.assign(bytes + offset, bytes + offset + available);
  return tensor;
}

HostTensor read_npy(const std::string& path, const IoLimits& limits) {
  // The largest file worth reading: a v2 preamble, the largest header and tensor allowed.
  const std::uint64_t max_bytes = saturating_add(
      kMagicSize + 6, saturating_add(limits.max_header_bytes, limits.max_tensor_bytes));
  const std::string bytes = read_file_bytes(path, max_bytes);
  return parse_npy(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), limits, path);
}

std::string serialize_npy(const HostTensor& tensor) { return serialize(tensor, "serialize_npy"); }

void write_npy(const std::string& path, const HostTensor& tensor) {
  write_file_atomic(path, serialize(tensor, path));
}

}  // namespace fmav
