#pragma once
// fma-viewer's two small files (docs/DESIGN.md §1): a session (what the viewer shows — the source,
// layer, head, offset, view, query and colouring — so that a view can be saved and opened
// again exactly) and the user's settings (recent files, the file browser's last folder).
// Parsed strictly like config.json; no LibTorch (in fmav_io, so the parsers can be fuzzed).

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/fma.h"

namespace fmav {

// ---- sessions ----

constexpr int kSessionFormatVersion = 1;
constexpr std::uint64_t kMaxSessionBytes = 1u << 20;  // session and settings files
constexpr std::size_t kMaxPathChars = 4096;           // every path held in either file

struct Session {
  // Source: a model (folder) run on an input file (text or image), the synthetic sample_qkv
  // input, or raw q, k, v from a file; the last two with the FMA settings below.
  bool synthetic = false;
  std::string model, input;  // model source only; both non-empty
  std::string mask;          // model source only, optional: a segmenter's ground-truth mask
  std::string qkv;           // q/k/v source only: the .safetensors or one of the .npy files
  std::int64_t n = 512;      // synthetic only: tokens
  // Synthetic and q/k/v: m, p, ...
  std::int64_t block_size = 32;
  std::int64_t rank = 4;
  bool causal = false;
  Downsample downsample = Downsample::average;
  bool count_multiplicity = true;
  std::uint64_t seed = 0;
  // Synthetic and q/k/v: the method shown, "fma" or a peer ("htransformer" | "linear" |
  // "reformer" | "local" | "swin"), with reformer's rounds and swin's shift.
  std::string method = "fma";
  int hash_rounds = 2;
  bool shifted = false;

  int layer = 0, head = 0;
  std::int64_t offset = 0;          // text input: first byte of the model's window
  std::string view = "attention";   // "attention" | "query" | "heads"
  std::int64_t query_row = -1;      // the query inspector's row, -1 = none
  std::string scale = "log10";      // "log10" | "linear"
  std::string colormap = "standard";  // "standard" | "magma" | "gray"
  int log_floor = -6;                 // log10 scale: the range shown is [10^log_floor, 1]
  // The maps' zoom in tokens: rows [r0, r1), keys [c0, c1); empty = the whole map.
  std::vector<double> zoom;
  // The fast-path check: "auto" | "fused" | "blocked" | "reference", "float32" | "float64".
  std::string implementation = "auto";
  std::string precision = "float32";
};

// The session file's text (pretty-printed; format "fmav-session", format_version 1). The
// source is {"kind": "model", "model", "input", optional "mask"}, {"kind": "synthetic", "n", "block_size",
// "rank", "causal", "downsample", "count_multiplicity", "seed", "method", "hash_rounds",
// "shifted"} or {"kind": "qkv", "file", and the synthetic keys but "n"}; the last three are
// optional when read (files from before the peers lack them and mean "fma"). Throws fmav::Error for a session that parse_session would
// refuse (bad view, scale, colormap, log_floor, zoom, implementation, precision, negative
// layer, ...).
std::string session_json(const Session& session);
// Parses session text. Over kMaxSessionBytes, nesting deeper than the format's, not JSON,
// an unknown, missing or mistyped key, an unknown format or version, or a value out of range
// is an fmav::Error naming `name` and the key. "colormap", "log_floor", "zoom",
// "implementation" and "precision" are optional (default "standard", -6, none, "auto",
// "float32"): version 1 files written before they existed lack them, and they were added
// without a new version because an older file still means the same view.
Session parse_session(const std::string& text, const std::string& name = "session.json");
// Writes session_json atomically (a temporary file, then rename).
void save_session(const std::string& path, const Session& session);
// Reads and parses a session file (at most kMaxSessionBytes). Relative model, input, mask and
// q/k/v paths are taken relative to the session file's folder. Throws fmav::Error naming the path.
Session load_session(const std::string& path);

// ---- settings ----

constexpr int kSettingsFormatVersion = 1;
constexpr std::size_t kMaxRecent = 10;

struct Settings {
  std::vector<std::string> recent;  // at most kMaxRecent paths, most recent first
  std::string last_folder;          // the file browser's last folder ("" = none yet)
};

// Puts `path` first in settings.recent (dropping an earlier copy) and keeps kMaxRecent.
void add_recent(Settings& settings, const std::string& path);

// The settings file's text (format "fmav-settings", format_version 1: "recent", "last_folder").
std::string settings_json(const Settings& settings);
// Parses settings text as strictly as parse_session; also refuses more than kMaxRecent or
// empty recent paths.
Settings parse_settings(const std::string& text, const std::string& name = "settings.json");
// $FMAV_SETTINGS when set (tests), else $XDG_CONFIG_HOME/fma-viewer/settings.json, else
// ~/.config/fma-viewer/settings.json. Throws fmav::Error when neither XDG_CONFIG_HOME nor
// HOME is set.
std::string settings_path();
// The settings at `path`: defaults when no file is there; fmav::Error naming the path when
// it is unreadable or corrupt (the caller decides whether to carry on with defaults).
Settings load_settings(const std::string& path = settings_path());
// Writes the settings atomically, creating the folder. Throws fmav::Error naming the path.
void save_settings(const Settings& settings, const std::string& path = settings_path());

}  // namespace fmav
