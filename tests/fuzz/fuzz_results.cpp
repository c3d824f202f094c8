// The results files the GUI opens: sweep JSONL (sweep.h) and benchmark JSONL (bench.h); the
// first byte picks which.

#include "fmav/bench.h"
#include "fmav/sweep.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  parse_selected(
      data, size, [](const std::string& text) { fmav::parse_sweep_file(text, "sweep.jsonl"); },
      [](const std::string& text) { fmav::parse_bench_file(text, "bench.jsonl"); });
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
