// The predicted-memory checks of resumed and Hugging Face runs (memory_checks.h).

#include "memory_checks.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "fmav/error.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/model_config.h"
#include "fmav/tensor_io.h"

namespace fmav::cli {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kMaxConfigBytes = 1u << 20;  // docs/HARDENING.md's limit of a config.json

}  // namespace

HfConfig read_hf_folder_config(const std::string& folder) {
  const std::string path = (fs::path(folder) / "config.json").string();
  return parse_hf_config(read_file_bytes(path, kMaxConfigBytes), path);
}

void check_resume_memory(const std::string& out, std::int64_t batch) {
  const std::string path = (fs::path(out) / "config.json").string();
  const ModelConfig config = parse_model_config(read_file_bytes(path, kMaxConfigBytes), path);
  check_memory("train:", train_bytes(config, batch));
}

void check_fit_memory(const HfFitOptions& options) {
  std::string model = options.model;
  std::int64_t tokens = options.tokens, batch = options.batch;
  std::int64_t layers = static_cast<std::int64_t>(options.layers.size());
  if (options.resume) {
    const std::string swap_path = (fs::path(options.out) / kHfSwapFile).string();
    if (!fs::exists(swap_path)) return;  // fit_hf_swap says "cannot resume"
    const std::string text = read_file_bytes(swap_path, kMaxConfigBytes);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
      if (model.empty()) model = j.at("base").get<std::string>();
      batch = j.at("fit").at("batch").get<std::int64_t>();
    } catch (const std::exception& e) {
      throw Error(swap_path + ": unreadable: " + e.what());
    }
    const HfFittedSwap swap = parse_hf_swap(text, swap_path, read_hf_folder_config(model));
    tokens = swap.tokens, layers = static_cast<std::int64_t>(swap.swap.layers.size());
  }
  const HfConfig config = read_hf_folder_config(model);
  tokens = std::min(tokens, config.max_positions);
  check_memory("fit:", hf_weights_bytes(config, model) + hf_fit_bytes(config, tokens, batch, layers));
}

void check_hf_forward_memory(const std::string& who, const std::string& folder, const HfConfig& config,
                             std::int64_t n, int copies) {
  const double one = hf_weights_bytes(config, folder) + hf_forward_bytes(config, n, false);
  check_memory(who, copies * one);
}

}  // namespace fmav::cli
