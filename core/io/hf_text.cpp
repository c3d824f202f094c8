// Normalizers and pre-tokenizers of tokenizer.json (hf_text.h). utf8proc gives the Unicode
// normal forms, case mappings and general categories; PCRE2 runs the regexes. Each stage
// follows what `tokenizers` 0.23 does, including its quirks (a Prepend or a prefix space
// applies to every stretch between added tokens), since the ids must be equal.

#include "hf_text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "fmav/error.h"

namespace fmav {
namespace hf {

// ---- UTF-8 and character classes ----

std::string utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::size_t char_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

std::vector<char32_t> code_points(const std::string& text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t len = std::min(char_length(lead), text.size() - i);
    char32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

const std::vector<std::string>& byte_alphabet() {
  static const std::vector<std::string> alphabet = [] {
    std::vector<std::string> out(256);
    char32_t next = 256;
    for (char32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      out[b] = utf8(printable ? b : next++);
    }
    return out;
  }();
  return alphabet;
}

namespace {

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

bool is_other(char32_t c) {  // Unicode C*: Cc, Cf, Cs, Co, Cn
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN;
}

bool is_punctuation(char32_t c) {  // ASCII punctuation or Unicode P*
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                       (c >= 0x7B && c <= 0x7E);
  const auto k = category(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool is_numeric(char32_t c) {  // Rust's char::is_numeric: Nd, Nl, No
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool is_chinese(char32_t c) {  // the CJK blocks BERT spaces out
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string unicode_form(const std::string& text, int options) {
  if (text.empty()) return text;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | options));
  FMAV_CHECK(n >= 0, "tokenizer: utf8proc cannot normalize the text: ", utf8proc_errmsg(n));
  std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

// Keeps the characters `keep` accepts, each mapped by `map`.
template <typename Keep, typename Map>
std::string filter_map(const std::string& text, Keep keep, Map map) {
  std::string out;
  for (char32_t c : code_points(text)) {
    if (keep(c)) out += map(c);
  }
  return out;
}

std::string lowercase(const std::string& text) {
  return filter_map(text, [](char32_t) { return true; }, [](char32_t c) {
    // Rust's char::to_lowercase: the simple mapping, but İ becomes i + combining dot.
    return c == 0x130 ? std::string("i\xCC\x87") : utf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  });
}

std::string strip_marks(const std::string& text) {  // drops Mn (nonspacing marks)
  return filter_map(text, [](char32_t c) { return category(c) != UTF8PROC_CATEGORY_MN; }, utf8);
}

std::string strip(const std::string& text, bool left, bool right) {
  const std::vector<char32_t> cps = code_points(text);
  std::size_t begin = 0, end = cps.size();
  while (left && begin < end && is_whitespace(cps[begin])) ++begin;
  while (right && end > begin && is_whitespace(cps[end - 1])) --end;
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += utf8(cps[i]);
  return out;
}

std::string replace_all(const std::string& text, const Regex& re, const std::string& content) {
  std::string out;
  std::size_t at = 0;
  for (const auto& [start, end] : re.find_all(text)) {
    out.append(text, at, start - at);
    out += content;
    at = end;
  }
  out.append(text, at, std::string::npos);
  return out;
}

std::string bert_normalize(std::string text, bool clean, bool chinese, bool accents, bool lower) {
  if (clean) {
    text = filter_map(text, [](char32_t c) {
      return !(c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && is_other(c)));
    }, [](char32_t c) { return is_whitespace(c) ? std::string(" ") : utf8(c); });
  }
  if (chinese) {
    text = filter_map(text, [](char32_t) { return true; },
                      [](char32_t c) { return is_chinese(c) ? " " + utf8(c) + " " : utf8(c); });
  }
  if (accents) text = strip_marks(unicode_form(text, UTF8PROC_DECOMPOSE));
  if (lower) text = lowercase(text);
  return text;
}

std::string type_of(const Json& j, const std::string& where) {
  FMAV_CHECK(j.is_object() && j.contains("type") && j.at("type").is_string(), where,
             ".type must be a string naming the kind");
  return j.at("type").get<std::string>();
}

bool flag(const Json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  FMAV_CHECK(j.at(key).is_boolean(), where, ".", key, " must be true or false");
  return j.at(key).get<bool>();
}

std::string text_field(const Json& j, const char* key, const std::string& where) {
  FMAV_CHECK(j.contains(key) && j.at(key).is_string(), where, ".", key, " must be a string");
  return j.at(key).get<std::string>();
}

// A Replace's or a Split's pattern: {"String": s} or {"Regex": r}.
std::shared_ptr<Regex> pattern_of(const Json& j, const std::string& where) {
  FMAV_CHECK(j.contains("pattern") && j.at("pattern").is_object() && j.at("pattern").size() == 1, where,
             ".pattern must be {\"String\": ...} or {\"Regex\": ...}");
  const Json& p = j.at("pattern");
  const bool literal = p.contains("String");
  const std::string field = literal ? "String" : "Regex";
  FMAV_CHECK(p.contains(field) && p.at(field).is_string(), where, ".pattern must be {\"String\": ...} or {\"Regex\": ...}");
  const std::string text = p.at(field).get<std::string>();
  FMAV_CHECK(!text.empty(), where, ".pattern.", field, " is empty");
  return std::make_shared<Regex>(text, literal, where + ".pattern");
}

}  // namespace

// ---- regexes ----

Regex::Regex(const std::string& pattern, bool literal, const std::string& where) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::uint32_t options = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
  m_code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset,
                         nullptr);
  if (m_code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error(where + ": the regex does not compile at offset " + std::to_string(offset) + ": " +
                reinterpret_cast<const char*>(message));
  }
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(m_code)); }

std::vector<std::pair<std::size_t, std::size_t>> Regex::find_all(const std::string& text) const {
  auto* code = static_cast<pcre2_code*>(m_code);
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t from = 0;
  bool have_last = false;
  std::size_t last_end = 0;
  while (from <= text.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), from, PCRE2_NO_UTF_CHECK,
                               match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(match);
      throw Error("tokenizer: a regex failed on the text (PCRE2 error " + std::to_string(rc) + ")");
    }
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match);
    if (span[0] == span[1] && have_last && last_end == span[1]) {
      // An empty match where the last one ended: step one character, as onig's find_iter.
      from += from < text.size() ? char_length(static_cast<unsigned char>(text[from])) : 1;
      continue;
    }
    out.emplace_back(span[0], span[1]);
    from = span[1];
    have_last = true, last_end = span[1];
  }
  pcre2_match_data_free(match);
  return out;
}

// ---- normalizers ----

Normalizer parse_normalizer(const Json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  const auto form = [](int options) { return [options](std::string& s) { s = unicode_form(s, options); }; };
  if (type == "NFC") return form(UTF8PROC_COMPOSE);
  if (type == "NFD") return form(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return form(UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return form(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return [](std::string& s) { s = lowercase(s); };
  if (type == "StripAccents") return [](std::string& s) { s = strip_marks(s); };
  if (type == "Strip") {
    const bool left = flag(j, "strip_left", true, where), right = flag(j, "strip_right", true, where);
    return [left, right](std::string& s) { s = strip(s, left, right); };
  }
  if (type == "Prepend" || type == "Append") {
    const std::string key = type == "Prepend" ? "prepend" : "append";
    const std::string with = text_field(j, key.c_str(), where);
    const bool front = type == "Prepend";
    return [with, front](std::string& s) {
      if (!s.empty()) s = front ? with + s : s + with;
    };
  }
  if (type == "Replace") {
    const std::shared_ptr<Regex> re = pattern_of(j, where);
    const std::string content = text_field(j, "content", where);
    return [re, content](std::string& s) { s = replace_all(s, *re, content); };
  }
  if (type == "BertNormalizer") {
    const bool clean = flag(j, "clean_text", true, where), chinese = flag(j, "handle_chinese_chars", true, where);
    const bool lower = flag(j, "lowercase", true, where);
    const bool accents = flag(j, "strip_accents", lower, where);  // null: as lowercase
    return [=](std::string& s) { s = bert_normalize(s, clean, chinese, accents, lower); };
  }
  if (type == "Sequence") {
    FMAV_CHECK(j.contains("normalizers") && j.at("normalizers").is_array(), where, ".normalizers must be an array");
    std::vector<Normalizer> steps;
    for (std::size_t i = 0; i < j.at("normalizers").size(); ++i) {
      Normalizer n = parse_normalizer(j.at("normalizers")[i], where + ".normalizers[" + std::to_string(i) + "]");
      if (n) steps.push_back(std::move(n));
    }
    return [steps](std::string& s) {
      for (const Normalizer& n : steps) n(s);
    };
  }
  throw Error(where + ": normalizer \"" + type +
              "\" is not supported (NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, Append, "
              "BertNormalizer, Sequence)");
}

// ---- pre-tokenizers ----

void split_pieces(std::vector<Piece>& pieces, SplitBehavior behavior, bool invert,
                  const std::function<std::vector<Run>(const std::string&)>& runs_of) {
  std::vector<Piece> out;
  for (const Piece& piece : pieces) {
    std::vector<Run> runs = runs_of(piece.text);
    if (invert) {
      for (Run& r : runs) r.is_match = !r.is_match;
    }
    // Which runs join into one piece, as tokenizers' NormalizedString::split folds them.
    std::vector<Run> merged;  // is_match: remove it
    bool previous = false;
    if (behavior == SplitBehavior::merged_with_next) {
      for (auto r = runs.rbegin(); r != runs.rend(); ++r) {
        if (r->is_match && !previous && !merged.empty()) {
          merged.back().start = r->start;
        } else {
          merged.push_back({r->start, r->end, false});
        }
        previous = r->is_match;
      }
      std::reverse(merged.begin(), merged.end());
    } else {
      for (const Run& r : runs) {
        const bool join = (behavior == SplitBehavior::contiguous && r.is_match == previous) ||
                          (behavior == SplitBehavior::merged_with_previous && r.is_match && !previous);
        if (join && !merged.empty()) {
          merged.back().end = r.end;
        } else {
          merged.push_back({r.start, r.end, behavior == SplitBehavior::removed && r.is_match});
        }
        previous = r.is_match;
      }
    }
    for (const Run& r : merged) {
      if (!r.is_match && r.end > r.start) out.push_back({piece.text.substr(r.start, r.end - r.start), piece.at_start && r.start == 0});
    }
  }
  pieces = std::move(out);
}

namespace {

// Runs of a piece where each character `is` accepts is a match of its own.
std::function<std::vector<Run>(const std::string&)> char_runs(std::function<bool(char32_t)> is) {
  return [is](const std::string& text) {
    std::vector<Run> runs;
    std::size_t last = 0;
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t len = char_length(static_cast<unsigned char>(text[i]));
      if (is(code_points(text.substr(i, len))[0])) {
        if (last < i) runs.push_back({last, i, false});
        runs.push_back({i, i + len, true});
        last = i + len;
      }
      i += len;
    }
    if (last < text.size()) runs.push_back({last, text.size(), false});
    return runs;
  };
}

std::function<std::vector<Run>(const std::string&)> regex_runs(std::shared_ptr<Regex> re) {
  return [re](const std::string& text) {
    std::vector<Run> runs;
    std::size_t last = 0;
    for (const auto& [start, end] : re->find_all(text)) {
      if (last != start) runs.push_back({last, start, false});
      runs.push_back({start, end, true});
      last = end;
    }
    if (last != text.size()) runs.push_back({last, text.size(), false});
    return runs;
  };
}

SplitBehavior behavior_of(const Json& j, const std::string& where, SplitBehavior fallback) {
  if (!j.contains("behavior")) return fallback;
  const std::string b = j.at("behavior").is_string() ? j.at("behavior").get<std::string>() : "?";
  if (b == "Removed") return SplitBehavior::removed;
  if (b == "Isolated") return SplitBehavior::isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (b == "Contiguous") return SplitBehavior::contiguous;
  throw Error(where + ".behavior \"" + b +
              "\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

// GPT-2's pre-tokenizer regex (ByteLevel with use_regex), as `tokenizers` writes it.
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer byte_level(const Json& j, const std::string& where, bool& is_byte_level) {
  is_byte_level = true;
  const bool prefix = flag(j, "add_prefix_space", true, where);
  std::shared_ptr<Regex> re;
  if (flag(j, "use_regex", true, where)) re = std::make_shared<Regex>(kGpt2Pattern, false, where);
  return [prefix, re](std::vector<Piece>& pieces) {
    if (prefix) {
      for (Piece& p : pieces) {
        if (p.text[0] != ' ') p.text = " " + p.text;
      }
    }
    if (re) split_pieces(pieces, SplitBehavior::isolated, false, regex_runs(re));
    const std::vector<std::string>& alphabet = byte_alphabet();
    for (Piece& p : pieces) {
      std::string mapped;
      for (unsigned char b : p.text) mapped += alphabet[b];
      p.text = std::move(mapped);
    }
  };
}

PreTokenizer metaspace(const Json& j, const std::string& where) {
  const std::string replacement = text_field(j, "replacement", where);
  FMAV_CHECK(code_points(replacement).size() == 1, where, ".replacement must be one character");
  std::string scheme = flag(j, "add_prefix_space", true, where) ? "always" : "never";  // older files
  if (j.contains("prepend_scheme")) scheme = text_field(j, "prepend_scheme", where);
  FMAV_CHECK(scheme == "always" || scheme == "never" || scheme == "first", where, ".prepend_scheme \"", scheme,
             "\" is not always, never or first");
  const bool split = flag(j, "split", true, where);
  const char32_t mark = code_points(replacement)[0];
  return [=](std::vector<Piece>& pieces) {
    for (Piece& p : pieces) {
      std::string s;
      for (char c : p.text) c == ' ' ? s += replacement : s += c;
      const bool starts = s.compare(0, replacement.size(), replacement) == 0;
      if (!starts && (scheme == "always" || (scheme == "first" && p.at_start))) s = replacement + s;
      p.text = std::move(s);
    }
    if (split) split_pieces(pieces, SplitBehavior::merged_with_next, false, char_runs([mark](char32_t c) { return c == mark; }));
  };
}

}  // namespace

PreTokenizer parse_pre_tokenizer(const Json& j, const std::string& where, bool& is_byte_level) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  if (type == "ByteLevel") return byte_level(j, where, is_byte_level);
  if (type == "Metaspace") return metaspace(j, where);
  if (type == "Split") {
    const std::shared_ptr<Regex> re = pattern_of(j, where);
    const SplitBehavior behavior = behavior_of(j, where, SplitBehavior::isolated);
    FMAV_CHECK(j.contains("behavior"), where, ".behavior is missing");
    const bool invert = flag(j, "invert", false, where);
    return [=](std::vector<Piece>& p) { split_pieces(p, behavior, invert, regex_runs(re)); };
  }
  if (type == "Whitespace") {
    const auto re = std::make_shared<Regex>(R"(\w+|[^\w\s]+)", false, where);
    return [re](std::vector<Piece>& p) { split_pieces(p, SplitBehavior::removed, true, regex_runs(re)); };
  }
  if (type == "WhitespaceSplit") {
    return [](std::vector<Piece>& p) { split_pieces(p, SplitBehavior::removed, false, char_runs(is_whitespace)); };
  }
  if (type == "BertPreTokenizer") {
    return [](std::vector<Piece>& p) {
      split_pieces(p, SplitBehavior::removed, false, char_runs(is_whitespace));
      split_pieces(p, SplitBehavior::isolated, false, char_runs(is_punctuation));
    };
  }
  if (type == "Punctuation") {
    const SplitBehavior behavior = behavior_of(j, where, SplitBehavior::isolated);
    return [behavior](std::vector<Piece>& p) { split_pieces(p, behavior, false, char_runs(is_punctuation)); };
  }
  if (type == "Digits") {
    const SplitBehavior behavior =
        flag(j, "individual_digits", false, where) ? SplitBehavior::isolated : SplitBehavior::contiguous;
    return [behavior](std::vector<Piece>& p) { split_pieces(p, behavior, false, char_runs(is_numeric)); };
  }
  if (type == "Sequence") {
    FMAV_CHECK(j.contains("pretokenizers") && j.at("pretokenizers").is_array(), where,
               ".pretokenizers must be an array");
    std::vector<PreTokenizer> steps;
    for (std::size_t i = 0; i < j.at("pretokenizers").size(); ++i) {
      PreTokenizer p = parse_pre_tokenizer(j.at("pretokenizers")[i], where + ".pretokenizers[" + std::to_string(i) + "]",
                                           is_byte_level);
      if (p) steps.push_back(std::move(p));
    }
    return [steps](std::vector<Piece>& pieces) {
      for (const PreTokenizer& p : steps) p(pieces);
    };
  }
  throw Error(where + ": pre-tokenizer \"" + type +
              "\" is not supported (ByteLevel, Metaspace, Split, Whitespace, WhitespaceSplit, BertPreTokenizer, "
              "Punctuation, Digits, Sequence)");
}

}  // namespace hf
}  // namespace fmav
