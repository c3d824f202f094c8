// GLFW window, GL 3.3 core context and Dear ImGui backends. ImGui's OpenGL3 backend loads its
// own GL 3 entry points; the few calls made here (textures, read-back) are GL 1.1.

#include "platform_glfw.h"
#include "platform_gl_storage.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <GL/gl.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace fmav::viewer {
namespace {

std::string g_glfw_error;  // the last message of GLFW's error callback
// Paths dropped on the window; GLFW calls on_drop from platform_poll, on the GUI thread.
std::vector<std::string> g_dropped;

void on_glfw_error(int code, const char* message) {
  g_glfw_error = "GLFW error " + std::to_string(code) + ": " + (message ? message : "");
}

void on_drop(GLFWwindow* /*window*/, int count, const char** paths) {
  for (int i = 0; i < count; ++i) {
    if (paths[i]) g_dropped.emplace_back(paths[i]);
  }
}

// ImGui 1.86 reads keys as "down now": a press and its release that arrive between two
// frames (a quick tap, or scripted input) would never be seen. Releases are held back
// while a press has not been seen by a frame (platform_poll delivers them before the next
// events).
struct HeldRelease {
  int key, scancode, mods;
};
std::vector<int> g_pressed_since_frame;
std::vector<HeldRelease> g_held_releases;

// Held releases of Ctrl (or Super) keep the modifier down for the next frame, and ImGui's
// InputText drops characters while it is down: a path typed right after Ctrl+A within one
// slow frame lost its characters, and its Return ended the field before them (issue 21
// point 6). So characters arriving behind such a release wait for the next frame, and
// every key and mouse button after them waits in the same line, in order (a click must
// not overtake the text it follows). platform_poll lets the whole line through after the
// held releases; only releases whose press that frame has not seen are held again.
struct Deferred {
  enum Kind { key, character, mouse_button } kind;
  int code = 0, scancode = 0, action = 0, mods = 0;  // key or button; c for characters
};
std::vector<Deferred> g_deferred;

bool modifier_release_held() {
  for (const HeldRelease& r : g_held_releases) {
    if (r.key == GLFW_KEY_LEFT_CONTROL || r.key == GLFW_KEY_RIGHT_CONTROL || r.key == GLFW_KEY_LEFT_SUPER ||
        r.key == GLFW_KEY_RIGHT_SUPER) {
      return true;
    }
  }
  return false;
}

void deliver_key(GLFWwindow* window, int key, int scancode, int action, int mods) {
  // While a press waits for its frame every release waits too, in order: a chord whose
  // modifier is let go first (Ctrl down, S down, Ctrl up, S up) still reaches that frame
  // as Ctrl+S.
  if (action == GLFW_RELEASE && (!g_pressed_since_frame.empty() || !g_held_releases.empty())) {
    g_held_releases.push_back({key, scancode, mods});
    return;
  }
  if (action == GLFW_PRESS) g_pressed_since_frame.push_back(key);
  ImGui_ImplGlfw_KeyCallback(window, key, scancode, action, mods);
}

void deliver(GLFWwindow* window, const Deferred& e) {
  switch (e.kind) {
    case Deferred::key: deliver_key(window, e.code, e.scancode, e.action, e.mods); return;
    case Deferred::character: ImGui_ImplGlfw_CharCallback(window, static_cast<unsigned int>(e.code)); return;
    case Deferred::mouse_button: ImGui_ImplGlfw_MouseButtonCallback(window, e.code, e.action, e.mods); return;
  }
}

// Whether input arrived since the last platform_poll (the viewer then draws a few frames
// at once: ImGui needs a frame or two to open a popup or move the keyboard focus).
bool g_input = false;

void on_mouse_button(GLFWwindow* window, int button, int action, int mods) {
  g_input = true;
  if (!g_deferred.empty()) {
    g_deferred.push_back({Deferred::mouse_button, button, 0, action, mods});
    return;
  }
  ImGui_ImplGlfw_MouseButtonCallback(window, button, action, mods);
}
void on_scroll(GLFWwindow* window, double dx, double dy) {
  g_input = true;
  ImGui_ImplGlfw_ScrollCallback(window, dx, dy);
}
void on_char(GLFWwindow* window, unsigned int c) {
  g_input = true;
  if (!g_deferred.empty() || modifier_release_held()) {
    g_deferred.push_back({Deferred::character, static_cast<int>(c), 0, 0, 0});
    return;
  }
  ImGui_ImplGlfw_CharCallback(window, c);
}
void on_cursor(GLFWwindow* /*window*/, double /*x*/, double /*y*/) { g_input = true; }  // ImGui polls it

void on_key(GLFWwindow* window, int key, int scancode, int action, int mods) {
  g_input = true;
  if (!g_deferred.empty()) {
    g_deferred.push_back({Deferred::key, key, scancode, action, mods});
    return;
  }
  deliver_key(window, key, scancode, action, mods);
}

bool env_set(const char* name) {
  const char* value = std::getenv(name);
  return value && *value;
}

bool file_exists(const char* path) { return std::ifstream(path).good(); }

// A readable UI font when the system has one; ImGui's built-in font otherwise.
void load_font() {
  ImGuiIO& io = ImGui::GetIO();
  const char* kFonts[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                          "/usr/share/fonts/TTF/DejaVuSans.ttf"};
  for (const char* path : kFonts) {
    if (file_exists(path) && io.Fonts->AddFontFromFileTTF(path, 16.0f)) return;
  }
  io.Fonts->AddFontDefault();
}

void setup_imgui_style() {
  ImGui::StyleColorsDark();
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowRounding = 0.0f;
  style.FrameRounding = 3.0f;
  style.WindowPadding = ImVec2(10, 10);
  style.ItemSpacing = ImVec2(8, 6);
}

GLFWwindow* create_window(int width, int height, const char* title) {
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  return glfwCreateWindow(width, height, title, nullptr, nullptr);
}

}  // namespace

bool has_display_env() { return env_set("DISPLAY") || env_set("WAYLAND_DISPLAY"); }

OpenStatus platform_open(Platform& platform, int width, int height, const char* title,
                         std::string* error) {
  glfwSetErrorCallback(on_glfw_error);
  if (!has_display_env()) {
    *error = "neither DISPLAY nor WAYLAND_DISPLAY is set";
    return OpenStatus::no_display;
  }
  if (!glfwInit()) {
    *error = g_glfw_error.empty() ? "glfwInit failed" : g_glfw_error;
    return OpenStatus::no_display;
  }
  platform.m_window = create_window(width, height, title);
  if (!platform.m_window) {
    *error = "cannot create a " + std::to_string(width) + "x" + std::to_string(height) +
             " window with an OpenGL 3.3 core context (" + g_glfw_error + ")";
    glfwTerminate();
    return OpenStatus::failed;
  }
  glfwMakeContextCurrent(platform.m_window);
  glfwSwapInterval(1);
  storage_thread_start(platform.m_window);  // without it, storage is made on this thread

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini in the working directory
  setup_imgui_style();
  load_font();
  ImGui_ImplGlfw_InitForOpenGL(platform.m_window, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");
  glfwSetDropCallback(platform.m_window, on_drop);  // ImGui's GLFW backend installs none
  // Ours replace ImGui's callbacks and call them (key: see on_key; the rest mark input).
  glfwSetKeyCallback(platform.m_window, on_key);
  glfwSetMouseButtonCallback(platform.m_window, on_mouse_button);
  glfwSetScrollCallback(platform.m_window, on_scroll);
  glfwSetCharCallback(platform.m_window, on_char);
  glfwSetCursorPosCallback(platform.m_window, on_cursor);
  platform.m_imgui_ready = true;
  return OpenStatus::ok;
}

void platform_close(Platform& platform) {
  if (platform.m_imgui_ready) {
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    platform.m_imgui_ready = false;
  }
  storage_thread_stop();
  if (platform.m_window) {
    glfwDestroyWindow(platform.m_window);
    platform.m_window = nullptr;
    glfwTerminate();
  }
}

bool platform_should_close(const Platform& platform) {
  return glfwWindowShouldClose(platform.m_window);
}

bool platform_poll(double wait_seconds) {
  // The releases held back since the last frame, before this poll's events (between frames,
  // so ImGui's modifier flags stay consistent within a frame).
  std::vector<HeldRelease> held;
  held.swap(g_held_releases);
  GLFWwindow* window = glfwGetCurrentContext();
  for (const HeldRelease& r : held) ImGui_ImplGlfw_KeyCallback(window, r.key, r.scancode, GLFW_RELEASE, r.mods);
  // Then the line that waited behind them (its events count as this poll's input).
  std::vector<Deferred> deferred;
  deferred.swap(g_deferred);
  for (const Deferred& e : deferred) deliver(window, e);
  g_input = false;
  if (!deferred.empty()) {
    glfwPollEvents();
    return true;
  }
  if (wait_seconds > 0) {
    glfwWaitEventsTimeout(wait_seconds);
  } else {
    glfwPollEvents();
  }
  return g_input;
}

void platform_begin_frame() {
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  g_pressed_since_frame.clear();  // this frame has seen the presses
}

void platform_render(Platform& platform) {
  ImGui::Render();
  int width = 0, height = 0;
  glfwGetFramebufferSize(platform.m_window, &width, &height);
  glViewport(0, 0, width, height);
  glClearColor(0.08f, 0.08f, 0.09f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  map_draws_clear();
}

void platform_present(Platform& platform) { glfwSwapBuffers(platform.m_window); }

void platform_finish(Platform&) { glFinish(); }

int platform_width(const Platform& platform) {
  int width = 0, height = 0;
  glfwGetFramebufferSize(platform.m_window, &width, &height);
  return width;
}

int platform_height(const Platform& platform) {
  int width = 0, height = 0;
  glfwGetFramebufferSize(platform.m_window, &width, &height);
  return height;
}

void platform_read_pixels(Platform& platform, int* width, int* height,
                          std::vector<std::uint8_t>* rgba) {
  glfwGetFramebufferSize(platform.m_window, width, height);
  const std::size_t row_bytes = static_cast<std::size_t>(*width) * 4;
  std::vector<std::uint8_t> bottom_up(row_bytes * static_cast<std::size_t>(*height));
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, *width, *height, GL_RGBA, GL_UNSIGNED_BYTE, bottom_up.data());
  // GL's first row is the bottom one; images are stored top row first.
  rgba->resize(bottom_up.size());
  for (int y = 0; y < *height; ++y) {
    std::memcpy(rgba->data() + static_cast<std::size_t>(y) * row_bytes,
                bottom_up.data() + static_cast<std::size_t>(*height - 1 - y) * row_bytes,
                row_bytes);
  }
  for (std::size_t i = 3; i < rgba->size(); i += 4) (*rgba)[i] = 255;
}

std::vector<std::string> platform_take_dropped_paths() {
  std::vector<std::string> paths;
  paths.swap(g_dropped);
  return paths;
}

unsigned int texture_upload(unsigned int texture, int width, int height, const std::uint8_t* rgba) {
  GLuint id = texture;
  if (id == 0) glGenTextures(1, &id);
  glBindTexture(GL_TEXTURE_2D, id);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glBindTexture(GL_TEXTURE_2D, 0);
  return id;
}

void texture_destroy(unsigned int texture) {
  if (texture == 0) return;
  map_tiles_release(texture);
  GLuint id = texture;
  glDeleteTextures(1, &id);
}

}  // namespace fmav::viewer
