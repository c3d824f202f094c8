// Tokenizers from tokenizer.json (fmav/hf_tokenizer.h): the added tokens, the normalizer and
// pre-tokenizer (hf_text.cpp), the model (BPE with its byte-level, byte-fallback and unk
// variants; WordPiece; WordLevel) and the post-processor's special tokens, in the order and
// with the rules of `tokenizers` 0.23 (docs/DESIGN.md §7.6).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <queue>
#include <unordered_map>

#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"
#include "hf_text.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr std::uint64_t kMaxTokenizerBytes = 256u << 20;
constexpr int kMaxTokenizerDepth = 16;
constexpr std::int64_t kMaxId = 1 << 24;

// Where `text` stops being UTF-8 (overlong forms, surrogates and code points past U+10FFFF
// included), or npos.
std::size_t utf8_error(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    char32_t cp = 0, min = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (i + len > text.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

bool flag(const Json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return false;
  FMAV_CHECK(j.at(key).is_boolean(), where, ".", key, " must be true or false");
  return j.at(key).get<bool>();
}

std::string optional_text(const Json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return "";
  FMAV_CHECK(j.at(key).is_string(), where, ".", key, " must be a string or null");
  return j.at(key).get<std::string>();
}

std::uint64_t pair_key(std::int64_t a, std::int64_t b) {
  return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint64_t>(b);
}

struct AddedToken {
  std::string content;
  std::int64_t id;
  bool normalized, lstrip, rstrip;
};

// A stretch of text, or an added token's id.
struct Segment {
  std::string text;
  std::int64_t id = -1;
  bool at_start = false;
};

}  // namespace

struct HfTokenizer::Impl {
  enum class Kind { bpe, word_piece, word_level } kind = Kind::bpe;
  std::unordered_map<std::string, std::int64_t> vocab;
  std::vector<std::string> pieces;  // id -> readable text (piece())
  // BPE: (left, right) -> (rank, merged id).
  std::unordered_map<std::uint64_t, std::pair<int, std::int64_t>> merges;
  std::int64_t unk = -1;  // -1: no unk token
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::string prefix, suffix;  // BPE's continuing_subword_prefix, end_of_word_suffix; WordPiece's "##"
  std::int64_t max_chars = 100;  // WordPiece's max_input_chars_per_word
  std::size_t longest = 0;       // bytes of the longest vocabulary entry (WordPiece's search)
  std::int64_t byte_ids[256];    // <0xXX> (byte fallback), or -1
  std::vector<AddedToken> added;
  hf::Normalizer normalizer;
  hf::PreTokenizer pre_tokenizer;
  bool byte_level = false;
  std::vector<std::int64_t> before, after;  // the post-processor's special tokens around the text

  std::vector<std::int64_t> characters(const std::string& word) const;
  void bpe(const std::string& word, std::vector<std::int64_t>& out) const;
  void word_piece(const std::string& word, std::vector<std::int64_t>& out) const;
  void model(const std::string& word, std::vector<std::int64_t>& out) const {
    if (word.empty()) return;
    if (kind == Kind::bpe) return bpe(word, out);
    if (kind == Kind::word_piece) return word_piece(word, out);
    const auto id = vocab.find(word);
    FMAV_CHECK(id != vocab.end() || unk >= 0, "tokenizer: \"", word, "\" is not in the vocabulary and there is no unk_token");
    out.push_back(id != vocab.end() ? id->second : unk);
  }
  std::vector<Segment> split_added(const std::vector<Segment>& in, bool normalized) const;
};

// ---- models ----

// The symbols BPE starts from: each character's id, else its <0xXX> bytes (byte_fallback),
// else unk (consecutive ones fused with fuse_unk), else nothing, as tokenizers' merge_word.
std::vector<std::int64_t> HfTokenizer::Impl::characters(const std::string& word) const {
  std::vector<std::int64_t> ids;
  std::int64_t pending_unk = -1;
  for (std::size_t i = 0; i < word.size();) {
    const std::size_t len = hf::char_length(static_cast<unsigned char>(word[i]));
    std::string s = word.substr(i, len);
    if (i > 0) s = prefix + s;
    if (i + len >= word.size()) s += suffix;
    i += len;
    const auto id = vocab.find(s);
    if (id != vocab.end()) {
      if (pending_unk >= 0) ids.push_back(pending_unk), pending_unk = -1;
      ids.push_back(id->second);
      continue;
    }
    if (byte_fallback && std::all_of(s.begin(), s.end(), [&](char b) { return byte_ids[static_cast<unsigned char>(b)] >= 0; })) {
      for (unsigned char b : s) ids.push_back(byte_ids[b]);  // tokenizers leaves a pending unk for later
      continue;
    }
    if (unk < 0) continue;  // no unk token: the character is dropped, as tokenizers does
    if (pending_unk >= 0 && !fuse_unk) ids.push_back(pending_unk);
    pending_unk = unk;
  }
  if (pending_unk >= 0) ids.push_back(pending_unk);
  return ids;
}

// BPE of one pre-token: its characters merged by rank, lowest first, leftmost among equals,
// with a priority queue of candidate pairs as tokenizers' Word::merge_all.
void HfTokenizer::Impl::bpe(const std::string& word, std::vector<std::int64_t>& out) const {
  if (ignore_merges) {
    const auto whole = vocab.find(word);
    if (whole != vocab.end()) return out.push_back(whole->second);
  }
  struct Symbol {
    std::int64_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  for (std::int64_t id : characters(word)) {
    const int n = static_cast<int>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, true});
  }
  struct Merge {
    int rank, pos;
    std::int64_t id;
    bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Merge> queue;
  const auto consider = [&](int pos) {
    const int next = symbols[pos].next;
    if (next < 0) return;
    const auto m = merges.find(pair_key(symbols[pos].id, symbols[next].id));
    if (m != merges.end()) queue.push({m->second.first, pos, m->second.second});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    const auto m = merges.find(pair_key(left.id, symbols[left.next].id));
    if (m == merges.end() || m->second.second != top.id) continue;  // stale: a neighbour merged first
    Symbol& right = symbols[left.next];
    left.id = top.id, left.next = right.next, right.alive = false;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (const Symbol& s : symbols) {
    if (s.alive) out.push_back(s.id);
  }
}

// WordPiece: the longest vocabulary prefix, then "##" pieces; a word that does not split
// entirely, or is longer than max_input_chars_per_word, is one unk.
void HfTokenizer::Impl::word_piece(const std::string& word, std::vector<std::int64_t>& out) const {
  if (static_cast<std::int64_t>(hf::code_points(word).size()) > max_chars) return out.push_back(unk);
  std::vector<std::int64_t> pieces_of_word;
  for (std::size_t start = 0; start < word.size();) {
    // No entry is longer than `longest`: start the search there, not at the word's end
    // (the same result, without a quadratic search on a long word).
    std::size_t end = std::min(word.size(), start + longest);
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) ++end;
    std::int64_t found = -1;
    while (start < end) {
      const std::string sub = (start > 0 ? prefix : "") + word.substr(start, end - start);
      const auto id = vocab.find(sub);
      if (id != vocab.end()) {
        found = id->second;
        break;
      }
      do --end; while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (found < 0) return out.push_back(unk);
    pieces_of_word.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces_of_word.begin(), pieces_of_word.end());
}

// ---- added tokens ----

// Splits the stretches of `in` at the added tokens (those matched before normalization, or
// after it): leftmost match first, the longest at a position; lstrip/rstrip take the
// whitespace beside a token with it.
std::vector<Segment> HfTokenizer::Impl::split_added(const std::vector<Segment>& in, bool normalized) const {
  std::vector<const AddedToken*> tokens;
  for (const AddedToken& t : added) {
    if (t.normalized == normalized) tokens.push_back(&t);
  }
  std::vector<Segment> out;
  for (const Segment& seg : in) {
    if (seg.id >= 0 || tokens.empty()) {
      out.push_back(seg);
      continue;
    }
    const std::string& text = seg.text;
    std::vector<std::size_t> next(tokens.size(), 0);  // each token's next occurrence, cached
    std::vector<bool> searched(tokens.size(), false);
    std::size_t begin = 0;
    while (begin <= text.size()) {
      std::size_t hit = std::string::npos;
      const AddedToken* which = nullptr;
      for (std::size_t k = 0; k < tokens.size(); ++k) {
        if (!searched[k] || (next[k] != std::string::npos && next[k] < begin)) {
          next[k] = text.find(tokens[k]->content, begin), searched[k] = true;
        }
        if (next[k] != std::string::npos &&
            (next[k] < hit || (next[k] == hit && tokens[k]->content.size() > which->content.size()))) {
          hit = next[k], which = tokens[k];
        }
      }
      std::size_t start = hit == std::string::npos ? text.size() : hit, stop = start;
      if (which != nullptr) {
        stop = hit + which->content.size();
        if (which->lstrip) {
          while (start > begin) {
            std::size_t c = start - 1;
            while (c > begin && (static_cast<unsigned char>(text[c]) & 0xC0) == 0x80) --c;
            if (!hf::is_whitespace(hf::code_points(text.substr(c, start - c))[0])) break;
            start = c;
          }
        }
        if (which->rstrip) {
          while (stop < text.size()) {
            const std::size_t len = hf::char_length(static_cast<unsigned char>(text[stop]));
            if (!hf::is_whitespace(hf::code_points(text.substr(stop, len))[0])) break;
            stop += len;
          }
        }
      }
      if (start > begin) out.push_back({text.substr(begin, start - begin), -1, seg.at_start && begin == 0});
      if (which == nullptr) break;
      out.push_back({"", which->id, false});
      begin = stop;
      if (begin == text.size()) break;
    }
  }
  return out;
}

// ---- reading tokenizer.json ----

namespace {

void read_model(HfTokenizer::Impl& m, const Json& model, const std::string& path) {
  const std::string where = path + ": model";
  const std::string type = model.contains("type") && model.at("type").is_string() ? model.at("type").get<std::string>() : "?";
  FMAV_CHECK(model.contains("vocab") && model.at("vocab").is_object(), where, ".vocab must be an object");
  for (const auto& [piece, id] : model.at("vocab").items()) {
    FMAV_CHECK(id.is_number_integer() && id.get<std::int64_t>() >= 0 && id.get<std::int64_t>() < kMaxId, where,
               ".vocab: the id of \"", piece, "\" must be an integer in [0, 2^24)");
    m.vocab[piece] = id.get<std::int64_t>();
    m.longest = std::max(m.longest, piece.size());
  }
  const std::string unk = optional_text(model, "unk_token", where);
  if (!unk.empty()) {
    const auto id = m.vocab.find(unk);
    FMAV_CHECK(id != m.vocab.end(), where, ".unk_token \"", unk, "\" is not in the vocabulary");
    m.unk = id->second;
  }
  if (type == "WordPiece") {
    m.kind = HfTokenizer::Impl::Kind::word_piece;
    FMAV_CHECK(m.unk >= 0, where, ".unk_token is needed by WordPiece");
    m.prefix = model.contains("continuing_subword_prefix") ? optional_text(model, "continuing_subword_prefix", where) : "##";
    if (model.contains("max_input_chars_per_word")) {
      m.max_chars = json_int(model, "max_input_chars_per_word", 0, kMaxId, where);
    }
    return;
  }
  if (type == "WordLevel") {
    m.kind = HfTokenizer::Impl::Kind::word_level;
    return;
  }
  FMAV_CHECK(type == "BPE", where, ".type \"", type, "\" is not supported (BPE, WordPiece, WordLevel)");
  FMAV_CHECK(!model.contains("dropout") || model.at("dropout").is_null() ||
                 (model.at("dropout").is_number() && model.at("dropout").get<double>() == 0.0),
             where, ".dropout: BPE dropout is random and not supported");
  m.fuse_unk = flag(model, "fuse_unk", where);
  m.byte_fallback = flag(model, "byte_fallback", where);
  m.ignore_merges = flag(model, "ignore_merges", where);
  m.prefix = optional_text(model, "continuing_subword_prefix", where);
  m.suffix = optional_text(model, "end_of_word_suffix", where);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto id = m.vocab.find(name);
    m.byte_ids[b] = id != m.vocab.end() ? id->second : -1;
  }
  FMAV_CHECK(model.contains("merges") && model.at("merges").is_array(), where, ".merges must be an array");
  int rank = 0;
  for (const Json& merge : model.at("merges")) {
    std::string a, b;
    if (merge.is_string()) {  // older files: "a b"
      const std::string s = merge.get<std::string>();
      const std::size_t space = s.find(' ');
      FMAV_CHECK(space != std::string::npos, where, ".merges[", rank, "] \"", s, "\" is not two pieces");
      a = s.substr(0, space), b = s.substr(space + 1);
    } else {
      FMAV_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string(), where,
                 ".merges[", rank, "] must be \"a b\" or [a, b]");
      a = merge[0].get<std::string>(), b = merge[1].get<std::string>();
    }
    const auto ia = m.vocab.find(a), ib = m.vocab.find(b);
    const std::size_t cut = m.prefix.empty() || b.compare(0, m.prefix.size(), m.prefix) != 0 ? 0 : m.prefix.size();
    const auto joined = m.vocab.find(a + b.substr(cut));
    FMAV_CHECK(ia != m.vocab.end() && ib != m.vocab.end() && joined != m.vocab.end(), where, ".merges[", rank, "]: \"",
               a, "\" + \"", b, "\" names a piece that is not in the vocabulary");
    m.merges.emplace(pair_key(ia->second, ib->second), std::make_pair(rank, joined->second));
    ++rank;
  }
}

void read_added(HfTokenizer::Impl& m, const Json& j, const std::string& path) {
  if (!j.contains("added_tokens") || j.at("added_tokens").is_null()) return;
  FMAV_CHECK(j.at("added_tokens").is_array(), path, ": added_tokens must be an array");
  for (std::size_t i = 0; i < j.at("added_tokens").size(); ++i) {
    const Json& t = j.at("added_tokens")[i];
    const std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
    FMAV_CHECK(t.is_object(), where, " must be an object");
    AddedToken a{json_string(t, "content", where), json_int(t, "id", 0, kMaxId - 1, where), false, false, false};
    FMAV_CHECK(!a.content.empty(), where, ".content is empty");
    FMAV_CHECK(!flag(t, "single_word", where), where, ".single_word is not supported");
    a.normalized = flag(t, "normalized", where), a.lstrip = flag(t, "lstrip", where), a.rstrip = flag(t, "rstrip", where);
    if (a.normalized && m.normalizer) m.normalizer(a.content);  // matched in normalized text
    if (!a.content.empty()) m.added.push_back(a);
  }
}

// The special tokens the post-processor puts around the text (add_special_tokens=true).
void read_post(HfTokenizer::Impl& m, const Json& p, const std::string& where) {
  if (p.is_null()) return;
  FMAV_CHECK(p.is_object() && p.contains("type") && p.at("type").is_string(), where, ".type must be a string");
  const std::string type = p.at("type").get<std::string>();
  const auto token = [&](const char* key) {
    FMAV_CHECK(p.contains(key) && p.at(key).is_array() && p.at(key).size() == 2 && p.at(key)[1].is_number_integer(),
               where, ".", key, " must be [token, id]");
    return p.at(key)[1].get<std::int64_t>();
  };
  if (type == "ByteLevel") return;  // offsets only
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    m.before.insert(m.before.begin(), token("cls"));
    m.after.push_back(token("sep"));
  } else if (type == "TemplateProcessing") {
    FMAV_CHECK(p.contains("single") && p.at("single").is_array(), where, ".single must be an array");
    FMAV_CHECK(p.contains("special_tokens") && p.at("special_tokens").is_object(), where,
               ".special_tokens must be an object");
    std::vector<std::int64_t> before, after;
    bool seen_text = false;
    for (const Json& item : p.at("single")) {
      if (item.is_object() && item.contains("Sequence")) {
        FMAV_CHECK(!seen_text, where, ".single names the text twice");
        seen_text = true;
        continue;
      }
      FMAV_CHECK(item.is_object() && item.contains("SpecialToken") && item.at("SpecialToken").contains("id") &&
                     item.at("SpecialToken").at("id").is_string(),
                 where, ".single: an item must be {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const Json& specials = p.at("special_tokens");
      FMAV_CHECK(specials.contains(name) && specials.at(name).contains("ids") && specials.at(name).at("ids").is_array(),
                 where, ".special_tokens lacks \"", name, "\" with its ids");
      for (const Json& id : specials.at(name).at("ids")) {
        FMAV_CHECK(id.is_number_integer(), where, ".special_tokens.", name, ".ids must be integers");
        (seen_text ? after : before).push_back(id.get<std::int64_t>());
      }
    }
    m.before.insert(m.before.begin(), before.begin(), before.end());
    m.after.insert(m.after.end(), after.begin(), after.end());
  } else if (type == "Sequence") {
    FMAV_CHECK(p.contains("processors") && p.at("processors").is_array(), where, ".processors must be an array");
    for (std::size_t i = 0; i < p.at("processors").size(); ++i) {
      read_post(m, p.at("processors")[i], where + ".processors[" + std::to_string(i) + "]");
    }
  } else {
    throw Error(where + ": post-processor \"" + type +
                "\" is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)");
  }
}

// What piece() shows for a vocabulary entry: bytes back from GPT-2's alphabet, <0xXX> as its
// byte, ▁ as a space, a WordPiece continuation without its prefix.
std::string readable(const HfTokenizer::Impl& m, const std::string& piece) {
  if (m.byte_level) {
    static const std::unordered_map<std::string, char> byte_of = [] {
      std::unordered_map<std::string, char> out;
      for (int b = 0; b < 256; ++b) out[hf::byte_alphabet()[b]] = static_cast<char>(b);
      return out;
    }();
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
      const std::size_t len = hf::char_length(static_cast<unsigned char>(piece[i]));
      const auto b = byte_of.find(piece.substr(i, len));
      out += b != byte_of.end() ? std::string(1, b->second) : piece.substr(i, len);
      i += len;
    }
    return out;
  }
  if (m.byte_fallback && piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') {
    for (int b = 0; b < 256; ++b) {
      if (m.byte_ids[b] >= 0 && m.vocab.at(piece) == m.byte_ids[b]) return std::string(1, static_cast<char>(b));
    }
  }
  std::string out = piece;
  if (m.kind == HfTokenizer::Impl::Kind::word_piece && out.size() > m.prefix.size() && !m.prefix.empty() &&
      out.compare(0, m.prefix.size(), m.prefix) == 0) {
    out.erase(0, m.prefix.size());
  }
  for (std::size_t at; (at = out.find("\xE2\x96\x81")) != std::string::npos;) out.replace(at, 3, " ");
  return out;
}

}  // namespace

HfTokenizer HfTokenizer::parse(const std::string& text, const std::string& path) {
  const Json j = parse_json_text(text, path, kMaxTokenizerBytes, kMaxTokenizerDepth);
  FMAV_CHECK(j.is_object() && j.contains("model") && j.at("model").is_object(), path, ": no \"model\" object");
  FMAV_CHECK(!j.contains("truncation") || j.at("truncation").is_null(), path,
             ": truncation is not supported (it would cut the text)");
  FMAV_CHECK(!j.contains("padding") || j.at("padding").is_null(), path, ": padding is not supported");
  auto impl = std::make_shared<Impl>();
  read_model(*impl, j.at("model"), path);
  impl->normalizer = hf::parse_normalizer(j.value("normalizer", Json()), path + ": normalizer");
  impl->pre_tokenizer = hf::parse_pre_tokenizer(j.value("pre_tokenizer", Json()), path + ": pre_tokenizer",
                                                impl->byte_level);
  if (j.contains("decoder") && j.at("decoder").is_object()) {  // GPT-2's alphabet decoded without a ByteLevel step
    impl->byte_level = impl->byte_level || j.at("decoder").value("type", "") == "ByteLevel";
  }
  read_added(*impl, j, path);
  read_post(*impl, j.value("post_processor", Json()), path + ": post_processor");
  std::int64_t size = 0;
  for (const auto& [piece, id] : impl->vocab) size = std::max(size, id + 1);
  for (const AddedToken& a : impl->added) size = std::max(size, a.id + 1);
  const std::size_t entries = impl->vocab.size() + impl->added.size();
  FMAV_CHECK(static_cast<std::size_t>(size) <= 2 * entries + 1024, path, ": ids reach ", size - 1, " for only ", entries,
             " tokens (a vocabulary's ids are nearly dense)");
  impl->pieces.resize(static_cast<std::size_t>(size));
  for (const auto& [piece, id] : impl->vocab) impl->pieces[id] = readable(*impl, piece);
  for (const AddedToken& a : impl->added) impl->pieces[a.id] = a.content;
  for (std::int64_t id : impl->before) FMAV_CHECK(id >= 0 && id < size, path, ": post_processor names id ", id, " outside the vocabulary");
  for (std::int64_t id : impl->after) FMAV_CHECK(id >= 0 && id < size, path, ": post_processor names id ", id, " outside the vocabulary");
  HfTokenizer out;
  out.m_impl = impl;
  return out;
}

HfTokenizer HfTokenizer::load(const std::string& path) { return parse(read_file_bytes(path, kMaxTokenizerBytes), path); }

std::vector<std::int64_t> HfTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  const std::size_t bad = utf8_error(text);
  FMAV_CHECK(bad == std::string::npos, "the text is not UTF-8 at byte ", bad);
  const Impl& m = *m_impl;
  std::vector<std::int64_t> out = add_special_tokens ? m.before : std::vector<std::int64_t>();
  // Added tokens in the raw text; the stretches between them normalized, then the added
  // tokens matched in normalized text; then pre-tokens, then the model.
  std::vector<Segment> segments = m.split_added({{text, -1, true}}, false);
  for (Segment& s : segments) {
    if (s.id < 0 && m.normalizer) m.normalizer(s.text);
  }
  segments = m.split_added(segments, true);
  for (const Segment& s : segments) {
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    if (s.text.empty()) continue;
    std::vector<hf::Piece> pieces{{s.text, s.at_start}};
    if (m.pre_tokenizer) m.pre_tokenizer(pieces);
    for (const hf::Piece& p : pieces) m.model(p.text, out);
  }
  if (add_special_tokens) out.insert(out.end(), m.after.begin(), m.after.end());
  return out;
}

std::string HfTokenizer::piece(std::int64_t id) const {
  FMAV_CHECK(id >= 0 && id < static_cast<std::int64_t>(m_impl->pieces.size()), "token id ", id,
             " is outside the tokenizer's vocabulary [0, ", m_impl->pieces.size(), ")");
  return m_impl->pieces[static_cast<std::size_t>(id)];
}

std::int64_t HfTokenizer::vocab_size() const { return static_cast<std::int64_t>(m_impl->pieces.size()); }

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
    // With the special tokens the post-processor adds ([CLS] ... [SEP], <s>, a BOS), as
    // transformers' tokenizer(text) gives them: what the model saw in training.
    ids = HfTokenizer::load(tokenizer).encode(read_text(text_path), true);
  }
  if (max_tokens > 0 && static_cast<std::int64_t>(ids.size()) > max_tokens) ids.resize(static_cast<std::size_t>(max_tokens));
  return ids;
}

}  // namespace fmav
