// The model configuration: names, validation, config.json (strict: every key known, typed
// and in range) and the tensor names and shapes of model.safetensors. No LibTorch, so the
// parser can be fuzzed small.

#include "fmav/model_config.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "fmav/error.h"
#include "fmav/fma2d.h"
#include "fmav/tensor.h"
#include "json_util.h"
#include "segmenter_config.h"

namespace fmav {

static void add_attention_json(const ModelConfig& c, Json* out);

namespace {

using Shapes = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

constexpr int kMaxConfigDepth = 8;
constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr std::int64_t kMaxParameters = std::int64_t{1} << 33;  // 32 GiB of float32
constexpr std::size_t kMaxClasses = 100000, kMaxClassName = 256;

ModelAttention parse_attention_json(const Json& a, const std::string& name) {
  const std::string where = name + ": attention";
  FMAV_CHECK(a.is_object(), where, " must be an object, got ", a.type_name());
  json_check_keys(a, {"kind", "block_size", "rank", "downsample", "count_multiplicity", "hash_rounds"}, where);
  ModelAttention attention;
  const std::string kind = json_string(a, "kind", where);
  try {
    FMAV_CHECK(kind.find("-average") == std::string::npos, "the kind is a name, not a shorthand");
    parse_attention(kind, &attention);
  } catch (const Error&) {
    throw Error(where + ": kind must be fma, fma-linear, full, local, htransformer, linear, reformer or swin, got '" +
                kind + "'");
  }
  if (attention.kind == AttentionKind::reformer) {
    attention.hash_rounds = static_cast<int>(json_int(a, "hash_rounds", 1, 8, where));
  } else {
    FMAV_CHECK(!a.contains("hash_rounds"), where, ": hash_rounds is for reformer, not ", kind);
  }
  attention.block_size = json_int(a, "block_size", 1, 1 << 20, where);
  attention.rank = json_int(a, "rank", 1, 1 << 20, where);
  try {
    attention.downsample = parse_downsample(json_string(a, "downsample", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  attention.count_multiplicity = json_bool(a, "count_multiplicity", where);
  return attention;
}

std::vector<std::string> parse_classes(const Json& j, const std::string& name) {
  FMAV_CHECK(j.contains("classes"), name, ": missing key \"classes\"");
  const Json& classes = j.at("classes");
  FMAV_CHECK(classes.is_array() && classes.size() <= kMaxClasses, name,
             ": \"classes\" must be an array of at most ", kMaxClasses, " names");
  std::vector<std::string> out;
  for (const Json& cls : classes) {
    FMAV_CHECK(cls.is_string() && !cls.get<std::string>().empty() && cls.get<std::string>().size() <= kMaxClassName,
               name, ": every class must be a name of 1..", kMaxClassName, " characters, got ", cls.dump());
    out.push_back(cls.get<std::string>());
  }
  return out;
}

// The attention, the training record and validation, common to every architecture.
ModelConfig finish_parse(const Json& j, const std::string& name, ModelConfig c) {
  FMAV_CHECK(j.contains("attention"), name, ": missing key \"attention\"");
  c.attention = parse_attention_json(j.at("attention"), name);
  if (j.contains("training")) {
    FMAV_CHECK(j.at("training").is_object(), name, ": \"training\" must be an object");
    c.training_json = j.at("training").dump();
  }
  try {
    validate(c);
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
  return c;
}

// Four integers in [lo, hi] under `key`.
std::vector<std::int64_t> stage_ints(const Json& j, const char* key, std::int64_t lo, std::int64_t hi,
                                     const std::string& name) {
  const Json& a = json_key(j, key, name);
  FMAV_CHECK(a.is_array() && a.size() == kSegmenterStages, name, ": \"", key, "\" must be an array of ",
             kSegmenterStages, " integers (one per stage), got ", a.dump());
  std::vector<std::int64_t> out;
  for (const Json& v : a) {
    FMAV_CHECK(v.is_number_integer() && v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi, name, ": \"",
               key, "\" values must be integers in ", lo, "..", hi, ", got ", v.dump());
    out.push_back(v.get<std::int64_t>());
  }
  return out;
}

ModelConfig parse_segmenter_json(const Json& j, const std::string& name) {
  json_check_keys(j, {"format", "format_version", "architecture", "image_size", "classes", "stage_widths",
                 "stage_depths", "stage_heads", "mlp_ratio", "decoder_width", "attention", "training"}, name);
  ModelConfig c;
  c.architecture = Architecture::segmenter;
  c.image_size = json_int(j, "image_size", 1, 1 << 14, name);
  c.patch_size = 4;
  c.classes = parse_classes(j, name);
  c.stage_widths = stage_ints(j, "stage_widths", 1, 1 << 14, name);
  c.stage_depths = stage_ints(j, "stage_depths", 1, 64, name);
  c.stage_heads = stage_ints(j, "stage_heads", 1, 1 << 10, name);
  c.mlp_ratio = json_int(j, "mlp_ratio", 1, 16, name);
  c.d_model = json_int(j, "decoder_width", 1, 1 << 14, name);
  c.layers = 0;
  for (std::int64_t depth : c.stage_depths) c.layers += depth;
  return finish_parse(j, name, c);
}

void add_block_shapes(const ModelConfig& c, int layer, Shapes* out) {
  const std::int64_t d = c.d_model;
  const std::string b = "blocks." + std::to_string(layer) + ".";
  out->push_back({b + "ln1.weight", {d}});
  out->push_back({b + "ln1.bias", {d}});
  out->push_back({b + "attn.qkv.weight", {3 * d, d}});
  out->push_back({b + "attn.qkv.bias", {3 * d}});
  out->push_back({b + "attn.out.weight", {d, d}});
  out->push_back({b + "attn.out.bias", {d}});
  out->push_back({b + "ln2.weight", {d}});
  out->push_back({b + "ln2.bias", {d}});
  out->push_back({b + "mlp.fc1.weight", {c.d_mlp, d}});
  out->push_back({b + "mlp.fc1.bias", {c.d_mlp}});
  out->push_back({b + "mlp.fc2.weight", {d, c.d_mlp}});
  out->push_back({b + "mlp.fc2.bias", {d}});
  // Learned (or dense) down-sampling, per level, shared by the heads (§2): the names of
  // fmav/attend.h's WeightSet under "blocks.i.attn.".
  const ModelAttention& a = c.attention;
  if (!is_fma_kind(a.kind) || a.downsample == Downsample::average) return;
  const std::int64_t pd = a.rank * c.head_dim();
  const std::int64_t in = a.downsample == Downsample::dense ? c.head_dim() : 1;
  for (int l = 1; l <= model_levels(c); ++l) {
    const std::int64_t width = a.block_size << (l - 1);
    for (const char* s : {"k", "q", "v"}) {
      if (*s == 'q' && a.kind != AttentionKind::fma_linear) continue;
      const std::string p = b + "attn.level" + std::to_string(l) + "." + s + ".";
      if (c.is_lm()) {
        out->push_back({p + "weight", {pd, in, width}});
      } else {
        out->push_back({p + "row.weight", {pd, 1, width}});
        out->push_back({p + "col.weight", {pd, 1, width}});
      }
      out->push_back({p + "bias", {pd}});
    }
  }
}

}  // namespace

std::int64_t ModelConfig::vocab() const {
  if (architecture == Architecture::causal_lm) return kByteVocab;
  return architecture == Architecture::masked_lm ? kByteVocab + 1 : 0;
}

const char* to_string(Architecture architecture) {
  switch (architecture) {
    case Architecture::causal_lm: return "causal-lm";
    case Architecture::masked_lm: return "masked-lm";
    case Architecture::image_classifier: return "image-classifier";
    case Architecture::segmenter: return "segmenter";
  }
  return "?";
}

const char* to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::fma: return "fma";
    case AttentionKind::fma_linear: return "fma-linear";
    case AttentionKind::full: return "full";
    case AttentionKind::local: return "local";
    case AttentionKind::htransformer: return "htransformer";
    case AttentionKind::linear: return "linear";
    case AttentionKind::reformer: return "reformer";
    case AttentionKind::swin: return "swin";
  }
  return "?";
}

bool is_fma_kind(AttentionKind kind) { return kind == AttentionKind::fma || kind == AttentionKind::fma_linear; }

Architecture parse_architecture(const std::string& name) {
  for (Architecture a : {Architecture::causal_lm, Architecture::masked_lm, Architecture::image_classifier,
                         Architecture::segmenter}) {
    if (name == to_string(a)) return a;
  }
  throw Error("architecture must be causal-lm, masked-lm, image-classifier or segmenter, got '" + name + "'");
}

void parse_attention(const std::string& name, ModelAttention* attention) {
  std::string kind = name;
  const std::string suffix = "-average";
  const bool average = kind.size() > suffix.size() && kind.compare(kind.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (average) kind.resize(kind.size() - suffix.size());
  for (AttentionKind k : {AttentionKind::fma, AttentionKind::fma_linear, AttentionKind::full, AttentionKind::local,
                          AttentionKind::htransformer, AttentionKind::linear, AttentionKind::reformer,
                          AttentionKind::swin}) {
    if (kind == to_string(k) && (!average || is_fma_kind(k))) {
      attention->kind = k;
      if (average) attention->downsample = Downsample::average;
      return;
    }
  }
  throw Error("attention must be fma, fma-linear, fma-average, fma-linear-average, full, local, htransformer, "
              "linear, reformer or swin, got '" + name + "'");
}

std::string attention_name(const ModelAttention& attention) {
  std::string name = to_string(attention.kind);
  if (is_fma_kind(attention.kind) && attention.downsample != Downsample::learned) name += std::string("-") + to_string(attention.downsample);
  return name;
}

FmaConfig fma_config(const ModelConfig& config) {
  FmaConfig f;
  f.block_size = config.attention.block_size;
  f.rank = config.attention.rank;
  f.downsample = config.attention.downsample;
  f.count_multiplicity = config.attention.count_multiplicity;
  f.linear = config.attention.kind == AttentionKind::fma_linear;
  f.causal = config.architecture == Architecture::causal_lm;
  if (!config.is_lm()) f.grid_height = f.grid_width = config.grid_side();
  return f;
}

AttendOptions layer_attend_options(const ModelConfig& config, int layer) {
  AttendOptions o;
  o.fma = fma_config(config);
  switch (config.attention.kind) {
    case AttentionKind::fma:
    case AttentionKind::fma_linear: o.method = Method::fma; break;
    case AttentionKind::full: o.method = Method::full; break;
    case AttentionKind::local: o.method = Method::local; break;
    case AttentionKind::htransformer: o.method = Method::htransformer; break;
    case AttentionKind::linear: o.method = Method::linear; break;
    case AttentionKind::reformer: o.method = Method::reformer; break;
    case AttentionKind::swin: o.method = Method::swin; break;
  }
  o.peer.hash_rounds = config.attention.hash_rounds;
  o.peer.hash_seed = static_cast<std::uint64_t>(layer) + 1;
  o.peer.shifted = layer % 2 == 1;
  if (config.is_segmenter()) {  // the block's stage grid; Swin shifts every other block of a stage
    int block = 0;
    const int stage = segmenter_stage_of(config, layer, &block);
    o.fma = segmenter_stage_fma(config, stage);
    o.peer.shifted = block % 2 == 1;
  }
  if (o.method != Method::fma && o.method != Method::swin) o.fma.grid_height = o.fma.grid_width = 0;
  return o;
}

int model_levels(const ModelConfig& config) {
  if (!is_fma_kind(config.attention.kind)) return 0;
  return num_levels(fma_config(config), config.tokens());
}

void validate(const ModelConfig& c) {
  if (!c.is_segmenter()) {  // a segmenter's sizes are per stage
    FMAV_CHECK(c.d_model >= 1 && c.layers >= 1 && c.heads >= 1 && c.d_mlp >= 1,
               "d_model, layers, heads and d_mlp must be >= 1, got ", c.d_model, ", ", c.layers, ", ",
               c.heads, ", ", c.d_mlp);
    FMAV_CHECK(c.d_model % c.heads == 0, "heads (", c.heads, ") must divide d_model (", c.d_model, ")");
  }
  if (c.is_lm()) {
    FMAV_CHECK(c.context >= 1, "context must be >= 1, got ", c.context);
  } else if (c.is_segmenter()) {
    validate_segmenter(c);
  } else {
    FMAV_CHECK(c.image_size >= 1 && c.patch_size >= 1 && c.image_size % c.patch_size == 0,
               "patch_size (", c.patch_size, ") must divide image_size (", c.image_size, ")");
    FMAV_CHECK(c.classes.size() >= 2, "an image classifier needs >= 2 classes, got ", c.classes.size());
  }
  const char* kind = to_string(c.attention.kind);
  const bool one_d = c.attention.kind == AttentionKind::local || c.attention.kind == AttentionKind::htransformer ||
                     c.attention.kind == AttentionKind::reformer;
  FMAV_CHECK(c.is_lm() || !one_d, kind, " attention is 1D; image classifiers use fma, fma-linear, full, linear or swin");
  FMAV_CHECK(!c.is_lm() || c.attention.kind != AttentionKind::swin,
             "swin attention is 2D; language models use fma, fma-linear, full, local, htransformer, linear or reformer");
  FMAV_CHECK(c.attention.hash_rounds >= 1 && c.attention.hash_rounds <= 8, "attention hash_rounds must be in 1..8, got ",
             c.attention.hash_rounds);
  const AttentionKind k = c.attention.kind;
  FMAV_CHECK(c.attention.block_size >= 1, "attention block_size must be >= 1, got ", c.attention.block_size);
  if (is_fma_kind(k) && !c.is_segmenter()) validate(fma_config(c));
  for (int stage = 0; c.is_segmenter() && is_fma_kind(k) && stage < kSegmenterStages; ++stage) {
    try {
      validate(segmenter_stage_fma(c, stage));
    } catch (const Error& e) {
      throw Error("stage " + std::to_string(stage + 1) + "'s attention: " + e.what());
    }
  }
  std::int64_t total = 0;
  for (const auto& [name, shape] : model_tensor_shapes(c)) {
    std::int64_t n = 1;
    for (std::int64_t s : shape) {
      FMAV_CHECK(s <= kMaxParameters / n, "model is too large: tensor ", name, " ", shape_str(shape),
                 " alone exceeds ", kMaxParameters, " parameters");
      n *= s;
    }
    total += n;
    FMAV_CHECK(total <= kMaxParameters, "model is too large: over ", kMaxParameters, " parameters");
  }
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> model_tensor_shapes(const ModelConfig& c) {
  Shapes out;
  const std::int64_t d = c.d_model;
  if (c.is_segmenter()) {
    add_segmenter_shapes(c, &out);
    std::sort(out.begin(), out.end());
    return out;
  }
  if (c.is_lm()) {
    out.push_back({"embed.weight", {c.vocab(), d}});
    out.push_back({"pos.weight", {c.context, d}});
  } else {
    const std::int64_t classes = static_cast<std::int64_t>(c.classes.size());
    out.push_back({"patch.weight", {d, 3 * c.patch_size * c.patch_size}});
    out.push_back({"patch.bias", {d}});
    out.push_back({"pos.weight", {c.grid_side() * c.grid_side(), d}});
    out.push_back({"head.weight", {classes, d}});
    out.push_back({"head.bias", {classes}});
  }
  for (int i = 0; i < c.layers; ++i) add_block_shapes(c, i, &out);
  out.push_back({"ln_f.weight", {d}});
  out.push_back({"ln_f.bias", {d}});
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t count_parameters(const ModelConfig& config) {
  std::int64_t total = 0;
  for (const auto& [name, shape] : model_tensor_shapes(config)) {
    std::int64_t n = 1;
    for (std::int64_t s : shape) n *= s;
    total += n;
  }
  return total;
}

ModelConfig image_preset(const std::string& name) {
  ModelConfig c;
  c.architecture = Architecture::image_classifier;
  c.attention.kind = AttentionKind::fma;
  if (name == "tiny") {  // 32 px, 4 px patches: an 8 x 8 grid, cells of 2 x 2, two levels
    c.d_model = 64, c.layers = 3, c.heads = 4, c.d_mlp = 256;
    c.image_size = 32, c.patch_size = 4;
    c.attention.block_size = 2, c.attention.rank = 1;
  } else if (name == "fma2d-b" || name == "fma2d-l") {  // ViT-B/16 and ViT-L/16 sizes, 14 x 14 grid
    const bool large = name == "fma2d-l";
    c.d_model = large ? 1024 : 768, c.layers = large ? 24 : 12, c.heads = large ? 16 : 12;
    c.d_mlp = 4 * c.d_model;
    c.image_size = 224, c.patch_size = 16;
    c.attention.block_size = 2, c.attention.rank = 1;
  } else {
    throw Error("image preset must be tiny, fma2d-b or fma2d-l, got '" + name + "'");
  }
  c.classes = {"class0", "class1"};
  return c;
}

std::string model_config_json(const ModelConfig& c) {
  Json j;
  j["format"] = "fmav-model";
  j["format_version"] = kModelFormatVersion;
  j["architecture"] = to_string(c.architecture);
  if (c.is_segmenter()) {
    j["image_size"] = c.image_size;
    j["classes"] = c.classes;
    j["stage_widths"] = c.stage_widths;
    j["stage_depths"] = c.stage_depths;
    j["stage_heads"] = c.stage_heads;
    j["mlp_ratio"] = c.mlp_ratio;
    j["decoder_width"] = c.d_model;
    add_attention_json(c, &j);
    return j.dump(2) + "\n";
  }
  j["d_model"] = c.d_model;
  j["layers"] = c.layers;
  j["heads"] = c.heads;
  j["d_mlp"] = c.d_mlp;
  if (c.is_lm()) {
    j["context"] = c.context;
  } else {
    j["image_size"] = c.image_size;
    j["patch_size"] = c.patch_size;
    j["classes"] = c.classes;
  }
  add_attention_json(c, &j);
  return j.dump(2) + "\n";
}

static void add_attention_json(const ModelConfig& c, Json* out) {
  Json& j = *out;
  j["attention"] = {{"kind", to_string(c.attention.kind)},
                    {"block_size", c.attention.block_size},
                    {"rank", c.attention.rank},
                    {"downsample", to_string(c.attention.downsample)},
                    {"count_multiplicity", c.attention.count_multiplicity}};
  if (c.attention.kind == AttentionKind::reformer) j["attention"]["hash_rounds"] = c.attention.hash_rounds;
  j["training"] = Json::parse(c.training_json.empty() ? "{}" : c.training_json);
}

ModelConfig parse_model_config(const std::string& text, const std::string& name) {
  const Json j = parse_json_object(text, name, "fmav-model", kModelFormatVersion, kMaxConfigBytes, kMaxConfigDepth);
  ModelConfig c;
  try {
    c.architecture = parse_architecture(json_string(j, "architecture", name));
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
  if (c.is_segmenter()) return parse_segmenter_json(j, name);
  if (c.is_lm()) {
    json_check_keys(j, {"format", "format_version", "architecture", "d_model", "layers", "heads", "d_mlp",
                   "context", "attention", "training"}, name);
    c.context = json_int(j, "context", 1, 1 << 24, name);
  } else {
    json_check_keys(j, {"format", "format_version", "architecture", "d_model", "layers", "heads", "d_mlp",
                   "image_size", "patch_size", "classes", "attention", "training"}, name);
    c.image_size = json_int(j, "image_size", 1, 1 << 14, name);
    c.patch_size = json_int(j, "patch_size", 1, 1 << 14, name);
    c.classes = parse_classes(j, name);
  }
  c.d_model = json_int(j, "d_model", 1, 1 << 16, name);
  c.layers = json_int(j, "layers", 1, 1 << 10, name);
  c.heads = json_int(j, "heads", 1, 1 << 10, name);
  c.d_mlp = json_int(j, "d_mlp", 1, 1 << 20, name);
  return finish_parse(j, name, c);
}

}  // namespace fmav
