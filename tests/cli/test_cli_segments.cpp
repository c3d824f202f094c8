// `fmav gen-task segments`, and `fmav train` / `eval` of a segmenter as a user runs them:
// the set's layout and progress, a segmenter chosen by the folder, mIoU and per-class IoU
// in the output and in --json, another attention over the same weights, and clear errors.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
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

// `fmav segment` and `fmav inspect` with the shipped segmenter on a generated image: the
// predicted mask, this image's IoU against the annotation the layout gives it or --mask,
// the block's stage and grid, and clear errors.
TEST_F(CliSegments, SegmentAndInspectOneImage) {
  const std::string model = std::string(FMAV_ASSETS) + "/models/seg-full";
  ASSERT_EQ(run("gen-task segments --count 2 --size 64 --seed 4 --out " + path("set")).code, 0);
  const std::string image = path("set/images/validation/0000.png");
  CommandResult r = run("segment --model " + model + " --input " + image + " --out " + path("pred.png") + " --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(fs::path(j.at("mask").get<std::string>()), fs::path(path("set/annotations/validation/0000.png")));
  EXPECT_EQ(j.at("scored_pixels").get<std::int64_t>(), 64 * 64);
  ASSERT_EQ(j.at("iou").size(), 6u);
  const fmav::LabelImage pred = fmav::read_label_png(path("pred.png"));
  ASSERT_EQ(pred.width, 64);
  // The written mask is the one scored: its pixel accuracy against the annotation.
  const fmav::LabelImage truth = fmav::read_label_png(path("set/annotations/validation/0000.png"));
  std::int64_t correct = 0, counts[6] = {0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < pred.labels.size(); ++i) correct += pred.labels[i] == truth.labels[i], ++counts[pred.labels[i]];
  EXPECT_DOUBLE_EQ(j.at("pixel_accuracy").get<double>(), static_cast<double>(correct) / (64 * 64));
  for (int k = 0; k < 6; ++k) EXPECT_EQ(j.at("predicted_pixels")[k].get<std::int64_t>(), counts[k]);
  // The shipped model segments its own kind of image: most pixels right.
  EXPECT_GT(j.at("pixel_accuracy").get<double>(), 0.6) << r.output;

  // A loose copy has no annotation unless --mask gives one.
  fs::copy_file(image, path("loose.png"));
  r = run("segment --model " + model + " --input " + path("loose.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("no ground truth"), std::string::npos) << r.output;
  r = run("segment --model " + model + " --input " + path("loose.png") + " --mask " + path("pred.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("mIoU 1.000, pixel accuracy 1.000 over 4096 pixels"), std::string::npos) << r.output;

  r = run("inspect --model " + model + " --input " + image + " --layer 5 --out " + path("insp"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("stage 2, block 1 (grid 4 x 4): layer 5 head 0"), std::string::npos) << r.output;
  std::ifstream in(path("insp/summary.json"));
  const nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s.at("stage").get<int>(), 2);
  EXPECT_EQ(s.at("block").get<int>(), 1);
  EXPECT_EQ(s.at("grid"), nlohmann::json::array({4, 4}));
  EXPECT_EQ(s.at("tokens").get<int>(), 16);

  // Errors name the problem.
  r = run("inspect --model " + model + " --input " + image + " --layer 8 --out " + path("insp"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("layer must be in [0, 8), got 8"), std::string::npos) << r.output;
  fmav::LabelImage small;
  small.width = 32, small.height = 64, small.labels.assign(32 * 64, 0);
  fmav::write_label_png(path("small.png"), small);
  r = run("segment --model " + model + " --input " + image + " --mask " + path("small.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("the label map is 32 x 64 pixels but its image"), std::string::npos) << r.output;
  r = run("segment --model " + std::string(FMAV_ASSETS) + "/models/lm-fma --input " + image);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("is a causal-lm; `fmav segment` takes a segmenter"), std::string::npos) << r.output;
}

}  // namespace
