#include "data/sndfile_memory.h"

#include <algorithm>
#include <cstdio>

namespace imprint {
namespace {

SndfileMemory* self(void* user) { return static_cast<SndfileMemory*>(user); }
sf_count_t length(void* user) { return static_cast<sf_count_t>(self(user)->bytes.size()); }
sf_count_t seek(sf_count_t offset, int whence, void* user) {
  SndfileMemory* m = self(user);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->position : length(user);
  m->position = std::max<sf_count_t>(0, base + offset);
  return m->position;
}
sf_count_t read(void* ptr, sf_count_t count, void* user) {
  SndfileMemory* m = self(user);
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, length(user) - m->position));
  std::copy_n(m->bytes.data() + m->position, n, static_cast<char*>(ptr));
  m->position += n;
  return n;
}
sf_count_t write(const void* ptr, sf_count_t count, void* user) {
  SndfileMemory* m = self(user);
  const auto end = static_cast<size_t>(m->position + count);
  if (m->bytes.size() < end) m->bytes.resize(end);
  std::copy_n(static_cast<const char*>(ptr), count, m->bytes.data() + m->position);
  m->position += count;
  return count;
}
sf_count_t tell(void* user) { return self(user)->position; }

}  // namespace

SndfileMemory::SndfileMemory() : io{length, seek, read, write, tell} {}

}  // namespace imprint
