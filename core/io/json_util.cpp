// Strict JSON reading shared by config.json, sessions and settings (json_util.h).

#include "json_util.h"

#include <algorithm>
#include <limits>

#include "fmav/error.h"

namespace fmav {

const Json& json_key(const Json& obj, const char* key, const std::string& where) {
  FMAV_CHECK(obj.contains(key), where, ": missing key \"", key, "\"");
  return obj.at(key);
}

std::int64_t json_int(const Json& obj, const char* key, std::int64_t lo, std::int64_t hi,
                      const std::string& where) {
  const Json& v = json_key(obj, key, where);
  FMAV_CHECK(v.is_number_integer(), where, ": \"", key, "\" must be an integer, got ", v.type_name());
  // A huge unsigned value would wrap to a negative int64; a negative hi, cast, to a huge one.
  const bool in_range = v.is_number_unsigned()
                            ? hi >= 0 && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                                               : v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  FMAV_CHECK(in_range && v.get<std::int64_t>() >= lo, where, ": \"", key, "\" must be in [", lo, ", ", hi,
             "], got ", v.dump());
  return v.get<std::int64_t>();
}

bool json_bool(const Json& obj, const char* key, const std::string& where) {
  const Json& v = json_key(obj, key, where);
  FMAV_CHECK(v.is_boolean(), where, ": \"", key, "\" must be true or false, got ", v.dump());
  return v.get<bool>();
}

double json_number(const Json& obj, const char* key, const std::string& where) {
  const Json& v = json_key(obj, key, where);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  FMAV_CHECK(v.is_number(), where, ": \"", key, "\" must be a number or null, got ", v.type_name());
  return v.get<double>();
}

std::string json_string(const Json& obj, const char* key, const std::string& where) {
  const Json& v = json_key(obj, key, where);
  FMAV_CHECK(v.is_string(), where, ": \"", key, "\" must be a string, got ", v.type_name());
  return v.get<std::string>();
}

void json_check_keys(const Json& obj, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& item : obj.items()) {
    const bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return item.key() == k; });
    FMAV_CHECK(ok, where, ": unknown key \"", item.key(), "\"");
  }
}

Json parse_json_text(const std::string& text, const std::string& name, std::uint64_t max_bytes, int max_depth) {
  FMAV_CHECK(!text.empty(), name, ": empty file, expected a JSON object");
  FMAV_CHECK(text.size() <= max_bytes, name, ": ", text.size(), " bytes, more than the limit of ", max_bytes);
  FMAV_CHECK(json_depth(text.data(), text.size(), max_depth) <= max_depth, name, ": JSON nests deeper than ",
             max_depth, " levels");
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(name + ": not valid JSON: " + e.what());
  }
}

Json parse_json_object(const std::string& text, const std::string& name, const char* format, int version,
                       std::uint64_t max_bytes, int max_depth) {
  const Json j = parse_json_text(text, name, max_bytes, max_depth);
  FMAV_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  FMAV_CHECK(json_string(j, "format", name) == format, name, ": \"format\" must be \"", format, "\", got ",
             j.at("format").dump());
  const std::int64_t v = json_int(j, "format_version", 0, std::numeric_limits<int>::max(), name);
  FMAV_CHECK(v == version, name, ": format_version ", v, " is not supported (this fma-viewer reads version ",
             version, ")");
  return j;
}

JsonLines parse_json_lines(const std::string& text, const std::string& name, const char* format, int version,
                           std::uint64_t max_bytes, std::uint64_t max_line_bytes, int max_depth,
                           const std::function<void(const Json& header, const std::string& where)>& header,
                           const std::function<void(const Json& line, const std::string& where)>& line) {
  FMAV_CHECK(text.size() <= max_bytes, name, ": ", text.size(), " bytes is more than a results file's ", max_bytes);
  JsonLines out;
  std::size_t at = 0;
  std::int64_t line_no = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    ++line_no;
    if (end == std::string::npos) {  // no newline: a write cut off by a crash
      FMAV_CHECK(line_no > 1, name, ": the header line is incomplete");
      out.truncated_tail = true;
      break;
    }
    const std::string where = name + " line " + std::to_string(line_no);
    const std::string text_line = text.substr(at, end - at);
    FMAV_CHECK(text_line.size() <= max_line_bytes, where, ": longer than ", max_line_bytes, " bytes");
    if (line_no == 1) {
      header(parse_json_object(text_line, where, format, version, max_line_bytes, max_depth), where);
    } else {
      FMAV_CHECK(json_depth(text_line.data(), text_line.size(), max_depth) <= max_depth, where,
                 ": JSON nests deeper than ", max_depth, " levels");
      Json j;
      try {
        j = Json::parse(text_line);
      } catch (const std::exception& e) {
        throw Error(where + ": not JSON (" + e.what() + ")");
      }
      line(j, where);
    }
    at = end + 1;
    out.valid_bytes = at;
  }
  FMAV_CHECK(out.valid_bytes > 0, name, ": empty; a results file starts with its header line");
  return out;
}

// The deepest nesting of [ and { outside strings. Counted before nlohmann parses, so that a
// hostile header (10000 '[') is refused before any tree is built. Stops past `limit`.
int json_depth(const char* text, std::size_t size, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < size && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced brackets are left to the parser to report
    }
  }
  return deepest;
}

}  // namespace fmav
