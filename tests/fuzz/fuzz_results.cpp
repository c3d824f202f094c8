// The results files the GUI opens: sweep JSONL (sweep.h) and benchmark JSONL (bench.h); the
// first byte picks which.

#include <string>

#include "fmav/bench.h"
#include "fmav/sweep.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fmav::parse_sweep_file(text, "sweep.jsonl");
  } else {
    fmav::parse_bench_file(text, "bench.jsonl");
  }
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
