// Tests of fmav_io: HostTensor, .npy and .safetensors round trips, hostile files (each error
// message asserted), and atomic writes.

#include "fmav/error.h"
#include "fmav/tensor.h"
#include "fmav/tensor_io.h"
#include "fmav/mapped_safetensors.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace fmav {
namespace {

namespace fs = std::filesystem;

using fmav_test::throws_error;

const std::vector<DType> kNpyDTypes = {DType::f32, DType::f64, DType::f16,
                                       DType::i64, DType::i32, DType::u8};
const std::vector<DType> kAllDTypes = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                       DType::i64, DType::i32, DType::u8};
const std::vector<std::vector<std::int64_t>> kShapes = {{}, {0}, {1}, {2, 3, 4}};

// A tensor with recognizable bytes.
HostTensor sample(DType dtype, std::vector<std::int64_t> shape, int seed = 0) {
  HostTensor tensor = make_host_tensor(dtype, std::move(shape));
  for (std::size_t i = 0; i < tensor.data.size(); ++i) {
    tensor.data[i] = static_cast<std::uint8_t>(i * 37 + 11 + seed);
  }
  return tensor;
}

void expect_same(const HostTensor& a, const HostTensor& b) {
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.data, b.data);
}

HostTensor parse_npy_text(const std::string& bytes, const IoLimits& limits = {}) {
  return parse_npy(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), limits,
                   "x.npy");
}

TensorMap parse_st_text(const std::string& bytes, std::map<std::string, std::string>* metadata,
                        const IoLimits& limits = {}) {
  return parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                           metadata, limits, "x.safetensors");
}

// An .npy file with the header text as given (no padding), then `payload`.
std::string npy_bytes(const std::string& header, std::size_t payload, int major = 1) {
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>(header.size() >> (8 * i));
  return out + header + std::string(payload, '\x01');
}

std::string npy_dict(const std::string& descr, const std::string& shape,
                     const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// A .safetensors file with the JSON as given, then a buffer of `buffer` bytes.
std::string st_bytes(const std::string& json, std::size_t buffer) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>(json.size() >> (8 * i));
  return out + json + std::string(buffer, '\x02');
}

std::string st_entry(const std::string& dtype, const std::string& shape,
                     const std::string& offsets) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

// A fresh folder per test, removed afterwards.
class TensorIoFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fmav_io_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override {
    fs::permissions(m_dir, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(m_dir);
  }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(m_dir))
      names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  static std::string slurp(const std::string& file) { return read_file_bytes(file, 1 << 20); }
  static void put(const std::string& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary) << bytes;
  }

  fs::path m_dir;
};

// ---- HostTensor ----

TEST(HostTensor, DTypeSizesAndNames) {
  const std::vector<std::size_t> sizes = {4, 8, 2, 2, 8, 4, 1};
  const std::vector<std::string> names = {"F32", "F64", "F16", "BF16", "I64", "I32", "U8"};
  for (std::size_t i = 0; i < kAllDTypes.size(); ++i) {
    EXPECT_EQ(dtype_size(kAllDTypes[i]), sizes[i]);
    EXPECT_EQ(dtype_name(kAllDTypes[i]), names[i]);
  }
}

TEST(HostTensor, NumelShapeStrAndAccessors) {
  EXPECT_EQ(make_host_tensor(DType::f32, {}).numel(), 1);
  EXPECT_EQ(make_host_tensor(DType::f32, {0}).numel(), 0);
  HostTensor t = make_host_tensor(DType::f64, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 24u * 8);
  EXPECT_EQ(shape_str(t.shape), "[2, 3, 4]");
  EXPECT_EQ(shape_str({}), "[]");
  t.f64()[23] = 1.5;
  EXPECT_EQ(static_cast<const HostTensor&>(t).f64()[23], 1.5);
  EXPECT_TRUE(throws_error([&] { t.f32(); },
                           "tensor has dtype F64 and shape [2, 3, 4], expected dtype F32"));
  EXPECT_TRUE(throws_error(
      [&] {
        make_host_tensor(DType::u8, {2, -1});
      },
      "non-negative dims, got [2, -1]"));
  EXPECT_TRUE(throws_error(
      [&] {
        make_host_tensor(DType::f32, {1ll << 40, 1ll << 40});
      },
      "overflows"));
}

TEST(HostTensor, AssertThrowsInternalError) {
  EXPECT_TRUE(throws_error([] { FMAV_ASSERT(1 + 1 == 3, "math is ", "broken"); },
                           "internal error: 1 + 1 == 3 at "));
  EXPECT_TRUE(throws_error([] { FMAV_ASSERT(false, "x=", 7); }, "test_tensor_io.cpp:"));
  EXPECT_TRUE(throws_error([] { FMAV_ASSERT(false, "x=", 7); }, ": x=7"));
}

// ---- npy ----

TEST(Npy, RoundTripsEveryDTypeAndShape) {
  for (DType dtype : kNpyDTypes) {
    for (const auto& shape : kShapes) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + shape_str(shape));
      const HostTensor tensor = sample(dtype, shape);
      const std::string bytes = serialize_npy(tensor);
      EXPECT_EQ(bytes[6], 1);
      const auto byte = [&](int i) {
        return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i]));
      };
      const std::size_t header_end = 10 + (byte(8) | byte(9) << 8);
      EXPECT_EQ(header_end % 64, 0u);
      EXPECT_EQ(bytes[header_end - 1], '\n');
      EXPECT_EQ(bytes.size(), header_end + tensor.data.size());
      expect_same(parse_npy_text(bytes), tensor);
    }
  }
}

TEST(Npy, WritesNumpysHeader) {
  const std::string one = serialize_npy(sample(DType::u8, {5}));
  EXPECT_NE(one.find("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"),
            std::string::npos);
  EXPECT_NE(serialize_npy(sample(DType::f32, {})).find("'shape': ()"), std::string::npos);
  EXPECT_NE(serialize_npy(sample(DType::i64, {2, 3})).find("'<i8'"), std::string::npos);
}

TEST(Npy, WritesVersion2WhenTheHeaderNeedsIt) {
  const HostTensor tensor = sample(DType::u8, std::vector<std::int64_t>(25000, 1));
  const std::string bytes = serialize_npy(tensor);
  EXPECT_EQ(bytes[6], 2);
  IoLimits limits;
  limits.max_dims = 25000;
  expect_same(parse_npy_text(bytes, limits), tensor);
  EXPECT_TRUE(throws_error([&] { parse_npy_text(bytes); }, "'shape' has more than 8 dims"));
}

TEST(Npy, WriterRejectsBf16AndInconsistentTensors) {
  EXPECT_TRUE(throws_error([] { serialize_npy(sample(DType::bf16, {2})); }, "BF16 has no .npy"));
  HostTensor bad = sample(DType::f32, {2, 2});
  bad.data.pop_back();
  EXPECT_TRUE(throws_error([&] { serialize_npy(bad); }, "needs 16 bytes of data, has 15"));
  bad.shape = {-2, 2};
  EXPECT_TRUE(throws_error([&] { serialize_npy(bad); }, "must have non-negative dims"));
}

TEST(Npy, ParsesVersions2And3) {
  for (int major : {2, 3}) {
    const HostTensor t = parse_npy_text(npy_bytes(npy_dict("<f4", "(2, 3)") + "\n", 24, major));
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(t.data, std::vector<std::uint8_t>(24, 1));
  }
}

TEST(Npy, ParsesOddlySpacedHeaders) {
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> cases = {
      {"{ 'shape' :( 2 ,3 , ) ,\n\t'fortran_order':False,'descr' : '<i4' }   \n", {2, 3}},
      {"{\"descr\":\"<i4\",\"fortran_order\":False,\"shape\":(6,)}", {6}},
      {"{'fortran_order': False, 'shape': (3L, 2L), 'descr': '=i4',}\n", {3, 2}},
      {"{'descr':'<i4','fortran_order':False,'shape':(1,1,6,)}", {1, 1, 6}},
  };
  for (const auto& [header, shape] : cases) {
    SCOPED_TRACE(header);
    const HostTensor t = parse_npy_text(npy_bytes(header, 24));
    EXPECT_EQ(t.dtype, DType::i32);
    EXPECT_EQ(t.shape, shape);
  }
  EXPECT_EQ(parse_npy_text(npy_bytes(npy_dict("u1", "()"), 1)).dtype, DType::u8);
  EXPECT_EQ(parse_npy_text(npy_bytes(npy_dict("<u1", "(0,)"), 0)).numel(), 0);
}

TEST(Npy, RejectsBadPreambles) {
  const std::string good = serialize_npy(sample(DType::f32, {2, 3}));
  EXPECT_TRUE(throws_error([] { parse_npy_text("\x93NUMPZ\x01\x00"); }, "x.npy: not a .npy file"));
  EXPECT_TRUE(throws_error([] { parse_npy_text("PK\x03\x04"); }, "got PK\\x03\\x04"));
  EXPECT_TRUE(throws_error([] { parse_npy(nullptr, 0, {}, "e.npy"); }, "e.npy: file is 0 bytes"));
  std::string v4 = good;
  v4[6] = 4;
  EXPECT_TRUE(throws_error([&] { parse_npy_text(v4); }, "unsupported npy version 4.0"));
  std::string long_header = good;
  long_header[9] = 0x7f;
  EXPECT_TRUE(throws_error([&] { parse_npy_text(long_header); },
                           "header declares 32630 bytes but the file holds only"));
  IoLimits small;
  small.max_header_bytes = 32;
  EXPECT_TRUE(throws_error([&] { parse_npy_text(good, small); },
                           "header is 118 bytes, more than the limit of 32"));
}

TEST(Npy, EveryTruncationThrows) {
  const std::string good = serialize_npy(sample(DType::f32, {2, 3}));
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_TRUE(throws_error([&] { parse_npy_text(good.substr(0, cut)); }, "x.npy: "));
  }
  EXPECT_TRUE(
      throws_error([&] { parse_npy_text(good.substr(0, good.size() - 1)); },
                   "(2, 3) of float32 = 24 bytes but the file holds 23 bytes after the header"));
  EXPECT_TRUE(
      throws_error([&] { parse_npy_text(good + "xyz"); }, "holds 27 bytes after the header"));
}

TEST(Npy, RejectsLyingAndHugeShapes) {
  EXPECT_TRUE(throws_error(
      [] { parse_npy_text(npy_bytes(npy_dict("<f4", "(3, 3)"), 24)); },
      "x.npy: header declares shape (3, 3) of float32 = 36 bytes but the file holds 24"));
  EXPECT_TRUE(throws_error(
      [] { parse_npy_text(npy_bytes(npy_dict("<f4", "(2147483648, 2147483648)"), 20)); },
      "shape (2147483648, 2147483648) of float32, whose size in bytes overflows 64 bits"));
  EXPECT_TRUE(throws_error(
      [] { parse_npy_text(npy_bytes(npy_dict("|u1", "(2147483648, 2147483648)"), 20)); },
      "= 4611686018427387904 bytes but the file holds 20 bytes"));
  EXPECT_TRUE(
      throws_error([] { parse_npy_text(npy_bytes(npy_dict("<f8", "(99999999999999999999,)"), 0)); },
                   "does not fit in 64 bits"));
  IoLimits small;
  small.max_tensor_bytes = 16;
  EXPECT_TRUE(throws_error([&] { parse_npy_text(npy_bytes(npy_dict("<f4", "(5,)"), 20), small); },
                           "tensor is 20 bytes, more than the limit of 16"));
  EXPECT_TRUE(
      throws_error([] { parse_npy_text(npy_bytes(npy_dict("<f4", "(1,1,1,1,1,1,1,1,1)"), 4)); },
                   "'shape' has more than 8 dims"));
}

TEST(Npy, RejectsBadHeaderValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {npy_dict("<c8", "(1,)"),
       "x.npy: unsupported dtype '<c8', expected one of <f4 <f8 <f2 <i8 <i4 |u1"},
      {npy_dict("|b1", "(1,)"), "unsupported dtype '|b1'"},
      {npy_dict(">f4", "(1,)"), "big-endian dtype '>f4' is not supported"},
      {npy_dict("<f4", "(1,)", "True"), "fortran_order is True"},
      {npy_dict("<f4", "(1,)", "1"), "'fortran_order' must be True or False, got '1'"},
      {npy_dict("<f4", "(-1, 3)"), "dims must be non-negative integers, got '-1'"},
      {npy_dict("<f4", "(2.5,)"), "got '2.5'"},
      {npy_dict("<f4", "[1]"), "expected a tuple such as (2, 3) for 'shape'"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "structured dtypes"},
      {"{'descr': '<f4', 'shape': (1,)}", "missing key 'fortran_order'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
       "key 'descr' appears twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unknown key 'x'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk",
       "unexpected text after the closing '}'"},
      {"{'descr': '<f4", "unterminated string"},
      {"{'descr' '<f4'}", "expected ':' after the key"},
      {"", "expected '{' opening the header dict"},
  };
  for (const auto& [header, message] : cases) {
    SCOPED_TRACE(header);
    EXPECT_TRUE(throws_error([&] { parse_npy_text(npy_bytes(header, 4)); }, message));
  }
}

TEST(Npy, RandomCorruptionNeverCrashes) {
  const std::string good = serialize_npy(sample(DType::f64, {3, 2}));
  std::mt19937 rng(1234);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % 128] = static_cast<char>(rng());
    try {
      parse_npy_text(bytes);
    } catch (const Error&) {
    }
  }
}

// ---- safetensors ----

TEST(Safetensors, RoundTripsEveryDTypeAndShape) {
  TensorMap tensors;
  int seed = 0;
  for (DType dtype : kAllDTypes) {
    for (const auto& shape : kShapes) {
      tensors[std::string(dtype_name(dtype)) + shape_str(shape)] = sample(dtype, shape, seed++);
    }
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "[[{\""}};
  const std::string bytes = serialize_safetensors(tensors, metadata);
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = header_size << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_size % 8, 0u);
  std::map<std::string, std::string> read_metadata;
  const TensorMap back = parse_st_text(bytes, &read_metadata);
  EXPECT_EQ(read_metadata, metadata);
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    expect_same(back.at(name), tensor);
  }
  EXPECT_TRUE(parse_st_text(serialize_safetensors({}), nullptr).empty());
}

TEST(Safetensors, WritesSortedConsecutiveOffsets) {
  const std::string bytes =
      serialize_safetensors({{"b", sample(DType::u8, {3})}, {"a", sample(DType::f32, {2})}});
  EXPECT_NE(bytes.find("{\"a\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]},"
                       "\"b\":{\"data_offsets\":[8,11],\"dtype\":\"U8\",\"shape\":[3]}}"),
            std::string::npos);
  EXPECT_TRUE(throws_error(
      [] {
        serialize_safetensors({{"__metadata__", sample(DType::u8, {1})}});
      },
      "__metadata__ is reserved"));
  EXPECT_TRUE(throws_error(
      [] {
        serialize_safetensors({{"bad\xff", sample(DType::u8, {1})}});
      },
      "valid UTF-8"));
  HostTensor bad = sample(DType::i32, {3});
  bad.shape = {4};
  EXPECT_TRUE(throws_error([&] { serialize_safetensors({{"t", bad}}); }, "holds 12 bytes of data"));
}

TEST(Safetensors, ReadsGapsAndPaddedHeaders) {
  const std::string json = "{\"a\":" + st_entry("U8", "[2]", "[4,6]") + "}   ";
  const TensorMap t = parse_st_text(st_bytes(json, 8), nullptr);
  EXPECT_EQ(t.at("a").data, std::vector<std::uint8_t>(2, 2));
}

TEST(Safetensors, EveryTruncationThrows) {
  const std::string good = serialize_safetensors({{"w", sample(DType::f32, {2, 2})}}, {{"k", "v"}});
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_TRUE(
        throws_error([&] { parse_st_text(good.substr(0, cut), nullptr); }, "x.safetensors: "));
  }
}

TEST(Safetensors, RejectsBadSizesAndJson) {
  EXPECT_TRUE(throws_error([] { parse_st_text("abc", nullptr); },
                           "too short for the 8-byte safetensors header size"));
  std::string lying = st_bytes("{}", 0);
  lying[1] = 0x03;
  EXPECT_TRUE(
      throws_error([&] { parse_st_text(lying, nullptr); },
                   "x.safetensors: header size field says 770 bytes but the file holds only 2"));
  IoLimits small;
  small.max_header_bytes = 4;
  EXPECT_TRUE(throws_error([&] { parse_st_text(st_bytes("{}      ", 0), nullptr, small); },
                           "more than the limit of 4"));
  EXPECT_TRUE(throws_error([] { parse_st_text(st_bytes("[1, 2]", 0), nullptr); },
                           "header must be a JSON object, got array"));
  EXPECT_TRUE(throws_error([] { parse_st_text(st_bytes("{\"a\":", 0), nullptr); },
                           "x.safetensors: header is not valid JSON"));
  EXPECT_TRUE(throws_error([] { parse_st_text(st_bytes(std::string(10000, '['), 0), nullptr); },
                           "header JSON nests deeper than the limit of 16 levels"));
  const std::string ok_depth = "{\"__metadata__\":{\"k\":\"" + std::string(100, '[') + "\"}}";
  EXPECT_TRUE(parse_st_text(st_bytes(ok_depth, 0), nullptr).empty());
}

TEST(Safetensors, RejectsBadEntries) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"a\":" + st_entry("F32", "[2]", "[0,8]") + ",\"b\":" + st_entry("F32", "[2]", "[4,12]") +
           "}",
       "tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
      {"{\"a\":" + st_entry("F32", "[4]", "[0,16]") + "}",
       "tensor 'a': data_offsets [0, 16] reach past the data buffer of 12 bytes"},
      {"{\"a\":" + st_entry("F32", "[0]", "[8,4]") + "}",
       "data_offsets [8, 4] end before they begin"},
      {"{\"a\":" + st_entry("F32", "[3]", "[0,8]") + "}",
       "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8"},
      {"{\"a\":" + st_entry("F32", "[4294967296,4294967296]", "[0,8]") + "}", "overflows 64 bits"},
      {"{\"a\":" + st_entry("F8_E4M3", "[1]", "[0,1]") + "}",
       "unsupported dtype 'F8_E4M3', expected one of F32"},
      {"{\"a\":" + st_entry("F32", "[-1]", "[0,0]") + "}",
       "'shape' dims must be non-negative integers, got -1"},
      {"{\"a\":" + st_entry("F32", "[2.0]", "[0,8]") + "}", "got 2.0"},
      {"{\"a\":" + st_entry("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") + "}",
       "'shape' has 9 dims, more than the limit of 8"},
      {"{\"a\":" + st_entry("U8", "[1]", "[0]") + "}",
       "'data_offsets' must be an array [begin, end]"},
      {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "tensor 'a': 'dtype' must be a string"},
      {"{\"a\":[1]}", "tensor 'a' must be an object with dtype, shape and data_offsets, got array"},
      {"{\"__metadata__\":{\"k\":1}}", "__metadata__ value 'k' must be a string, got number"},
      {"{\"__metadata__\":[\"k\"]}", "__metadata__ must be an object of strings, got array"},
  };
  for (const auto& [json, message] : cases) {
    SCOPED_TRACE(json);
    EXPECT_TRUE(throws_error([&] { parse_st_text(st_bytes(json, 12), nullptr); }, message));
  }
  // Empty ranges hold no bytes, so they overlap nothing.
  const std::string empty = "{\"a\":" + st_entry("F32", "[2]", "[0,8]") +
                            ",\"b\":" + st_entry("F32", "[0]", "[4,4]") + "}";
  EXPECT_EQ(parse_st_text(st_bytes(empty, 8), nullptr).size(), 2u);
}

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  const std::string good =
      serialize_safetensors({{"a", sample(DType::f32, {2})}, {"b", sample(DType::u8, {3})}});
  std::mt19937 rng(99);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      parse_st_text(bytes, nullptr);
    } catch (const Error&) {
    }
  }
}

// ---- files ----

TEST_F(TensorIoFiles, ReadsAndWritesByExtension) {
  const HostTensor t = sample(DType::i32, {2, 3});
  write_tensor_file(path("a.NPY"), t);
  expect_same(read_tensor_file(path("a.NPY")), t);
  expect_same(read_npy(path("a.NPY")), t);
  write_tensor_file(path("b.SafeTensors"), t);
  expect_same(read_tensor_file(path("b.SafeTensors")), t);
  expect_same(read_tensor_file(path("b.SafeTensors"), "tensor"), t);
  write_tensor_file(path("c.safetensors"), t, "q");
  expect_same(read_safetensors(path("c.safetensors")).at("q"), t);
  EXPECT_TRUE(throws_error([&] { read_tensor_file(path("c.safetensors"), "k"); },
                           "no tensor named 'k'; it holds 'q'"));
  write_safetensors(path("d.safetensors"), {{"q", t}, {"k", t}}, {{"who", "test"}});
  std::map<std::string, std::string> metadata;
  EXPECT_EQ(read_safetensors(path("d.safetensors"), &metadata).size(), 2u);
  EXPECT_EQ(metadata.at("who"), "test");
  EXPECT_TRUE(throws_error([&] { read_tensor_file(path("d.safetensors")); },
                           "holds 2 tensors ('k', 'q'), expected exactly one"));
  expect_same(read_tensor_file(path("d.safetensors"), "k"), t);
  EXPECT_TRUE(throws_error([&] { read_tensor_file(path("e.txt")); },
                           "e.txt: unsupported extension '.txt', expected .npy or .safetensors"));
  EXPECT_TRUE(throws_error([&] { write_tensor_file(path("e"), t); }, "e: no extension"));
  EXPECT_TRUE(throws_error([&] { write_npy(path("f.npy"), sample(DType::bf16, {1})); },
                           "f.npy: dtype BF16"));
}

// The mapped reader sees what read_safetensors reads, and refuses what it refuses, with the
// same messages.
TEST_F(TensorIoFiles, MappedSafetensorsMatchesTheReader) {
  const TensorMap tensors = {{"a", sample(DType::f32, {3, 5})}, {"b", sample(DType::bf16, {7})},
                             {"c", sample(DType::u8, {0})}, {"d", sample(DType::i64, {2, 1})}};
  write_safetensors(path("m.safetensors"), tensors, {{"format", "pt"}});
  {
    const MappedSafetensors mapped(path("m.safetensors"));
    ASSERT_EQ(mapped.tensors().size(), tensors.size());
    for (const auto& [name, want] : tensors) {
      const TensorView& view = mapped.tensors().at(name);
      EXPECT_EQ(view.dtype, want.dtype) << name;
      EXPECT_EQ(view.shape, want.shape) << name;
      ASSERT_EQ(view.nbytes, want.data.size()) << name;
      EXPECT_TRUE(std::equal(want.data.begin(), want.data.end(), view.data)) << name;
    }
    EXPECT_EQ(mapped.metadata().at("format"), "pt");
  }
  const std::string good = slurp(path("m.safetensors"));
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{20}, good.size() - 1}) {
    put(path("cut.safetensors"), good.substr(0, cut));
    std::string want;
    try {
      read_safetensors(path("cut.safetensors"));
    } catch (const Error& e) {
      want = e.what();
    }
    ASSERT_FALSE(want.empty()) << cut;
    EXPECT_TRUE(throws_error([&] { MappedSafetensors m(path("cut.safetensors")); }, want)) << cut;
  }
  put(path("lie.safetensors"), st_bytes("{\"a\":" + st_entry("F32", "[4]", "[0,16]") + "}", 12));
  EXPECT_TRUE(throws_error([&] { MappedSafetensors m(path("lie.safetensors")); },
                           "lie.safetensors: tensor 'a': data_offsets [0, 16] reach past the data buffer of 12 bytes"));
  EXPECT_TRUE(throws_error([&] { MappedSafetensors m(path("none.safetensors")); }, "none.safetensors: cannot open"));
  EXPECT_TRUE(throws_error([&] { MappedSafetensors m(m_dir.string()); }, "not a regular file"));
}

TEST_F(TensorIoFiles, ReadFileBytesReportsProblems) {
  EXPECT_TRUE(throws_error([&] { read_file_bytes(path("q.npy"), 100); }, "q.npy: no such file"));
  EXPECT_TRUE(throws_error([&] { read_npy(path("q.npy")); }, "q.npy: no such file"));
  put(path("big.npy"), "0123456789");
  EXPECT_EQ(read_file_bytes(path("big.npy"), 10), "0123456789");
  EXPECT_TRUE(throws_error([&] { read_file_bytes(path("big.npy"), 9); },
                           "big.npy: file is 10 bytes, more than the limit of 9"));
  EXPECT_TRUE(throws_error([&] { read_npy(path("big.npy")); }, "big.npy: not a .npy file"));
  EXPECT_TRUE(
      throws_error([&] { read_file_bytes(m_dir.string(), 9); }, "is a folder, expected a file"));
  put(path("empty"), "");
  EXPECT_EQ(read_file_bytes(path("empty"), 0), "");
}

TEST_F(TensorIoFiles, AtomicWriteReplacesAndLeavesNoTemporary) {
  write_file_atomic(path("x.bin"), "old");
  write_file_atomic(path("x.bin"), "new content");
  EXPECT_EQ(slurp(path("x.bin")), "new content");
  EXPECT_EQ(listing(), std::vector<std::string>{"x.bin"});
}

TEST_F(TensorIoFiles, AtomicWriteFailuresKeepTheOldFile) {
  put(path("plain"), "old");
  EXPECT_TRUE(throws_error([&] { write_file_atomic(path("plain/x.npy"), "new"); },
                           "plain/x.npy: cannot write"));
  EXPECT_TRUE(
      throws_error([&] { write_file_atomic(path("plain/x.npy"), "new"); }, "Not a directory"));
  EXPECT_TRUE(throws_error([&] { write_file_atomic(path("missing/x.npy"), "new"); },
                           "No such file or directory"));
  fs::create_directory(path("folder"));
  put(path("folder/inside"), "old");
  EXPECT_TRUE(throws_error([&] { write_file_atomic(path("folder"), "new"); }, "renaming"));
  EXPECT_EQ(slurp(path("plain")), "old");
  EXPECT_EQ(slurp(path("folder/inside")), "old");
  EXPECT_EQ(listing(), (std::vector<std::string>{"folder", "plain"}));
}

TEST_F(TensorIoFiles, AtomicWriteFailsCleanlyWhenTheDiskFills) {
  // RLIMIT_FSIZE makes write() fail with EFBIG (SIGXFSZ ignored): a full disk, in miniature.
  write_file_atomic(path("x.bin"), "old");
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 4096;
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const bool threw = throws_error(
      [&] { write_file_atomic(path("x.bin"), std::string(1 << 20, 'n')); }, "x.bin: cannot write");
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_EQ(slurp(path("x.bin")), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"x.bin"});
}

TEST_F(TensorIoFiles, AtomicWriteIntoReadOnlyFolder) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores folder permissions";
  write_file_atomic(path("x.bin"), "old");
  fs::permissions(m_dir, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_TRUE(throws_error([&] { write_file_atomic(path("x.bin"), "new"); }, "Permission denied"));
  fs::permissions(m_dir, fs::perms::owner_all);
  EXPECT_EQ(slurp(path("x.bin")), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"x.bin"});
}

}  // namespace
}  // namespace fmav
