// FNV-1a 64-bit: the checksum of shards, manifests and checkpoint files, and the content hash by which a
// checkpoint records the frozen files it was trained against (a generator, a judge).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace imprint {

inline uint64_t fnv1a64_bytes(const char* data, size_t size, uint64_t h = 0xcbf29ce484222325ULL) {
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ULL;
  return h;
}

// The FNV-1a-64 of a file's bytes as 16 hex digits. Throws std::runtime_error "PATH: cannot open" (or
// "cannot read").
std::string file_fnv1a64(const std::string& path);

}  // namespace imprint
