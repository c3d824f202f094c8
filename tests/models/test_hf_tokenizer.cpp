// Hugging Face tokenizers (fmav/hf_tokenizer.h) against `tokenizers` itself: every kind the
// project reads, trained on the project's corpus by make_hf_tokenizers.py (byte-level BPE as
// GPT-2, Llama 3 and RoBERTa; SentencePiece-style BPE as Llama 2 and Mistral; WordPiece as
// BERT and after a Sequence of normalizers and pre-tokenizers), must give the same ids for
// awkward texts, with and without the special tokens. Then every way a tokenizer.json can be
// wrong.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <functional>

#include <unistd.h>

#include "fmav/hf_tokenizer.h"
#include "fmav/tensor_io.h"
#include "test_helpers.h"

namespace {

namespace fs = std::filesystem;
using namespace fmav_test;
using Ids = std::vector<std::int64_t>;

const char* const kKinds[] = {"gpt2", "llama", "roberta", "llama2", "mistral", "bert", "wordpiece-seq"};

class HfTokenizer : public fmav_test::PythonMadeSuite {
 protected:
  static void SetUpTestSuite() {
    make("FMAV_HF_TOKENIZER_MAKER", "fmav_hf_tok");
  }
  static nlohmann::json read_json(const std::string& path) {
    return nlohmann::json::parse(fmav::read_file_bytes(path, 1 << 24));
  }
  static fmav::HfTokenizer load(const std::string& kind) { return fmav::HfTokenizer::load(dir() + "/" + kind + "/tokenizer.json"); }
  // A tokenizer.json of `kind` with `change` made to it, parsed.
  static fmav::HfTokenizer changed(const std::string& kind, const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = read_json(dir() + "/" + kind + "/tokenizer.json");
    change(j);
    return fmav::HfTokenizer::parse(j.dump(), "t.json");
  }
};

TEST_F(HfTokenizer, EveryKindMatchesTheReference) {
  const nlohmann::json texts = read_json(dir() + "/texts.json");
  ASSERT_GE(texts.size(), 10u);
  for (const char* kind : kKinds) {
    const fmav::HfTokenizer tok = load(kind);
    const nlohmann::json want = read_json(dir() + "/" + kind + "/ids.json");
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::string text = texts[i].get<std::string>();
      EXPECT_EQ(tok.encode(text), want["plain"][i].get<Ids>()) << kind << ", text " << i << ": " << text;
      EXPECT_EQ(tok.encode(text, true), want["special"][i].get<Ids>()) << kind << " with special tokens, text " << i;
    }
  }
}

// piece() gives readable text: byte-level pieces give the text back byte for byte, ▁ is a
// space, <0xXX> its byte, a WordPiece continuation has no ##.
TEST_F(HfTokenizer, PiecesAreReadable) {
  const std::string text = read_json(dir() + "/texts.json")[0].get<std::string>();
  for (const char* kind : {"gpt2", "llama"}) {
    const fmav::HfTokenizer tok = load(kind);
    std::string joined;
    for (std::int64_t id : tok.encode(text)) joined += tok.piece(id);
    EXPECT_EQ(joined, text) << kind;
  }
  const fmav::HfTokenizer roberta = load("roberta");
  std::string joined;
  for (std::int64_t id : roberta.encode("Hello world")) joined += roberta.piece(id);
  EXPECT_EQ(joined, " Hello world") << "RoBERTa's prefix space";
  // Llama 2: ▁ as a space, the bytes of a character the vocabulary lacks.
  const fmav::HfTokenizer llama2 = load("llama2");
  joined.clear();
  for (std::int64_t id : llama2.encode("the 東")) joined += llama2.piece(id);
  EXPECT_EQ(joined, " the \xE6\x9D\xB1");
  EXPECT_EQ(llama2.piece(3 + 0x41), "A") << "<0x41>";
  EXPECT_EQ(llama2.piece(1), "<s>");
  const fmav::HfTokenizer bert = load("bert");
  const Ids ids = bert.encode("tokenizers");
  ASSERT_GT(ids.size(), 1u);
  joined.clear();
  for (std::int64_t id : ids) joined += bert.piece(id);
  EXPECT_EQ(joined, "tokenizers") << "## dropped";
  EXPECT_EQ(bert.encode("", true), (Ids{2, 3})) << "[CLS] [SEP]";
  EXPECT_GT(bert.vocab_size(), 100);
}

TEST_F(HfTokenizer, BadTextAndIdsAreNamed) {
  const fmav::HfTokenizer tok = load("gpt2");
  EXPECT_TRUE(tok.encode("").empty());
  expect_error([&] { tok.encode(std::string("ok \xff bad")); }, "the text is not UTF-8 at byte 3");
  expect_error([&] { tok.encode(std::string("ab\xC0\xAF")); }, "the text is not UTF-8 at byte 2");  // overlong '/'
  expect_error([&] { tok.encode(std::string("\xED\xA0\x80")); }, "not UTF-8 at byte 0");              // a surrogate
  expect_error([&] { tok.encode(std::string("x\xE6\x9D")); }, "not UTF-8 at byte 1");                 // cut off
  expect_error([&] { tok.piece(100000); }, "token id 100000 is outside the tokenizer's vocabulary");
  expect_error([&] { tok.piece(-1); }, "token id -1 is outside");
}

TEST_F(HfTokenizer, MalformedFilesNameTheField) {
  using J = nlohmann::json;
  const auto parse_error = [](const std::string& json, const std::string& expected) {
    expect_error([&] { fmav::HfTokenizer::parse(json, "t.json"); }, expected);
  };
  parse_error("{", "t.json: not valid JSON");
  parse_error("[]", "t.json: no \"model\" object");
  parse_error(std::string(100, '[') + std::string(100, ']'), "nests deeper than");
  parse_error(R"({"model": {"type": "Unigram", "vocab": {}}})", "model.type \"Unigram\" is not supported");
  parse_error(R"({"model": {"type": "BPE", "vocab": []}})", "t.json: model.vocab must be an object");
  parse_error(R"({"model": {"type": "BPE", "vocab": {"a": -1}}})", "model.vocab: the id of \"a\" must be an integer");
  parse_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}}})", "model.merges must be an array");
  parse_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})", "model.merges[0] \"a\" is not two pieces");
  parse_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "b"]]}})",
              "model.merges[0]: \"a\" + \"b\" names a piece that is not in the vocabulary");
  parse_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}})",
              "model.unk_token \"[UNK]\" is not in the vocabulary");
  parse_error(R"({"model": {"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1}})", "model.dropout");
  const std::string ok = R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  parse_error(ok + R"(, "normalizer": {"type": "Precompiled"}})", "t.json: normalizer: normalizer \"Precompiled\" is not supported");
  parse_error(ok + R"(, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"kind": 1}]}})",
              "normalizer.normalizers[1].type must be a string");
  parse_error(ok + R"(, "normalizer": {"type": "Replace", "pattern": {"Regex": "("}, "content": ""}})",
              "normalizer.pattern: the regex does not compile");
  parse_error(ok + R"(, "pre_tokenizer": {"type": "UnicodeScripts"}})", "pre-tokenizer \"UnicodeScripts\" is not supported");
  parse_error(ok + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"String": "x"}, "behavior": "Sideways"}})",
              "pre_tokenizer.behavior \"Sideways\" is not one of");
  parse_error(ok + R"(, "pre_tokenizer": {"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"}})",
              "pre_tokenizer.prepend_scheme \"sometimes\"");
  parse_error(ok + R"(, "post_processor": {"type": "Weird"}})", "post-processor \"Weird\" is not supported");
  parse_error(ok + R"(, "post_processor": {"type": "BertProcessing", "sep": ["[SEP]"], "cls": ["[CLS]", 0]}})",
              "post_processor.sep must be [token, id]");
  parse_error(ok + R"(, "post_processor": {"type": "BertProcessing", "sep": ["x", 9], "cls": ["y", 0]}})",
              "post_processor names id 9 outside the vocabulary");
  parse_error(ok + R"(, "added_tokens": [{"id": 0}]})", "t.json: added_tokens[0]: missing key \"content\"");
  parse_error(ok + R"(, "added_tokens": [{"id": 0, "content": "a", "single_word": true}]})",
              "added_tokens[0].single_word is not supported");
  parse_error(ok + R"(, "truncation": {"max_length": 5}})", "truncation is not supported");
  parse_error(ok + R"(, "padding": {"strategy": "BatchLongest"}})", "padding is not supported");
  parse_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", "model.unk_token is needed by WordPiece");
  parse_error(R"({"model": {"type": "BPE", "vocab": {"a": 5000}, "merges": []}})",
              "t.json: ids reach 5000 for only 1 tokens");
  parse_error(ok + R"(, "pre_tokenizer": {"type": "Metaspace", "replacement": "ab"}})",
              "pre_tokenizer.replacement must be one character");
  parse_error(ok + R"(, "added_tokens": [{"id": 0, "content": ""}]})", "added_tokens[0].content is empty");
  parse_error(ok + R"(, "post_processor": {"type": "TemplateProcessing", "special_tokens": {},
                      "single": [{"Sequence": {"id": "A"}}, {"Sequence": {"id": "A"}}]}})",
              "post_processor.single names the text twice");
  parse_error(ok + R"(, "post_processor": {"type": "TemplateProcessing", "special_tokens": {},
                      "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}]}})",
              "post_processor.special_tokens lacks \"<s>\"");
  // Changes to a real file.
  expect_error([&] { changed("bert", [](J& j) { j["model"]["max_input_chars_per_word"] = "x"; }); },
               "max_input_chars_per_word");
  expect_error([&] { changed("gpt2", [](J& j) { j["pre_tokenizer"]["use_regex"] = 3; }); },
               "pre_tokenizer.use_regex must be true or false");
}

// Other pieces of the pipeline the trained files do not use, on small hand-made files.
TEST_F(HfTokenizer, HandMadePipelines) {
  const std::string vocab = R"("vocab": {"[UNK]": 0, "a": 1, "b": 2, "ab": 3, "c": 4, "1": 5, "2": 6, "12": 7, "!": 8})";
  const auto level = [&](const std::string& rest) {
    return fmav::HfTokenizer::parse(R"({"model": {"type": "WordLevel", "unk_token": "[UNK]", )" + vocab + "}, " + rest + "}",
                                    "t.json");
  };
  // Whitespace: words and punctuation runs; Digits contiguous.
  EXPECT_EQ(level(R"("pre_tokenizer": {"type": "Whitespace"})").encode("ab  c!"), (Ids{3, 4, 8}));
  EXPECT_EQ(level(R"("pre_tokenizer": {"type": "Digits", "individual_digits": false})").encode("12"), (Ids{7}));
  EXPECT_EQ(level(R"("pre_tokenizer": {"type": "Digits", "individual_digits": true})").encode("12"), (Ids{5, 6}));
  // Split behaviours on "a1b": merged with the previous or the next piece, removed.
  const auto split = [&](const std::string& behavior) {
    return level(R"("pre_tokenizer": {"type": "Split", "pattern": {"String": "1"}, "behavior": ")" + behavior +
                 R"(", "invert": false})").encode("a1b");
  };
  EXPECT_EQ(split("Removed"), (Ids{1, 2}));
  EXPECT_EQ(split("Isolated"), (Ids{1, 5, 2}));
  EXPECT_EQ(split("MergedWithPrevious"), (Ids{0, 2})) << "\"a1\" is unknown";
  EXPECT_EQ(split("MergedWithNext"), (Ids{1, 0}));
  // Added tokens with lstrip / rstrip take the spaces beside them.
  const fmav::HfTokenizer strip = level(R"("pre_tokenizer": {"type": "WhitespaceSplit"},
      "added_tokens": [{"id": 8, "content": "!", "lstrip": true, "rstrip": true, "normalized": false}])");
  EXPECT_EQ(strip.encode("a ! b"), (Ids{1, 8, 2}));
  // Normalizers: Lowercase (İ to i + dot), Strip, Prepend and Append.
  const fmav::HfTokenizer lower = level(R"("normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Strip", "strip_left": true, "strip_right": false}, {"type": "Lowercase"}, {"type": "Append", "append": "c"}]})");
  EXPECT_EQ(lower.encode("  AB"), (Ids{0})) << "\"abc\" is one unknown word";
  EXPECT_EQ(level(R"("normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"})").encode("A B"), (Ids{1, 2}));
}

}  // namespace
