#pragma once
// The coarse slots' side of the block slots (fma_cuda.h CudaSlotEntries), built on the host:
// for every pyramid row, the CSR entries of the query blocks that see it, so the backward can
// sum each slot's partial gradients in one fixed order. No torch, no CUDA.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fmav {

struct SlotEntries {
  std::vector<std::int64_t> offset;  // (slots + 1)
  std::vector<std::int64_t> entry;   // (entries), ascending within each slot
};

// Inverts the CSR (offset over query blocks, index: pyramid rows < slots); throws
// std::out_of_range naming the entry whose row is not a slot.
inline SlotEntries invert_block_slots(const std::vector<std::int64_t>& offset, const std::vector<std::int64_t>& index,
                                      std::int64_t slots) {
  const std::int64_t entries = offset.empty() ? 0 : offset.back();
  SlotEntries out;
  out.offset.assign(static_cast<std::size_t>(slots) + 1, 0);
  for (std::int64_t e = 0; e < entries; ++e) {
    const std::int64_t row = index[e];
    if (row < 0 || row >= slots) {
      throw std::out_of_range("block slot entry " + std::to_string(e) + " names row " + std::to_string(row) +
                              ", outside [0, " + std::to_string(slots) + ")");
    }
    ++out.offset[row + 1];
  }
  for (std::int64_t s = 0; s < slots; ++s) out.offset[s + 1] += out.offset[s];
  out.entry.resize(static_cast<std::size_t>(entries));
  std::vector<std::int64_t> next(out.offset.begin(), out.offset.end() - 1);
  for (std::int64_t e = 0; e < entries; ++e) out.entry[next[index[e]]++] = e;
  return out;
}

}  // namespace fmav
