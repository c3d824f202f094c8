#pragma once
// One libFuzzer target per parser of untrusted bytes (docs/HARDENING.md). Each target is a
// function of the bytes that calls one parser with the project's limits; a clean refusal is
// an fmav::Error and is expected, anything else (another exception, a crash, a sanitizer
// report, a leak, a hang) is a finding. The same function runs under libFuzzer
// (FMAV_FUZZ=ON, clang) and in the ordinary test build over the seed corpus and the kept
// crashing inputs (fuzz_replay.cpp), so every finding stays a regression test.

#include <cstddef>
#include <cstdint>

#include "fmav/error.h"

// Runs `parse` on the bytes; fmav::Error is a refusal, not a finding.
#define FMAV_FUZZ_TARGET(parse)                                                   \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    try {                                                                         \
      parse(data, size);                                                          \
    } catch (const fmav::Error&) {                                                \
    }                                                                             \
    return 0;                                                                     \
  }
