// The viewer's device choice (viewer_device.h).

#include "viewer_device.h"

#include "fmav/engine.h"

namespace fmav::viewer {

void add_viewer_device_option(CLI::App& app, std::string* device) {
  app.add_option("--device", *device,
                 "where a model's forward and the maps, query view and Heads tab are computed: cpu\n"
                 "(default) | cuda (the first GPU; an error naming why where there is none) | auto\n"
                 "(cuda when it can run, else cpu); also the Engine panel's \"maps on\"")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
}

Device viewer_device(const std::string& text) {
  const Device device = parse_device(text);
  if (device == Device::cuda) resolve_device(device);  // throws saying why cuda cannot run here
  return device;
}

std::string maps_device_text(Device requested, Device resolved, bool hf_model) {
  std::string text = std::string("maps computed on ") + to_string(resolved);
  if (hf_model && resolved == Device::cuda) text += " (the Hugging Face forward on the cpu)";
  if (requested == Device::automatic) {
    text += resolved == Device::cuda ? " (auto)" : " (auto fell back)";  // why: under the Engine panel's choice
  }
  return text;
}

}  // namespace fmav::viewer
