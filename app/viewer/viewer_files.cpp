// Opening models, inputs, q/k/v files and sessions, exporting maps, and the settings file. No
// ImGui here: the Open dialog, the recent list, drops, --qkv and --session all come through
// open_path, open_qkv and apply_session, so a path opens the same way whichever way it arrived.

#include "viewer_files.h"
#include "hf_source.h"
#include "panel_files.h"
#include "panel_maps.h"
#include "panel_scaling.h"
#include "panel_sweep.h"
#include "plot.h"
#include "qkv_source.h"
#include "shared.h"

#include "fmav/error.h"
#include "fmav/hf_model.h"
#include "fmav/input.h"
#include "fmav/model.h"
#include "fmav/tensor_io.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace fmav::viewer {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr std::size_t kMaxHeaderBytes = 1u << 16;  // a results file's first line, read to tell its kind

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Absolute and without "." or ".." parts, so that recent files and sessions name one place
// whatever the working directory.
std::string absolute_path(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  std::string normal = (ec ? fs::path(path) : absolute).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();  // "lm-fma/" = "lm-fma"
  return normal;
}

std::string file_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name.empty() ? path : name;
}

// The model folder of a path classify_path calls a model.
std::string model_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path : fs::path(path).parent_path().string();
}

// Whether the model at `folder` reads text (an LM) rather than images; reads only
// config.json (the worker loads the weights). Throws fmav::Error naming the file.
bool model_reads_text(const std::string& folder) {
  const std::string config = (fs::path(folder) / "config.json").string();
  const std::string text = read_file_bytes(config, kMaxConfigBytes);
  if (is_hf_folder(folder)) return parse_hf_config(text, config).kind != HfKind::image_classifier;
  return parse_model_config(text, config).is_lm();
}

// The input to keep when switching to a model: the current one when the model reads its
// kind, else the shipped sample of the right kind (an LM cannot read sample.png).
std::string input_for(const std::string& current, bool reads_text, bool hf) {
  const PathKind kind = current.empty() ? PathKind::missing : classify_path(current);
  if (hf && kind == PathKind::tensors && is_ids_file(current)) return current;  // token ids
  if (reads_text ? kind == PathKind::text : kind == PathKind::image) return current;
  const std::string sample = reads_text ? default_input_path() : assets_dir() + "/sample.png";
  return fs::exists(sample) ? sample : current;
}

void open_model(Shared& shared, const std::string& path) {
  const std::string folder = model_folder(path);
  const bool reads_text = model_reads_text(folder);
  MapParams& p = shared.params;
  shared.model_path = folder;
  shared.input_path = input_for(shared.input_path, reads_text, is_hf_folder(folder));
  p.model = shared.model_path, p.input = shared.input_path, p.qkv.clear(), p.model_fma_override = false;
  p.mask.clear();  // --mask belonged to the first input
  p.layer = 0, p.head = 0, p.offset = 0;  // the new model may have fewer
  shared.query_row = -1;
}

void open_input(Shared& shared, const std::string& path, PathKind kind) {
  FMAV_CHECK(!shared.model_path.empty(), file_name(path),
             ": an input file is read by a model; open a model first");
  FMAV_CHECK(std::ifstream(path).good(), path, ": cannot open for reading");
  if (kind == PathKind::tensors) {  // token ids for a Hugging Face model (open_path checked)
    read_token_ids(path);
    kind = PathKind::text;
  }
  const bool reads_text = model_reads_text(shared.model_path);
  FMAV_CHECK(reads_text == (kind == PathKind::text), file_name(shared.model_path), " reads ",
             reads_text ? "text" : "images", "; ", file_name(path), " is ",
             kind == PathKind::text ? "not an image" : "an image",
             ". Open a model that reads ", reads_text ? "images" : "text", " first");
  MapParams& p = shared.params;
  shared.input_path = path;
  p.model = shared.model_path, p.input = path;  // also leaves the synthetic or q/k/v input
  p.qkv.clear(), p.mask.clear();
  p.offset = 0;
  shared.query_row = -1;
}

// A sweep or benchmark results file, told apart by its header line (the format's name);
// another .jsonl is a text input.
void open_results(Shared& shared, const OpenTargets& to, const std::string& path) {
  std::ifstream in(path);
  FMAV_CHECK(in.good(), path, ": cannot open for reading");
  std::string header(kMaxHeaderBytes, '\0');
  in.getline(&header[0], static_cast<std::streamsize>(header.size()));
  header.resize(std::strlen(header.c_str()));
  if (header.find("\"fmav-sweep\"") != std::string::npos) {
    open_sweep_file(to.sweep, path);
    shared.view = View::sweep;
  } else if (header.find("\"fmav-bench\"") != std::string::npos) {
    open_bench_file(to.scaling, path);
    shared.view = View::scaling;
  } else {
    open_input(shared, path, PathKind::text);
    return;
  }
  shared.view_requested = true;
}

// Whether `path` is token ids for the loaded Hugging Face model (an integer .npy or
// .safetensors) rather than raw q, k, v (floats).
bool holds_token_ids(const Shared& shared, const std::string& path) {
  if (!is_hf_folder(shared.model_path) || !is_ids_file(path)) return false;
  try {
    read_token_ids(path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

void check_maps(const MapsWorker& maps) {
  FMAV_CHECK(maps.has_shown && maps.shown.inspection && maps.shown.error.empty(),
             "no maps to export: the engine has not produced any yet");
}

const char* const kMapNames[kMapCount] = {"full", "fma", "diff", "level"};

}  // namespace

PathKind classify_path(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return PathKind::missing;
  const fs::path p(path);
  if (fs::is_directory(status)) {
    return fs::exists(p / "config.json", ec) ? PathKind::model : PathKind::folder;
  }
  const std::string name = p.filename().string(), ext = lower_extension(p);
  if (name == "config.json" || name == "model.safetensors") return PathKind::model;
  if (ext == ".json") return PathKind::session;
  if (ext == ".npy" || ext == ".safetensors") return PathKind::tensors;
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") return PathKind::image;
  if (ext == ".jsonl") return PathKind::results;
  return PathKind::text;
}

// ---- settings ----

void load_viewer_settings(Shared& shared, FilesPanel& files) {
  try {
    files.settings = load_settings();
  } catch (const Error& e) {
    files.settings_writable = false;
    report_error(shared, std::string(e.what()) +
                            " (the settings are not saved this run; fix or remove the file)");
  }
}

void save_viewer_settings(Shared& shared, FilesPanel& files) {
  if (!files.settings_writable) return;
  try {
    save_settings(files.settings);
  } catch (const Error& e) {
    report_error(shared, std::string("cannot save the settings: ") + e.what());
  }
}

// ---- opening ----

std::string default_input_for(const std::string& model) {
  try {
    const std::string folder = model_folder(model);
    return input_for("", model_reads_text(folder), is_hf_folder(folder));
  } catch (const std::exception&) {
    return default_input_path();
  }
}

std::string open_path(Shared& shared, const OpenTargets& to, const std::string& given) {
  const std::string path = absolute_path(given);
  try {  // each opener checks everything before it changes the state
    switch (const PathKind kind = classify_path(path)) {
      case PathKind::missing: throw Error(path + ": no such file or folder");
      case PathKind::folder: throw Error(path + ": a folder without config.json, not a model");
      case PathKind::tensors:
        if (holds_token_ids(shared, path)) {
          open_input(shared, path, kind);
        } else {
          open_qkv(shared, path);
        }
        break;
      case PathKind::model: open_model(shared, path); break;
      case PathKind::session: apply_session(shared, load_session(path)); break;
      case PathKind::image:
      case PathKind::text: open_input(shared, path, kind); break;
      case PathKind::results: open_results(shared, to, path); break;
    }
  } catch (const std::exception& e) {  // fmav::Error; std::bad_alloc, filesystem_error
    return e.what();
  }
  const std::string recent = classify_path(path) == PathKind::model ? model_folder(path) : path;
  add_recent(to.files.settings, recent);
  save_viewer_settings(shared, to.files);
  shared.status_message = "opened " + recent;
  return "";
}

void open_dropped(Shared& shared, const OpenTargets& to, const std::vector<std::string>& paths) {
  std::vector<std::string> ordered = paths;
  std::stable_partition(ordered.begin(), ordered.end(), [](const std::string& p) {
    return classify_path(p) == PathKind::model;
  });
  for (const std::string& path : ordered) {
    const std::string error = open_path(shared, to, path);
    if (!error.empty()) report_error(shared, error);
  }
}

void open_qkv(Shared& shared, const std::string& given) {
  const std::string path = absolute_path(given);
  load_qkv(path);  // a wrong file is refused here; the worker then finds it already read
  MapParams& p = shared.params;
  shared.qkv_path = path;
  p.qkv = path, p.model.clear(), p.input.clear();  // the FMA settings stay
  p.layer = 0, p.head = 0, p.offset = 0;
  shared.query_row = -1;
}

// ---- sessions ----

Session current_session(const Shared& shared) {
  const MapParams& p = shared.params;
  Session s;
  s.synthetic = p.model.empty() && p.qkv.empty();
  if (!p.model.empty()) s.model = absolute_path(p.model), s.input = absolute_path(p.input);
  if (!p.model.empty() && !p.mask.empty()) s.mask = absolute_path(p.mask);
  if (!p.qkv.empty()) s.qkv = absolute_path(p.qkv);
  s.n = p.n, s.block_size = p.block_size, s.rank = p.rank, s.causal = p.causal;
  s.downsample = p.downsample, s.count_multiplicity = p.count_multiplicity, s.seed = p.seed;
  s.method = to_string(p.method), s.hash_rounds = p.hash_rounds, s.shifted = p.shifted;
  s.layer = p.layer, s.head = p.head, s.offset = p.offset;
  // A session holds the views of one source; the results views are not among them.
  s.view = shared.view == View::sweep || shared.view == View::scaling ? "attention" : to_string(shared.view);
  s.query_row = shared.query_row;
  s.scale = shared.colors.scale == MapScale::log10 ? "log10" : "linear";
  s.colormap = to_string(shared.colors.colormap);
  s.log_floor = static_cast<int>(std::lround(shared.colors.log_floor));
  const MapViewport& v = shared.viewport;
  if (shared.maps.has_shown && v.zoomed()) s.zoom = {v.y0, v.y1, v.x0, v.x1};
  s.implementation = to_string(shared.maps.fast_path.impl);
  s.precision = shared.maps.fast_path.f64 ? "float64" : "float32";
  return s;
}

void apply_session(Shared& shared, const Session& s) {
  FMAV_CHECK(!s.synthetic || s.n <= kMaxTokens, "session: the viewer shows at most ", kMaxTokens,
             " synthetic tokens, got n = ", s.n);
  View view = View::attention;
  FMAV_CHECK(parse_view(s.view, &view), "session: unknown view '", s.view, "'");
  Colormap colormap = Colormap::standard;
  FMAV_CHECK(parse_colormap(s.colormap, &colormap), "session: unknown colormap '", s.colormap, "'");
  if (!s.qkv.empty()) load_qkv(s.qkv);  // a missing or wrong file is refused now
  MapParams& p = shared.params;
  if (s.synthetic || !s.qkv.empty()) {
    p.model.clear(), p.input.clear();
    p.qkv = s.qkv;
    if (!s.qkv.empty()) shared.qkv_path = s.qkv;
    if (s.synthetic) p.n = s.n;
    p.block_size = s.block_size, p.rank = s.rank, p.causal = s.causal;
    p.downsample = s.downsample, p.count_multiplicity = s.count_multiplicity, p.seed = s.seed;
    p.method = parse_fma_or_peer(s.method), p.hash_rounds = s.hash_rounds, p.shifted = s.shifted;
  } else {
    shared.model_path = s.model, shared.input_path = s.input;
    p.model = s.model, p.input = s.input, p.qkv.clear(), p.model_fma_override = false;
    p.mask = s.mask;
  }
  p.layer = s.layer, p.head = s.head, p.offset = s.offset;
  shared.view = view;
  shared.view_requested = true;
  shared.query_row = s.query_row;
  shared.colors.scale = s.scale == "linear" ? MapScale::linear : MapScale::log10;
  shared.colors.colormap = colormap;
  shared.colors.log_floor = s.log_floor;
  // The zoom applies once the session's maps are shown; none means the whole map.
  shared.initial_zoom = s.zoom.size() == 4 ? std::array<double, 4>{s.zoom[0], s.zoom[1], s.zoom[2], s.zoom[3]}
                                          : std::array<double, 4>{0, 0, 0, 0};
  shared.maps.fast_path.impl = parse_impl(s.implementation);
  shared.maps.fast_path.f64 = s.precision == "float64";
}

// ---- exports ----

std::string export_map_pngs(const Shared& shared, const std::string& prefix) {
  check_maps(shared.maps);
  // Coloured on the CPU exactly as the shader colours them on screen (map_shader).
  const Inspection& in = *shared.maps.shown.inspection;
  const std::size_t count = static_cast<std::size_t>(in.rows * in.cols);
  const std::int8_t* levels = in.level_map.data();
  std::vector<std::uint8_t> rgba(count * 4);
  std::vector<double> diff(count);
  for (std::size_t i = 0; i < count; ++i) diff[i] = in.fma_map[i] - in.full_map[i];
  for (int kind = 0; kind < kMapCount; ++kind) {
    const MapShader shader = map_shader(shared.colors, shared.maps.shown.data, static_cast<MapKind>(kind));
    if (kind == kMapLevel) {
      colorize_levels(levels, count, rgba.data());
    } else if (kind == kMapDiff) {
      colorize_diverging(diff.data(), count, shader.limit, shader.decades, levels, rgba.data());
    } else {
      const std::vector<double>& values = kind == kMapFull ? in.full_map : in.fma_map;
      colorize_sequential(values.data(), count, shader.lo, shader.hi, shader.log10, levels, rgba.data(),
                          shared.colors.colormap);
    }
    Image image;
    image.height = static_cast<int>(in.rows), image.width = static_cast<int>(in.cols);
    image.rgb.resize(count * 3);
    for (std::size_t i = 0; i < count; ++i) {
      for (int c = 0; c < 3; ++c) image.rgb[3 * i + c] = rgba[4 * i + c] / 255.0f;
    }
    write_png(prefix + "_" + kMapNames[kind] + ".png", image);
  }
  const std::string pooled =
      in.pool > 1 ? " (means of " + std::to_string(in.pool) + " x " + std::to_string(in.pool) + " blocks)" : "";
  return "wrote " + prefix + "_{full,fma,diff,level}.png" + pooled;
}

std::string export_map_npys(const Shared& shared, const std::string& prefix) {
  check_maps(shared.maps);
  const Inspection& in = *shared.maps.shown.inspection;
  const std::vector<std::int64_t> shape = {in.rows, in.cols};
  for (const auto& [name, values] :
       {std::pair{"full", &in.full_map}, std::pair{"fma", &in.fma_map}}) {
    HostTensor t = make_host_tensor(DType::f64, shape);
    std::memcpy(t.data.data(), values->data(), t.nbytes());
    write_npy(prefix + "_" + name + ".npy", t);
  }
  HostTensor level = make_host_tensor(DType::i32, shape);
  auto* out = reinterpret_cast<std::int32_t*>(level.data.data());
  std::copy(in.level_map.begin(), in.level_map.end(), out);
  write_npy(prefix + "_level.npy", level);
  return "wrote " + prefix + "_{full,fma,level}.npy (" + std::to_string(in.rows) + " x " +
         std::to_string(in.cols) + ")";
}

void request_plot_png(Shared& shared, const std::string& path, const PlotState& view) {
  const PlotRect r = plot_framebuffer_rect(view);
  shared.plot_pngs.push_back({path, static_cast<int>(r.x0), static_cast<int>(r.y0), static_cast<int>(r.x1),
                                   static_cast<int>(r.y1)});
}

void write_plot_pngs(Shared& shared, int width, int height, const std::vector<std::uint8_t>& rgba) {
  std::string written;
  for (const PlotPng& p : shared.plot_pngs) {
    const int x0 = std::clamp(p.x0, 0, width), x1 = std::clamp(p.x1, 0, width);
    const int y0 = std::clamp(p.y0, 0, height), y1 = std::clamp(p.y1, 0, height);
    try {
      FMAV_CHECK(x1 > x0 && y1 > y0, p.path, ": the plot is not on screen");
      Image image;
      image.width = x1 - x0, image.height = y1 - y0;
      image.rgb.resize(static_cast<std::size_t>(image.width * image.height * 3));
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
          const std::size_t from = (static_cast<std::size_t>(y) * width + x) * 4;
          const std::size_t to = (static_cast<std::size_t>(y - y0) * image.width + (x - x0)) * 3;
          for (int c = 0; c < 3; ++c) image.rgb[to + c] = rgba[from + c] / 255.0f;
        }
      }
      write_png(p.path, image);
      written += (written.empty() ? "" : ", ") + p.path;
    } catch (const std::exception& e) {
      report_error(shared, e.what());
    }
  }
  shared.plot_pngs.clear();
  if (!written.empty()) shared.status_message = "wrote " + written;
}

}  // namespace fmav::viewer
