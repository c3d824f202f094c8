// `fmav gen-task segments`, and `fmav train` / `eval` of a segmenter as a user runs them:
// the set's layout and progress, a segmenter chosen by the folder, mIoU and per-class IoU
// in the output and in --json, another attention over the same weights, and clear errors.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "fmav/input.h"
#include "test_helpers.h"

namespace {

using namespace fmav_test;
namespace fs = std::filesystem;

class CliSegments : public TempFolder {
 protected:
  CommandResult run(const std::string& args) const {
    return run_command(std::string(FMAV_BIN) + " " + args, path("log.txt"));
  }
};

TEST_F(CliSegments, GenerateTrainEvaluate) {
  CommandResult r = run("gen-task segments --count 10 --size 32 --seed 2 --out " + path("set"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("12 images with label maps (10 training, 2 validation) of 32x32 pixels, 6 classes"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("writing images: 50%\n"), std::string::npos) << r.output;
  EXPECT_EQ(fmav::read_label_png(path("set/annotations/validation/0001.png")).width, 32);
  EXPECT_TRUE(fs::exists(path("set/classes.json")));

  // The folder's layout picks the segmenter (seg-b0 by default).
  r = run("train --data " + path("set") + " --out " + path("m") + " --image-size 32 --steps 3 --batch 2 "
          "--eval-every 3 --log-every 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("model: segmenter, fma attention"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 3/3  loss"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("images/s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("valid: mIoU "), std::string::npos) << r.output;

  r = run("eval --model " + path("m") + " --data " + path("set") + " --json");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("valid: mIoU "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("over 2 images (2048 scored pixels)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  IoU background "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  IoU stripes "), std::string::npos) << r.output;
  const nlohmann::json score = nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
  EXPECT_EQ(score.at("pixels").get<std::int64_t>(), 2048);
  EXPECT_EQ(score.at("images").get<std::int64_t>(), 2);
  ASSERT_EQ(score.at("class_iou").size(), 6u);
  double sum = 0;
  int present = 0;
  for (const auto& iou : score.at("class_iou")) {
    if (!iou.is_null()) sum += iou.get<double>(), ++present;
  }
  ASSERT_GT(present, 0);
  EXPECT_NEAR(score.at("miou").get<double>(), sum / present, 1e-12);
  EXPECT_DOUBLE_EQ(score.at("pixel_accuracy").get<double>(), score.at("accuracy").get<double>());

  r = run("eval --model " + path("m") + " --data " + path("set") + " --attention full --split train");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("segmenter, full attention"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train: mIoU "), std::string::npos) << r.output;
}

TEST_F(CliSegments, ErrorsAreClear) {
  CommandResult r = run("gen-task segments --size 8 --out " + path("s"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("segments: --size must be in 16..1024 pixels, got 8"), std::string::npos) << r.output;
  ASSERT_EQ(run("gen-task segments --count 2 --size 32 --out " + path("set")).code, 0);
  r = run("train --data " + path("set") + " --out " + path("m") + " --arch image-classifier --steps 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("is a segmentation folder (images/, annotations/); train a segmenter on it"),
            std::string::npos) << r.output;
  r = run("train --data " + path("set") + " --out " + path("m") + " --image-size 48 --steps 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("a segmenter's image_size must be a multiple of 32"), std::string::npos) << r.output;
  fs::remove(path("set/annotations/training/0001.png"));
  r = run("train --data " + path("set") + " --out " + path("m") + " --image-size 32 --steps 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("images/training/0001.png: has no annotation"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("m")));  // nothing written before the data is checked
}

}  // namespace
