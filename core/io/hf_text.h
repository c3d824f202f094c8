#pragma once
// The text stages of a Hugging Face tokenizer (hf_tokenizer.cpp, docs/DESIGN.md §7.6): the
// normalizers (utf8proc's Unicode tables) and the pre-tokenizers (PCRE2 for regexes), read
// from tokenizer.json and applied as `tokenizers` 0.23 applies them. Internal to fmav_io.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "json_util.h"

namespace fmav {
namespace hf {

// ---- UTF-8 and character classes (the text is valid UTF-8 here) ----
std::string utf8(char32_t cp);
std::vector<char32_t> code_points(const std::string& text);
// Length in bytes of the UTF-8 character that starts with `lead`.
std::size_t char_length(unsigned char lead);
bool is_whitespace(char32_t c);  // Rust's char::is_whitespace (Unicode White_Space)
// GPT-2's byte alphabet: printable bytes stand for themselves, the others for 256, 257, ...
const std::vector<std::string>& byte_alphabet();

// A compiled PCRE2 pattern (Unicode, as Oniguruma reads the same patterns); `literal` escapes it.
class Regex {
 public:
  Regex(const std::string& pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Every match's [start, end) in `text`, as the Rust `onig` crate's find_iter gives them (an
  // empty match right after a match is skipped by one character).
  std::vector<std::pair<std::size_t, std::size_t>> find_all(const std::string& text) const;

 private:
  void* m_code = nullptr;
};

// ---- normalizers ----
using Normalizer = std::function<void(std::string&)>;
// The `normalizer` field (null: none). Throws fmav::Error naming `where` and a kind it lacks.
Normalizer parse_normalizer(const Json& j, const std::string& where);

// ---- pre-tokenizers ----
// A piece of text on its way to the model. `at_start`: it begins the input (Metaspace's
// prepend_scheme "first").
struct Piece {
  std::string text;
  bool at_start = false;
};
using PreTokenizer = std::function<void(std::vector<Piece>&)>;
// The `pre_tokenizer` field (null: none). `byte_level` is set when a ByteLevel step maps the
// pieces to GPT-2's byte alphabet.
PreTokenizer parse_pre_tokenizer(const Json& j, const std::string& where, bool& byte_level);

// The splitting behaviours of `tokenizers` (SplitDelimiterBehavior) over the matches of a
// pattern: each entry of `is_match` marks a run [start, end) of the piece.
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
struct Run {
  std::size_t start, end;
  bool is_match;
};
void split_pieces(std::vector<Piece>& pieces, SplitBehavior behavior, bool invert,
                  const std::function<std::vector<Run>(const std::string&)>& runs);

}  // namespace hf
}  // namespace fmav
