// Sweep results files (fmav/sweep.h): JSONL, a header line with the sweep's spec, then one
// line per measured point. Read strictly, like the project's other JSON files, because a
// GUI opens files written elsewhere; a last line cut off by a crash is set aside, not an
// error, so the sweep can resume. No LibTorch (fmav_io).

#include "fmav/sweep_file.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "fmav/method.h"
#include "fmav/error.h"
#include "fmav/size_limits.h"
#include "fmav/tensor_io.h"
#include "json_util.h"

namespace fmav {
namespace {

constexpr const char* kFormat = "fmav-sweep";
constexpr int kMaxDepth = 4;                       // a result's per-head list is the deepest
constexpr std::int64_t kMaxGrid = kMaxGridPoints;  // values of one grid axis, and points
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* dtype_label(DType dtype) { return dtype == DType::f64 ? "f64" : "f32"; }

DType parse_dtype_label(const std::string& text, const std::string& where) {
  FMAV_CHECK(text == "f32" || text == "f64", where, ": dtype must be f32 or f64, got '", text, "'");
  return text == "f64" ? DType::f64 : DType::f32;
}

template <typename T, typename Parse>
std::vector<T> json_list(const Json& obj, const char* key, const std::string& where, Parse parse) {
  const Json& list = json_key(obj, key, where);
  FMAV_CHECK(list.is_array() && !list.empty() && static_cast<std::int64_t>(list.size()) <= kMaxGrid, where,
             ": \"", key, "\" must be a non-empty list of at most ", kMaxGrid, " values");
  std::vector<T> out;
  for (const Json& item : list) out.push_back(parse(item));
  return out;
}

Json spec_json(const SweepSpec& s) {
  Json j;
  j["model"] = s.model, j["input"] = s.input, j["offset"] = s.offset;
  j["heads"] = s.heads, j["dim"] = s.dim, j["causal"] = s.causal;
  j["ns"] = s.ns, j["block_sizes"] = s.block_sizes, j["ranks"] = s.ranks;
  Json downsamples = Json::array(), multiplicities = Json::array(), dtypes = Json::array();
  for (Downsample d : s.downsamples) downsamples.push_back(to_string(d));
  for (bool m : s.multiplicities) multiplicities.push_back(m);
  for (DType d : s.dtypes) dtypes.push_back(dtype_label(d));
  j["downsamples"] = downsamples, j["multiplicities"] = multiplicities, j["dtypes"] = dtypes;
  j["repeats"] = s.repeats, j["seed"] = s.seed, j["shard"] = s.shard, j["shards"] = s.shards;
  if (s.method != "fma") j["method"] = s.method;  // FMA sweeps' files stay as they were
  if (s.devices != std::vector<Device>{Device::cpu}) {  // so do cpu sweeps'
    Json devices = Json::array();
    for (Device d : s.devices) devices.push_back(to_string(d));
    j["devices"] = devices;
  }
  if (s.layer >= 0) j["layer"] = s.layer, j["head"] = s.head, j["ids"] = s.ids;  // a Hugging Face model's
  return j;
}

SweepSpec parse_spec(const Json& j, const std::string& where) {
  FMAV_CHECK(j.is_object(), where, ": \"spec\" must be an object");
  json_check_keys(j, {"model", "input", "offset", "heads", "dim", "causal", "ns", "block_sizes", "ranks",
                      "downsamples", "multiplicities", "dtypes", "repeats", "seed", "shard", "shards", "method",
                      "layer", "head", "ids", "devices"},
                  where);
  SweepSpec s;
  s.model = json_string(j, "model", where), s.input = json_string(j, "input", where);
  s.offset = json_int(j, "offset", 0, kMaxOffset, where);
  s.heads = json_int(j, "heads", 1, kMaxHeads, where), s.dim = json_int(j, "dim", 1, kMaxDim, where);
  s.causal = json_bool(j, "causal", where);
  if (j.contains("method")) s.method = json_string(j, "method", where);
  if (j.contains("layer")) {
    s.layer = static_cast<int>(json_int(j, "layer", 0, kMaxIndex, where));
    s.head = static_cast<int>(json_int(j, "head", -1, kMaxIndex, where));
    s.ids = json_string(j, "ids", where);
  }
  parse_fma_or_peer(s.method, where);
  const auto count = [&](const char* name, std::int64_t hi) {
    return [&, name, hi](const Json& v) {
      FMAV_CHECK(v.is_number_integer() && v.get<std::int64_t>() >= 1 && v.get<std::int64_t>() <= hi, where,
                 ": \"", name, "\" values must be integers in [1, ", hi, "], got ", v.dump());
      return v.get<std::int64_t>();
    };
  };
  s.ns = json_list<std::int64_t>(j, "ns", where, count("ns", kMaxTokens));
  s.block_sizes = json_list<std::int64_t>(j, "block_sizes", where, count("block_sizes", kMaxTokens));
  s.ranks = json_list<std::int64_t>(j, "ranks", where, count("ranks", kMaxTokens));
  s.downsamples = json_list<Downsample>(j, "downsamples", where, [&](const Json& v) {
    FMAV_CHECK(v.is_string(), where, ": \"downsamples\" values must be strings");
    try {
      return parse_downsample(v.get<std::string>());
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  });
  s.multiplicities = json_list<bool>(j, "multiplicities", where, [&](const Json& v) {
    FMAV_CHECK(v.is_boolean(), where, ": \"multiplicities\" values must be true or false");
    return v.get<bool>();
  });
  s.dtypes = json_list<DType>(j, "dtypes", where, [&](const Json& v) {
    FMAV_CHECK(v.is_string(), where, ": \"dtypes\" values must be strings");
    return parse_dtype_label(v.get<std::string>(), where);
  });
  if (j.contains("devices")) s.devices = json_list<Device>(j, "devices", where, [&](const Json& v) {
    FMAV_CHECK(v.is_string() && (v == "cpu" || v == "cuda"), where, ": \"devices\" values must be \"cpu\" or "
               "\"cuda\", got ", v.dump());
    return parse_device(v.get<std::string>());
  });
  s.repeats = static_cast<int>(json_int(j, "repeats", 1, kMaxRepeats, where));
  const Json& seed = json_key(j, "seed", where);
  FMAV_CHECK(seed.is_number_unsigned() || (seed.is_number_integer() && seed.get<std::int64_t>() >= 0), where,
             ": \"seed\" must be an integer >= 0");
  s.seed = seed.get<std::uint64_t>();
  s.shards = static_cast<int>(json_int(j, "shards", 1, kMaxShards, where));
  s.shard = static_cast<int>(json_int(j, "shard", 0, s.shards - 1, where));
  return s;
}

SweepResult parse_result(const Json& j, const std::string& where) {
  FMAV_CHECK(j.is_object(), where, ": a result must be a JSON object");
  json_check_keys(j, {"index", "n", "r", "p", "downsample", "multiplicity", "dtype", "device", "status", "error",
                      "output_rel_error", "mean_tv", "mean_kl", "heads", "loss", "bpc", "accuracy",
                      "latency_ms", "peak_bytes", "seconds"}, where);
  SweepResult r;
  r.index = json_int(j, "index", 0, kMaxGrid * kMaxGrid, where);
  r.point.n = json_int(j, "n", 1, kMaxTokens, where);
  r.point.block_size = json_int(j, "r", 1, kMaxTokens, where);
  r.point.rank = json_int(j, "p", 1, kMaxTokens, where);
  try {
    r.point.downsample = parse_downsample(json_string(j, "downsample", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  r.point.count_multiplicity = json_bool(j, "multiplicity", where);
  r.point.dtype = parse_dtype_label(json_string(j, "dtype", where), where);
  if (j.contains("device")) {  // points of files before the device axis ran on the cpu
    const std::string device = json_string(j, "device", where);
    FMAV_CHECK(device == "cpu" || device == "cuda", where, ": \"device\" must be cpu or cuda, got '", device, "'");
    r.point.device = parse_device(device);
  }
  r.status = json_string(j, "status", where);
  FMAV_CHECK(r.status == "ok" || r.status == "oom" || r.status == "failed", where,
             ": \"status\" must be ok, oom or failed, got '", r.status, "'");
  r.error = json_string(j, "error", where);
  r.output_rel_error = json_number(j, "output_rel_error", where);
  r.mean_tv = json_number(j, "mean_tv", where), r.mean_kl = json_number(j, "mean_kl", where);
  r.loss = json_number(j, "loss", where), r.bpc = json_number(j, "bpc", where);
  r.accuracy = json_number(j, "accuracy", where), r.latency_ms = json_number(j, "latency_ms", where);
  r.peak_bytes = json_int(j, "peak_bytes", 0, std::int64_t{1} << 50, where);
  r.seconds = json_number(j, "seconds", where);
  const Json& heads = json_key(j, "heads", where);
  FMAV_CHECK(heads.is_array() && heads.size() <= static_cast<std::size_t>(kMaxSweepHeadErrors), where,
             ": \"heads\" must be a list of at most ", kMaxSweepHeadErrors,
             " [layer, head, output_rel_error, mean_tv, mean_kl]");
  for (const Json& h : heads) {
    FMAV_CHECK(h.is_array() && h.size() == 5 && h[0].is_number_unsigned() && h[1].is_number_unsigned() &&
                   h[0].get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxIndex) &&
                   h[1].get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxIndex),
               where, ": \"heads\" entries must be [layer, head, output_rel_error, mean_tv, mean_kl], got ",
               h.dump().substr(0, 80));
    HeadError e;
    e.layer = h[0].get<int>(), e.head = h[1].get<int>();
    double* values[3] = {&e.output_rel_error, &e.mean_tv, &e.mean_kl};
    for (int i = 0; i < 3; ++i) {
      FMAV_CHECK(h[2 + i].is_number() || h[2 + i].is_null(), where, ": \"heads\" errors must be numbers");
      *values[i] = h[2 + i].is_null() ? kNaN : h[2 + i].get<double>();
    }
    r.heads.push_back(e);
  }
  return r;
}

// The results of a point as a value tuple, timing excluded: what merging compares.
bool same_measurement(const SweepResult& a, const SweepResult& b) {
  const auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  return a.index == b.index && sweep_key(a.point) == sweep_key(b.point) && a.status == b.status &&
         same(a.output_rel_error, b.output_rel_error) && same(a.mean_tv, b.mean_tv) &&
         same(a.mean_kl, b.mean_kl) && same(a.loss, b.loss);
}

// Every size of the spec within the limits its results file is read back with
// (fmav/size_limits.h): the writer refuses what the reader would.
void check_sweep_limits(const SweepSpec& s) {
  check_limit("sweep: --heads", s.heads, 1, kMaxHeads);
  check_limit("sweep: --dim", s.dim, 1, kMaxDim);
  check_limit("sweep: --offset", s.offset, 0, kMaxOffset);
  check_limit("sweep: --repeats", s.repeats, 1, kMaxRepeats);
  check_limit("sweep: N of --shard i/N", s.shards, 1, kMaxShards);
  if (s.layer >= 0) {
    check_limit("sweep: --layer", s.layer, 0, kMaxIndex);
    check_limit("sweep: --head", s.head, -1, kMaxIndex);
  }
  const auto axis = [](const char* name, const std::vector<std::int64_t>& values) {
    for (std::int64_t v : values) check_limit(name, v, 1, kMaxTokens);
  };
  axis("sweep: each --n value", s.ns);
  axis("sweep: each --r (block size) value", s.block_sizes);
  axis("sweep: each --p (rank) value", s.ranks);
}

}  // namespace

std::string sweep_key(const SweepPoint& p) {
  return "n=" + std::to_string(p.n) + " r=" + std::to_string(p.block_size) + " p=" + std::to_string(p.rank) +
         " " + to_string(p.downsample) + (p.count_multiplicity ? " mult " : " no-mult ") + dtype_label(p.dtype) +
         (p.device == Device::cpu ? "" : std::string(" ") + to_string(p.device));
}

std::vector<SweepPoint> sweep_points(const SweepSpec& s) {
  FMAV_CHECK(!s.ns.empty() && !s.block_sizes.empty() && !s.ranks.empty() && !s.downsamples.empty() &&
                 !s.multiplicities.empty() && !s.dtypes.empty() && !s.devices.empty(),
             "sweep: every grid axis needs at least one value");
  FMAV_CHECK(!s.is_model() || s.ns.size() == 1, "sweep: a model runs at its own length; give one --n at most");
  FMAV_CHECK(s.shards >= 1 && s.shard >= 0 && s.shard < s.shards, "sweep: shard ", s.shard, "/", s.shards,
             " must satisfy 0 <= i < N");
  check_sweep_limits(s);
  for (DType d : s.dtypes) FMAV_CHECK(d == DType::f32 || d == DType::f64, "sweep: dtypes are f32 or f64");
  for (Device d : s.devices) {
    FMAV_CHECK(d != Device::automatic, "sweep: devices are cpu or cuda (auto is resolved before the sweep)");
    FMAV_CHECK(d == Device::cpu || (s.method == "fma" && s.dtypes == std::vector<DType>{DType::f32}), "sweep: on cuda ",
               "the timed path is FMA in f32 (the kernels'); got method ", s.method, " and dtype ",
               s.dtypes.size() == 1 ? dtype_label(s.dtypes[0]) : "several");
  }
  parse_fma_or_peer(s.method, "sweep");
  FMAV_CHECK(s.method == "fma" || (s.ranks.size() == 1 && s.downsamples.size() == 1 && s.multiplicities.size() == 1),
             "sweep: ", s.method, " has no rank p, down-sampling or multiplicity; give one value of each");
  const std::size_t total = s.ns.size() * s.block_sizes.size() * s.ranks.size() * s.downsamples.size() *
                            s.multiplicities.size() * s.dtypes.size() * s.devices.size();
  FMAV_CHECK(total <= static_cast<std::size_t>(kMaxGrid), "sweep: ", total, " points is more than ", kMaxGrid);
  std::vector<SweepPoint> points;
  for (std::int64_t n : s.ns)
    for (std::int64_t r : s.block_sizes)
      for (std::int64_t p : s.ranks)
        for (Downsample d : s.downsamples)
          for (bool m : s.multiplicities)
            for (DType t : s.dtypes)
              for (Device e : s.devices) points.push_back(SweepPoint{n, r, p, d, m, t, e});
  return points;
}

std::vector<std::size_t> pareto_front(const std::vector<double>& cost, const std::vector<double>& error) {
  FMAV_CHECK(cost.size() == error.size(), "pareto_front: ", cost.size(), " costs but ", error.size(), " errors");
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < cost.size(); ++i) {
    if (!std::isnan(cost[i]) && !std::isnan(error[i])) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return cost[a] != cost[b] ? cost[a] < cost[b] : error[a] < error[b];
  });
  std::vector<std::size_t> front;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i : order) {
    if (error[i] < best) front.push_back(i), best = error[i];
  }
  return front;
}

std::string sweep_header_json(const SweepSpec& spec) {
  Json j;
  j["format"] = kFormat;
  j["format_version"] = kSweepFormatVersion;
  j["spec"] = spec_json(spec);
  return j.dump();
}

std::string sweep_result_json(const SweepResult& r) {
  Json j;
  j["index"] = r.index, j["n"] = r.point.n, j["r"] = r.point.block_size, j["p"] = r.point.rank;
  j["downsample"] = to_string(r.point.downsample), j["multiplicity"] = r.point.count_multiplicity;
  j["dtype"] = dtype_label(r.point.dtype), j["device"] = to_string(r.point.device);
  j["status"] = r.status, j["error"] = r.error;
  j["output_rel_error"] = r.output_rel_error, j["mean_tv"] = r.mean_tv, j["mean_kl"] = r.mean_kl;
  Json heads = Json::array();
  for (const HeadError& h : r.heads) heads.push_back({h.layer, h.head, h.output_rel_error, h.mean_tv, h.mean_kl});
  j["heads"] = heads;
  j["loss"] = r.loss, j["bpc"] = r.bpc, j["accuracy"] = r.accuracy;
  j["latency_ms"] = r.latency_ms, j["peak_bytes"] = r.peak_bytes, j["seconds"] = r.seconds;
  return j.dump();  // NaN becomes null
}

SweepFile parse_sweep_file(const std::string& text, const std::string& name) {
  SweepFile file;
  const JsonLines lines = parse_json_lines(
      text, name, kFormat, kSweepFormatVersion, kMaxSweepFileBytes, kMaxSweepLineBytes, kMaxDepth,
      [&](const Json& header, const std::string& where) {
        json_check_keys(header, {"format", "format_version", "spec"}, where);
        file.spec = parse_spec(json_key(header, "spec", where), where);
      },
      [&](const Json& line, const std::string& where) { file.results.push_back(parse_result(line, where)); });
  file.truncated_tail = lines.truncated_tail, file.valid_bytes = lines.valid_bytes;
  return file;
}

SweepFile read_sweep_file(const std::string& path) {
  return parse_sweep_file(read_file_bytes(path, kMaxSweepFileBytes), path);
}

bool same_sweep(const SweepSpec& a, const SweepSpec& b) {
  Json ja = spec_json(a), jb = spec_json(b);
  ja.erase("shard"), jb.erase("shard");
  ja.erase("shards"), jb.erase("shards");
  return ja == jb;
}

namespace {

// "4-9, 12, 15" or, for an evenly spaced list, "1, 3, ..., 11"; at most `most` items.
std::string index_runs(const std::vector<std::int64_t>& v, std::size_t most = 12) {
  if (v.size() >= 4) {
    const std::int64_t step = v[1] - v[0];
    bool even = step > 1;
    for (std::size_t i = 2; even && i < v.size(); ++i) even = v[i] - v[i - 1] == step;
    if (even) return std::to_string(v[0]) + ", " + std::to_string(v[1]) + ", ..., " + std::to_string(v.back());
  }
  std::string text;
  std::size_t items = 0, i = 0;
  for (; i < v.size() && items < most; ++items) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    text += (text.empty() ? "" : ", ") + std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
    i = j + 1;
  }
  if (i < v.size()) text += ", ... (" + std::to_string(v.size() - i) + " more)";
  return text;
}

}  // namespace

std::string describe_missing(const SweepMerge& m, const SweepSpec& spec) {
  if (m.missing.empty()) return "none";
  SweepSpec whole = spec;
  whole.shard = 0, whole.shards = 1;
  const std::vector<SweepPoint> grid = sweep_points(whole);
  std::string text = std::to_string(m.missing.size()) + " of " + std::to_string(m.points) + " points";
  if (m.shards > 1) {
    for (int s = 0; s < m.shards; ++s) {
      std::vector<std::int64_t> gone;
      for (std::int64_t i : m.missing) {
        if (i % m.shards == s) gone.push_back(i);
      }
      if (gone.empty()) continue;
      const std::int64_t in_shard = (m.points - s + m.shards - 1) / m.shards;
      text += "\n  shard " + std::to_string(s) + "/" + std::to_string(m.shards) + ": " +
              (static_cast<std::int64_t>(gone.size()) == in_shard ? "all " : std::to_string(gone.size()) + " of ") +
              std::to_string(in_shard) + " points (" + index_runs(gone) + ")";
    }
  } else {
    text += "\n  indices " + index_runs(m.missing);
  }
  const std::int64_t first = m.missing.front();
  return text + "\n  first missing: [" + std::to_string(first) + "] " + sweep_key(grid[first]);
}

SweepMerge merge_sweep_files(const std::vector<std::string>& inputs, const std::string& out, bool allow_partial) {
  FMAV_CHECK(!inputs.empty(), "merge: no results files given");
  std::map<std::int64_t, SweepResult> by_index;
  SweepSpec spec;
  SweepMerge merge;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const SweepFile file = read_sweep_file(inputs[i]);
    if (i == 0) spec = file.spec;
    FMAV_CHECK(same_sweep(spec, file.spec), "merge: ", inputs[i], " holds a different sweep than ", inputs[0]);
    merge.shards = std::max(merge.shards, file.spec.shards);
    for (const SweepResult& r : file.results) {
      const auto [it, added] = by_index.emplace(r.index, r);
      FMAV_CHECK(added || same_measurement(it->second, r), "merge: point ", r.index, " (", sweep_key(r.point),
                 ") has different results in ", inputs[i], " and an earlier file");
    }
  }
  spec.shard = 0, spec.shards = 1;
  const std::vector<SweepPoint> grid = sweep_points(spec);
  for (const auto& [index, r] : by_index) {
    FMAV_CHECK(index < static_cast<std::int64_t>(grid.size()) && sweep_key(grid[index]) == sweep_key(r.point),
               "merge: point ", index, " (", sweep_key(r.point), ") is not that point of the sweep's grid");
  }
  merge.points = static_cast<std::int64_t>(grid.size());
  merge.merged = static_cast<std::int64_t>(by_index.size());
  for (std::int64_t i = 0; i < merge.points; ++i) {
    if (by_index.count(i) == 0) merge.missing.push_back(i);
  }
  FMAV_CHECK(allow_partial || merge.missing.empty(), "merge: the sweep is incomplete, nothing written: ",
             describe_missing(merge, spec), "\nRun the missing shards (the same sweep command with --shard i/N), "
             "or merge what there is with --partial");
  std::string text = sweep_header_json(spec) + "\n";
  for (const auto& [index, r] : by_index) text += sweep_result_json(r) + "\n";
  write_file_atomic(out, text);
  return merge;
}

}  // namespace fmav
