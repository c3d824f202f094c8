// Texture storage made on a second GL context, shared with the window's, in a thread of its
// own (platform_glfw.h, "storage thread"). Mesa's llvmpipe clears a texture level's storage
// when it is allocated: 64 MB for a 4096² R32F level, 35–60 ms here, 250–280 ms when the
// pages are new to the VM. Made on the GUI thread, that was one frame far over DESIGN §6's
// 50 ms per new map size; here no frame waits for it.
//
// One request at a time: the GUI thread asks (storage_request), draws its frames meanwhile
// and polls (storage_ready); the thread allocates, waits for the GL work (glFinish, after
// which a shared context sees the storage once it binds the texture again) and wakes the
// GUI thread's event wait. The GUI thread leaves the texture alone while it is asked for.

#include "platform_gl_storage.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#define GL_GLEXT_PROTOTYPES
#include <GL/gl.h>
#include <GL/glext.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace fmav::viewer {
namespace {

struct Request {
  unsigned int texture = 0;
  MapTexel texel = MapTexel::r32f;
  int level = 0, width = 0, height = 0;
  bool operator==(const Request& o) const {
    return texture == o.texture && texel == o.texel && level == o.level && width == o.width && height == o.height;
  }
};

struct StorageThread {
  GLFWwindow* context = nullptr;  // hidden 1 x 1 window whose context shares the main one's objects
  std::thread thread;
  std::mutex mutex;
  std::condition_variable wake;
  enum class State { idle, asked, made } state = State::idle;
  Request request;
  bool stop = false;
};

StorageThread* g_thread = nullptr;

void make_storage(const Request& r) {
  const bool r8 = r.texel == MapTexel::r8;
  glBindTexture(GL_TEXTURE_2D, r.texture);
  glTexImage2D(GL_TEXTURE_2D, r.level, r8 ? GL_R8 : GL_R32F, r.width, r.height, 0, GL_RED,
               r8 ? GL_UNSIGNED_BYTE : GL_FLOAT, nullptr);
  glBindTexture(GL_TEXTURE_2D, 0);
}

void serve(StorageThread* t) {
  glfwMakeContextCurrent(t->context);
  std::unique_lock<std::mutex> lock(t->mutex);
  for (;;) {
    t->wake.wait(lock, [t] { return t->stop || t->state == StorageThread::State::asked; });
    if (t->stop) break;
    const Request r = t->request;
    lock.unlock();
    make_storage(r);
    glFinish();
    lock.lock();
    t->state = StorageThread::State::made;
    glfwPostEmptyEvent();  // the GUI thread may be waiting for events
  }
  lock.unlock();
  glfwMakeContextCurrent(nullptr);
}

}  // namespace

bool storage_thread_start(GLFWwindow* window) {
  if (g_thread) return true;
  glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  GLFWwindow* context = glfwCreateWindow(1, 1, "fma-viewer storage", nullptr, window);
  glfwDefaultWindowHints();
  if (!context) return false;
  g_thread = new StorageThread;
  g_thread->context = context;
  g_thread->thread = std::thread(serve, g_thread);
  return true;
}

void storage_thread_stop() {
  if (!g_thread) return;
  {
    std::lock_guard<std::mutex> lock(g_thread->mutex);
    g_thread->stop = true;
  }
  g_thread->wake.notify_one();
  g_thread->thread.join();
  glfwDestroyWindow(g_thread->context);
  delete g_thread;
  g_thread = nullptr;
}

bool storage_ready(unsigned int texture, MapTexel texel, int level, int width, int height) {
  const Request r{texture, texel, level, width, height};
  if (!g_thread) {
    make_storage(r);
    return true;
  }
  std::unique_lock<std::mutex> lock(g_thread->mutex);
  switch (g_thread->state) {
    case StorageThread::State::made:
      if (g_thread->request == r) {
        g_thread->state = StorageThread::State::idle;
        return true;
      }
      break;  // an answer nobody waits for any more (a newer run replaced the staging)
    case StorageThread::State::asked:
      return false;  // the one request at a time is still being made
    case StorageThread::State::idle:
      break;
  }
  // Texture parameters the GUI context set must reach the shared object first.
  glFlush();
  g_thread->request = r;
  g_thread->state = StorageThread::State::asked;
  lock.unlock();
  g_thread->wake.notify_one();
  return false;
}

bool storage_pending() {
  if (!g_thread) return false;
  std::lock_guard<std::mutex> lock(g_thread->mutex);
  return g_thread->state == StorageThread::State::asked;
}

}  // namespace fmav::viewer
