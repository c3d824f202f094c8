#pragma once
// Where the viewer computes (docs/DESIGN.md §5): the device of a model's forward and of the
// maps' dense float64 work (fmav/inspect.h), for the maps, the query view and the Heads tab;
// chosen by --device and the Engine panel.

#include "fmav/device.h"

#include <CLI/CLI.hpp>

#include <string>

namespace fmav::viewer {

// Adds --device cpu|cuda|auto to `app`, storing the text into `device`.
void add_viewer_device_option(CLI::App& app, std::string* device);
// --device's text as the viewer's device: cpu, cuda or auto (kept: the header says where auto
// went). Throws fmav::Error naming the text for a bad name, and for cuda where no device can
// run, saying why (resolve_device's message), so the viewer stops before opening a window.
Device viewer_device(const std::string& text);
// The header's and status bar's words on where a run's maps were computed: "maps computed on
// cpu" or "... on cuda", with "(auto)" or "(auto fell back)" when auto was asked (the Engine
// panel says why), and that a Hugging Face model's forward ran on the cpu.
std::string maps_device_text(Device requested, Device resolved, bool hf_model);

}  // namespace fmav::viewer
