// A Hugging Face config.json as the engine reads it (fmav/hf_model.h): the fields of the
// families it implements, checked; the rest of the file is not its business.

#include <cstring>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "fmav/hf_model.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr std::int64_t kMaxSize = std::int64_t{1} << 24;  // any one dimension or count
constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr int kMaxConfigDepth = 16;

bool has(const Json& obj, const char* key) { return obj.contains(key) && !obj.at(key).is_null(); }

std::int64_t size_of(const Json& obj, const char* key, const std::string& where) {
  return json_int(obj, key, 1, kMaxSize, where);
}

double positive(const Json& obj, const char* key, const std::string& where) {
  const double value = json_number(obj, key, where);
  FMAV_CHECK(value > 0, where, ": \"", key, "\" must be a positive number, got ", value);
  return value;
}

void parse_gpt2(const Json& j, const std::string& where, HfConfig& c) {
  c.family = HfFamily::gpt2;
  c.vocab = size_of(j, "vocab_size", where);
  c.hidden = size_of(j, "n_embd", where);
  c.layers = size_of(j, "n_layer", where);
  c.heads = c.kv_heads = size_of(j, "n_head", where);
  c.intermediate = has(j, "n_inner") ? size_of(j, "n_inner", where) : 4 * c.hidden;
  c.max_positions = size_of(j, "n_positions", where);
  c.norm_eps = has(j, "layer_norm_epsilon") ? positive(j, "layer_norm_epsilon", where) : 1e-5;
  c.activation = has(j, "activation_function") ? json_string(j, "activation_function", where) : "gelu_new";
  FMAV_CHECK(c.activation == "gelu_new" || c.activation == "gelu" || c.activation == "gelu_pytorch_tanh",
             where, ": activation_function \"", c.activation, "\" is not supported (gelu_new, gelu, gelu_pytorch_tanh)");
  for (const char* flag : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"}) {
    FMAV_CHECK(!has(j, flag) || !json_bool(j, flag, where), where, ": \"", flag, "\": true is not supported");
  }
  FMAV_CHECK(!has(j, "scale_attn_weights") || json_bool(j, "scale_attn_weights", where), where,
             ": \"scale_attn_weights\": false is not supported");
  c.tie_embeddings = !has(j, "tie_word_embeddings") || json_bool(j, "tie_word_embeddings", where);
}

void parse_llama(const Json& j, const std::string& where, HfConfig& c) {
  c.family = HfFamily::llama;
  c.vocab = size_of(j, "vocab_size", where);
  c.hidden = size_of(j, "hidden_size", where);
  c.layers = size_of(j, "num_hidden_layers", where);
  c.heads = size_of(j, "num_attention_heads", where);
  c.kv_heads = has(j, "num_key_value_heads") ? size_of(j, "num_key_value_heads", where) : c.heads;
  FMAV_CHECK(c.heads % c.kv_heads == 0, where, ": num_attention_heads (", c.heads,
             ") must be a multiple of num_key_value_heads (", c.kv_heads, ")");
  c.head_dim = has(j, "head_dim") ? size_of(j, "head_dim", where) : c.hidden / c.heads;
  FMAV_CHECK(has(j, "head_dim") || c.hidden % c.heads == 0, where, ": hidden_size (", c.hidden,
             ") must be a multiple of num_attention_heads (", c.heads, ")");
  FMAV_CHECK(c.head_dim % 2 == 0, where, ": the head dimension must be even for RoPE, got ", c.head_dim);
  c.intermediate = size_of(j, "intermediate_size", where);
  c.max_positions = has(j, "max_position_embeddings") ? size_of(j, "max_position_embeddings", where) : kMaxSize;
  c.norm_eps = has(j, "rms_norm_eps") ? positive(j, "rms_norm_eps", where) : 1e-6;
  c.activation = has(j, "hidden_act") ? json_string(j, "hidden_act", where) : "silu";
  FMAV_CHECK(c.activation == "silu", where, ": hidden_act \"", c.activation, "\" is not supported (silu)");
  c.tie_embeddings = has(j, "tie_word_embeddings") && json_bool(j, "tie_word_embeddings", where);
  c.attention_bias = c.model_type == "qwen2" || (has(j, "attention_bias") && json_bool(j, "attention_bias", where));
  FMAV_CHECK(!has(j, "mlp_bias") || !json_bool(j, "mlp_bias", where), where, ": \"mlp_bias\": true is not supported");
  // RoPE: rope_theta at the top (or inside rope_parameters, as newer files write it), and the
  // scaling kind in rope_scaling / rope_parameters.
  const Json* rope = nullptr;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (has(j, key)) {
      FMAV_CHECK(j.at(key).is_object(), where, ": \"", key, "\" must be an object");
      rope = &j.at(key);
    }
  }
  c.rope_theta = has(j, "rope_theta") ? positive(j, "rope_theta", where) : 10000.0;
  if (rope != nullptr) {
    const std::string rw = where + " rope_scaling";
    if (has(*rope, "rope_theta")) c.rope_theta = positive(*rope, "rope_theta", rw);
    c.rope_type = has(*rope, "rope_type") ? json_string(*rope, "rope_type", rw)
                  : has(*rope, "type")    ? json_string(*rope, "type", rw)
                                          : "default";
    FMAV_CHECK(c.rope_type == "default" || c.rope_type == "linear" || c.rope_type == "llama3", rw, ": rope_type \"",
               c.rope_type, "\" is not supported (default, linear, llama3)");
    if (c.rope_type != "default") c.rope_factor = positive(*rope, "factor", rw);
    if (c.rope_type == "llama3") {
      c.low_freq_factor = positive(*rope, "low_freq_factor", rw);
      c.high_freq_factor = positive(*rope, "high_freq_factor", rw);
      FMAV_CHECK(c.high_freq_factor > c.low_freq_factor, rw, ": high_freq_factor must exceed low_freq_factor");
      c.original_max_positions = size_of(*rope, "original_max_position_embeddings", rw);
    }
  }
  if (c.model_type == "mistral" && has(j, "sliding_window")) c.sliding_window = size_of(j, "sliding_window", where);
  if (c.model_type == "qwen2" && has(j, "use_sliding_window")) {
    FMAV_CHECK(!json_bool(j, "use_sliding_window", where), where, ": \"use_sliding_window\": true is not supported");
  }
}

}  // namespace

bool is_hf_model_folder(const std::string& path) {
  const std::string config = path + "/config.json";
  try {
    const std::string text = read_file_bytes(config, kMaxConfigBytes);
    if (json_depth(text.data(), text.size(), kMaxConfigDepth) > kMaxConfigDepth) return false;
    const Json j = Json::parse(text);
    return j.is_object() && j.contains("model_type");
  } catch (const std::exception&) {
    return false;  // no file, or not JSON: Model::load says what is wrong with it
  }
}

std::vector<std::int64_t> read_token_ids(const std::string& path) {
  const HostTensor t = read_tensor_file(path);
  FMAV_CHECK(t.dtype == DType::i64 || t.dtype == DType::i32, path, ": token ids must be int64 or int32, got ",
             dtype_name(t.dtype));
  FMAV_CHECK(t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[0] == 1), path,
             ": token ids must be shaped (N) or (1, N), got ", shape_str(t.shape));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (t.dtype == DType::i64) {
      std::memcpy(&ids[i], t.data.data() + 8 * i, 8);
    } else {
      std::int32_t v;
      std::memcpy(&v, t.data.data() + 4 * i, 4);
      ids[i] = v;
    }
  }
  return ids;
}

HfConfig parse_hf_config(const std::string& text, const std::string& where) {
  FMAV_CHECK(!text.empty(), where, ": empty file");
  FMAV_CHECK(text.size() <= kMaxConfigBytes, where, ": ", text.size(), " bytes, more than a config.json holds (",
             kMaxConfigBytes, ")");
  FMAV_CHECK(json_depth(text.data(), text.size(), kMaxConfigDepth) <= kMaxConfigDepth, where, ": nested deeper than ",
             kMaxConfigDepth);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not JSON: " + e.what());
  }
  FMAV_CHECK(j.is_object(), where, ": must be a JSON object");
  HfConfig c;
  c.model_type = json_string(j, "model_type", where);
  if (c.model_type == "gpt2") {
    parse_gpt2(j, where, c);
  } else if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") {
    parse_llama(j, where, c);
  } else {
    throw Error(where + ": model_type \"" + c.model_type +
                "\" is not supported (gpt2, llama, mistral, qwen2; the project's own models have no model_type)");
  }
  if (c.family == HfFamily::gpt2) {
    FMAV_CHECK(c.hidden % c.heads == 0, where, ": n_embd (", c.hidden, ") must be a multiple of n_head (", c.heads,
               ")");
    c.head_dim = c.hidden / c.heads;
  }
  return c;
}

}  // namespace fmav
