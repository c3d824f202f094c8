#pragma once
// Memory-mapped .safetensors reading (docs/DESIGN.md §7.2, §7.6): the header validated in
// place, the tensors left in the page cache until used, so a large checkpoint opens at once
// and its bytes are copied once, into the caller's tensors. No LibTorch here.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmav/tensor.h"
#include "fmav/tensor_io.h"

namespace fmav {

// A tensor whose bytes lie in a MappedSafetensors' mapping (valid while it lives).
struct TensorView {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;  // nbytes, C order, not necessarily aligned
  std::size_t nbytes = 0;
};
// A .safetensors file mapped read-only (mmap), its header validated as read_safetensors does
// (a file that lies is refused the same way); tensors() views into the mapping. Throws
// fmav::Error naming the file. A file cut short by another process while it is mapped is
// not detected (reading it then raises SIGBUS).
class MappedSafetensors {
 public:
  explicit MappedSafetensors(const std::string& path, const IoLimits& limits = io_limits());
  const std::map<std::string, TensorView>& tensors() const { return m_tensors; }
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }

 private:
  std::shared_ptr<const void> m_mapping;
  std::map<std::string, TensorView> m_tensors;
  std::map<std::string, std::string> m_metadata;
};

}  // namespace fmav
