// The predicted peak memory of the commands that run Hugging Face models (fmav/memory_estimate.h):
// `eval` and `bench-model` (a forward pass), `fit` (a teacher's forward with maps and FMA's
// backward over a batch). Rough and erring high, like the other estimates.

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "fmav/memory_estimate.h"

namespace fmav {

double hf_parameters(const HfConfig& c) {
  const double h = static_cast<double>(c.hidden), inter = static_cast<double>(c.intermediate);
  const double q_out = static_cast<double>(c.heads * c.head_dim), kv_out = static_cast<double>(c.kv_heads * c.head_dim);
  const bool llama = c.family == HfFamily::llama;
  double embeddings = static_cast<double>(c.vocab) * h * (c.tie_embeddings ? 1 : 2);
  if (!llama) {  // learned positions (gpt2, bert, vit), token types, the embeddings' norm
    const double positions = static_cast<double>(std::max(c.position_table, c.max_positions));
    embeddings += (positions + static_cast<double>(c.type_vocab) + 2) * h;
  }
  if (c.family == HfFamily::bert) embeddings += h * h + static_cast<double>(c.vocab);  // the MLM head's transform
  if (c.family == HfFamily::vit) {  // the patches' projection, the classifier
    embeddings += 3.0 * c.patch_height * c.patch_width * h + static_cast<double>(c.labels.size()) * (h + 1);
  }
  const double weights = h * q_out + 2 * h * kv_out + q_out * h + (llama ? 3 : 2) * h * inter;
  const double biases_and_norms = q_out + 2 * kv_out + inter + 6 * h;
  return 1.05 * (embeddings + static_cast<double>(c.layers) * (weights + biases_and_norms) + 2 * h);
}

double hf_weights_bytes(const HfConfig& c, const std::string& folder) {
  namespace fs = std::filesystem;
  double largest = 0;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".safetensors") continue;
    const std::uintmax_t size = fs::file_size(it->path(), ec);  // follows a fitted folder's links
    if (!ec) largest = std::max(largest, static_cast<double>(size));
    ec.clear();
  }
  return 4 * hf_parameters(c) + largest;
}

double hf_forward_bytes(const HfConfig& c, std::int64_t n_tokens, bool with_maps) {
  const double n = static_cast<double>(n_tokens), heads = static_cast<double>(c.heads);
  const double q_out = static_cast<double>(c.heads * c.head_dim);
  const double kv_out = static_cast<double>(c.kv_heads * c.head_dim);
  // One layer at a time: the residual stream, norms and adds (8 hidden), q, k, v and the
  // attention output, the MLP's up, gate and activation (3 intermediate); twice, for the
  // temporaries LibTorch holds between ops.
  const double layer = 2 * n * (8.0 * c.hidden + 2 * q_out + 2 * kv_out + 3.0 * c.intermediate) * 4;
  // The logits (n, classes) in float32, the loss's float64 copy and its log-softmax.
  const double classes = c.kind == HfKind::image_classifier ? static_cast<double>(c.labels.size()) : static_cast<double>(c.vocab);
  const double rows = c.kind == HfKind::image_classifier ? 1 : n;
  const double logits = rows * classes * (4 + 8 + 8);
  // Dense attention: the scores, their scaled and masked copies and the probabilities.
  const bool dense = with_maps || c.sliding_window > 0;
  const double scores = dense ? 4 * heads * n * n * 4 : 0;
  // With maps every layer's probabilities and q, k, v are kept, in LibTorch and as host copies.
  const double maps = with_maps ? 2.0 * c.layers * (heads * n * n + 3 * heads * n * c.head_dim) * 4 : 0;
  return layer + logits + scores + maps;
}

double hf_fit_bytes(const HfConfig& c, std::int64_t tokens, std::int64_t batch, std::int64_t swapped_layers) {
  const double layer_q = static_cast<double>(c.heads) * static_cast<double>(tokens) * static_cast<double>(c.head_dim) * 4;
  const double cache = 256.0 * (1 << 20);  // filled as windows are drawn: its cap
  const double step = 24.0 * static_cast<double>(batch) * static_cast<double>(swapped_layers) * layer_q;
  return hf_forward_bytes(c, tokens, true) + cache + step;
}

}  // namespace fmav
