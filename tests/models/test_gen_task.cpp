// Tests of the synthetic data (fmav/gen_task.h), in the test_input binary: determinism, exact
// record layout, answer masks that mark exactly the answers, the distance between a clue and
// its query, and a shapes set that the image folder reader accepts.

#include "fmav/gen_task.h"

#include "fmav/error.h"
#include "fmav/input.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace fmav_test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::int64_t> kRecordLens = {64, 65, 100, 127, 256, 512, 1000, 4096};

void expect_records(const fmav::TextTask& task, std::int64_t records, std::int64_t record_len) {
  ASSERT_EQ(task.text.size(), static_cast<std::size_t>(records * record_len));
  ASSERT_EQ(task.answer_mask.size(), task.text.size());
  for (std::size_t i = 0; i < task.text.size(); ++i) {
    const char c = task.text[i];
    const bool end = (i + 1) % static_cast<std::size_t>(record_len) == 0;
    ASSERT_EQ(c == '\n', end) << "byte " << i << " of records of " << record_len;
    if (!end) {
      ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << i << " is " << int(c);
    }
    ASSERT_LE(task.answer_mask[i], 1);
  }
}

TEST(KvRecall, RecordsAreExactAndAnswersAreFarFromTheirKeys) {
  for (const std::int64_t len : kRecordLens) {
    const std::int64_t records = 5;
    const fmav::TextTask task = fmav::make_kv_recall(records, len, 17);
    expect_records(task, records, len);
    for (std::int64_t r = 0; r < records; ++r) {
      const std::string record = task.text.substr(static_cast<std::size_t>(r * len), static_cast<std::size_t>(len));
      const std::uint8_t* mask = task.answer_mask.data() + r * len;
      std::vector<std::uint8_t> expect_mask(static_cast<std::size_t>(len), 0);
      // Keys are unique: every "k<key>=" occurs once.
      std::set<std::string> keys;
      std::size_t pairs = 0;
      for (std::size_t at = record.find('='); at != std::string::npos; at = record.find('=', at + 1)) {
        const std::size_t k = record.rfind('k', at);
        ASSERT_NE(k, std::string::npos);
        keys.insert(record.substr(k, at - k));
        ++pairs;
      }
      EXPECT_EQ(keys.size(), pairs) << "repeated key in record " << r << " of length " << len;
      EXPECT_GT(static_cast<std::int64_t>(pairs) * 14, len * 8 / 10) << "pairs should fill most of the record";
      int queries = 0;
      for (std::size_t q = record.find('?'); q != std::string::npos; q = record.find('?', q + 1)) {
        ++queries;
        const std::size_t gt = record.find('>', q), semi = record.find(';', q);
        ASSERT_TRUE(gt != std::string::npos && semi != std::string::npos && gt < semi);
        const std::string key = record.substr(q + 1, gt - q - 1), value = record.substr(gt + 1, semi - gt - 1);
        for (std::size_t i = gt + 1; i < semi; ++i) expect_mask[i] = 1;
        const std::size_t pair = record.find(key + "=");
        ASSERT_NE(pair, std::string::npos) << key;
        EXPECT_EQ(record.substr(pair + key.size() + 1, value.size() + 1), value + ";");
        EXPECT_GE(static_cast<std::int64_t>(q - pair), len / 4) << key << " in a record of " << len;
      }
      EXPECT_GE(queries, 1);
      EXPECT_EQ(queries, std::max<std::int64_t>(1, std::min<std::int64_t>(16, len / 128)));
      EXPECT_EQ(std::vector<std::uint8_t>(mask, mask + len), expect_mask) << "record " << r << " of " << len;
    }
  }
}

TEST(KvRecall, DeterministicForASeed) {
  const fmav::TextTask a = fmav::make_kv_recall(20, 256, 3), b = fmav::make_kv_recall(20, 256, 3);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.answer_mask, b.answer_mask);
  EXPECT_NE(a.text, fmav::make_kv_recall(20, 256, 4).text);
  // Records differ from each other.
  EXPECT_NE(a.text.substr(0, 256), a.text.substr(256, 256));
  EXPECT_EQ(a.text.substr(0, 10 * 256), fmav::make_kv_recall(10, 256, 3).text);
}

TEST(CopyTask, SecondHalfCopiesTheFirstAndIsTheAnswer) {
  for (const std::int64_t len : kRecordLens) {
    const std::int64_t records = 4;
    const fmav::TextTask task = fmav::make_copy_task(records, len, 9);
    expect_records(task, records, len);
    const std::int64_t half = (len - 2) / 2;
    for (std::int64_t r = 0; r < records; ++r) {
      const std::string record = task.text.substr(static_cast<std::size_t>(r * len), static_cast<std::size_t>(len));
      const std::string first = record.substr(0, static_cast<std::size_t>(half));
      EXPECT_EQ(record.substr(static_cast<std::size_t>(len - 1 - half), static_cast<std::size_t>(half)), first);
      EXPECT_EQ(first.find_first_not_of("abcdefghijklmnopqrstuvwxyz"), std::string::npos);
      EXPECT_EQ(record.substr(static_cast<std::size_t>(half), static_cast<std::size_t>(len - 1 - 2 * half)),
                len % 2 ? "||" : "|");
      for (std::int64_t i = 0; i < len; ++i) {
        ASSERT_EQ(task.answer_mask[static_cast<std::size_t>(r * len + i)], i >= len - 1 - half && i < len - 1 ? 1 : 0)
            << "byte " << i << " of a record of " << len;
      }
    }
  }
  EXPECT_EQ(fmav::make_copy_task(3, 100, 1).text, fmav::make_copy_task(3, 100, 1).text);
  EXPECT_NE(fmav::make_copy_task(3, 100, 1).text, fmav::make_copy_task(3, 100, 2).text);
}

TEST(TextTasks, Errors) {
  EXPECT_TRUE(throws_error([] { fmav::make_kv_recall(0, 256, 1); }, "kv-recall: records must be >= 1, got 0"));
  EXPECT_TRUE(throws_error([] { fmav::make_kv_recall(10, 63, 1); }, "kv-recall: record length must be >= 64 bytes, got 63"));
  EXPECT_TRUE(throws_error([] { fmav::make_copy_task(1, -5, 1); }, "copy: record length must be >= 64 bytes, got -5"));
  EXPECT_TRUE(throws_error([] { fmav::make_copy_task(1 << 20, 4096, 1); },
                           "copy: 1048576 records of 4096 bytes exceed the limit of 1073741824 bytes"));
}

// ---- images ----

using Shapes = TempFolder;

TEST_F(Shapes, DatasetHasFourReadableDeterministicClasses) {
  fmav::make_shapes_dataset(path("a"), 3, 16, 7);
  const fmav::ImageFolder folder = fmav::list_image_folder(path("a"));
  EXPECT_EQ(folder.classes, fmav::shape_classes());
  EXPECT_EQ(folder.classes, (std::vector<std::string>{"circle", "cross", "square", "triangle"}));
  ASSERT_EQ(folder.items.size(), 12u);
  EXPECT_EQ(folder.items[0].first, path("a/circle/0000.png"));
  EXPECT_EQ(folder.items[11].first, path("a/triangle/0002.png"));
  std::set<std::string> distinct;
  for (const auto& [file, label] : folder.items) {
    const fmav::Image image = fmav::read_image(file);
    EXPECT_EQ(image.width, 16);
    EXPECT_EQ(image.height, 16);
    distinct.insert(read_bytes(file));
  }
  EXPECT_EQ(distinct.size(), 12u);
  fmav::make_shapes_dataset(path("b"), 3, 16, 7);
  fmav::make_shapes_dataset(path("c"), 3, 16, 8);
  for (const auto& [file, label] : folder.items) {
    const std::string rel = fs::relative(file, path("a")).string();
    EXPECT_EQ(read_bytes(path("b/" + rel)), read_bytes(file)) << rel;
    EXPECT_NE(read_bytes(path("c/" + rel)), read_bytes(file)) << rel;
  }
  // No temporary files are left behind.
  for (const auto& entry : fs::recursive_directory_iterator(path("a"))) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(Shapes, EachImageShowsAShapeOnItsBackground) {
  fmav::make_shapes_dataset(path("s"), 2, 48, 1);
  for (const auto& [file, label] : fmav::list_image_folder(path("s")).items) {
    const fmav::Image image = fmav::read_image(file);
    // The corner is background; a good share of pixels differ from it clearly.
    int far = 0;
    for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
      double d = 0;
      for (int c = 0; c < 3; ++c) d += std::pow(image.rgb[i + c] - image.rgb[c], 2);
      far += d > 0.1;
    }
    const double share = static_cast<double>(far) / (48 * 48);
    EXPECT_GT(share, 0.03) << file;
    EXPECT_LT(share, 0.6) << file;
  }
}

TEST_F(Shapes, Errors) {
  EXPECT_TRUE(throws_error([&] { fmav::make_shapes_dataset(path("x"), 1, 7, 1); },
                           "shapes: image size must be in 8..1024 pixels, got 7"));
  EXPECT_TRUE(throws_error([&] { fmav::make_shapes_dataset(path("x"), 0, 32, 1); },
                           "shapes: images per class must be in 1..100000, got 0"));
  write_bytes(path("file"), "x");
  EXPECT_TRUE(throws_error([&] { fmav::make_shapes_dataset(path("file"), 1, 8, 1); }, "cannot create the folder"));
}

TEST(SampleImage, DeterministicSizedAndNotFlat) {
  const fmav::Image a = fmav::make_sample_image(64, 5);
  EXPECT_EQ(a.height, 64);
  EXPECT_EQ(a.width, 64);
  ASSERT_EQ(a.rgb.size(), 64u * 64 * 3);
  EXPECT_EQ(a.rgb, fmav::make_sample_image(64, 5).rgb);
  EXPECT_NE(a.rgb, fmav::make_sample_image(64, 6).rgb);
  double mean = 0, square = 0;
  for (float v : a.rgb) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    mean += v;
    square += v * v;
  }
  mean /= a.rgb.size();
  EXPECT_GT(square / a.rgb.size() - mean * mean, 0.005);
  EXPECT_TRUE(throws_error([] { fmav::make_sample_image(4, 1); }, "sample image: size must be in 8..4096 pixels, got 4"));
}

}  // namespace
}  // namespace fmav_test
