// Session and settings files of fma-viewer: strict JSON (every key known, typed and in range,
// like config.json) because both are read at start-up from places the user may have edited
// by hand, and a typo silently ignored would open the wrong view. No LibTorch.

#include "fmav/session.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "io_util.h"

namespace fmav {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxDepth = 4;  // the session's source object is the deepest: 2 levels
constexpr std::int64_t kMaxIndex = std::int64_t{1} << 20;  // layers, heads
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 50;
constexpr const char* kSessionFormat = "fmav-session";
constexpr const char* kSettingsFormat = "fmav-settings";

// ---- strict reading ----

const Json& get_key(const Json& obj, const char* key, const std::string& where) {
  FMAV_CHECK(obj.contains(key), where, ": missing key \"", key, "\"");
  return obj.at(key);
}

// An integer key in [lo, hi]; the message names where and the key.
std::int64_t get_int(const Json& obj, const char* key, std::int64_t lo, std::int64_t hi,
                     const std::string& where) {
  const Json& v = get_key(obj, key, where);
  FMAV_CHECK(v.is_number_integer(), where, ": \"", key, "\" must be an integer, got ",
             v.type_name());
  // A huge unsigned value would wrap to a negative int64.
  const bool in_range = v.is_number_unsigned()
                            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                            : v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  FMAV_CHECK(in_range && v.get<std::int64_t>() >= lo, where, ": \"", key, "\" must be in [", lo,
             ", ", hi, "], got ", v.dump());
  return v.get<std::int64_t>();
}

bool get_bool(const Json& obj, const char* key, const std::string& where) {
  const Json& v = get_key(obj, key, where);
  FMAV_CHECK(v.is_boolean(), where, ": \"", key, "\" must be true or false, got ", v.dump());
  return v.get<bool>();
}

std::string get_string(const Json& obj, const char* key, const std::string& where) {
  const Json& v = get_key(obj, key, where);
  FMAV_CHECK(v.is_string(), where, ": \"", key, "\" must be a string, got ", v.type_name());
  return v.get<std::string>();
}

// A path: non-empty (unless `allow_empty`), at most kMaxPathChars, no NUL (the C calls that
// open it would see a shorter, different path).
std::string check_path(const std::string& path, const std::string& what, const std::string& where,
                       bool allow_empty) {
  FMAV_CHECK(allow_empty || !path.empty(), where, ": ", what, " must be a non-empty path");
  FMAV_CHECK(path.size() <= kMaxPathChars, where, ": ", what, " is ", path.size(),
             " characters long, more than ", kMaxPathChars);
  FMAV_CHECK(path.find('\0') == std::string::npos, where, ": ", what, " holds a NUL character");
  return path;
}

// Refuses keys outside `known`: a typo would otherwise be silently ignored.
void check_keys(const Json& obj, std::initializer_list<const char*> known,
                const std::string& where) {
  for (const auto& item : obj.items()) {
    const bool ok = std::any_of(known.begin(), known.end(),
                                [&](const char* k) { return item.key() == k; });
    FMAV_CHECK(ok, where, ": unknown key \"", item.key(), "\"");
  }
}

// Size and depth first (before nlohmann builds a tree), then the JSON object, its format
// name and version.
Json parse_object(const std::string& text, const std::string& name, const char* format,
                  int version) {
  FMAV_CHECK(!text.empty(), name, ": empty file, expected a JSON object");
  FMAV_CHECK(text.size() <= kMaxSessionBytes, name, ": ", text.size(),
             " bytes, more than the limit of ", kMaxSessionBytes);
  FMAV_CHECK(json_depth(text.data(), text.size(), kMaxDepth) <= kMaxDepth, name,
             ": JSON nests deeper than ", kMaxDepth, " levels");
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(name + ": not valid JSON: " + e.what());
  }
  FMAV_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  FMAV_CHECK(get_string(j, "format", name) == format, name, ": \"format\" must be \"", format,
             "\", got ", j.at("format").dump());
  const std::int64_t v = get_int(j, "format_version", 0, std::numeric_limits<int>::max(), name);
  FMAV_CHECK(v == version, name, ": format_version ", v,
             " is not supported (this fma-viewer reads version ", version, ")");
  return j;
}

// ---- sessions ----

bool valid_view(const std::string& view) {
  return view == "attention" || view == "query" || view == "heads";
}

bool valid_scale(const std::string& scale) { return scale == "log10" || scale == "linear"; }

void parse_source(const Json& s, const std::string& name, Session* out) {
  const std::string where = name + ": source";
  FMAV_CHECK(s.is_object(), where, " must be an object, got ", s.type_name());
  const std::string kind = get_string(s, "kind", where);
  FMAV_CHECK(kind == "model" || kind == "synthetic", where,
             ": kind must be model or synthetic, got '", kind, "'");
  out->synthetic = kind == "synthetic";
  if (!out->synthetic) {
    check_keys(s, {"kind", "model", "input"}, where);
    out->model = check_path(get_string(s, "model", where), "model", where, false);
    out->input = check_path(get_string(s, "input", where), "input", where, false);
    return;
  }
  check_keys(s, {"kind", "n", "block_size", "rank", "causal", "downsample", "count_multiplicity",
                 "seed"}, where);
  out->n = get_int(s, "n", 1, kMaxTokens, where);
  out->block_size = get_int(s, "block_size", 1, kMaxIndex, where);
  out->rank = get_int(s, "rank", 1, kMaxIndex, where);
  out->causal = get_bool(s, "causal", where);
  try {
    out->downsample = parse_downsample(get_string(s, "downsample", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  out->count_multiplicity = get_bool(s, "count_multiplicity", where);
  const Json& seed = get_key(s, "seed", where);
  FMAV_CHECK(seed.is_number_unsigned(), where, ": \"seed\" must be an integer >= 0, got ",
             seed.dump());
  out->seed = seed.get<std::uint64_t>();
}

std::string parent_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

std::string session_json(const Session& s) {
  const std::string where = "session";
  FMAV_CHECK(valid_view(s.view), where, ": view must be attention, query or heads, got '", s.view,
             "'");
  FMAV_CHECK(valid_scale(s.scale), where, ": scale must be log10 or linear, got '", s.scale, "'");
  FMAV_CHECK(s.layer >= 0 && s.head >= 0 && s.offset >= 0 && s.query_row >= -1, where,
             ": layer, head and offset must be >= 0 and query_row >= -1, got ", s.layer, ", ",
             s.head, ", ", s.offset, ", ", s.query_row);
  Json source;
  if (s.synthetic) {
    source = {{"kind", "synthetic"},  {"n", s.n},
              {"block_size", s.block_size}, {"rank", s.rank},
              {"causal", s.causal},         {"downsample", to_string(s.downsample)},
              {"count_multiplicity", s.count_multiplicity}, {"seed", s.seed}};
  } else {
    check_path(s.model, "model", where, false);
    check_path(s.input, "input", where, false);
    source = {{"kind", "model"}, {"model", s.model}, {"input", s.input}};
  }
  Json j;
  j["format"] = kSessionFormat;
  j["format_version"] = kSessionFormatVersion;
  j["source"] = source;
  j["layer"] = s.layer;
  j["head"] = s.head;
  j["offset"] = s.offset;
  j["view"] = s.view;
  j["query_row"] = s.query_row;
  j["scale"] = s.scale;
  return j.dump(2) + "\n";
}

Session parse_session(const std::string& text, const std::string& name) {
  const Json j = parse_object(text, name, kSessionFormat, kSessionFormatVersion);
  check_keys(j, {"format", "format_version", "source", "layer", "head", "offset", "view",
                 "query_row", "scale"}, name);
  Session s;
  parse_source(get_key(j, "source", name), name, &s);
  s.layer = static_cast<int>(get_int(j, "layer", 0, kMaxIndex, name));
  s.head = static_cast<int>(get_int(j, "head", 0, kMaxIndex, name));
  s.offset = get_int(j, "offset", 0, kMaxOffset, name);
  s.view = get_string(j, "view", name);
  FMAV_CHECK(valid_view(s.view), name, ": \"view\" must be attention, query or heads, got '",
             s.view, "'");
  s.query_row = get_int(j, "query_row", -1, kMaxTokens, name);
  s.scale = get_string(j, "scale", name);
  FMAV_CHECK(valid_scale(s.scale), name, ": \"scale\" must be log10 or linear, got '", s.scale,
             "'");
  return s;
}

void save_session(const std::string& path, const Session& session) {
  write_file_atomic(path, session_json(session));
}

Session load_session(const std::string& path) {
  Session s = parse_session(read_file_bytes(path, kMaxSessionBytes), path);
  // A session saved next to its model and input can be moved with them.
  const std::filesystem::path folder = parent_of(path);
  for (std::string* p : {&s.model, &s.input}) {
    if (!p->empty() && std::filesystem::path(*p).is_relative()) *p = (folder / *p).string();
  }
  return s;
}

// ---- settings ----

void add_recent(Settings& settings, const std::string& path) {
  std::vector<std::string>& recent = settings.recent;
  recent.erase(std::remove(recent.begin(), recent.end(), path), recent.end());
  recent.insert(recent.begin(), path);
  if (recent.size() > kMaxRecent) recent.resize(kMaxRecent);
}

std::string settings_json(const Settings& settings) {
  Json j;
  j["format"] = kSettingsFormat;
  j["format_version"] = kSettingsFormatVersion;
  j["recent"] = settings.recent;
  j["last_folder"] = settings.last_folder;
  return j.dump(2) + "\n";
}

Settings parse_settings(const std::string& text, const std::string& name) {
  const Json j = parse_object(text, name, kSettingsFormat, kSettingsFormatVersion);
  check_keys(j, {"format", "format_version", "recent", "last_folder"}, name);
  Settings settings;
  const Json& recent = get_key(j, "recent", name);
  FMAV_CHECK(recent.is_array(), name, ": \"recent\" must be an array of paths, got ",
             recent.type_name());
  FMAV_CHECK(recent.size() <= kMaxRecent, name, ": \"recent\" holds ", recent.size(),
             " paths, more than ", kMaxRecent);
  for (std::size_t i = 0; i < recent.size(); ++i) {
    const std::string what = "recent[" + std::to_string(i) + "]";
    FMAV_CHECK(recent[i].is_string(), name, ": ", what, " must be a string, got ",
               recent[i].type_name());
    settings.recent.push_back(check_path(recent[i].get<std::string>(), what, name, false));
  }
  settings.last_folder = check_path(get_string(j, "last_folder", name), "last_folder", name, true);
  return settings;
}

std::string settings_path() {
  const auto env = [](const char* key) {
    const char* value = std::getenv(key);
    return std::string(value ? value : "");
  };
  if (!env("FMAV_SETTINGS").empty()) return env("FMAV_SETTINGS");
  // The XDG base directory spec ignores a relative XDG_CONFIG_HOME.
  const std::string xdg = env("XDG_CONFIG_HOME");
  if (!xdg.empty() && xdg[0] == '/') return xdg + "/fma-viewer/settings.json";
  FMAV_CHECK(!env("HOME").empty(),
             "cannot place the settings file: neither XDG_CONFIG_HOME nor HOME is set");
  return env("HOME") + "/.config/fma-viewer/settings.json";
}

Settings load_settings(const std::string& path) {
  std::error_code ec;
  // Only "not there" gives defaults; anything else (unreadable, a folder) is the caller's
  // to report, so that a broken file is not silently replaced.
  if (!std::filesystem::exists(path, ec) && !ec) return Settings{};
  return parse_settings(read_file_bytes(path, kMaxSessionBytes), path);
}

void save_settings(const Settings& settings, const std::string& path) {
  const std::string folder = parent_of(path);
  std::error_code ec;
  if (!folder.empty()) std::filesystem::create_directories(folder, ec);
  FMAV_CHECK(!ec, path, ": cannot create the folder ", folder, ": ", ec.message());
  write_file_atomic(path, settings_json(settings));
}

}  // namespace fmav
