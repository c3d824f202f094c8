#pragma once
// Tokenizers from a Hugging Face tokenizer.json (docs/DESIGN.md §7.6), written in the project:
// byte-level BPE (GPT-2, Llama 3, Qwen2): the added tokens matched first, the pre-tokenizer's
// regex (PCRE2, Unicode properties) or GPT-2's, bytes mapped to GPT-2's printable alphabet,
// then the merges by rank (with `ignore_merges`). Encoding adds no special tokens of its
// own (no BOS): what `tokenizers` gives with add_special_tokens=False. No LibTorch here.

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
  // The ids of UTF-8 `text`; throws fmav::Error naming the byte where the text stops being
  // UTF-8.
  std::vector<std::int64_t> encode(const std::string& text) const;
  // The bytes token `id` stands for (the query view's labels); throws for an unknown id.
  std::string piece(std::int64_t id) const;
  std::int64_t vocab_size() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> m_impl;
};

// A Hugging Face model's input: token ids from `ids_path` (read_token_ids), else the text
// file `text_path` (UTF-8 rules of fmav/input.h) through folder/tokenizer.json; at most
// `max_tokens` of them (0: all). Throws fmav::Error when neither is given, or for text when
// the folder has no tokenizer.json.
std::vector<std::int64_t> hf_input_ids(const std::string& folder, const std::string& ids_path,
                                       const std::string& text_path, std::int64_t max_tokens);

}  // namespace fmav
