// Strict JSON reading shared by config.json, sessions and settings (json_util.h).

#include "json_util.h"

#include <algorithm>
#include <limits>

#include "fmav/error.h"
#include "io_util.h"

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

Json parse_json_object(const std::string& text, const std::string& name, const char* format, int version,
                       std::uint64_t max_bytes, int max_depth) {
  FMAV_CHECK(!text.empty(), name, ": empty file, expected a JSON object");
  FMAV_CHECK(text.size() <= max_bytes, name, ": ", text.size(), " bytes, more than the limit of ", max_bytes);
  FMAV_CHECK(json_depth(text.data(), text.size(), max_depth) <= max_depth, name, ": JSON nests deeper than ",
             max_depth, " levels");
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(name + ": not valid JSON: " + e.what());
  }
  FMAV_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  FMAV_CHECK(json_string(j, "format", name) == format, name, ": \"format\" must be \"", format, "\", got ",
             j.at("format").dump());
  const std::int64_t v = json_int(j, "format_version", 0, std::numeric_limits<int>::max(), name);
  FMAV_CHECK(v == version, name, ": format_version ", v, " is not supported (this fma-viewer reads version ",
             version, ")");
  return j;
}

}  // namespace fmav
