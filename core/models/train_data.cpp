// Training data: text splits and image folders loaded for a model, and the deterministic
// batches of each training step.

#include "train_internal.h"

#include <algorithm>
#include <filesystem>

#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/segments.h"
#include "fmav/tensor_io.h"
#include "model_internal.h"
#include "base/random.h"

namespace fmav {
namespace {

constexpr std::int64_t kIgnore = -100;  // cross-entropy's ignore_index
constexpr std::int64_t kValidEvery = 10;

void text_splits(Dataset* d, std::int64_t align) {
  const std::int64_t n = static_cast<std::int64_t>(d->bytes.size());
  // 90 / 5 / 5 %: for enwik8's 10^8 bytes exactly the usual 90M / 5M / 5M.
  std::int64_t a = n / 100 * 90 + n % 100 * 90 / 100, b = n / 100 * 95 + n % 100 * 95 / 100;
  if (align > 1) a -= a % align, b -= b % align;
  const std::int64_t cuts[5] = {0, a, b, n, 0};
  for (int s = 0; s < 3; ++s) d->begin[s] = cuts[s], d->end[s] = cuts[s + 1];
  d->begin[static_cast<int>(Split::all)] = 0, d->end[static_cast<int>(Split::all)] = n;
}

void load_text(Dataset* d, const std::string& path, const std::string& answers, std::int64_t align) {
  d->bytes = read_text(path);
  FMAV_CHECK(d->bytes.size() >= 64, path, ": a text to train or evaluate on needs >= 64 bytes, got ",
             d->bytes.size());
  if (!answers.empty()) {
    const HostTensor mask = read_npy(answers);
    FMAV_CHECK(mask.dtype == DType::u8 && mask.shape.size() == 1 &&
                   mask.shape[0] == static_cast<std::int64_t>(d->bytes.size()),
               answers, ": the answer mask must be uint8 of shape [", d->bytes.size(), "] (one per byte of ",
               path, "), got ", dtype_name(mask.dtype), " ", shape_str(mask.shape));
    d->answers.assign(mask.data.begin(), mask.data.end());
  }
  text_splits(d, answers.empty() ? 1 : align);
}

void load_images(Dataset* d, const std::string& path, const ModelConfig& config, const ProgressFn& progress) {
  const ImageFolder folder = list_image_folder(path);
  FMAV_CHECK(config.classes.empty() || folder.classes == config.classes, path, ": its classes (",
             folder.classes.size(), ") differ from the model's (", config.classes.size(),
             "); the folder's sub-folders must be the model's classes");
  d->is_text = false;
  d->classes = folder.classes;
  const std::int64_t M = static_cast<std::int64_t>(folder.items.size()), S = config.image_size;
  d->pixels = at::empty({M, S, S, 3}, at::kFloat);
  d->labels = at::empty({M}, at::kLong);
  std::vector<std::int64_t> seen(folder.classes.size(), 0);
  for (std::int64_t i = 0; i < M; ++i) {
    const auto& [file, label] = folder.items[i];
    const Image image = fit_image(read_image(file), S, S);
    std::copy(image.rgb.begin(), image.rgb.end(), d->pixels[i].data_ptr<float>());
    d->labels.data_ptr<std::int64_t>()[i] = label;
    (++seen[label] % kValidEvery == 0 ? d->valid_items : d->train_items).push_back(i);
    if (progress) progress(i + 1, M, "loading images");
  }
  FMAV_CHECK(!d->train_items.empty(), path, ": no training images");
}


// Whether a folder has both images/ and annotations/ (then it is no class-per-folder set).
bool looks_segmented(const std::string& path) {
  std::error_code ec;
  return is_segment_folder(path) && std::filesystem::is_directory(std::filesystem::path(path) / "annotations", ec);
}

// A segmentation folder (fmav/segments.h): training images first, then validation ones.
void load_segments(Dataset* d, const std::string& path, const ModelConfig& config, const ProgressFn& progress) {
  const SegmentFolder folder = list_segment_folder(path);
  FMAV_CHECK(config.classes.empty() || folder.classes == config.classes, path, ": its ", folder.classes.size(),
             " classes differ from the model's ", config.classes.size(), " (classes.json, or ADE20K's 150)");
  d->is_text = false, d->is_segments = true;
  d->classes = folder.classes;
  const std::int64_t T = static_cast<std::int64_t>(folder.training.size());
  const std::int64_t M = T + static_cast<std::int64_t>(folder.validation.size()), S = config.image_size;
  d->pixels = at::empty({M, S, S, 3}, at::kFloat);
  d->masks = at::empty({M, S, S}, at::kShort);  // int16: classes < 255 and -1; widened per batch
  for (std::int64_t i = 0; i < M; ++i) {
    const SegmentItem& item = i < T ? folder.training[i] : folder.validation[i - T];
    const SegmentSample sample = read_segment_sample(folder, item, S);
    std::copy(sample.image.rgb.begin(), sample.image.rgb.end(), d->pixels[i].data_ptr<float>());
    std::copy(sample.classes.begin(), sample.classes.end(), d->masks[i].data_ptr<std::int16_t>());
    (i < T ? d->train_items : d->valid_items).push_back(i);
    if (progress) progress(i + 1, M, "loading images");
  }
}

}  // namespace

std::vector<std::string> data_classes(const ModelConfig& config, const std::string& data) {
  if (config.is_lm()) return {};
  if (config.is_segmenter()) return list_segment_folder(data).classes;
  FMAV_CHECK(!looks_segmented(data), data, " is a segmentation folder (images/, annotations/); train a "
             "segmenter on it (--arch segmenter), not an image classifier");
  return list_image_folder(data).classes;
}

Dataset load_dataset(const std::string& path, const ModelConfig& config, const std::string& answers,
                     std::int64_t align, const ProgressFn& progress) {
  FMAV_CHECK(!path.empty(), "no data given (a text file or an image folder)");
  Dataset d;
  const bool folder = std::filesystem::is_directory(path);
  if (config.is_lm()) {
    FMAV_CHECK(!folder, path, " is a folder; a ", to_string(config.architecture), " trains on a text file");
    load_text(&d, path, answers, align);
  } else if (config.is_segmenter()) {
    FMAV_CHECK(folder || !std::filesystem::exists(path), path, " is a file; a segmenter trains on a folder with "
               "images/ and annotations/ (the ADE20K layout)");
    FMAV_CHECK(answers.empty(), "an answer mask is for text, not images");
    load_segments(&d, path, config, progress);
  } else {
    FMAV_CHECK(folder || !std::filesystem::exists(path), path,
               " is a file; an image classifier trains on a folder with one sub-folder per class");
    FMAV_CHECK(!looks_segmented(path), path, " is a segmentation folder (images/, annotations/); an image "
               "classifier trains on a folder with one sub-folder per class");
    FMAV_CHECK(answers.empty(), "an answer mask is for text, not images");
    load_images(&d, path, config, progress);
  }
  return d;
}

Batch train_batch(const Dataset& data, const ModelConfig& config, const TrainOptions& options, std::int64_t step) {
  SplitMix64 rng(options.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(step) + 1);
  const std::int64_t B = options.batch;
  Batch batch;
  if (!data.is_text) {
    at::Tensor index = at::empty({B}, at::kLong);
    for (std::int64_t b = 0; b < B; ++b) {
      index.data_ptr<std::int64_t>()[b] = data.train_items[rng.next() % data.train_items.size()];
    }
    batch.inputs = data.pixels.index_select(0, index);
    batch.targets = (data.is_segments ? data.masks : data.labels).index_select(0, index).to(at::kLong);
    return batch;
  }
  const std::int64_t begin = data.begin[0], len = data.end[0] - begin;
  const bool causal = config.architecture == Architecture::causal_lm;
  // The window (plus the next byte, causal) must fit in the training split.
  const std::int64_t n = std::min(config.context, len - (causal ? 1 : 0));
  FMAV_CHECK(n >= 2, "the training split (", len, " bytes) is too short for one window");
  const std::int64_t starts = std::max<std::int64_t>(1, (len - n - (causal ? 1 : 0)) / options.align + 1);
  std::vector<at::Tensor> inputs, targets;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t s = begin + static_cast<std::int64_t>(rng.next() % starts) * options.align;
    if (causal) {
      inputs.push_back(byte_tokens(data.bytes, s, n));
      targets.push_back(byte_tokens(data.bytes, s + 1, n));
      continue;
    }
    // BERT's masking: of the chosen positions 80 % become the mask token, 10 % a random byte,
    // 10 % stay; the loss is on the chosen positions only.
    at::Tensor x = byte_tokens(data.bytes, s, n), y = at::full({n}, kIgnore, at::kLong);
    std::int64_t *px = x.data_ptr<std::int64_t>(), *py = y.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (rng.uniform() >= options.mask_rate) continue;
      py[i] = px[i];
      const double u = rng.uniform();
      px[i] = u < 0.8 ? kMaskToken : u < 0.9 ? static_cast<std::int64_t>(rng.next() % kByteVocab) : px[i];
    }
    if (at::all(y == kIgnore).item<bool>()) py[0] = px[0], px[0] = kMaskToken;
    inputs.push_back(x);
    targets.push_back(y);
  }
  batch.inputs = at::stack(inputs);
  batch.targets = at::stack(targets);
  return batch;
}

at::Tensor batch_loss(const Model& model, const Batch& batch) {
  // The loss in float32 where the logits are (bf16 autocast hands bfloat16 logits).
  if (model.config().is_segmenter()) {  // per scored pixel; a batch with none gives 0
    const at::Tensor logits = segmenter_logits(model, batch.inputs).to(at::kFloat);
    const at::Tensor targets = batch.targets.to(logits.device());
    const at::Tensor sum = at::cross_entropy_loss(logits, targets, {}, at::Reduction::Sum, kIgnoreClass);
    return sum / std::max<std::int64_t>(1, (targets >= 0).sum().item<std::int64_t>());
  }
  if (!model.config().is_lm()) {
    const at::Tensor logits = image_logits(model, batch.inputs).to(at::kFloat);
    return at::cross_entropy_loss(logits, batch.targets.to(logits.device()));
  }
  const at::Tensor logits = lm_logits(model, batch.inputs).to(at::kFloat);
  return at::cross_entropy_loss(logits.reshape({-1, kByteVocab}), batch.targets.to(logits.device()).reshape({-1}), {},
                                at::Reduction::Mean, kIgnore);
}

}  // namespace fmav
