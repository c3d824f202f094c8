#pragma once
// The status bar and the error popup (panel_status.cpp): where the engine runs, the memory in
// use, the last run's time, the last status message and error (report_error, shared.h).

#include "fmav/engine.h"

#include <string>

namespace fmav::viewer {

struct Shared;

// The error popup (call once a frame, inside the main window).
void draw_error_popup(Shared& shared);
// An output file's name field (`label`, `width` px); hovering it shows the path the file is
// written to (data_folder.h: a relative name is in the per-user data folder), which the
// status message names again when the run starts.
void draw_output_file(const char* label, float width, std::string* name);
// One line: device, memory in use, the last run's time or progress, the last error.
void draw_status_bar(Shared& shared, const DeviceInfo& device);

}  // namespace fmav::viewer
