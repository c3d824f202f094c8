// A Hugging Face model as the viewer's source (hf_source.h): the model and its tokens are
// kept between runs so that a layer, head or FMA change reads nothing again; a layer's q, k, v
// come from HfModel::layer_qkv, which never builds the N x N probabilities, so the large-n
// overview path (pooled maps) sees a long input at the cost of one layer's tensors.

#include "hf_source.h"
#include "qkv_source.h"

#include "fmav/error.h"
#include "fmav/hf_fit.h"
#include "fmav/hf_tokenizer.h"
#include "fmav/input.h"
#include "fmav/tensor_io.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

namespace fmav::viewer {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kMaxHfConfigBytes = 1u << 20;  // config.json, read for the sidebar

std::string name_of(const std::string& path) { return fs::path(path).filename().string(); }

fs::file_time_type stamp_of(const std::string& path) {
  std::error_code ec;
  return fs::last_write_time(path, ec);  // unreadable: the read says why
}

// The bytes of one UTF-8 character starting at `at`, or 0 when the bytes there are not one.
std::size_t utf8_length(const std::string& s, std::size_t at) {
  const auto byte = static_cast<unsigned char>(s[at]);
  const std::size_t n = byte < 0x80 ? 1 : (byte >> 5) == 6 ? 2 : (byte >> 4) == 14 ? 3 : (byte >> 3) == 30 ? 4 : 0;
  if (n == 0 || at + n > s.size()) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[at + i]) >> 6) != 2) return 0;
  }
  return n;
}

// An image classifier's input: the image as the model takes it, and its tokens' names.
std::shared_ptr<const HfTokens> image_tokens(const MapParams& params, const HfModel& model) {
  FMAV_CHECK(!params.input.empty(), name_of(params.model), " is a ", model.config().model_type,
             " image classifier: open an image (PNG, JPEG, BMP) as its input");
  FMAV_CHECK(!is_ids_file(params.input), name_of(params.model), " is a ", model.config().model_type,
             " image classifier: it reads an image, not token ids (", name_of(params.input), ")");
  FMAV_CHECK(params.offset == 0, "a token offset does not apply to an image (", name_of(params.input), ")");
  auto tokens = std::make_shared<HfTokens>();
  tokens->pixels = model.pixels(read_image(params.input));
  const HfConfig& c = model.config();
  const std::int64_t rows = c.image_height / c.patch_height, cols = c.image_width / c.patch_width;
  tokens->pieces.push_back("[CLS]");
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t col = 0; col < cols; ++col) {
      tokens->pieces.push_back("patch " + std::to_string(r) + "," + std::to_string(col));
    }
  }
  tokens->count = tokens->total = static_cast<std::int64_t>(tokens->pieces.size());
  return tokens;
}

}  // namespace

namespace {

// What the sidebar asks of a folder every frame, read from its config.json once per change.
struct FolderFacts {
  bool hf = false;      // a Hugging Face model folder
  bool causal = true;   // its model attends causally (true too when config.json cannot be parsed)
};

FolderFacts folder_facts(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::pair<fs::file_time_type, FolderFacts>> known;
  if (path.empty()) return {};
  const std::string config = (fs::path(path) / "config.json").string();
  const fs::file_time_type stamp = stamp_of(config);
  std::lock_guard<std::mutex> lock(mutex);
  const auto found = known.find(path);
  if (found != known.end() && found->second.first == stamp) return found->second.second;
  FolderFacts facts;
  facts.hf = is_hf_model_folder(path);
  if (facts.hf) {
    try {
      facts.causal = parse_hf_config(read_file_bytes(config, kMaxHfConfigBytes), config).kind == HfKind::causal_lm;
    } catch (const Error&) {  // a config.json that lies: the worker's load names the fault
    }
  }
  known[path] = {stamp, facts};
  return facts;
}

}  // namespace

bool is_hf_folder(const std::string& path) { return folder_facts(path).hf; }

bool hf_folder_causal(const std::string& path) { return folder_facts(path).causal; }

bool is_ids_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".npy" || ext == ".safetensors";
}

std::shared_ptr<const HfModel> load_hf_model(const std::string& folder) {
  static std::mutex mutex;
  static std::string cached_folder;
  static fs::file_time_type cached_stamp;
  static std::shared_ptr<const HfModel> cached;
  const fs::file_time_type stamp = stamp_of((fs::path(folder) / "config.json").string());
  std::lock_guard<std::mutex> lock(mutex);
  if (!cached || cached_folder != folder || cached_stamp != stamp) {
    cached.reset();  // the old weights go before the new ones are read
    cached = std::make_shared<const HfModel>(HfModel::load(folder));
    cached_folder = folder, cached_stamp = stamp;
  }
  return cached;
}

std::shared_ptr<const HfTokens> load_hf_tokens(const MapParams& params, const HfModel& model) {
  static std::mutex mutex;
  static std::string cached_model, cached_input;
  static fs::file_time_type cached_stamp;
  static std::int64_t cached_offset = -1;
  static std::shared_ptr<const HfTokens> cached;
  const fs::file_time_type stamp = stamp_of(params.input);
  std::lock_guard<std::mutex> lock(mutex);
  if (cached && cached_model == params.model && cached_input == params.input && cached_stamp == stamp &&
      cached_offset == params.offset) {
    return cached;
  }
  if (model.kind() == HfKind::image_classifier) {
    cached = image_tokens(params, model);
    cached_model = params.model, cached_input = params.input, cached_stamp = stamp, cached_offset = params.offset;
    return cached;
  }
  FMAV_CHECK(!params.input.empty(), name_of(params.model), " is a Hugging Face model: open a text file, or ",
             "token ids in a .npy, as its input");
  const bool ids_file = is_ids_file(params.input);
  const std::string tokenizer = (fs::path(params.model) / "tokenizer.json").string();
  std::error_code ec;
  const bool has_tokenizer = fs::exists(tokenizer, ec);
  FMAV_CHECK(ids_file || has_tokenizer, name_of(params.model), " has no tokenizer.json to read ",
             name_of(params.input), ": open token ids (a .npy or .safetensors of int64) as its input");
  std::vector<std::int64_t> ids =
      hf_input_ids(params.model, ids_file ? params.input : "", ids_file ? "" : params.input, 0);
  auto tokens = std::make_shared<HfTokens>();
  tokens->total = static_cast<std::int64_t>(ids.size());
  FMAV_CHECK(params.offset >= 0 && params.offset < tokens->total, "token offset ", params.offset, " is past the ",
             tokens->total, " tokens of ", name_of(params.input));
  const std::int64_t limit = std::min(model.config().max_positions, kMaxTokens);
  const std::int64_t n = std::min(limit, tokens->total - params.offset);
  tokens->ids.assign(ids.begin() + params.offset, ids.begin() + params.offset + n);
  tokens->count = n;
  if (has_tokenizer) {
    const HfTokenizer t = HfTokenizer::load(tokenizer);
    for (std::int64_t id : tokens->ids) {
      try {
        tokens->pieces.push_back(t.piece(id));
      } catch (const Error&) {  // an id the tokenizer lacks (ids from a file): the model says so
        tokens->pieces.push_back("?");
      }
    }
  }
  cached = tokens;
  cached_model = params.model, cached_input = params.input, cached_stamp = stamp, cached_offset = params.offset;
  return cached;
}

AttendOptions hf_options(const MapParams& params, std::int64_t n, bool causal) {
  MapParams as_model = params;
  as_model.causal = causal;
  return source_options(as_model, n);
}

namespace {

// A fitted folder's swap (fmav_swap.json and its weights), kept while the folder is unchanged;
// null for a folder that was not fitted.
std::shared_ptr<const HfFittedSwap> load_fitted_swap(const std::string& folder, const HfConfig& config) {
  static std::mutex mutex;
  static std::string cached_folder;
  static fs::file_time_type cached_stamp;
  static std::shared_ptr<const HfFittedSwap> cached;
  if (!has_hf_swap(folder)) return nullptr;
  const fs::file_time_type stamp = stamp_of((fs::path(folder) / kHfSwapFile).string());
  std::lock_guard<std::mutex> lock(mutex);
  if (!cached || cached_folder != folder || cached_stamp != stamp) {
    cached = std::make_shared<const HfFittedSwap>(load_hf_swap(folder, config));
    cached_folder = folder, cached_stamp = stamp;
  }
  return cached;
}

// FMA's weights for the layers: drawn from the seed, and a fitted folder's own for its swapped
// layers when the sidebar asks for FMA at the fit's settings and the levels it fitted cover n.
void choose_weights(const MapParams& params, const HfConfig& c, std::int64_t n, HfLayers& out) {
  const FmaConfig& fma = out.options.fma;
  if (out.options.method != Method::fma) return;
  if (fma.downsample != Downsample::average) {
    out.weights = random_downsample_weights(fma, c.head_dim, num_levels(fma, n), params.seed);
    out.weights_note = "FMA's weights drawn from seed " + std::to_string(params.seed);
  }
  const std::shared_ptr<const HfFittedSwap> fit = load_fitted_swap(params.model, c);
  if (!fit) return;
  const FmaConfig& f = fit->swap.options.fma;
  const bool same = f.block_size == fma.block_size && f.rank == fma.rank && f.downsample == fma.downsample &&
                    f.count_multiplicity == fma.count_multiplicity;
  const std::string settings = "r = " + std::to_string(f.block_size) + ", p = " + std::to_string(f.rank) + ", " +
                               to_string(f.downsample);
  if (!same) {
    out.weights_note += (out.weights_note.empty() ? "" : "; ") + std::string("the folder's fitted weights are for ") +
                        settings;
    return;
  }
  if (num_levels(fma, n) > num_levels(f, fit->tokens)) {
    out.weights_note += "; the fitted weights cover " + std::to_string(fit->tokens) + " tokens, not " +
                        std::to_string(n);
    return;
  }
  std::string fitted_layers;
  for (int l : out.layers) {
    const auto found = fit->swap.layer_weights.find(l);
    if (found == fit->swap.layer_weights.end()) continue;
    out.fitted[l] = found->second;
    fitted_layers += (fitted_layers.empty() ? "" : ", ") + std::to_string(l);
  }
  if (!fitted_layers.empty()) out.weights_note = "FMA's fitted weights (fmav fit) in layer " + fitted_layers;
}

}  // namespace

HfLayers hf_layers(const MapParams& params, const std::vector<int>& layers) {
  HfLayers out;
  out.model = load_hf_model(params.model);
  const HfConfig& c = out.model->config();
  for (int l : layers) {
    FMAV_CHECK(l >= 0 && l < c.layers, "layer ", l, " is not in [0, ", c.layers, ") of ", name_of(params.model));
  }
  out.tokens = load_hf_tokens(params, *out.model);
  const std::int64_t n = out.tokens->count;
  out.layers = layers;
  if (c.kind == HfKind::image_classifier) {
    const HfForward f = out.model->forward_pixels(out.tokens->pixels, true);
    for (int l : layers) out.q.push_back(f.q[l]), out.k.push_back(f.k[l]), out.v.push_back(f.v[l]);
  } else {
    out.model->check_window_covers(n, name_of(params.model) + ": ");
    const HfForward f = out.model->layer_qkv(out.tokens->ids, layers);
    out.q = f.q, out.k = f.k, out.v = f.v;
  }
  out.options = hf_options(params, n, out.model->causal());
  choose_weights(params, c, n, out);
  return out;
}

std::string piece_label(const std::string& piece) {
  std::string out;
  for (std::size_t i = 0; i < piece.size();) {
    const auto byte = static_cast<unsigned char>(piece[i]);
    const std::size_t n = utf8_length(piece, i);
    if (byte == '\n') {
      out += "\xc2\xb6";  // ¶
    } else if (byte == '\t') {
      out += "\xc2\xbb";  // »
    } else if (n == 0 || (n == 1 && (byte < 32 || byte == 127))) {
      out += "\xc2\xb7";  // ·
    } else {
      out += piece.substr(i, n);
    }
    i += n == 0 ? 1 : n;
  }
  return out.empty() ? "\xc2\xb7" : out;
}

}  // namespace fmav::viewer
