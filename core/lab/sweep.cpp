// The r x p sweep runner (fmav/sweep.h): each grid point's approximation errors from the
// float64 inspection of every layer and head, a model's loss on its input, and the fused
// FMA's latency and peak memory; results appended to the JSONL file as they finish.

#include "fmav/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include <unistd.h>

#include "attention/cuda_backend.h"
#include "attention/fma_internal.h"
#include "fmav/attend.h"
#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/finite.h"
#include "fmav/hf_model.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/inspect.h"
#include "fmav/memory_budget.h"
#include "fmav/memory_estimate.h"
#include "fmav/model.h"
#include "fmav/sample.h"
#include "fmav/tensor_io.h"
#include "fmav/train.h"
#include "attention/memory_tracker.h"

namespace fmav {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Inspections are pooled to at most this many rows: the errors are means over rows, and a
// pooled map's per-row values are means of its rows, so nothing is lost but memory.
constexpr std::int64_t kMetricRows = 256;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The q, k, v (all heads) of one layer and what the method needs besides.
struct LayerInput {
  HostTensor q, k, v;
  AttendOptions options;  // FMA (with weights) or a peer
  WeightSet weights;
};

// The sweep's method at a point: FMA at r, p, or a peer with block r (swin on the most
// square grid of n; a peer's settings at their defaults). Checked where it is used (the
// weights, the Inspector, attend()); a bad point is recorded as failed with their message.
AttendOptions point_options(const SweepSpec& s, const SweepPoint& pt, bool causal) {
  AttendOptions o;
  o.method = parse_fma_or_peer(s.method);
  o.fma = FmaConfig{pt.block_size, pt.rank, causal, pt.downsample, pt.count_multiplicity};
  if (o.method == Method::swin) {
    o.fma.causal = false;
    square_grid(pt.n, &o.fma.grid_height, &o.fma.grid_width);
  }
  return o;
}

// The synthetic input: `heads` heads of sample_qkv, head h drawn from seed + h.
HostTensor stack_heads(const std::vector<HostTensor>& heads) {
  std::vector<at::Tensor> parts;
  for (const HostTensor& h : heads) parts.push_back(to_tensor(h));
  return to_host(at::cat(parts, 1).contiguous());
}

LayerInput synthetic_input(const SweepSpec& s, const SweepPoint& pt) {
  std::vector<HostTensor> q, k, v;
  for (std::int64_t h = 0; h < s.heads; ++h) {
    const SampleQkv one = sample_qkv(pt.n, s.dim, s.seed + static_cast<std::uint64_t>(h));
    q.push_back(one.q), k.push_back(one.k), v.push_back(one.v);
  }
  LayerInput in;
  in.q = stack_heads(q), in.k = stack_heads(k), in.v = stack_heads(v);
  in.options = point_options(s, pt, s.causal);
  const FmaConfig& f = in.options.fma;
  if (in.options.method == Method::fma && pt.downsample != Downsample::average) {
    in.weights = random_downsample_weights(f, s.dim, num_levels(f, pt.n), s.seed);
  }
  return in;
}

// The model with the sweep's method at the point's settings: FMA at r, p (its learned
// weights apply only at its own r and p; with_attention refuses the rest, and the point is
// recorded as failed), or a peer with block r.
Model model_at(const Model& model, const SweepSpec& s, const SweepPoint& pt) {
  ModelAttention a = model.config().attention;
  parse_attention(s.method, &a);
  a.block_size = pt.block_size;
  if (s.method == "fma") a.rank = pt.rank, a.downsample = pt.downsample, a.count_multiplicity = pt.count_multiplicity;
  return model.with_attention(a);
}

// Mean output error, TV and KL of every head of one layer, appended to `out`.
void inspect_heads(const LayerInput& in, int layer, std::vector<HeadError>* out) {
  const std::int64_t heads = in.q.shape.size() >= 3 ? in.q.shape[in.q.shape.size() - 3] : 1;
  const std::int64_t n = in.q.shape[in.q.shape.size() - 2];
  for (std::int64_t h = 0; h < heads; ++h) {
    InspectRequest request;
    request.head = h;
    request.pool = (n + kMetricRows - 1) / kMetricRows;
    const Inspector inspector(in.q, in.k, in.v, in.options, in.weights, request);
    const Inspection map = inspector.map(request);
    HeadError e;
    e.layer = layer, e.head = static_cast<int>(h);
    e.output_rel_error = inspector.output_rel_error();
    for (std::int64_t r = 0; r < map.rows; ++r) e.mean_tv += map.row_tv[r] / map.rows, e.mean_kl += map.row_kl[r] / map.rows;
    out->push_back(e);
  }
}

// The fused FMA forward of all heads in the point's dtype: median of `repeats` after a
// warm-up, and its peak of tracked tensor bytes.
void time_fast_path(const LayerInput& in, const SweepPoint& pt, int repeats, SweepResult* r) {
  const DType dtype = pt.dtype;
  const auto cast = [&](const HostTensor& x) {
    return to_host(to_tensor(x).to(dtype == DType::f64 ? at::kDouble : at::kFloat).contiguous());
  };
  const HostTensor q = cast(in.q), k = cast(in.k), v = cast(in.v);
  AttendOptions options = in.options;
  options.impl = Impl::automatic;
  options.device = pt.device;  // cuda: attend() copies q, k, v there and the output back, timed with it
  const bool cuda = pt.device == Device::cuda;
  reset_tracked_peak();
  if (cuda) cuda_reset_peak_memory();
  const std::int64_t before = cuda ? 0 : tracked_live_bytes();
  attend(q, k, v, options, in.weights);  // warm-up
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    attend(q, k, v, options, in.weights);
    times.push_back(seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  r->latency_ms = 1e3 * times[times.size() / 2];
  r->peak_bytes = std::max<std::int64_t>(0, (cuda ? cuda_peak_memory_bytes() : tracked_peak_bytes()) - before);
}

// A Hugging Face model's sweep input: the model, its tokens and the chosen layer's q, k, v
// (all heads, or the chosen one), read once for every point.
struct HfSweep {
  std::shared_ptr<const HfModel> model;
  std::vector<std::int64_t> ids;
  HostTensor q, k, v;  // (H, N, head_dim), or (1, N, head_dim) for one head
};

HfSweep load_hf_sweep(const SweepSpec& s) {
  HfSweep hf;
  hf.model = std::make_shared<const HfModel>(HfModel::load(s.model));
  const HfConfig& c = hf.model->config();
  FMAV_CHECK(s.layer >= 0 && s.layer < c.layers, "--layer ", s.layer, " is not in [0, ", c.layers, ") of ", s.model);
  FMAV_CHECK(s.head >= -1 && s.head < c.heads, "--head ", s.head, " is not in [0, ", c.heads, ") of ", s.model);
  std::vector<std::int64_t> ids = hf_input_ids(s.model, s.ids, s.ids.empty() ? s.input : "", 0);
  FMAV_CHECK(s.offset >= 0 && s.offset < static_cast<std::int64_t>(ids.size()), "--offset ", s.offset,
             " is past the ", ids.size(), " tokens of the input");
  const std::int64_t n = std::min<std::int64_t>(c.max_positions, static_cast<std::int64_t>(ids.size()) - s.offset);
  hf.ids.assign(ids.begin() + s.offset, ids.begin() + s.offset + n);
  hf.model->check_window_covers(n, s.model + ": ");
  HfForward f = hf.model->layer_qkv(hf.ids, {s.layer});
  const auto pick = [&](HostTensor& t) {
    return s.head < 0 ? std::move(t) : to_host(to_tensor(t).narrow(0, s.head, 1).contiguous());
  };
  hf.q = pick(f.q[0]), hf.k = pick(f.k[0]), hf.v = pick(f.v[0]);
  const std::string where = " of layer " + std::to_string(s.layer) + " (" + s.model + ")";
  check_finite(hf.q, "q" + where), check_finite(hf.k, "k" + where), check_finite(hf.v, "v" + where);
  return hf;
}

// A point on a Hugging Face model's layer: the heads' errors (named by the model's head
// numbers) and the model's score with the layer's attention swapped for the point's method.
void measure_hf_point(const SweepSpec& s, const HfSweep& hf, const SweepPoint& pt, SweepResult* r, LayerInput* in) {
  in->q = hf.q, in->k = hf.k, in->v = hf.v;
  in->options = point_options(s, pt, hf.model->causal());  // as the model attends
  const FmaConfig& f = in->options.fma;
  if (in->options.method == Method::fma && pt.downsample != Downsample::average) {
    in->weights = random_downsample_weights(f, s.dim, num_levels(f, pt.n), s.seed);
  }
  inspect_heads(*in, s.layer, &r->heads);
  if (s.head >= 0) r->heads.back().head = s.head;
  if (in->options.method == Method::swin) return;  // 2D: no causal swap in a language model
  HfSwap swap;
  swap.layers = {s.layer}, swap.options = in->options, swap.weights = in->weights;
  const HfEval e = hf.model->evaluate(hf.ids, &swap);
  r->loss = e.loss, r->accuracy = e.accuracy;
}

SweepResult measure_point(const SweepSpec& s, const Model& model, const HfSweep* hf, const SweepPoint& pt,
                          std::int64_t index) {
  SweepResult r;
  r.index = index, r.point = pt, r.status = "ok";
  r.loss = r.bpc = r.accuracy = kNaN;
  const auto start = Clock::now();
  try {
    LayerInput first;
    if (hf != nullptr) {
      measure_hf_point(s, *hf, pt, &r, &first);
    } else if (s.is_model()) {
      const Model m = model_at(model, s, pt);
      const std::vector<LayerCapture> layers = capture_file_layers(m, s.input, s.offset);
      for (std::size_t l = 0; l < layers.size(); ++l) {
        const LayerCapture& c = layers[l];
        const std::string where = " of layer " + std::to_string(l) + " (" + s.model + " on " + s.input + ")";
        check_finite(c.q, "q" + where), check_finite(c.k, "k" + where), check_finite(c.v, "v" + where);
        const LayerInput in{c.q, c.k, c.v, c.options(), c.weights};
        inspect_heads(in, static_cast<int>(l), &r.heads);
        if (l == 0) first = in;
      }
      if (m.config().is_lm()) {
        EvalOptions eval;
        eval.data = s.input, eval.split = Split::all;
        const EvalResult e = evaluate(m, eval);
        r.loss = e.loss, r.bpc = e.bpc, r.accuracy = e.accuracy;
      } else if (std::filesystem::is_directory(s.input)) {
        EvalOptions eval;
        eval.data = s.input, eval.split = Split::all;
        const EvalResult e = evaluate(m, eval);
        r.loss = e.loss, r.accuracy = e.accuracy;
      }
    } else {
      first = synthetic_input(s, pt);
      inspect_heads(first, 0, &r.heads);
    }
    for (const HeadError& h : r.heads) {
      r.output_rel_error += h.output_rel_error / r.heads.size();
      r.mean_tv += h.mean_tv / r.heads.size(), r.mean_kl += h.mean_kl / r.heads.size();
    }
    time_fast_path(first, pt, s.repeats, &r);
  } catch (const std::exception& e) {
    const bool oom = is_out_of_memory(e);
    r = SweepResult();
    r.index = index, r.point = pt, r.status = oom ? "oom" : "failed";
    r.error = std::string(e.what()).substr(0, 500);
    r.output_rel_error = r.mean_tv = r.mean_kl = r.loss = r.bpc = r.accuracy = r.latency_ms = kNaN;
  }
  r.seconds = seconds_since(start);
  return r;
}

// The points already in the results file at `path` (none when there is no file); the file
// must hold this sweep and shard.
std::set<std::int64_t> done_points(const SweepSpec& spec, const std::string& path) {
  std::set<std::int64_t> done;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return done;
  const SweepFile file = read_sweep_file(path);
  FMAV_CHECK(same_sweep(file.spec, spec), path, " holds results of another sweep (its grid, source or settings "
             "differ); use another results file");
  FMAV_CHECK(file.spec.shard == spec.shard && file.spec.shards == spec.shards, path, " holds shard ",
             file.spec.shard, "/", file.spec.shards, ", not ", spec.shard, "/", spec.shards);
  for (const SweepResult& r : file.results) done.insert(r.index);
  return done;
}

// Opens the results file for appending: a new one gets the header; an existing one (checked
// by done_points) loses a cut-off last line first.
std::FILE* open_results(const SweepSpec& spec, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    const SweepFile file = read_sweep_file(path);
    if (file.truncated_tail) std::filesystem::resize_file(path, file.valid_bytes);
    std::FILE* out = std::fopen(path.c_str(), "ab");
    FMAV_CHECK(out != nullptr, path, ": cannot open for appending");
    return out;
  }
  std::FILE* out = std::fopen(path.c_str(), "wbx");
  FMAV_CHECK(out != nullptr, path, ": cannot create the results file");
  append_line_synced(out, sweep_header_json(spec), path);
  return out;
}

// Cost model for the estimate: the float64 inspection's full attention dominates, about
// n^2 D per head inspected (every layer's heads for a model).
double point_cost(const SweepSpec& s, const SweepPoint& p, std::int64_t layers) {
  return static_cast<double>(p.n) * static_cast<double>(p.n) * static_cast<double>(s.dim * s.heads * layers);
}

// Seconds per unit of point_cost on this machine, from one float64 inspection of a
// 1024-token synthetic head (about 50 ms), so the estimate exists before the first point.
double calibrate_seconds_per_cost() {
  constexpr std::int64_t n = 1024, d = 64;
  const SampleQkv sample = sample_qkv(n, d, 0);
  const auto start = Clock::now();
  InspectRequest request;
  request.pool = (n + kMetricRows - 1) / kMetricRows;
  const Inspector inspector(sample.q, sample.k, sample.v, FmaConfig{32, 4, false, Downsample::average, true}, {},
                            request);
  inspector.map(request);
  return seconds_since(start) / (static_cast<double>(n) * n * d);
}

// A point whose predicted memory (sweep_point_bytes) is over the limit (fmav/memory_budget.h): not
// run, recorded as oom with why, so that the sweep goes on instead of being killed.
bool predicted_out_of_memory(const SweepSpec& s, const SweepPoint& pt, std::int64_t index, SweepResult* r) {
  const std::string why = memory_shortfall(static_cast<double>(sweep_point_bytes(s, pt)));
  if (why.empty()) return false;
  *r = SweepResult();
  r->index = index, r->point = pt, r->status = "oom", r->error = why;  // "predicted to need ..."
  r->output_rel_error = r->mean_tv = r->mean_kl = r->loss = r->bpc = r->accuracy = r->latency_ms = kNaN;
  return true;
}

}  // namespace

namespace {

// A sweep ready to run: the spec with a model's n, heads and dim filled in, the model, the
// grid, this shard's points not yet in the results file, and the estimate for them.
struct Plan {
  SweepSpec spec;
  Model model;
  std::shared_ptr<const HfSweep> hf;  // a Hugging Face model's layer
  std::vector<SweepPoint> grid;
  std::vector<std::int64_t> todo;
  std::int64_t layers = 1;
  double seconds_per_cost = 0;
  SweepEstimate estimate;

  double seconds_left(std::size_t from) const {
    double total = 0;
    for (std::size_t u = from; u < todo.size(); ++u) total += seconds_per_cost * point_cost(spec, grid[todo[u]], layers);
    return total;
  }
};

Plan make_plan(const SweepSpec& spec, const std::string& results_path) {
  sweep_points(spec);  // checks the grid before anything is loaded
  for (Device d : spec.devices) resolve_device(d);  // cuda without one: the error names why
  // Before any tensor exists: tensors from another allocator must not meet the tracker's.
  install_memory_tracker();
  Plan plan;
  SweepSpec& s = plan.spec;
  s = spec;
  if (s.is_model() && is_hf_model_folder(s.model)) {
    FMAV_CHECK(s.layer >= 0, s.model, " is a Hugging Face model: its sweep is of one layer (--layer)");
    plan.hf = std::make_shared<const HfSweep>(load_hf_sweep(s));
    s.ns = {plan.hf->q.shape[1]};
    s.heads = plan.hf->q.shape[0], s.dim = plan.hf->q.shape[2];
    s.causal = true;  // a causal LM: the results file says how its points were run
  } else if (s.is_model()) {
    FMAV_CHECK(s.layer < 0 && s.ids.empty(), "--layer, --head and --ids are for Hugging Face models; ", s.model,
               " sweeps every layer and head");
    plan.model = Model::load(s.model);
    const std::int64_t n = capture_file(plan.model, s.input, 0, s.offset).tokens;  // checks the input
    s.ns = {n};
    s.heads = plan.model.config().heads, s.dim = plan.model.config().d_model / plan.model.config().heads;
    plan.layers = plan.model.config().layers;
  }
  plan.grid = sweep_points(s);  // the limits again, with a model's n, heads and dim
  FMAV_CHECK(plan.layers * s.heads <= kMaxSweepHeadErrors, "sweep: ", s.model, " has ", plan.layers, " layers of ",
             s.heads, " heads, more than the ", kMaxSweepHeadErrors, " per-head errors a results line holds");
  const std::set<std::int64_t> done = done_points(s, results_path);
  SweepEstimate& e = plan.estimate;
  for (std::size_t i = 0; i < plan.grid.size(); ++i) {
    if (static_cast<int>(i % s.shards) != s.shard) continue;
    ++e.points;
    if (done.count(static_cast<std::int64_t>(i))) {
      ++e.done;
    } else {
      plan.todo.push_back(static_cast<std::int64_t>(i));
      e.peak_bytes = std::max(e.peak_bytes, sweep_point_bytes(s, plan.grid[i]));
    }
  }
  plan.seconds_per_cost = plan.todo.empty() ? 0 : calibrate_seconds_per_cost();
  e.seconds = plan.seconds_left(0);
  return plan;
}

}  // namespace

SweepEstimate estimate_sweep(const SweepSpec& spec, const std::string& results_path) {
  return make_plan(spec, results_path).estimate;
}

std::vector<SweepResult> run_sweep(const SweepSpec& spec, const std::string& results_path,
                                   const SweepProgressFn& progress, const std::atomic<bool>* cancel) {
  Plan plan = make_plan(spec, results_path);
  std::FILE* file = open_results(plan.spec, results_path);
  SweepProgress p;
  p.estimate = plan.estimate;
  if (progress) progress(p);
  std::vector<SweepResult> results;
  try {
    for (std::size_t t = 0; t < plan.todo.size(); ++t) {
      if (cancel != nullptr && cancel->load()) break;
      const SweepPoint& pt = plan.grid[plan.todo[t]];
      SweepResult predicted;
      const bool skipped = predicted_out_of_memory(plan.spec, pt, plan.todo[t], &predicted);
      results.push_back(skipped ? predicted : measure_point(plan.spec, plan.model, plan.hf.get(), pt, plan.todo[t]));
      append_line_synced(file, sweep_result_json(results.back()), results_path);
      if (t == 0 && !skipped) plan.seconds_per_cost = results.back().seconds / point_cost(plan.spec, pt, plan.layers);  // measured
      p.estimate.seconds = plan.seconds_left(t + 1);
      p.finished = static_cast<std::int64_t>(results.size());
      p.last = &results.back();
      if (progress) progress(p);
    }
  } catch (...) {
    std::fclose(file);
    throw;
  }
  std::fclose(file);
  return results;
}

}  // namespace fmav
