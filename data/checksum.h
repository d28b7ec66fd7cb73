// FNV-1a 64-bit, the checksum of the dataset manifest (and of checkpoints).
#pragma once
#include <cstddef>
#include <cstdint>

namespace imprint {

inline uint64_t fnv1a64_bytes(const char* data, size_t size, uint64_t h = 0xcbf29ce484222325ULL) {
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ULL;
  return h;
}

}  // namespace imprint
