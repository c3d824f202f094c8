// The masked LMs bert and roberta (fmav/hf_model.h), written from BertForMaskedLM and
// RobertaForMaskedLM: word + token-type (0) + absolute position embeddings, a LayerNorm, then
// post-LayerNorm encoder layers with bidirectional attention, and the MLM head (dense,
// activation, LayerNorm, the tied or separate decoder plus its bias). RoBERTa differs in
// its positions, which start after the padding id (docs/DESIGN.md §7.6).

#include "models/hf_internal.h"

namespace fmav::hf {
namespace {

// The MLM head's tensors: BERT's cls.predictions.*, RoBERTa's lm_head.*.
struct HeadNames {
  std::string dense, norm, bias, decoder;
};

HeadNames head_names(const HfConfig& c) {
  if (c.model_type == "roberta") return {"lm_head.dense", "lm_head.layer_norm", "lm_head.bias", "lm_head.decoder"};
  return {"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias",
          "cls.predictions.decoder"};
}

std::string layer_prefix(std::int64_t i) { return "encoder.layer." + std::to_string(i) + "."; }

// Positions of the tokens: 0..n-1, or RoBERTa's rule (fairseq's make_positions): a non-padding
// token's position is pad + its count among the non-padding tokens so far, padding's is pad.
at::Tensor positions(const HfConfig& c, const at::Tensor& ids) {
  const std::int64_t n = ids.size(0);
  if (c.position_offset == 0) return at::arange(n, at::kLong);
  const at::Tensor real = ids.ne(c.pad_token_id).to(at::kLong);
  return at::cumsum(real, 0) * real + c.pad_token_id;
}

}  // namespace

Shapes bert_tensors(const HfConfig& c) {
  Shapes out;
  const std::int64_t d = c.hidden, ff = c.intermediate;
  const auto dense = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    out[name + ".weight"] = {rows, cols}, out[name + ".bias"] = {rows};
  };
  const auto norm = [&](const std::string& name) { out[name + ".weight"] = out[name + ".bias"] = {d}; };
  out["embeddings.word_embeddings.weight"] = {c.vocab, d};
  out["embeddings.position_embeddings.weight"] = {c.position_table, d};
  out["embeddings.token_type_embeddings.weight"] = {c.type_vocab, d};
  norm("embeddings.LayerNorm");
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string l = layer_prefix(i);
    for (const char* p : {"query", "key", "value"}) dense(l + "attention.self." + p, d, d);
    dense(l + "attention.output.dense", d, d);
    norm(l + "attention.output.LayerNorm");
    dense(l + "intermediate.dense", ff, d);
    dense(l + "output.dense", d, ff);
    norm(l + "output.LayerNorm");
  }
  const HeadNames h = head_names(c);
  dense(h.dense, d, d);
  norm(h.norm);
  out[h.bias] = {c.vocab};
  // Untied, the decoder is a Linear of its own, bias included (the head's `bias` is then
  // saved but unused); tied, its weight is the word embeddings and its bias the head's.
  if (!c.tie_embeddings) dense(h.decoder, c.vocab, d);
  return out;
}

std::string bert_name(const HfConfig& c, std::string name) {
  for (const char* prefix : {"bert.", "roberta."}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  }
  // Old TensorFlow-era names of LayerNorm parameters, renamed by transformers as it loads.
  if (ends_with(name, "LayerNorm.gamma")) name = name.substr(0, name.size() - 5) + "weight";
  if (ends_with(name, "LayerNorm.beta")) name = name.substr(0, name.size() - 4) + "bias";
  const HeadNames h = head_names(c);
  // Buffers, and what BertForMaskedLM itself leaves unused: the pooler and the next-sentence
  // head of pre-training checkpoints, a tied decoder's copies (of the word embeddings and of
  // the head's bias).
  if (name == "embeddings.position_ids" || name == "embeddings.token_type_ids") return "";
  if (name.rfind("pooler.", 0) == 0 || name.rfind("cls.seq_relationship.", 0) == 0) return "";
  if (c.tie_embeddings && (name == h.decoder + ".weight" || name == h.decoder + ".bias")) return "";
  return name;
}

at::Tensor bert_forward(const HfConfig& c, const HfState& s, const std::vector<std::int64_t>& ids,
                        const LayerAttention& attention) {
  const std::int64_t n = static_cast<std::int64_t>(ids.size()), H = c.heads, hd = c.head_dim;
  const at::Tensor index = at::tensor(ids, at::kLong);
  const at::Tensor words = param(s, "embeddings.word_embeddings.weight");
  at::Tensor x = words.index_select(0, index) + param(s, "embeddings.token_type_embeddings.weight")[0];
  x = x + param(s, "embeddings.position_embeddings.weight").index_select(0, positions(c, index));
  x = layer_norm(x, s, "embeddings.LayerNorm", c.norm_eps);
  const auto heads = [&](const at::Tensor& t) { return t.view({n, H, hd}).transpose(0, 1); };
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string l = layer_prefix(i);
    const at::Tensor q = heads(linear(x, s, l + "attention.self.query"));
    const at::Tensor k = heads(linear(x, s, l + "attention.self.key"));
    const at::Tensor v = heads(linear(x, s, l + "attention.self.value"));
    const at::Tensor o = attention(i, q, k, v).transpose(0, 1).reshape({n, c.hidden});
    x = layer_norm(linear(o, s, l + "attention.output.dense") + x, s, l + "attention.output.LayerNorm", c.norm_eps);
    const at::Tensor m = activation(linear(x, s, l + "intermediate.dense"), c.activation);
    x = layer_norm(linear(m, s, l + "output.dense") + x, s, l + "output.LayerNorm", c.norm_eps);
  }
  const HeadNames h = head_names(c);
  // RoBERTa's head applies GELU (erf) whatever hidden_act says; BERT's applies hidden_act.
  const std::string act = c.model_type == "roberta" ? "gelu" : c.activation;
  const at::Tensor t = layer_norm(activation(linear(x, s, h.dense), act), s, h.norm, c.norm_eps);
  if (!c.tie_embeddings) return linear(t, s, h.decoder);
  return at::linear(t, words, param(s, h.bias));
}

}  // namespace fmav::hf
