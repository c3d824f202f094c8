// Segmentation folders in the ADE20K layout (fmav/segments.h): listing, classes.json, one
// image and its label map read, checked and fitted to a model's size, and the scores of a
// confusion matrix.

#include "fmav/segments.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>

#include "fmav/error.h"
#include "fmav/tensor_io.h"
#include "json_util.h"

namespace fmav {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxClassesBytes = 1u << 20;
const char* const kSplits[2] = {"training", "validation"};

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// The visible image files of a folder, sorted by name.
std::vector<fs::path> image_files(const fs::path& folder) {
  std::error_code ec;
  std::vector<fs::path> out;
  fs::directory_iterator it(folder, ec);
  FMAV_CHECK(!ec, folder.string(), ": cannot list the folder: ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    FMAV_CHECK(!ec, folder.string(), ": cannot list the folder: ", ec.message());
    const fs::path& p = it->path();
    if (p.filename().string().rfind('.', 0) != 0 && is_image_file(p) && it->is_regular_file(ec)) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void read_classes_json(const fs::path& file, SegmentFolder* folder) {
  const std::string name = file.string();
  const Json j = parse_json_object(read_file_bytes(name, kMaxClassesBytes), name, "fmav-segments", 1,
                                   kMaxClassesBytes, 4);
  json_check_keys(j, {"format", "format_version", "classes", "ignore_zero"}, name);
  folder->ignore_zero = json_bool(j, "ignore_zero", name);
  const Json& classes = json_key(j, "classes", name);
  FMAV_CHECK(classes.is_array() && classes.size() >= 2 && classes.size() <= 255, name,
             ": \"classes\" must be an array of 2..255 names");
  for (const Json& c : classes) {
    FMAV_CHECK(c.is_string() && !c.get<std::string>().empty(), name, ": every class must be a non-empty name, got ",
               c.dump());
    folder->classes.push_back(c.get<std::string>());
  }
  FMAV_CHECK(!folder->ignore_zero || folder->classes.size() <= 254, name, ": with ignore_zero, at most 254 classes");
}

// The folder's classes and label rule: root/classes.json, else ADE20K's.
void read_folder_classes(const std::string& root, SegmentFolder* folder) {
  std::error_code ec;
  folder->root = root;
  const fs::path classes_json = fs::path(root) / "classes.json";
  if (fs::exists(classes_json, ec)) {
    read_classes_json(classes_json, folder);
  } else {
    for (int c = 1; c <= kAde20kClasses; ++c) folder->classes.push_back("ade" + std::to_string(c));
  }
}

// The root of root/annotations/<split>/NAME.png (or images/), "" when `file` is not there.
std::string layout_root(const std::string& file, const char* kind) {
  const fs::path p = fs::path(file).lexically_normal();
  const fs::path split = p.parent_path(), sub = split.parent_path();
  const std::string split_name = split.filename().string();
  if (sub.filename() != kind || (split_name != kSplits[0] && split_name != kSplits[1])) return "";
  return sub.parent_path().empty() ? "." : sub.parent_path().string();
}

}  // namespace

bool is_segment_folder(const std::string& root) {
  std::error_code ec;
  return !root.empty() && fs::is_directory(fs::path(root) / "images", ec);
}

SegmentFolder list_segment_folder(const std::string& root) {
  std::error_code ec;
  FMAV_CHECK(fs::is_directory(root, ec), root, ": no such folder (expected a segmentation folder with images/ and "
             "annotations/)");
  const fs::path images = fs::path(root) / "images", annotations = fs::path(root) / "annotations";
  FMAV_CHECK(fs::is_directory(images, ec), root, ": has no images/ folder (expected images/{training,validation}/ "
             "and annotations/{training,validation}/, the ADE20K layout)");
  FMAV_CHECK(fs::is_directory(annotations, ec), root, ": has images/ but no annotations/ folder (each image needs "
             "its label map annotations/<split>/<name>.png)");
  SegmentFolder folder;
  read_folder_classes(root, &folder);
  for (int s = 0; s < 2; ++s) {
    const fs::path split = images / kSplits[s];
    FMAV_CHECK(fs::is_directory(split, ec), root, ": has no images/", kSplits[s], "/ folder");
    std::vector<SegmentItem>& items = s == 0 ? folder.training : folder.validation;
    for (const fs::path& image : image_files(split)) {
      const fs::path annotation = annotations / kSplits[s] / image.filename().replace_extension(".png");
      FMAV_CHECK(fs::is_regular_file(annotation, ec), image.string(), ": has no annotation (looked for ",
                 annotation.string(), ")");
      items.push_back({image.string(), annotation.string()});
    }
    FMAV_CHECK(!items.empty(), split.string(), ": holds no image (.jpg, .jpeg or .png)");
  }
  return folder;
}

SegmentSample read_segment_sample(const SegmentFolder& folder, const SegmentItem& item, std::int64_t size) {
  const Image image = read_image(item.image);
  const LabelImage labels = read_label_png(item.annotation);
  FMAV_CHECK(labels.height == image.height && labels.width == image.width, item.annotation, ": the label map is ",
             labels.width, " x ", labels.height, " pixels but its image ", item.image, " is ", image.width, " x ",
             image.height, " (width x height)");
  const std::int64_t classes = static_cast<std::int64_t>(folder.classes.size());
  const std::int64_t highest = folder.ignore_zero ? classes : classes - 1;
  for (std::size_t i = 0; i < labels.labels.size(); ++i) {
    const std::int64_t v = labels.labels[i];
    FMAV_CHECK(v <= highest, item.annotation, ": label ", v, " at pixel (", static_cast<std::int64_t>(i) % labels.width,
               ", ", static_cast<std::int64_t>(i) / labels.width, ") is out of range: ", folder.root, " has ", classes,
               " classes, labels 0..", highest, folder.ignore_zero ? " (0 ignored)" : "");
  }
  SegmentSample out;
  out.image = fit_image(image, size, size);
  // The crop fit_image takes (cover, centred), sampled at pixel centres by nearest neighbour.
  const double h = static_cast<double>(image.height), w = static_cast<double>(image.width);
  const double crop = std::min(h, w);
  const double y0 = (h - crop) / 2, x0 = (w - crop) / 2, step = crop / static_cast<double>(size);
  out.classes.resize(static_cast<std::size_t>(size * size));
  for (std::int64_t y = 0; y < size; ++y) {
    const std::int64_t sy = std::clamp<std::int64_t>(static_cast<std::int64_t>(y0 + (y + 0.5) * step), 0, image.height - 1);
    for (std::int64_t x = 0; x < size; ++x) {
      const std::int64_t sx =
          std::clamp<std::int64_t>(static_cast<std::int64_t>(x0 + (x + 0.5) * step), 0, image.width - 1);
      const std::int32_t v = labels.labels[static_cast<std::size_t>(sy * image.width + sx)];
      out.classes[static_cast<std::size_t>(y * size + x)] =
          folder.ignore_zero ? (v == 0 ? kIgnoreClass : v - 1) : v;
    }
  }
  return out;
}

SegmentScores segment_scores(const std::vector<std::int64_t>& confusion, std::int64_t classes) {
  FMAV_CHECK(classes >= 1 && static_cast<std::int64_t>(confusion.size()) == classes * classes,
             "the confusion matrix must be ", classes, " x ", classes, ", got ", confusion.size(), " counts");
  SegmentScores s;
  std::int64_t correct = 0;
  for (std::int64_t v : confusion) s.pixels += v;
  FMAV_CHECK(s.pixels > 0, "no scored pixels (every label ignored?)");
  double sum = 0;
  int present = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    std::int64_t truth = 0, predicted = 0;
    for (std::int64_t o = 0; o < classes; ++o) truth += confusion[c * classes + o], predicted += confusion[o * classes + c];
    const std::int64_t tp = confusion[c * classes + c], uni = truth + predicted - tp;
    correct += tp;
    s.iou.push_back(uni > 0 ? static_cast<double>(tp) / static_cast<double>(uni)
                            : std::numeric_limits<double>::quiet_NaN());
    if (uni > 0) sum += s.iou.back(), ++present;
  }
  s.miou = sum / present;
  s.pixel_accuracy = static_cast<double>(correct) / static_cast<double>(s.pixels);
  return s;
}

SegmentScores score_segment_mask(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& truth,
                                 std::int64_t classes) {
  FMAV_CHECK(classes >= 1, "classes must be >= 1, got ", classes);
  FMAV_CHECK(predicted.size() == truth.size(), "the ground-truth mask has ", truth.size(),
             " pixels but the prediction ", predicted.size());
  std::vector<std::int64_t> confusion(static_cast<std::size_t>(classes * classes), 0);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const std::int32_t t = truth[i], p = predicted[i];
    FMAV_CHECK(t == kIgnoreClass || (t >= 0 && t < classes), "the ground-truth mask's class ", t, " at pixel ", i,
               " is out of range 0..", classes - 1);
    FMAV_CHECK(p >= 0 && p < classes, "the predicted class ", p, " at pixel ", i, " is out of range 0..", classes - 1);
    if (t != kIgnoreClass) ++confusion[static_cast<std::size_t>(t * classes + p)];
  }
  return segment_scores(confusion, classes);
}

std::string find_segment_annotation(const std::string& image) {
  const std::string root = layout_root(image, "images");
  if (root.empty()) return "";
  const fs::path p(image);
  const fs::path annotation =
      fs::path(root) / "annotations" / p.parent_path().filename() / p.filename().replace_extension(".png");
  std::error_code ec;
  return fs::is_regular_file(annotation, ec) ? annotation.string() : "";
}

SegmentSample read_segment_mask(const std::string& image, const std::string& annotation,
                                const std::vector<std::string>& classes, std::int64_t size) {
  const std::string root = layout_root(annotation, "annotations");
  SegmentFolder folder;
  if (!root.empty()) {
    read_folder_classes(root, &folder);
    FMAV_CHECK(folder.classes.size() == classes.size(), annotation, ": its folder ", root, " has ",
               folder.classes.size(), " classes but the model ", classes.size());
  } else {
    folder.root = "the model", folder.classes = classes, folder.ignore_zero = false;
  }
  return read_segment_sample(folder, {image, annotation}, size);
}

}  // namespace fmav
