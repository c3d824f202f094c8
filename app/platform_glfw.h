#pragma once
// The one place with GLFW and OpenGL (STYLE.md: Shape of the house): the window and its
// GL 3.3 core context, Dear ImGui's backends, frames, framebuffer read-back and RGBA8 textures.

#include <cstdint>
#include <string>
#include <vector>

struct GLFWwindow;

namespace fmav::viewer {

struct Platform {
  GLFWwindow* m_window = nullptr;
  bool m_imgui_ready = false;
};

// Why platform_open failed.
enum class OpenStatus { ok, no_display, failed };

// Whether DISPLAY or WAYLAND_DISPLAY is set (without one GLFW cannot open a window).
bool has_display_env();
// Opens a width x height window with a GL 3.3 core context, creates the ImGui context and
// starts its GLFW and OpenGL3 backends. On failure fills *error and cleans up.
OpenStatus platform_open(Platform& platform, int width, int height, const char* title,
                         std::string* error);
// Stops the backends, destroys the ImGui context, the window and GLFW.
void platform_close(Platform& platform);

bool platform_should_close(const Platform& platform);
// Processes window events, waiting up to wait_seconds for one (0: poll, do not wait).
void platform_poll(double wait_seconds);
// Starts an ImGui frame (backends, then ImGui::NewFrame).
void platform_begin_frame();
// Renders the ImGui frame into the back buffer (not yet shown).
void platform_render(Platform& platform);
// Shows the back buffer.
void platform_present(Platform& platform);
// Waits until the GL work of the frame is done (to time frames on the software renderer).
void platform_finish(Platform& platform);
// The framebuffer's size in pixels.
int platform_width(const Platform& platform);
int platform_height(const Platform& platform);
// Reads the back buffer as (height, width) RGBA8 rows, top row first, alpha forced opaque.
void platform_read_pixels(Platform& platform, int* width, int* height,
                          std::vector<std::uint8_t>* rgba);

// The paths dropped on the window since the last call (files or folders, as the desktop
// gave them), in order; clears the queue.
std::vector<std::string> platform_take_dropped_paths();

// Creates (texture == 0) or replaces an RGBA8 texture of width x height pixels; returns its
// id, usable as an ImTextureID. Magnified with nearest so single tokens stay sharp.
unsigned int texture_upload(unsigned int texture, int width, int height, const std::uint8_t* rgba);
void texture_destroy(unsigned int texture);

}  // namespace fmav::viewer
