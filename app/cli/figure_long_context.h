#pragma once
// `fmav figure --kind long-context`: the long-context experiment's results
// (scripts/long_context.sh's results.json) drawn as an SVG of grouped bars — per task, answer
// accuracy, test bpc, tokens/s and peak memory of every method at every context.

#include <string>

namespace fmav::cli {

// Reads `results` (format "fmav-long-context") and writes the SVG `out`; returns the rows
// drawn. Throws fmav::Error naming the file and what is wrong with it.
int write_long_context_figure(const std::string& results, const std::string& out);

}  // namespace fmav::cli
