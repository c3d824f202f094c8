#pragma once
// Texture storage made off the GUI thread (platform_gl_storage.cpp): a thread with a GL
// context shared with the window's. Used by the platform layer only.

#include "platform_glfw.h"

struct GLFWwindow;

namespace fmav::viewer {

// Starts the thread, its context sharing `window`'s objects (platform_open does, once the
// window's context is current); false when no such context could be made (then storage is
// made on the calling thread). storage_thread_stop joins it (before the window goes).
bool storage_thread_start(GLFWwindow* window);
void storage_thread_stop();
// Level `level` of `texture` as width x height storage of `texel`s (contents undefined):
// asks the thread for it and returns true once it is there, false meanwhile (ask again in a
// later frame, leaving the texture alone). Without the thread it is made here, at once.
bool storage_ready(unsigned int texture, MapTexel texel, int level, int width, int height);
// Whether the thread is making storage now.
bool storage_pending();

}  // namespace fmav::viewer
