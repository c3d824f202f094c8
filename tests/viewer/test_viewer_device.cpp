// fma-viewer's device choice (app/viewer/viewer_device.h): --device parsed and checked before
// a window opens (cuda without a GPU refused, saying why), and the words the header and the
// status bar use for where the maps were computed (auto's fall-back named).

#include <gtest/gtest.h>

#include <string>

#include "fmav/engine.h"
#include "fmav/error.h"
#include "viewer_device.h"

namespace {

using fmav::Device;
using fmav::viewer::maps_device_text;
using fmav::viewer::viewer_device;

// The device --device gives on a command line (empty: the option left out).
std::string parsed(const std::string& args) {
  CLI::App app;
  std::string device = "cpu";
  fmav::viewer::add_viewer_device_option(app, &device);
  app.parse(args, false);
  return device;
}

TEST(ViewerDevice, OptionTakesCpuCudaAutoWithCpuTheDefault) {
  EXPECT_EQ(parsed(""), "cpu");
  EXPECT_EQ(viewer_device(parsed("")), Device::cpu);
  EXPECT_EQ(parsed("--device cpu"), "cpu");
  EXPECT_EQ(parsed("--device auto"), "auto");
  EXPECT_EQ(viewer_device("auto"), Device::automatic);  // kept: the header says where it went
  EXPECT_EQ(parsed("--device cuda"), "cuda");
  if (fmav::cuda_device_count() > 0) {
    EXPECT_EQ(viewer_device("cuda"), Device::cuda);
  }
}

TEST(ViewerDevice, BadNamesAreRefusedNamingThem) {
  try {
    parsed("--device gpu");
    FAIL() << "no throw";
  } catch (const CLI::ValidationError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--device"), std::string::npos) << what;
    EXPECT_NE(what.find("gpu"), std::string::npos) << what;
  }
  try {
    viewer_device("GPU");
    FAIL() << "no throw";
  } catch (const fmav::Error& e) {
    EXPECT_STREQ(e.what(), "device must be cpu, cuda or auto, got 'GPU'");
  }
}

TEST(ViewerDevice, CudaWithoutAGpuIsRefusedSayingWhy) {
  if (fmav::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  try {
    viewer_device("cuda");
    FAIL() << "no throw";
  } catch (const fmav::Error& e) {
    EXPECT_EQ(std::string(e.what()), "device cuda: " + fmav::cuda_unavailable_reason() + "; use --device cpu or auto");
  }
}

TEST(ViewerDevice, HeaderWordsSayWhereTheMapsWereComputed) {
  EXPECT_EQ(maps_device_text(Device::cpu, Device::cpu, false), "maps computed on cpu");
  EXPECT_EQ(maps_device_text(Device::cuda, Device::cuda, false), "maps computed on cuda");
  EXPECT_EQ(maps_device_text(Device::cuda, Device::cuda, true),
            "maps computed on cuda (the Hugging Face forward on the cpu)");
  EXPECT_EQ(maps_device_text(Device::automatic, Device::cuda, false), "maps computed on cuda (auto)");
  EXPECT_EQ(maps_device_text(Device::automatic, Device::cpu, false), "maps computed on cpu (auto fell back)");
}

}  // namespace
