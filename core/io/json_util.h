#pragma once
// Strict reading of the project's JSON files (model config.json, sessions, settings, results
// files of JSON lines): every
// key known, typed and in range, errors naming the file and the key; size and depth checked
// before a tree is built. No LibTorch (fmav_io).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

namespace fmav {

using Json = nlohmann::ordered_json;

// The deepest nesting of [ and { outside strings in JSON text, counted before a parser
// builds any tree (a hostile 10000-deep '[' is refused cheaply). Stops past `limit`.
int json_depth(const char* text, std::size_t size, int limit);

// The value of `key`; throws "where: missing key "key"".
const Json& json_key(const Json& obj, const char* key, const std::string& where);
// An integer in [lo, hi] (a huge unsigned value is refused, not wrapped).
std::int64_t json_int(const Json& obj, const char* key, std::int64_t lo, std::int64_t hi,
                      const std::string& where);
bool json_bool(const Json& obj, const char* key, const std::string& where);
// A number, or NaN for null (JSON has no NaN; nlohmann writes it as null).
double json_number(const Json& obj, const char* key, const std::string& where);
std::string json_string(const Json& obj, const char* key, const std::string& where);
// Refuses keys outside `known` (a typo would otherwise be silently ignored).
void json_check_keys(const Json& obj, std::initializer_list<const char*> known, const std::string& where);
// Parses `text` (named `name` in errors) as JSON of any shape; refuses empty text, more than
// max_bytes, nesting deeper than max_depth (counted before parsing) and invalid JSON.
Json parse_json_text(const std::string& text, const std::string& name, std::uint64_t max_bytes, int max_depth);
// Parses `text` (named `name` in errors) as a JSON object whose "format" is `format` and
// "format_version" is `version`; refuses empty text, more than max_bytes, nesting deeper
// than max_depth (counted before parsing), invalid JSON and any other format or version.
Json parse_json_object(const std::string& text, const std::string& name, const char* format, int version,
                       std::uint64_t max_bytes, int max_depth);

// A results file of JSON lines (`fmav sweep`, `fmav bench --jsonl`): a header line checked
// by parse_json_object (`format`, `version`) and handed to `header`, then one JSON value per
// line handed to `line`; `where` names the file and the line. A last line without its newline is a write cut
// off by a crash: set aside (truncated_tail), not an error. Throws fmav::Error naming `name`
// for text over max_bytes, an empty text or an incomplete header, a line over
// max_line_bytes, nesting deeper than max_depth, or a line that is not JSON.
struct JsonLines {
  bool truncated_tail = false;
  std::uint64_t valid_bytes = 0;  // up to the end of the last complete line
};
JsonLines parse_json_lines(const std::string& text, const std::string& name, const char* format, int version,
                           std::uint64_t max_bytes, std::uint64_t max_line_bytes, int max_depth,
                           const std::function<void(const Json& header, const std::string& where)>& header,
                           const std::function<void(const Json& line, const std::string& where)>& line);

}  // namespace fmav
