#include "data/wav_write.h"

#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "core/temp_path.h"

namespace imprint {

namespace {

std::vector<float> clipped(const std::vector<float>& samples) {
  std::vector<float> out(samples.size());
  std::transform(samples.begin(), samples.end(), out.begin(), [](float v) { return std::clamp(v, -1.0f, 1.0f); });
  return out;
}

// libsndfile's virtual I/O over a growing string.
struct Buffer {
  std::string bytes;
  sf_count_t position = 0;
};
sf_count_t buffer_length(void* user) { return static_cast<sf_count_t>(static_cast<Buffer*>(user)->bytes.size()); }
sf_count_t buffer_seek(sf_count_t offset, int whence, void* user) {
  auto* b = static_cast<Buffer*>(user);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? b->position : buffer_length(user);
  b->position = std::max<sf_count_t>(0, base + offset);
  return b->position;
}
sf_count_t buffer_read(void* ptr, sf_count_t count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, buffer_length(user) - b->position));
  std::copy_n(b->bytes.data() + b->position, n, static_cast<char*>(ptr));
  b->position += n;
  return n;
}
sf_count_t buffer_write(const void* ptr, sf_count_t count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  const auto end = static_cast<size_t>(b->position + count);
  if (b->bytes.size() < end) b->bytes.resize(end);
  std::copy_n(static_cast<const char*>(ptr), count, b->bytes.data() + b->position);
  b->position += count;
  return count;
}
sf_count_t buffer_tell(void* user) { return static_cast<Buffer*>(user)->position; }

}  // namespace

std::string encode_wav_mono(const std::vector<float>& samples, int sample_rate) {
  SF_VIRTUAL_IO io{buffer_length, buffer_seek, buffer_read, buffer_write, buffer_tell};
  Buffer buffer;
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open_virtual(&io, SFM_WRITE, &info, &buffer);
  if (!f) throw std::runtime_error(std::string("cannot encode a WAV in memory: ") + sf_strerror(nullptr));
  const auto data = clipped(samples);
  const auto n = static_cast<sf_count_t>(data.size());
  const bool ok = sf_writef_float(f, data.data(), n) == n;
  sf_close(f);
  if (!ok) throw std::runtime_error("cannot encode a WAV in memory");
  return buffer.bytes;
}

void write_wav_mono(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  const std::string tmp = temp_path_for(path);  // unique to this process: two writers never share it
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": cannot write a WAV file: " + sf_strerror(nullptr));
  const auto data = clipped(samples);
  const auto n = static_cast<sf_count_t>(data.size());
  const bool ok = sf_writef_float(f, data.data(), n) == n;
  const std::string why = ok ? "" : sf_strerror(f);
  sf_close(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write a WAV file" + (why.empty() ? "" : ": " + why));
  }
}

}  // namespace imprint
