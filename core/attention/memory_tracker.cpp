// The counting CPU allocator (see memory_tracker.h): every DataPtr it hands out carries a
// context that remembers the size and returns it to the counter when the tensor dies.

#include "memory_tracker.h"

#include "fmav/engine.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace fmav {
namespace {

// A DataPtr's context is its data pointer, as LibTorch's raw_allocate requires (ops such
// as gelu allocate through it); the sizes and the inner allocator's deleters live in a map.
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : m_inner(inner) {}

  c10::DataPtr allocate(std::size_t n) override {
    c10::DataPtr inner = m_inner->allocate(n);
    void* data = inner.get();
    if (data == nullptr) return inner;  // n == 0: nothing to count
    const c10::DeleterFnPtr deleter = inner.get_deleter();
    void* context = inner.release_context();
    const auto bytes = static_cast<std::int64_t>(n);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_blocks[data] = Block{bytes, deleter, context};
    }
    const std::int64_t live = m_live.fetch_add(bytes) + bytes;
    std::int64_t peak = m_peak.load();
    while (live > peak && !m_peak.compare_exchange_weak(peak, live)) {
    }
    return c10::DataPtr(data, data, &CountingAllocator::release, c10::Device(c10::DeviceType::CPU));
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CountingAllocator::release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  std::int64_t live() const { return m_live.load(); }
  std::int64_t peak() const { return m_peak.load(); }
  void reset_peak() { m_peak.store(m_live.load()); }

 private:
  struct Block {
    std::int64_t bytes;
    c10::DeleterFnPtr deleter;  // the inner allocator's, with its context
    void* context;
  };
  static void release(void* data);

  c10::Allocator* m_inner;
  std::mutex m_mutex;
  std::unordered_map<void*, Block> m_blocks;
  std::atomic<std::int64_t> m_live{0}, m_peak{0};
};

CountingAllocator* g_counter = nullptr;
std::once_flag g_install;

}  // namespace

void CountingAllocator::release(void* data) {
  Block block{};
  {
    std::lock_guard<std::mutex> lock(g_counter->m_mutex);
    const auto it = g_counter->m_blocks.find(data);
    if (it == g_counter->m_blocks.end()) return;  // not ours: cannot happen, nothing to free safely
    block = it->second;
    g_counter->m_blocks.erase(it);
  }
  g_counter->m_live.fetch_sub(block.bytes);
  if (block.deleter != nullptr) block.deleter(block.context);
}

void install_memory_tracker() {
  std::call_once(g_install, [] {
    // Lives as long as the process: tensors it counted may outlive any scope.
    g_counter = new CountingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(g_counter, /*priority=*/255);
  });
}

std::int64_t tracked_live_bytes() { return g_counter ? g_counter->live() : 0; }
std::int64_t tracked_peak_bytes() { return g_counter ? g_counter->peak() : 0; }
void reset_tracked_peak() {
  if (g_counter) g_counter->reset_peak();
}

namespace {
// A "Key: n kB" line of /proc/self/status, in bytes (0 when absent).
std::int64_t status_bytes(const char* wanted) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == wanted) {
      std::int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}
}  // namespace

std::int64_t peak_rss_bytes() { return status_bytes("VmHWM:"); }
std::int64_t resident_memory_bytes() { return status_bytes("VmRSS:"); }

void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}


}  // namespace fmav
