// A Hugging Face tokenizer.json (hf_tokenizer.h) and a text to encode with it: the bytes up to
// the first NUL are the file, the rest is the text (a fixed awkward one when there is none).
// Every id encode gives must have a piece.

#include <string>

#include "fmav/hf_tokenizer.h"
#include "fuzz_target.h"

namespace {

void parse(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = bytes.find('\0');
  const fmav::HfTokenizer tok = fmav::HfTokenizer::parse(bytes.substr(0, nul), "tokenizer.json");
  const std::string text = nul == std::string::npos || nul + 1 == bytes.size()
                               ? std::string("Hello  w\xC3\xB6rld!\n\t\xE6\x9D\xB1 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD <s>[CLS] 123")
                               : bytes.substr(nul + 1);
  for (bool special : {false, true}) {
    for (std::int64_t id : tok.encode(text, special)) tok.piece(id);
  }
}

}  // namespace

FMAV_FUZZ_TARGET(parse)
