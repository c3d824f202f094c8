// A Hugging Face config.json as the engine reads it (fmav/hf_model.h): the fields of the
// families it implements, checked; the rest of the file is not its business.

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "fmav/hf_model.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr std::int64_t kMaxSize = std::int64_t{1} << 24;  // any one dimension or count
constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr int kMaxConfigDepth = 16;
constexpr std::uint64_t kMaxTokenizerFileBytes = 256ull << 20;

bool has(const Json& obj, const char* key) { return obj.contains(key) && !obj.at(key).is_null(); }

std::int64_t size_of(const Json& obj, const char* key, const std::string& where) {
  return json_int(obj, key, 1, kMaxSize, where);
}

// config.json and preprocessor_config.json: one JSON object, small and shallow.
Json parse_json_config(const std::string& text, const std::string& where) {
  const Json j = parse_json_text(text, where, kMaxConfigBytes, kMaxConfigDepth);
  FMAV_CHECK(j.is_object(), where, ": must be a JSON object");
  return j;
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

// An id config.json may name (null or absent: none).
void add_token_id(const Json& j, const char* key, const std::string& where, std::vector<std::int64_t>& ids) {
  if (has(j, key)) ids.push_back(json_int(j, key, 0, kMaxSize, where));
}

// The activations bert and vit layers may name; each is at::gelu's or relu.
void check_encoder_activation(const HfConfig& c, const std::string& where) {
  FMAV_CHECK(c.activation == "gelu" || c.activation == "gelu_new" || c.activation == "gelu_pytorch_tanh" ||
                 c.activation == "relu",
             where, ": hidden_act \"", c.activation, "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
}

// The sizes every encoder names the same way (bert, roberta, vit).
void parse_encoder_sizes(const Json& j, const std::string& where, HfConfig& c) {
  c.hidden = size_of(j, "hidden_size", where);
  c.layers = size_of(j, "num_hidden_layers", where);
  c.heads = c.kv_heads = size_of(j, "num_attention_heads", where);
  FMAV_CHECK(c.hidden % c.heads == 0, where, ": hidden_size (", c.hidden, ") must be a multiple of num_attention_heads (",
             c.heads, ")");
  c.head_dim = c.hidden / c.heads;
  c.intermediate = size_of(j, "intermediate_size", where);
  c.norm_eps = has(j, "layer_norm_eps") ? positive(j, "layer_norm_eps", where) : 1e-12;
  c.activation = has(j, "hidden_act") ? json_string(j, "hidden_act", where) : "gelu";
  check_encoder_activation(c, where);
}

// BertForMaskedLM / RobertaForMaskedLM: absolute positions (roberta's from pad_token_id + 1),
// token type 0, an encoder-only stack. Options that make it a decoder are refused.
void parse_bert(const Json& j, const std::string& where, HfConfig& c) {
  c.family = HfFamily::bert;
  c.kind = HfKind::masked_lm;
  c.vocab = size_of(j, "vocab_size", where);
  parse_encoder_sizes(j, where, c);
  c.position_table = has(j, "max_position_embeddings") ? size_of(j, "max_position_embeddings", where) : 512;
  c.type_vocab = has(j, "type_vocab_size") ? size_of(j, "type_vocab_size", where) : 2;
  c.attention_bias = true;
  c.tie_embeddings = !has(j, "tie_word_embeddings") || json_bool(j, "tie_word_embeddings", where);
  const bool roberta = c.model_type == "roberta";
  if (!j.contains("pad_token_id")) c.pad_token_id = roberta ? 1 : 0;  // the configs' defaults
  else if (has(j, "pad_token_id")) c.pad_token_id = json_int(j, "pad_token_id", 0, kMaxSize, where);
  if (c.pad_token_id >= 0) c.special_ids.push_back(c.pad_token_id);
  for (const char* key : {"bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id"}) {
    add_token_id(j, key, where, c.special_ids);
  }
  if (has(j, "position_embedding_type")) {
    const std::string kind = json_string(j, "position_embedding_type", where);
    FMAV_CHECK(kind == "absolute", where, ": position_embedding_type \"", kind, "\" is not supported (absolute)");
  }
  for (const char* flag : {"is_decoder", "add_cross_attention"}) {
    FMAV_CHECK(!has(j, flag) || !json_bool(j, flag, where), where, ": \"", flag,
               "\": true is not supported (a masked LM's encoder attends both ways)");
  }
  if (roberta) {
    FMAV_CHECK(c.pad_token_id >= 0, where, ": roberta needs \"pad_token_id\" (its positions start after it)");
    c.position_offset = c.pad_token_id + 1;
  }
  FMAV_CHECK(c.position_table > c.position_offset, where, ": max_position_embeddings (", c.position_table,
             ") leaves no position after the offset ", c.position_offset);
  c.max_positions = c.position_table - c.position_offset;
}

// An image or patch side: one integer, or [height, width].
void parse_sides(const Json& j, const char* key, std::int64_t fallback, const std::string& where, std::int64_t& h,
                 std::int64_t& w) {
  if (!has(j, key)) {
    h = w = fallback;
    return;
  }
  const Json& v = j.at(key);
  if (v.is_array()) {
    FMAV_CHECK(v.size() == 2, where, ": \"", key, "\" must be a number or [height, width]");
    Json pair = Json::object();
    pair["h"] = v[0], pair["w"] = v[1];
    const std::string at = where + " " + key;
    h = json_int(pair, "h", 1, kMaxSize, at), w = json_int(pair, "w", 1, kMaxSize, at);
  } else {
    h = w = size_of(j, key, where);
  }
}

// ViTForImageClassification: patches of a 3-channel image, CLS first, pre-norm layers.
void parse_vit(const Json& j, const std::string& where, HfConfig& c) {
  c.family = HfFamily::vit;
  c.kind = HfKind::image_classifier;
  parse_encoder_sizes(j, where, c);
  parse_sides(j, "image_size", 224, where, c.image_height, c.image_width);
  parse_sides(j, "patch_size", 16, where, c.patch_height, c.patch_width);
  FMAV_CHECK(c.patch_height <= c.image_height && c.patch_width <= c.image_width, where, ": patch_size is larger than "
             "image_size");
  const std::int64_t channels = has(j, "num_channels") ? size_of(j, "num_channels", where) : 3;
  FMAV_CHECK(channels == 3, where, ": num_channels ", channels, " is not supported (3: RGB images)");
  c.attention_bias = !has(j, "qkv_bias") || json_bool(j, "qkv_bias", where);
  c.max_positions = 1 + (c.image_height / c.patch_height) * (c.image_width / c.patch_width);
  // Classes: id2label's names where given (keys "0".."n-1"), else num_labels (default 2).
  std::int64_t classes = has(j, "num_labels") ? size_of(j, "num_labels", where) : 2;
  const Json* names = nullptr;
  if (has(j, "id2label")) {
    names = &j.at("id2label");
    FMAV_CHECK(names->is_object() && !names->empty(), where, ": \"id2label\" must be an object of class names");
    classes = static_cast<std::int64_t>(names->size());
  }
  FMAV_CHECK(classes <= (std::int64_t{1} << 20), where, ": ", classes, " classes is more than the engine takes (2^20)");
  c.labels.resize(static_cast<std::size_t>(classes));
  for (std::int64_t k = 0; k < classes; ++k) {
    const std::string key = std::to_string(k);
    if (names == nullptr) {
      c.labels[k] = "LABEL_" + key;
      continue;
    }
    FMAV_CHECK(names->contains(key) && names->at(key).is_string(), where, ": id2label must name classes 0..",
               classes - 1, " by strings; \"", key, "\" is missing or not a string");
    c.labels[k] = names->at(key).get<std::string>();
  }
  c.vocab = classes;  // the head's width
}

const char* const kModelTypes = "gpt2, llama, mistral, qwen2, bert, roberta, vit";

}  // namespace

HfImageProcessor parse_hf_image_processor(const std::string& text, const std::string& where) {
  const Json j = parse_json_config(text, where);
  HfImageProcessor p;
  for (const auto& [key, flag] : {std::pair<const char*, bool*>{"do_resize", &p.do_resize},
                                  {"do_rescale", &p.do_rescale}, {"do_normalize", &p.do_normalize}}) {
    if (has(j, key)) *flag = json_bool(j, key, where);
  }
  FMAV_CHECK(!has(j, "do_center_crop") || !json_bool(j, "do_center_crop", where), where,
             ": \"do_center_crop\": true is not supported");
  if (has(j, "size")) {
    const Json& size = j.at("size");
    const std::string sw = where + " size";
    FMAV_CHECK(size.is_object() || size.is_number_integer(), sw, ": must be {\"height\": H, \"width\": W}");
    if (size.is_number_integer()) {
      p.height = p.width = size_of(j, "size", where);
    } else {
      FMAV_CHECK(!has(size, "shortest_edge") && !has(size, "longest_edge"), sw,
                 ": shortest_edge / longest_edge is not supported (height and width)");
      p.height = size_of(size, "height", sw), p.width = size_of(size, "width", sw);
    }
  }
  if (has(j, "resample")) p.resample = static_cast<int>(json_int(j, "resample", 0, 5, where));
  if (has(j, "rescale_factor")) p.rescale_factor = positive(j, "rescale_factor", where);
  for (const auto& [key, values] : {std::pair<const char*, double*>{"image_mean", p.mean}, {"image_std", p.std}}) {
    if (!has(j, key)) continue;
    const Json& v = j.at(key);
    FMAV_CHECK(v.is_array() && v.size() == 3, where, ": \"", key, "\" must be 3 numbers (R, G, B)");
    for (int ch = 0; ch < 3; ++ch) {
      FMAV_CHECK(v[ch].is_number(), where, ": \"", key, "\" must be 3 numbers (R, G, B)");
      values[ch] = v[ch].get<double>();
      FMAV_CHECK(std::isfinite(values[ch]), where, ": \"", key, "\" must be finite");
    }
  }
  for (double s : p.std) FMAV_CHECK(s > 0, where, ": \"image_std\" must be positive, got ", s);
  return p;
}

std::vector<std::int64_t> hf_masked_positions(const std::vector<std::int64_t>& ids, const HfMasking& masking) {
  FMAV_CHECK(masking.every >= 1, "the masking rule's period must be at least 1, got ", masking.every);
  std::set<std::int64_t> special(masking.special_ids.begin(), masking.special_ids.end());
  special.insert(masking.mask_id);
  std::vector<std::int64_t> out;
  std::int64_t count = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (special.count(ids[i]) != 0) continue;
    if (count++ % masking.every == 0) out.push_back(static_cast<std::int64_t>(i));
  }
  return out;
}

HfMasking read_hf_masking(const std::string& folder, const HfConfig& config) {
  HfMasking m;
  m.special_ids = config.special_ids;
  const std::string path = folder + "/tokenizer.json";
  if (!std::filesystem::exists(path)) return m;
  const std::string text = read_file_bytes(path, kMaxTokenizerFileBytes);
  const Json j = parse_json_text(text, path, kMaxTokenizerFileBytes, 64);
  if (!j.is_object() || !j.contains("added_tokens") || !j.at("added_tokens").is_array()) return m;
  for (const Json& t : j.at("added_tokens")) {
    if (!t.is_object() || !t.contains("id") || !t.at("id").is_number_integer() || !t.contains("content") ||
        !t.at("content").is_string()) {
      continue;  // the tokenizer's reader judges its file; here only well-formed entries count
    }
    const bool special = t.contains("special") && t.at("special").is_boolean() && t.at("special").get<bool>();
    const std::int64_t id = t.at("id").get<std::int64_t>();
    const std::string content = t.at("content").get<std::string>();
    if (special) m.special_ids.push_back(id);
    if (special && (content == "[MASK]" || content == "<mask>")) m.mask_id = id;
  }
  return m;
}

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
  const Json j = parse_json_config(text, where);
  HfConfig c;
  c.model_type = json_string(j, "model_type", where);
  if (c.model_type == "gpt2") {
    parse_gpt2(j, where, c);
  } else if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") {
    parse_llama(j, where, c);
  } else if (c.model_type == "bert" || c.model_type == "roberta") {
    parse_bert(j, where, c);
  } else if (c.model_type == "vit") {
    parse_vit(j, where, c);
  } else {
    throw Error(where + ": model_type \"" + c.model_type + "\" is not supported (" + kModelTypes +
                "; the project's own models have no model_type)");
  }
  if (c.family == HfFamily::gpt2) {
    FMAV_CHECK(c.hidden % c.heads == 0, where, ": n_embd (", c.hidden, ") must be a multiple of n_head (", c.heads,
               ")");
    c.head_dim = c.hidden / c.heads;
  }
  return c;
}

}  // namespace fmav
