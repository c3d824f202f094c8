// The process-wide default limits of the readers (tensor_io.h, input.h): what a read uses
// when it is given none; and the check of a size against the fixed limits (size_limits.h). Settings of the process, like LibTorch's thread count: fmav sets
// them once from its flags before any command runs; reads take a copy under a lock.

#include <mutex>

#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/size_limits.h"
#include "fmav/tensor_io.h"

namespace fmav {
namespace {

template <typename Limits>
class Setting {
 public:
  Limits get() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_value;
  }
  void set(const Limits& value) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_value = value;
  }

 private:
  std::mutex m_mutex;
  Limits m_value;
};

Setting<IoLimits>& io_setting() {
  static Setting<IoLimits> setting;
  return setting;
}
Setting<ImageLimits>& image_setting() {
  static Setting<ImageLimits> setting;
  return setting;
}
Setting<TextLimits>& text_setting() {
  static Setting<TextLimits> setting;
  return setting;
}

}  // namespace

IoLimits io_limits() { return io_setting().get(); }

void set_io_limits(const IoLimits& limits) {
  FMAV_CHECK(limits.max_header_bytes >= 1 && limits.max_tensor_bytes >= 1, "tensor limits: the largest header and "
             "tensor must be >= 1 byte, got ", limits.max_header_bytes, " and ", limits.max_tensor_bytes);
  FMAV_CHECK(limits.max_dims >= 1 && limits.max_json_depth >= 1, "tensor limits: dims and JSON depth must be >= 1, got ",
             limits.max_dims, " and ", limits.max_json_depth);
  io_setting().set(limits);
}

ImageLimits image_limits() { return image_setting().get(); }

void set_image_limits(const ImageLimits& limits) {
  FMAV_CHECK(limits.max_side >= 1 && limits.max_pixels >= 1 && limits.max_file_bytes >= 1,
             "image limits: side, pixels and file bytes must be >= 1, got ", limits.max_side, ", ",
             limits.max_pixels, ", ", limits.max_file_bytes);
  image_setting().set(limits);
}

TextLimits text_limits() { return text_setting().get(); }

void set_text_limits(const TextLimits& limits) {
  FMAV_CHECK(limits.max_bytes >= 1, "text limits: the largest text must be >= 1 byte, got ", limits.max_bytes);
  text_setting().set(limits);
}

void check_limit(const std::string& name, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  FMAV_CHECK(value >= lo && value <= hi, name, " must be an integer in [", lo, ", ", hi, "], got ", value);
}

}  // namespace fmav
