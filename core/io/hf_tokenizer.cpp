// Byte-level BPE from tokenizer.json (fmav/hf_tokenizer.h). PCRE2 does the pre-tokenizers'
// Unicode regexes; the byte alphabet, the merges and the added tokens are written here.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <unordered_map>

#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr std::uint64_t kMaxTokenizerBytes = 256u << 20;
constexpr int kMaxTokenizerDepth = 16;
// GPT-2's pre-tokenizer (ByteLevel with use_regex), as `tokenizers` writes it.
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// UTF-8 of one code point.
std::string utf8(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// GPT-2's byte alphabet: printable bytes stand for themselves, the others for 256, 257, ...
std::vector<std::string> byte_alphabet() {
  std::vector<std::string> out(256);
  std::uint32_t next = 256;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    out[b] = utf8(printable ? b : next++);
  }
  return out;
}

// A compiled pattern, freed with it.
struct Regex {
  pcre2_code* code = nullptr;
  pcre2_match_data* match = nullptr;
  ~Regex() {
    if (match != nullptr) pcre2_match_data_free(match);
    if (code != nullptr) pcre2_code_free(code);
  }
};

std::shared_ptr<Regex> compile(const std::string& pattern, const std::string& where) {
  auto re = std::make_shared<Regex>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                           &error, &offset, nullptr);
  if (re->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error(where + ": the pre-tokenizer's regex does not compile at offset " + std::to_string(offset) + ": " +
                reinterpret_cast<const char*>(message));
  }
  re->match = pcre2_match_data_create_from_pattern(re->code, nullptr);
  return re;
}

std::string pair_key(const std::string& a, const std::string& b) { return a + '\x01' + b; }

}  // namespace

struct HfTokenizer::Impl {
  std::unordered_map<std::string, std::int64_t> vocab;  // byte-level strings
  std::vector<std::string> pieces;                      // id -> bytes
  std::unordered_map<std::string, int> ranks;           // pair_key -> merge rank
  std::vector<std::pair<std::string, std::int64_t>> added;  // literal text -> id, longest first
  std::shared_ptr<Regex> split;                         // the pre-tokenizer's regex
  bool ignore_merges = false;
  std::vector<std::string> alphabet = byte_alphabet();

  // BPE of one pre-token's bytes.
  void bpe(const std::string& bytes, std::vector<std::int64_t>& out) const {
    std::vector<std::string> symbols;
    std::string word;
    for (unsigned char b : bytes) symbols.push_back(alphabet[b]), word += alphabet[b];
    if (ignore_merges) {
      const auto whole = vocab.find(word);
      if (whole != vocab.end()) {
        out.push_back(whole->second);
        return;
      }
    }
    for (;;) {
      int best = std::numeric_limits<int>::max();
      std::size_t at = 0;
      for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto r = ranks.find(pair_key(symbols[i], symbols[i + 1]));
        if (r != ranks.end() && r->second < best) best = r->second, at = i;
      }
      if (best == std::numeric_limits<int>::max()) break;
      symbols[at] += symbols[at + 1];
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    for (const std::string& s : symbols) {
      const auto id = vocab.find(s);
      FMAV_CHECK(id != vocab.end(), "tokenizer: the vocabulary lacks the piece \"", s, "\"");
      out.push_back(id->second);
    }
  }

  // Pre-tokenizes a stretch without added tokens and encodes each piece.
  void encode_plain(const std::string& text, std::vector<std::int64_t>& out) const {
    PCRE2_SIZE start = 0;
    while (start < text.size()) {
      const int rc = pcre2_match(split->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                                 PCRE2_NO_UTF_CHECK, split->match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) {
        bpe(text.substr(start), out);  // the gap after the last match is a piece of its own
        return;
      }
      FMAV_CHECK(rc > 0, "tokenizer: the regex failed (PCRE2 error ", rc, ")");
      const PCRE2_SIZE* span = pcre2_get_ovector_pointer(split->match);
      if (span[0] > start) bpe(text.substr(start, span[0] - start), out);  // "Isolated": gaps are pieces
      if (span[1] > span[0]) {
        bpe(text.substr(span[0], span[1] - span[0]), out);
        start = span[1];
      } else {
        // An empty match: step over one character.
        std::size_t next = span[0] + 1;
        while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
        if (next > span[0]) bpe(text.substr(span[0], next - span[0]), out);
        start = next;
      }
    }
  }
};

HfTokenizer HfTokenizer::load(const std::string& path) {
  const std::string text = read_file_bytes(path, kMaxTokenizerBytes);
  FMAV_CHECK(json_depth(text.data(), text.size(), kMaxTokenizerDepth) <= kMaxTokenizerDepth, path,
             ": nested deeper than ", kMaxTokenizerDepth);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not JSON: " + e.what());
  }
  FMAV_CHECK(j.is_object() && j.contains("model") && j.at("model").is_object(), path, ": no \"model\" object");
  auto impl = std::make_shared<Impl>();
  const Json& model = j.at("model");
  const std::string type = model.contains("type") && model.at("type").is_string() ? model.at("type").get<std::string>()
                                                                                   : "?";
  FMAV_CHECK(type == "BPE", path, ": model type \"", type, "\" is not supported yet (byte-level BPE only)");
  FMAV_CHECK(!model.contains("byte_fallback") || !model.at("byte_fallback").is_boolean() ||
                 !model.at("byte_fallback").get<bool>(),
             path, ": BPE with byte_fallback (SentencePiece-style) is not supported yet");
  impl->ignore_merges = model.contains("ignore_merges") && model.at("ignore_merges").is_boolean() &&
                        model.at("ignore_merges").get<bool>();
  FMAV_CHECK(!j.contains("normalizer") || j.at("normalizer").is_null(), path,
             ": normalizers are not supported yet (this one is ", j.at("normalizer").value("type", "?"), ")");
  // The vocabulary and the pieces' bytes (the byte alphabet read back).
  FMAV_CHECK(model.contains("vocab") && model.at("vocab").is_object(), path, ": model.vocab must be an object");
  std::unordered_map<std::string, unsigned char> byte_of;
  for (int b = 0; b < 256; ++b) byte_of[impl->alphabet[b]] = static_cast<unsigned char>(b);
  const auto bytes_of = [&](const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
      std::size_t len = 1;
      while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
      const auto b = byte_of.find(s.substr(i, len));
      out += b != byte_of.end() ? std::string(1, static_cast<char>(b->second)) : s.substr(i, len);
      i += len;
    }
    return out;
  };
  for (const auto& [piece, id] : model.at("vocab").items()) {
    FMAV_CHECK(id.is_number_integer() && id.get<std::int64_t>() >= 0 && id.get<std::int64_t>() < (1 << 24), path,
               ": vocab id of \"", piece, "\" must be an integer in [0, 2^24)");
    impl->vocab[piece] = id.get<std::int64_t>();
  }
  const auto set_piece = [&](std::int64_t id, const std::string& bytes) {
    if (static_cast<std::int64_t>(impl->pieces.size()) <= id) impl->pieces.resize(id + 1);
    impl->pieces[id] = bytes;
  };
  for (const auto& [piece, id] : impl->vocab) set_piece(id, bytes_of(piece));
  FMAV_CHECK(model.contains("merges") && model.at("merges").is_array(), path, ": model.merges must be an array");
  int rank = 0;
  for (const Json& m : model.at("merges")) {
    std::string a, b;
    if (m.is_string()) {  // older files: "a b"
      const std::string s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      FMAV_CHECK(space != std::string::npos, path, ": merge \"", s, "\" is not two pieces");
      a = s.substr(0, space), b = s.substr(space + 1);
    } else {
      FMAV_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), path,
                 ": a merge must be \"a b\" or [a, b]");
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    }
    impl->ranks.emplace(pair_key(a, b), rank++);
  }
  // Added (special) tokens: matched literally, longest first.
  if (j.contains("added_tokens") && j.at("added_tokens").is_array()) {
    for (const Json& t : j.at("added_tokens")) {
      FMAV_CHECK(t.is_object() && t.contains("content") && t.at("content").is_string() && t.contains("id") &&
                     t.at("id").is_number_integer(),
                 path, ": an added token needs \"content\" and \"id\"");
      const std::string content = t.at("content").get<std::string>();
      FMAV_CHECK(!content.empty(), path, ": an added token is empty");
      impl->added.emplace_back(content, t.at("id").get<std::int64_t>());
      set_piece(t.at("id").get<std::int64_t>(), content);
    }
    std::sort(impl->added.begin(), impl->added.end(),
              [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  }
  // The pre-tokenizer: ByteLevel (GPT-2's regex, or none), or Split(regex) then ByteLevel.
  FMAV_CHECK(j.contains("pre_tokenizer") && j.at("pre_tokenizer").is_object(), path, ": no pre_tokenizer");
  const Json& pre = j.at("pre_tokenizer");
  const std::string pre_type = pre.value("type", "?");
  std::string pattern;
  const auto byte_level = [&](const Json& p) {
    FMAV_CHECK(!p.value("add_prefix_space", false), path, ": ByteLevel with add_prefix_space is not supported yet");
    return p.value("use_regex", true);
  };
  if (pre_type == "ByteLevel") {
    pattern = byte_level(pre) ? kGpt2Pattern : "(?s).+";
  } else if (pre_type == "Sequence" && pre.contains("pretokenizers") && pre.at("pretokenizers").is_array() &&
             pre.at("pretokenizers").size() == 2) {
    const Json& split = pre.at("pretokenizers")[0];
    const Json& last = pre.at("pretokenizers")[1];
    FMAV_CHECK(split.value("type", "") == "Split" && last.value("type", "") == "ByteLevel" && !byte_level(last), path,
               ": pre_tokenizer Sequence must be Split then ByteLevel without its regex");
    FMAV_CHECK(split.value("behavior", "") == "Isolated" && !split.value("invert", false), path,
               ": Split must be behavior Isolated, invert false");
    FMAV_CHECK(split.contains("pattern") && split.at("pattern").contains("Regex") &&
                   split.at("pattern").at("Regex").is_string(),
               path, ": Split needs a pattern {\"Regex\": ...}");
    pattern = split.at("pattern").at("Regex").get<std::string>();
  } else {
    throw Error(path + ": pre_tokenizer \"" + pre_type + "\" is not supported yet (ByteLevel, or Split + ByteLevel)");
  }
  impl->split = compile(pattern, path);
  HfTokenizer out;
  out.m_impl = impl;
  return out;
}

std::vector<std::int64_t> HfTokenizer::encode(const std::string& text) const {
  // Valid UTF-8 first, so the regex may skip its own check and a bad byte is named.
  {
    auto re = compile(".", "utf8 check");
    const int rc = pcre2_match(re->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, re->match,
                               nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      throw Error("the text is not UTF-8 at byte " + std::to_string(pcre2_get_startchar(re->match)));
    }
  }
  const Impl& m = *m_impl;
  std::vector<std::int64_t> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    // The next added token, leftmost (longest at a position).
    std::size_t hit = std::string::npos;
    const std::pair<std::string, std::int64_t>* which = nullptr;
    for (const auto& a : m.added) {
      const std::size_t at = text.find(a.first, begin);
      if (at != std::string::npos && (at < hit || (at == hit && a.first.size() > which->first.size()))) {
        hit = at, which = &a;
      }
    }
    const std::size_t end = hit == std::string::npos ? text.size() : hit;
    if (end > begin) m.encode_plain(text.substr(begin, end - begin), out);
    if (which == nullptr) break;
    out.push_back(which->second);
    begin = hit + which->first.size();
  }
  return out;
}

std::string HfTokenizer::piece(std::int64_t id) const {
  FMAV_CHECK(id >= 0 && id < static_cast<std::int64_t>(m_impl->pieces.size()), "token id ", id,
             " is outside the tokenizer's vocabulary [0, ", m_impl->pieces.size(), ")");
  return m_impl->pieces[static_cast<std::size_t>(id)];
}

std::vector<std::int64_t> hf_input_ids(const std::string& folder, const std::string& ids_path,
                                       const std::string& text_path, std::int64_t max_tokens) {
  FMAV_CHECK(ids_path.empty() || text_path.empty(), "give token ids (--ids) or a text (--data / --input), not both");
  std::vector<std::int64_t> ids;
  if (!ids_path.empty()) {
    ids = read_token_ids(ids_path);
  } else {
    FMAV_CHECK(!text_path.empty(), folder, " is a Hugging Face model: give a text file, or token ids with --ids IDS.npy");
    const std::string tokenizer = folder + "/tokenizer.json";
    FMAV_CHECK(std::filesystem::exists(tokenizer), folder, " has no tokenizer.json: give token ids with --ids IDS.npy");
    ids = HfTokenizer::load(tokenizer).encode(read_text(text_path));
  }
  if (max_tokens > 0 && static_cast<std::int64_t>(ids.size()) > max_tokens) ids.resize(static_cast<std::size_t>(max_tokens));
  return ids;
}

std::int64_t HfTokenizer::vocab_size() const { return static_cast<std::int64_t>(m_impl->pieces.size()); }

}  // namespace fmav
