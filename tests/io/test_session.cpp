// fma-viewer's session and settings files (fmav/session.h): round trips, and every hostile
// file refused with a message that names the file and the key.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "fmav/session.h"
#include "test_helpers.h"

namespace {

using fmav_test::read_bytes;
using fmav_test::TempFolder;
using fmav_test::throws_error;
using fmav_test::write_bytes;

fmav::Session model_session() {
  fmav::Session s;
  s.model = "/data/models/lm-fma";
  s.input = "/data/sample.txt";
  s.layer = 1, s.head = 2, s.offset = 640;
  s.view = "query", s.query_row = 37, s.scale = "linear";
  s.colormap = "magma", s.log_floor = -9;
  s.zoom = {100, 164.5, 0, 64.25};
  s.implementation = "blocked", s.precision = "float64";
  return s;
}

fmav::Session synthetic_session() {
  fmav::Session s;
  s.synthetic = true;
  s.n = 1025, s.block_size = 16, s.rank = 2, s.causal = true;
  s.downsample = fmav::Downsample::learned, s.count_multiplicity = false;
  s.seed = 18446744073709551615ull;  // the whole uint64 range survives JSON
  s.view = "heads";
  s.colormap = "gray", s.log_floor = -12;
  s.method = "reformer", s.hash_rounds = 3;
  return s;
}

fmav::Session qkv_session() {
  fmav::Session s;
  s.qkv = "/data/layer3_q.npy";
  s.block_size = 8, s.rank = 2, s.causal = true;
  s.downsample = fmav::Downsample::dense, s.count_multiplicity = false, s.seed = 7;
  s.head = 3, s.log_floor = -1;
  s.method = "swin", s.shifted = true;
  return s;
}

void expect_same(const fmav::Session& a, const fmav::Session& b) {
  EXPECT_EQ(a.synthetic, b.synthetic);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.mask, b.mask);
  EXPECT_EQ(a.qkv, b.qkv);
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.block_size, b.block_size);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.causal, b.causal);
  EXPECT_EQ(a.downsample, b.downsample);
  EXPECT_EQ(a.count_multiplicity, b.count_multiplicity);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.hash_rounds, b.hash_rounds);
  EXPECT_EQ(a.shifted, b.shifted);
  EXPECT_EQ(a.layer, b.layer);
  EXPECT_EQ(a.head, b.head);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.view, b.view);
  EXPECT_EQ(a.query_row, b.query_row);
  EXPECT_EQ(a.scale, b.scale);
  EXPECT_EQ(a.colormap, b.colormap);
  EXPECT_EQ(a.log_floor, b.log_floor);
  EXPECT_EQ(a.zoom, b.zoom);
  EXPECT_EQ(a.implementation, b.implementation);
  EXPECT_EQ(a.precision, b.precision);
}

// A valid model session's text with `from` replaced by `to` (one occurrence).
std::string edited(const std::string& from, const std::string& to) {
  std::string text = fmav::session_json(model_session());
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

bool refused(const std::string& text, const std::string& message) {
  return throws_error([&] { fmav::parse_session(text, "s.json"); }, message);
}

// ---- sessions ----

TEST(Session, RoundTripsModelSyntheticAndQkv) {
  for (const fmav::Session& s : {model_session(), synthetic_session(), qkv_session(), fmav::Session{}}) {
    if (!s.synthetic && s.model.empty()) continue;  // the default has no source to save
    expect_same(fmav::parse_session(fmav::session_json(s)), s);
  }
  const std::string text = fmav::session_json(model_session());
  EXPECT_NE(text.find("\"format\": \"fmav-session\""), std::string::npos);
  EXPECT_NE(text.find("\"kind\": \"model\""), std::string::npos);
  EXPECT_NE(text.find("\"colormap\": \"magma\""), std::string::npos);
  EXPECT_NE(text.find("\"log_floor\": -9"), std::string::npos);
  EXPECT_EQ(text.find("\"mask\""), std::string::npos);  // only a segmenter's view with a mask has one
  fmav::Session segmenter = model_session();
  segmenter.mask = "/data/set/annotations/validation/0000.png";
  const std::string with_mask = fmav::session_json(segmenter);
  EXPECT_NE(with_mask.find("\"mask\": \"/data/set/annotations/validation/0000.png\""), std::string::npos);
  expect_same(fmav::parse_session(with_mask), segmenter);
  const std::string qkv = fmav::session_json(qkv_session());
  EXPECT_NE(qkv.find("\"kind\": \"qkv\""), std::string::npos);
  EXPECT_NE(qkv.find("\"file\": \"/data/layer3_q.npy\""), std::string::npos);
  EXPECT_EQ(qkv.find("\"n\""), std::string::npos);  // N is the file's
}

// A version 1 file written before the colouring keys existed opens with the defaults.
TEST(Session, ReadsOlderFilesWithoutColouring) {
  const std::string old = R"({
  "format": "fmav-session", "format_version": 1,
  "source": {"kind": "model", "model": "/m", "input": "/i.txt"},
  "layer": 1, "head": 2, "offset": 0, "view": "query", "query_row": 300, "scale": "log10"
})";
  const fmav::Session s = fmav::parse_session(old);
  EXPECT_EQ(s.colormap, "standard");
  EXPECT_EQ(s.log_floor, -6);
  EXPECT_TRUE(s.zoom.empty());
  EXPECT_EQ(s.implementation, "auto");
  EXPECT_EQ(s.precision, "float32");
  EXPECT_EQ(s.head, 2);
  EXPECT_EQ(s.query_row, 300);
}

TEST(Session, RefusesEmptyNotJsonTooDeepAndOversize) {
  EXPECT_TRUE(refused("", "s.json: empty file"));
  EXPECT_TRUE(refused("{\"format\": ", "s.json: not valid JSON"));
  EXPECT_TRUE(refused("[1, 2]", "s.json: expected a JSON object, got array"));
  EXPECT_TRUE(refused(std::string(10000, '[') + std::string(10000, ']'), "nests deeper than 4"));
  const std::string big = "{\"pad\": \"" + std::string(fmav::kMaxSessionBytes, 'x') + "\"}";
  EXPECT_TRUE(refused(big, "more than the limit of 1048576"));
}

TEST(Session, RefusesUnknownMissingAndMistypedKeys) {
  EXPECT_TRUE(refused(edited("\"layer\"", "\"layre\""), "s.json: unknown key \"layre\""));
  EXPECT_TRUE(refused(edited("\"head\": 2,", ""), "s.json: missing key \"head\""));
  EXPECT_TRUE(refused(edited("\"head\": 2", "\"head\": \"2\""),
                      "\"head\" must be an integer, got string"));
  EXPECT_TRUE(refused(edited("\"head\": 2", "\"head\": 2.5"),
                      "\"head\" must be an integer, got number"));
  EXPECT_TRUE(refused(edited("\"view\": \"query\"", "\"view\": 1"), "\"view\" must be a string"));
  EXPECT_TRUE(refused(edited("\"input\": \"/data/sample.txt\"", "\"input\": \"\""),
                      "s.json: source: input must be a non-empty path"));
  EXPECT_TRUE(refused(edited("\"/data/sample.txt\"", "\"/data/a\\u0000b\""),
                      "s.json: source: input holds a NUL character"));
  EXPECT_TRUE(refused(edited("\"input\": \"/data/sample.txt\"", "\"input\": \"/data/sample.txt\", \"mask\": \"\""),
                      "s.json: source: mask must be a non-empty path"));
  EXPECT_TRUE(refused(edited("\"input\": \"/data/sample.txt\"", "\"input\": \"/data/sample.txt\", \"mask\": 3"),
                      "\"mask\" must be a string"));
  EXPECT_TRUE(refused(edited("\"kind\": \"model\"", "\"kind\": \"tensors\""),
                      "source: kind must be model, synthetic or qkv, got 'tensors'"));
  // A model source holds no synthetic settings, and the other way round.
  EXPECT_TRUE(refused(edited("\"kind\": \"model\",", "\"kind\": \"model\", \"n\": 5,"),
                      "s.json: source: unknown key \"n\""));
}

TEST(Session, RefusesBadFormatVersionAndValues) {
  EXPECT_TRUE(refused(edited("fmav-session", "fmav-model"), "\"format\" must be \"fmav-session\""));
  EXPECT_TRUE(refused(edited("\"format_version\": 1", "\"format_version\": 2"),
                      "s.json: format_version 2 is not supported (this fma-viewer reads "
                      "version 1)"));
  EXPECT_TRUE(refused(edited("\"view\": \"query\"", "\"view\": \"maps\""),
                      "\"view\" must be attention, query or heads, got 'maps'"));
  EXPECT_TRUE(refused(edited("\"scale\": \"linear\"", "\"scale\": \"log2\""),
                      "\"scale\" must be log10 or linear, got 'log2'"));
  EXPECT_TRUE(refused(edited("\"colormap\": \"magma\"", "\"colormap\": \"viridis\""),
                      "s.json: \"colormap\" must be standard, magma or gray, got 'viridis'"));
  EXPECT_TRUE(refused(edited("\"colormap\": \"magma\"", "\"colormap\": 2"),
                      "s.json: \"colormap\" must be a string, got number"));
  EXPECT_TRUE(refused(edited("\"log_floor\": -9", "\"log_floor\": 0"),
                      "s.json: \"log_floor\" must be in [-12, -1], got 0"));
  EXPECT_TRUE(refused(edited("\"log_floor\": -9", "\"log_floor\": -13"),
                      "s.json: \"log_floor\" must be in [-12, -1], got -13"));
  EXPECT_TRUE(refused(edited("\"log_floor\": -9", "\"log_floor\": -6.5"),
                      "s.json: \"log_floor\" must be an integer, got number"));
  EXPECT_TRUE(refused(edited("\"layer\": 1", "\"layer\": -1"),
                      "\"layer\" must be in [0, 1048576], got -1"));
  EXPECT_TRUE(refused(edited("\"layer\": 1", "\"layer\": 18446744073709551615"),
                      "\"layer\" must be in"));
  EXPECT_TRUE(refused(edited("\"query_row\": 37", "\"query_row\": -2"),
                      "\"query_row\" must be in [-1,"));
  EXPECT_TRUE(refused(edited("\"implementation\": \"blocked\"", "\"implementation\": \"fast\""),
                      "s.json: \"implementation\" must be auto, fused, composed, blocked or reference, got 'fast'"));
  EXPECT_TRUE(refused(edited("\"precision\": \"float64\"", "\"precision\": \"half\""),
                      "s.json: \"precision\" must be float32 or float64, got 'half'"));
  const std::string zoom_error = "s.json: \"zoom\" must be [r0, r1, c0, c1] with 0 <= r0 < r1 and 0 <= c0 < c1 <=";
  const std::string zoom = fmav::session_json(model_session());
  const std::size_t at = zoom.find("\"zoom\"");
  ASSERT_NE(at, std::string::npos);
  const std::size_t end = zoom.find(']', at) + 1;
  const auto with_zoom = [&](const std::string& value) {
    return std::string(zoom).replace(at, end - at, "\"zoom\": " + value);
  };
  EXPECT_TRUE(refused(with_zoom("[10, 5, 0, 64]"), zoom_error));
  EXPECT_TRUE(refused(with_zoom("[-1, 5, 0, 64]"), zoom_error));
  EXPECT_TRUE(refused(with_zoom("[0, 5, 0]"), "s.json: \"zoom\" must be an array of 4 numbers, got [0,5,0]"));
  EXPECT_TRUE(refused(with_zoom("[0, 5, \"a\", 9]"), "s.json: \"zoom\" must be an array of 4 numbers"));
  EXPECT_TRUE(refused(with_zoom("\"all\""), "s.json: \"zoom\" must be an array of 4 numbers, got \"all\""));
}

TEST(Session, RefusesBadSyntheticSettings) {
  const std::string text = fmav::session_json(synthetic_session());
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    return t.replace(t.find(from), from.size(), to);
  };
  EXPECT_TRUE(refused(with("\"n\": 1025", "\"n\": 0"), "s.json: source: \"n\" must be in [1,"));
  EXPECT_TRUE(refused(with("\"downsample\": \"learned\"", "\"downsample\": \"max\""),
                      "s.json: source: downsample must be learned, average or dense, got 'max'"));
  EXPECT_TRUE(refused(with("\"causal\": true", "\"causal\": 1"),
                      "\"causal\" must be true or false"));
  EXPECT_TRUE(refused(with("\"seed\": 18446744073709551615", "\"seed\": -1"),
                      "\"seed\" must be an integer >= 0, got -1"));
  EXPECT_TRUE(refused(with("\"method\": \"reformer\"", "\"method\": \"performer\""),
                      "s.json: source: method must be fma, htransformer, linear, reformer, local or swin, got 'performer'"));
  EXPECT_TRUE(refused(with("\"hash_rounds\": 3", "\"hash_rounds\": 0"), "s.json: source: \"hash_rounds\" must be in [1,"));
  // A synthetic source from before the peers (no method keys) shows FMA.
  nlohmann::ordered_json old = nlohmann::ordered_json::parse(text);
  for (const char* key : {"method", "hash_rounds", "shifted"}) old["source"].erase(key);
  const fmav::Session s = fmav::parse_session(old.dump(), "old.json");
  EXPECT_EQ(s.method, "fma");
  EXPECT_EQ(s.hash_rounds, 2);
}

TEST(Session, RefusesBadQkvSources) {
  const std::string text = fmav::session_json(qkv_session());
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const std::size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? t : t.replace(at, from.size(), to);
  };
  EXPECT_TRUE(refused(with("\"/data/layer3_q.npy\"", "\"\""),
                      "s.json: source: file must be a non-empty path"));
  EXPECT_TRUE(refused(with("\"file\": \"/data/layer3_q.npy\",", ""),
                      "s.json: source: missing key \"file\""));
  EXPECT_TRUE(refused(with("\"file\"", "\"model\""), "s.json: source: unknown key \"model\""));
  // N is the file's: a q/k/v source has no "n".
  EXPECT_TRUE(refused(with("\"kind\": \"qkv\",", "\"kind\": \"qkv\", \"n\": 64,"),
                      "s.json: source: unknown key \"n\""));
  EXPECT_TRUE(refused(with("\"rank\": 2", "\"rank\": 0"),
                      "s.json: source: \"rank\" must be in [1,"));
  EXPECT_TRUE(refused(with("\"downsample\": \"dense\"", "\"downsample\": \"max\""),
                      "s.json: source: downsample must be learned, average or dense, got 'max'"));
}

TEST(Session, WriterRefusesWhatTheReaderWould) {
  fmav::Session s = model_session();
  s.view = "maps";
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); },
                           "view must be attention, query or heads"));
  s = model_session();
  s.layer = -1;
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); }, "must be >= 0"));
  s = model_session();
  s.model.clear();
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); }, "model must be a non-empty path"));
  s = model_session();
  s.colormap = "viridis";
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); },
                           "session: colormap must be standard, magma or gray, got 'viridis'"));
  s = model_session();
  s.log_floor = 0;
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); },
                           "session: log_floor must be in [-12, -1], got 0"));
  s = qkv_session();
  s.synthetic = true;
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); },
                           "session: the source is either synthetic or a q/k/v file, not both"));
  s = model_session();
  s.implementation = "fast";
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); },
                           "session: implementation must be auto, fused, composed, blocked or reference, got 'fast'"));
  s = model_session();
  s.precision = "half";
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); }, "session: precision must be float32 or float64, got 'half'"));
  s = model_session();
  s.zoom = {5, 5, 0, 1};
  EXPECT_TRUE(throws_error([&] { fmav::session_json(s); }, "session: \"zoom\" must be [r0, r1, c0, c1]"));
}

using SessionFile = TempFolder;

TEST_F(SessionFile, SavesAtomicallyAndLoads) {
  const std::string file = path("view.json");
  fmav::save_session(file, model_session());
  expect_same(fmav::load_session(file), model_session());
  for (const auto& entry : std::filesystem::directory_iterator(m_dir)) {  // no temporary left
    EXPECT_EQ(entry.path().filename(), "view.json");
  }
}

TEST_F(SessionFile, RelativePathsAreRelativeToTheSessionFile) {
  fmav::Session s = model_session();
  s.model = "models/lm-fma", s.input = "sample.txt";
  fmav::save_session(path("view.json"), s);
  const fmav::Session loaded = fmav::load_session(path("view.json"));
  EXPECT_EQ(loaded.model, path("models/lm-fma"));
  EXPECT_EQ(loaded.input, path("sample.txt"));
  s.mask = "annotations/0000.png";
  fmav::save_session(path("seg.json"), s);
  EXPECT_EQ(fmav::load_session(path("seg.json")).mask, path("annotations/0000.png"));
  fmav::Session q = qkv_session();
  q.qkv = "tensors/qkv.safetensors";
  fmav::save_session(path("qkv.json"), q);
  EXPECT_EQ(fmav::load_session(path("qkv.json")).qkv, path("tensors/qkv.safetensors"));
}

TEST_F(SessionFile, RefusesMissingOversizeAndFolders) {
  EXPECT_TRUE(throws_error([&] { fmav::load_session(path("none.json")); },
                           "none.json: no such file"));
  write_bytes(path("big.json"), std::string(fmav::kMaxSessionBytes + 1, ' '));
  EXPECT_TRUE(throws_error([&] { fmav::load_session(path("big.json")); },
                           "big.json: file is 1048577 bytes, more than the limit of 1048576"));
  EXPECT_TRUE(throws_error([&] { fmav::load_session(m_dir.string()); }, "is a folder"));
  write_bytes(path("bad.json"), "{\"format\": \"fmav-session\", \"format_version\": 1}");
  EXPECT_TRUE(throws_error([&] { fmav::load_session(path("bad.json")); },
                           "bad.json: missing key \"source\""));
}

// ---- settings ----

TEST(Settings, RecentKeepsTenMostRecentFirstWithoutDuplicates) {
  fmav::Settings settings;
  for (int i = 0; i < 12; ++i) fmav::add_recent(settings, "/p" + std::to_string(i));
  ASSERT_EQ(settings.recent.size(), fmav::kMaxRecent);
  EXPECT_EQ(settings.recent.front(), "/p11");
  EXPECT_EQ(settings.recent.back(), "/p2");
  fmav::add_recent(settings, "/p5");
  EXPECT_EQ(settings.recent.front(), "/p5");
  EXPECT_EQ(settings.recent.size(), fmav::kMaxRecent);
  EXPECT_EQ(std::count(settings.recent.begin(), settings.recent.end(), "/p5"), 1);
}

TEST(Settings, RoundTripsAndRefusesHostileText) {
  fmav::Settings settings;
  settings.recent = {"/a/model", "/b/sample.txt"};
  settings.last_folder = "/a";
  const fmav::Settings back = fmav::parse_settings(fmav::settings_json(settings));
  EXPECT_EQ(back.recent, settings.recent);
  EXPECT_EQ(back.last_folder, settings.last_folder);

  const auto refused_settings = [](const std::string& text, const std::string& message) {
    return throws_error([&] { fmav::parse_settings(text, "st.json"); }, message);
  };
  const std::string head = "{\"format\": \"fmav-settings\", \"format_version\": 1, ";
  EXPECT_TRUE(refused_settings("", "st.json: empty file"));
  EXPECT_TRUE(refused_settings("not json", "st.json: not valid JSON"));
  EXPECT_TRUE(refused_settings(head + "\"recent\": [], \"last_folder\": \"\", \"x\": 1}",
                               "st.json: unknown key \"x\""));
  EXPECT_TRUE(refused_settings(head + "\"recent\": []}", "st.json: missing key \"last_folder\""));
  EXPECT_TRUE(refused_settings(head + "\"recent\": \"/a\", \"last_folder\": \"\"}",
                               "\"recent\" must be an array of paths, got string"));
  EXPECT_TRUE(refused_settings(head + "\"recent\": [3], \"last_folder\": \"\"}",
                               "st.json: recent[0] must be a string, got number"));
  EXPECT_TRUE(refused_settings(head + "\"recent\": [\"\"], \"last_folder\": \"\"}",
                               "st.json: recent[0] must be a non-empty path"));
  std::string eleven;
  for (int i = 0; i < 11; ++i) eleven += std::string(i ? ", " : "") + "\"/p\"";
  EXPECT_TRUE(refused_settings(head + "\"recent\": [" + eleven + "], \"last_folder\": \"\"}",
                               "\"recent\" holds 11 paths, more than 10"));
  EXPECT_TRUE(refused_settings("{\"format\": \"fmav-settings\", \"format_version\": 7}",
                               "format_version 7 is not supported"));
  EXPECT_TRUE(refused_settings(std::string(100, '{'), "nests deeper than 4"));
}

using SettingsFile = TempFolder;

TEST_F(SettingsFile, MissingGivesDefaultsCorruptIsAnError) {
  const fmav::Settings none = fmav::load_settings(path("nothing/settings.json"));
  EXPECT_TRUE(none.recent.empty());
  EXPECT_TRUE(none.last_folder.empty());
  write_bytes(path("settings.json"), "{\"format\": \"fmav-settings\"");
  EXPECT_TRUE(throws_error([&] { fmav::load_settings(path("settings.json")); },
                           "settings.json: not valid JSON"));
}

TEST_F(SettingsFile, SaveCreatesTheFolderAndReplacesAtomically) {
  const std::string file = path("config/fma-viewer/settings.json");
  fmav::Settings settings;
  fmav::add_recent(settings, "/a/model");
  fmav::save_settings(settings, file);
  EXPECT_EQ(fmav::load_settings(file).recent, settings.recent);
  settings.last_folder = "/a";
  fmav::save_settings(settings, file);
  EXPECT_EQ(read_bytes(file), fmav::settings_json(settings));
}

TEST(SettingsPath, FollowsTheEnvironment) {
  const auto with_env = [](const char* settings, const char* xdg, const char* home) {
    for (auto [key, value] : {std::pair{"FMAV_SETTINGS", settings},
                              std::pair{"XDG_CONFIG_HOME", xdg}, std::pair{"HOME", home}}) {
      if (value) {
        ::setenv(key, value, 1);
      } else {
        ::unsetenv(key);
      }
    }
  };
  const char* saved_home = std::getenv("HOME");
  const std::string home = saved_home ? saved_home : "";
  with_env("/t/s.json", "/x", "/h");
  EXPECT_EQ(fmav::settings_path(), "/t/s.json");
  with_env(nullptr, "/x", "/h");
  EXPECT_EQ(fmav::settings_path(), "/x/fma-viewer/settings.json");
  with_env(nullptr, "relative", "/h");  // the XDG spec ignores a relative path
  EXPECT_EQ(fmav::settings_path(), "/h/.config/fma-viewer/settings.json");
  with_env(nullptr, nullptr, nullptr);
  EXPECT_TRUE(throws_error([] { fmav::settings_path(); },
                           "neither XDG_CONFIG_HOME nor HOME is set"));
  if (saved_home) ::setenv("HOME", home.c_str(), 1);
}

}  // namespace
