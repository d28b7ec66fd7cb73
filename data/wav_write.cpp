#include "data/wav_write.h"

#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "core/temp_path.h"
#include "data/sndfile_memory.h"

namespace imprint {

namespace {

std::vector<float> clipped(const std::vector<float>& samples) {
  std::vector<float> out(samples.size());
  std::transform(samples.begin(), samples.end(), out.begin(), [](float v) { return std::clamp(v, -1.0f, 1.0f); });
  return out;
}

}  // namespace

std::string encode_wav_mono(const std::vector<float>& samples, int sample_rate) {
  SndfileMemory buffer;
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open_virtual(&buffer.io, SFM_WRITE, &info, &buffer);
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
