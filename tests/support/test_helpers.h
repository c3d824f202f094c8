#pragma once
// Helpers of every suite, without LibTorch: checks that a call throws fmav::Error with a
// given message, a fresh temporary folder per test, and whole-file reads and writes.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "fmav/error.h"

namespace fmav_test {

// Passes when `body` throws an fmav::Error whose message contains `substring`.
inline ::testing::AssertionResult throws_error(const std::function<void()>& body,
                                               const std::string& substring) {
  try {
    body();
  } catch (const fmav::Error& e) {
    if (std::string(e.what()).find(substring) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "message \"" << e.what() << "\" lacks \"" << substring << "\"";
  }
  return ::testing::AssertionFailure()
         << "no fmav::Error thrown (expected \"" << substring << "\")";
}

// Runs fn and checks it throws fmav::Error whose message contains `expected`.
template <typename Fn>
void expect_error(Fn&& fn, const std::string& expected) {
  try {
    fn();
    ADD_FAILURE() << "expected fmav::Error containing '" << expected << "', nothing thrown";
  } catch (const fmav::Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message '" << e.what() << "' lacks '" << expected << "'";
  }
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh folder per test, removed afterwards.
class TempFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "fmav_input_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }

  std::filesystem::path m_dir;
};

}  // namespace fmav_test
