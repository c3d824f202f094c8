#pragma once
// One libFuzzer target per parser of untrusted bytes (docs/HARDENING.md). Each target is a
// function of the bytes that calls one parser with the project's limits; a clean refusal is
// an fmav::Error and is expected, anything else (another exception, a crash, a sanitizer
// report, a leak, a hang) is a finding. The same function runs under libFuzzer
// (FMAV_FUZZ=ON, clang) and in the ordinary test build over the seed corpus and the kept
// crashing inputs (fuzz_replay.cpp), so every finding stays a regression test.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fmav/error.h"

// Targets with two parsers of text: the first byte picks one (even: `first`), the rest is
// the text.
template <typename First, typename Second>
void parse_selected(const std::uint8_t* data, std::size_t size, First first, Second second) {
  if (size == 0) return;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    first(text);
  } else {
    second(text);
  }
}

// Runs `parse` on the bytes; fmav::Error is a refusal, not a finding.
#define FMAV_FUZZ_TARGET(parse)                                                   \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    try {                                                                         \
      parse(data, size);                                                          \
    } catch (const fmav::Error&) {                                                \
    }                                                                             \
    return 0;                                                                     \
  }
