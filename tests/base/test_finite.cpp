// The non-finite scan and check (fmav/finite.h): counts, signs, the first position, every
// float dtype, and the message that names the tensor.

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>

#include "fmav/error.h"
#include "fmav/finite.h"
#include "fmav/tensor.h"

namespace fmav {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
void put(HostTensor* t, std::int64_t i, T value) {
  std::memcpy(t->data.data() + i * sizeof(T), &value, sizeof(T));
}

// Keeps the switch as the test found it.
struct AllowGuard {
  bool before = nonfinite_allowed();
  ~AllowGuard() { set_allow_nonfinite(before); }
};

TEST(Finite, FindsNothingInFiniteTensors) {
  HostTensor t = make_host_tensor(DType::f32, {2, 3});
  put(&t, 4, std::numeric_limits<float>::max());
  put(&t, 5, std::numeric_limits<float>::denorm_min());
  const NonFinite f = scan_finite(t);
  EXPECT_FALSE(f.any());
  EXPECT_TRUE(f.first.empty());
  EXPECT_NO_THROW(check_finite(t, "q"));
}

TEST(Finite, CountsNanAndBothInfinitiesAndTheFirstPositionInFloat32) {
  HostTensor t = make_host_tensor(DType::f32, {2, 3, 4});
  put(&t, 1 * 12 + 2 * 4 + 1, static_cast<float>(-kInf));  // [1, 2, 1]
  put(&t, 0 * 12 + 1 * 4 + 3, static_cast<float>(kNan));   // [0, 1, 3]: first in C order
  put(&t, 1 * 12 + 0 * 4 + 0, static_cast<float>(kInf));
  put(&t, 23, static_cast<float>(kNan));
  const NonFinite f = scan_finite(t);
  EXPECT_EQ(f.nan, 2);
  EXPECT_EQ(f.pos_inf, 1);
  EXPECT_EQ(f.neg_inf, 1);
  EXPECT_EQ(f.count(), 4);
  EXPECT_EQ(f.first, (std::vector<std::int64_t>{0, 1, 3}));
}

TEST(Finite, Float64) {
  HostTensor t = make_host_tensor(DType::f64, {5});
  put(&t, 3, -kInf);
  const NonFinite f = scan_finite(t);
  EXPECT_EQ(f.nan, 0);
  EXPECT_EQ(f.neg_inf, 1);
  EXPECT_EQ(f.first, (std::vector<std::int64_t>{3}));
}

TEST(Finite, Float16AndBfloat16ByTheirBits) {
  HostTensor h = make_host_tensor(DType::f16, {2, 4});
  put<std::uint16_t>(&h, 0, 0x7BFF);  // 65504, the largest finite half
  put<std::uint16_t>(&h, 2, 0x7E00);  // NaN
  put<std::uint16_t>(&h, 5, 0x7C00);  // +Inf
  put<std::uint16_t>(&h, 6, 0xFC00);  // -Inf
  put<std::uint16_t>(&h, 7, 0xFC01);  // a negative NaN
  NonFinite f = scan_finite(h);
  EXPECT_EQ(f.nan, 2);
  EXPECT_EQ(f.pos_inf, 1);
  EXPECT_EQ(f.neg_inf, 1);
  EXPECT_EQ(f.first, (std::vector<std::int64_t>{0, 2}));

  HostTensor b = make_host_tensor(DType::bf16, {3});
  put<std::uint16_t>(&b, 0, 0x7F7F);  // the largest finite bfloat16
  put<std::uint16_t>(&b, 1, 0xFF80);  // -Inf
  put<std::uint16_t>(&b, 2, 0x7FC0);  // NaN
  f = scan_finite(b);
  EXPECT_EQ(f.nan, 1);
  EXPECT_EQ(f.neg_inf, 1);
  EXPECT_EQ(f.pos_inf, 0);
  EXPECT_EQ(f.first, (std::vector<std::int64_t>{1}));
}

TEST(Finite, IntegersAndEmptyTensorsAreFinite) {
  HostTensor i = make_host_tensor(DType::i32, {4});
  put<std::int32_t>(&i, 0, 0x7FC00000);  // NaN's bits as an int are a number
  EXPECT_FALSE(scan_finite(i).any());
  EXPECT_FALSE(scan_finite(make_host_tensor(DType::f32, {0, 3})).any());
}

TEST(Finite, CheckNamesTheTensorTheCountsAndTheFirstPosition) {
  AllowGuard guard;
  set_allow_nonfinite(false);
  HostTensor t = make_host_tensor(DType::f32, {1, 4, 32});
  put(&t, 3 * 32 + 17, static_cast<float>(kNan));
  try {
    check_finite(t, "q (q.npy)");
    FAIL() << "a NaN passed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "q (q.npy) holds 1 NaN and 0 Inf values; the first at [0, 3, 17]; pass "
                           "--allow-nonfinite to study them anyway");
  }
  put(&t, 0, static_cast<float>(kInf));
  put(&t, 1, static_cast<float>(-kInf));
  EXPECT_EQ(nonfinite_summary(scan_finite(t), "k"),
            "k holds 1 NaN and 2 Inf (1 +Inf, 1 -Inf) values; the first at [0, 0, 0]");
}

TEST(Finite, AllowedValuesPassAndAreStillCounted) {
  AllowGuard guard;
  set_allow_nonfinite(true);
  HostTensor t = make_host_tensor(DType::f64, {2});
  put(&t, 1, kNan);
  NonFinite f;
  EXPECT_NO_THROW(f = check_finite(t, "v"));
  EXPECT_EQ(f.nan, 1);
  set_allow_nonfinite(false);
  EXPECT_THROW(check_finite(t, "v"), Error);
}

}  // namespace
}  // namespace fmav
