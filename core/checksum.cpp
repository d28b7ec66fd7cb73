#include "core/checksum.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace imprint {

std::string file_fnv1a64(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a64_bytes(buf.data(), static_cast<size_t>(in.gcount()), h);
  }
  if (in.bad()) throw std::runtime_error(path + ": cannot read");
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace imprint
