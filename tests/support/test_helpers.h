#pragma once
// Helpers of every suite, without LibTorch: checks that a call throws fmav::Error with a
// given message, a fresh temporary folder per test, whole-file reads and writes, and a shell
// command's exit status and output.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
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

// A shell command's exit status (-1 when a signal ended it) and what it printed.
struct CommandResult {
  int code = -1;
  std::string output;
};

// Runs `command` through the shell with its stdout and stderr into the file `log`.
inline CommandResult run_command(const std::string& command, const std::string& log) {
  const int status = std::system(("(" + command + ") > " + log + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_bytes(log)};
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

// A suite whose files a Python script makes once, run by the LibTorch environment's python:
// ctest sets FMAV_TEST_PYTHON and, in the variable a suite names, the script, which gets a
// fresh folder under the temporary directory; the folder and the script's log (beside it)
// are removed after the suite.
class PythonMadeSuite : public ::testing::Test {
 protected:
  // From SetUpTestSuite; fails the suite with the command and its log's path when the script fails.
  static void make(const char* maker_env, const std::string& tag) {
    const char* python = std::getenv("FMAV_TEST_PYTHON");
    const char* maker = std::getenv(maker_env);
    ASSERT_TRUE(python != nullptr && maker != nullptr) << "run through ctest (FMAV_TEST_PYTHON, " << maker_env << ")";
    dir() = (std::filesystem::temp_directory_path() / (tag + "_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir());
    const std::string command = std::string(python) + " " + maker + " " + dir() + " > " + dir() + ".log 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0)
        << command << " failed (its log: " << dir() << ".log); scripts/test.sh installs transformers and "
        << "tokenizers into LibTorch's environment";
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(dir());
    std::filesystem::remove(dir() + ".log");
  }
  static std::string& dir() {
    static std::string d;
    return d;
  }
};

}  // namespace fmav_test
