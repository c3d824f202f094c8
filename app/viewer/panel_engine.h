#pragma once
// The engine panel (panel_engine.cpp): where the FMA engine runs, and the device combo the
// sidebar's fast path and the scaling form share.

#include "fmav/device.h"
#include "fmav/engine.h"

namespace fmav::viewer {

struct Shared;

// Draws where the engine runs: versions, threads, CUDA built/available and its summary, with
// the "maps on" choice on its title line (draw_maps_device) and, for auto, where it went.
void draw_engine_panel(const DeviceInfo& device, Shared& shared);
// A cpu / cuda / auto combo setting *device; cuda is greyed out, its tooltip saying why,
// where it cannot run (and a stale cuda choice falls back to cpu).
void draw_device_combo(const char* label, Device* device);
// The Engine panel's "maps on" choice (shared.params.device, viewer_device.h): where a model's
// forward and the maps, query view and Heads tab are computed; cuda disabled with the reason
// in its tooltip where it cannot run.
void draw_maps_device(Shared& shared);

}  // namespace fmav::viewer
