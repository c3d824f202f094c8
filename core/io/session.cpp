// Session and settings files of fma-viewer: strict JSON (every key known, typed and in range,
// like config.json) because both are read at start-up from places the user may have edited
// by hand, and a typo silently ignored would open the wrong view. No LibTorch.

#include "fmav/session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "fmav/method.h"
#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr int kMaxDepth = 4;  // the session's source object is the deepest: 2 levels
constexpr std::int64_t kMaxIndex = std::int64_t{1} << 20;  // layers, heads
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 50;
constexpr const char* kSessionFormat = "fmav-session";
constexpr const char* kSettingsFormat = "fmav-settings";

// ---- strict reading (json_util.h) ----

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

// ---- sessions ----

bool valid_view(const std::string& view) {
  return view == "attention" || view == "query" || view == "heads";
}

bool valid_scale(const std::string& scale) { return scale == "log10" || scale == "linear"; }

bool valid_colormap(const std::string& colormap) {
  return colormap == "standard" || colormap == "magma" || colormap == "gray";
}

bool valid_implementation(const std::string& name) {
  return name == "auto" || name == "fused" || name == "composed" || name == "blocked" || name == "reference";
}

bool valid_precision(const std::string& name) { return name == "float32" || name == "float64"; }

// A zoom: empty, or rows r0 < r1 and keys c0 < c1, all finite and within [0, kMaxTokens].
void check_zoom(const std::vector<double>& zoom, const std::string& where) {
  if (zoom.empty()) return;
  const auto in_range = [](double x) { return std::isfinite(x) && x >= 0 && x <= static_cast<double>(kMaxTokens); };
  FMAV_CHECK(zoom.size() == 4 && std::all_of(zoom.begin(), zoom.end(), in_range) && zoom[0] < zoom[1] &&
                 zoom[2] < zoom[3],
             where, ": \"zoom\" must be [r0, r1, c0, c1] with 0 <= r0 < r1 and 0 <= c0 < c1 <= ", kMaxTokens);
}

// The log10 floor's range: the viewer's --log-floor and slider.
constexpr std::int64_t kMinLogFloor = -12, kMaxLogFloor = -1;

// The FMA settings of a synthetic or q/k/v source.
void parse_fma_settings(const Json& s, const std::string& where, Session* out) {
  out->block_size = json_int(s, "block_size", 1, kMaxIndex, where);
  out->rank = json_int(s, "rank", 1, kMaxIndex, where);
  out->causal = json_bool(s, "causal", where);
  try {
    out->downsample = parse_downsample(json_string(s, "downsample", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  out->count_multiplicity = json_bool(s, "count_multiplicity", where);
  const Json& seed = json_key(s, "seed", where);
  FMAV_CHECK(seed.is_number_unsigned(), where, ": \"seed\" must be an integer >= 0, got ",
             seed.dump());
  out->seed = seed.get<std::uint64_t>();
  if (s.contains("method")) {
    out->method = json_string(s, "method", where);
    parse_fma_or_peer(out->method, where);
  }
  if (s.contains("hash_rounds")) out->hash_rounds = static_cast<int>(json_int(s, "hash_rounds", 1, 8, where));
  if (s.contains("shifted")) out->shifted = json_bool(s, "shifted", where);
}

void parse_source(const Json& s, const std::string& name, Session* out) {
  const std::string where = name + ": source";
  FMAV_CHECK(s.is_object(), where, " must be an object, got ", s.type_name());
  const std::string kind = json_string(s, "kind", where);
  FMAV_CHECK(kind == "model" || kind == "synthetic" || kind == "qkv", where,
             ": kind must be model, synthetic or qkv, got '", kind, "'");
  if (kind == "model") {
    json_check_keys(s, {"kind", "model", "input", "mask"}, where);
    out->model = check_path(json_string(s, "model", where), "model", where, false);
    out->input = check_path(json_string(s, "input", where), "input", where, false);
    if (s.contains("mask")) out->mask = check_path(json_string(s, "mask", where), "mask", where, false);
    return;
  }
  if (kind == "qkv") {
    json_check_keys(s, {"kind", "file", "block_size", "rank", "causal", "downsample",
                        "count_multiplicity", "seed", "method", "hash_rounds", "shifted"}, where);
    out->qkv = check_path(json_string(s, "file", where), "file", where, false);
    parse_fma_settings(s, where, out);
    return;
  }
  out->synthetic = true;
  json_check_keys(s, {"kind", "n", "block_size", "rank", "causal", "downsample", "count_multiplicity",
                 "seed", "method", "hash_rounds", "shifted"}, where);
  out->n = json_int(s, "n", 1, kMaxTokens, where);
  parse_fma_settings(s, where, out);
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
  FMAV_CHECK(valid_colormap(s.colormap), where, ": colormap must be standard, magma or gray, got '",
             s.colormap, "'");
  FMAV_CHECK(s.log_floor >= kMinLogFloor && s.log_floor <= kMaxLogFloor, where,
             ": log_floor must be in [", kMinLogFloor, ", ", kMaxLogFloor, "], got ", s.log_floor);
  FMAV_CHECK(valid_implementation(s.implementation), where,
             ": implementation must be auto, fused, composed, blocked or reference, got '", s.implementation, "'");
  FMAV_CHECK(valid_precision(s.precision), where, ": precision must be float32 or float64, got '", s.precision,
             "'");
  check_zoom(s.zoom, where);
  parse_fma_or_peer(s.method, where);
  FMAV_CHECK(s.hash_rounds >= 1 && s.hash_rounds <= 8, where, ": hash_rounds must be in 1..8, got ", s.hash_rounds);
  FMAV_CHECK(!(s.synthetic && !s.qkv.empty()), where,
             ": the source is either synthetic or a q/k/v file, not both");
  FMAV_CHECK(s.layer >= 0 && s.head >= 0 && s.offset >= 0 && s.query_row >= -1, where,
             ": layer, head and offset must be >= 0 and query_row >= -1, got ", s.layer, ", ",
             s.head, ", ", s.offset, ", ", s.query_row);
  Json source;
  const Json fma_settings = {{"block_size", s.block_size}, {"rank", s.rank},
                             {"causal", s.causal},         {"downsample", to_string(s.downsample)},
                             {"count_multiplicity", s.count_multiplicity}, {"seed", s.seed},
                             {"method", s.method}, {"hash_rounds", s.hash_rounds}, {"shifted", s.shifted}};
  if (s.synthetic) {
    source = {{"kind", "synthetic"}, {"n", s.n}};
    source.update(fma_settings);
  } else if (!s.qkv.empty()) {
    check_path(s.qkv, "file", where, false);
    source = {{"kind", "qkv"}, {"file", s.qkv}};
    source.update(fma_settings);
  } else {
    check_path(s.model, "model", where, false);
    check_path(s.input, "input", where, false);
    source = {{"kind", "model"}, {"model", s.model}, {"input", s.input}};
    if (!s.mask.empty()) source["mask"] = check_path(s.mask, "mask", where, false);
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
  j["colormap"] = s.colormap;
  j["log_floor"] = s.log_floor;
  if (!s.zoom.empty()) j["zoom"] = s.zoom;
  j["implementation"] = s.implementation;
  j["precision"] = s.precision;
  return j.dump(2) + "\n";
}

Session parse_session(const std::string& text, const std::string& name) {
  const Json j = parse_json_object(text, name, kSessionFormat, kSessionFormatVersion, kMaxSessionBytes, kMaxDepth);
  json_check_keys(j, {"format", "format_version", "source", "layer", "head", "offset", "view",
                 "query_row", "scale", "colormap", "log_floor", "zoom", "implementation", "precision"}, name);
  Session s;
  parse_source(json_key(j, "source", name), name, &s);
  s.layer = static_cast<int>(json_int(j, "layer", 0, kMaxIndex, name));
  s.head = static_cast<int>(json_int(j, "head", 0, kMaxIndex, name));
  s.offset = json_int(j, "offset", 0, kMaxOffset, name);
  s.view = json_string(j, "view", name);
  FMAV_CHECK(valid_view(s.view), name, ": \"view\" must be attention, query or heads, got '",
             s.view, "'");
  s.query_row = json_int(j, "query_row", -1, kMaxTokens, name);
  s.scale = json_string(j, "scale", name);
  FMAV_CHECK(valid_scale(s.scale), name, ": \"scale\" must be log10 or linear, got '", s.scale,
             "'");
  // The colouring keys came after version 1's first files, which lack them; such a file was
  // saved from a viewer that only had the defaults, so they are what it showed.
  if (j.contains("colormap")) {
    s.colormap = json_string(j, "colormap", name);
    FMAV_CHECK(valid_colormap(s.colormap), name,
               ": \"colormap\" must be standard, magma or gray, got '", s.colormap, "'");
  }
  if (j.contains("log_floor")) {
    s.log_floor = static_cast<int>(json_int(j, "log_floor", kMinLogFloor, kMaxLogFloor, name));
  }
  if (j.contains("zoom")) {
    const Json& zoom = j["zoom"];
    FMAV_CHECK(zoom.is_array() && zoom.size() == 4, name, ": \"zoom\" must be an array of 4 numbers, got ",
               zoom.dump().substr(0, 80));
    for (const Json& x : zoom) {
      FMAV_CHECK(x.is_number(), name, ": \"zoom\" must be an array of 4 numbers, got ", zoom.dump().substr(0, 80));
      s.zoom.push_back(x.get<double>());
    }
    check_zoom(s.zoom, name);
  }
  if (j.contains("implementation")) {
    s.implementation = json_string(j, "implementation", name);
    FMAV_CHECK(valid_implementation(s.implementation), name,
               ": \"implementation\" must be auto, fused, composed, blocked or reference, got '", s.implementation, "'");
  }
  if (j.contains("precision")) {
    s.precision = json_string(j, "precision", name);
    FMAV_CHECK(valid_precision(s.precision), name, ": \"precision\" must be float32 or float64, got '",
               s.precision, "'");
  }
  return s;
}

void save_session(const std::string& path, const Session& session) {
  write_file_atomic(path, session_json(session));
}

Session load_session(const std::string& path) {
  Session s = parse_session(read_file_bytes(path, kMaxSessionBytes), path);
  // A session saved next to its model and input can be moved with them.
  const std::filesystem::path folder = parent_of(path);
  for (std::string* p : {&s.model, &s.input, &s.mask, &s.qkv}) {
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
  const Json j = parse_json_object(text, name, kSettingsFormat, kSettingsFormatVersion, kMaxSessionBytes, kMaxDepth);
  json_check_keys(j, {"format", "format_version", "recent", "last_folder"}, name);
  Settings settings;
  const Json& recent = json_key(j, "recent", name);
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
  settings.last_folder = check_path(json_string(j, "last_folder", name), "last_folder", name, true);
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
