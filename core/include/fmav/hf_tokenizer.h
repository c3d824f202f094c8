#pragma once
// Tokenizers from a Hugging Face tokenizer.json (docs/DESIGN.md §7.6), written in the project
// and equal to `tokenizers` 0.23: byte-level BPE (GPT-2, Llama 3, Qwen2, RoBERTa),
// SentencePiece-style BPE (Llama 2, Mistral: ▁, byte fallback <0xXX>, unk), WordPiece (BERT)
// and WordLevel; the added tokens matched first, the normalizers (utf8proc), the
// pre-tokenizers (PCRE2 for regexes), the model, and on request the post-processor's special
// tokens. No LibTorch here.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fmav {

class HfTokenizer {
 public:
  // Reads tokenizer.json. Throws fmav::Error naming a model, normalizer or pre-tokenizer
  // kind it does not implement, or anything malformed.
  static HfTokenizer load(const std::string& path);
  // The same from the text of a tokenizer.json; `name` names it in errors.
  static HfTokenizer parse(const std::string& json, const std::string& name);
  // The ids of UTF-8 `text`: by default what `tokenizers` gives with add_special_tokens=False
  // (no BOS); with `add_special_tokens`, the post-processor's tokens around them
  // (TemplateProcessing's single, BertProcessing, RobertaProcessing). Throws fmav::Error
  // naming the byte where the text stops being UTF-8.
  std::vector<std::int64_t> encode(const std::string& text, bool add_special_tokens = false) const;
  // The text token `id` stands for (the query view's labels): bytes for byte-level and
  // <0xXX> tokens, ▁ as a space, a WordPiece continuation without "##"; throws for an
  // unknown id.
  std::string piece(std::int64_t id) const;
  std::int64_t vocab_size() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> m_impl;
};

// A Hugging Face model's input: token ids from `ids_path` (read_token_ids), else the text
// file `text_path` (UTF-8 rules of fmav/input.h) through folder/tokenizer.json with the
// special tokens its post-processor adds (transformers' tokenizer(text)); the first
// `max_tokens` of them (0: all). Throws fmav::Error when neither is given, or for text when
// the folder has no tokenizer.json.
std::vector<std::int64_t> hf_input_ids(const std::string& folder, const std::string& ids_path,
                                       const std::string& text_path, std::int64_t max_tokens);

}  // namespace fmav
