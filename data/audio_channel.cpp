#include "data/audio_channel.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/audio_augment.h"
#include "data/sndfile_memory.h"

namespace imprint {
namespace {

constexpr int kCodecRate = 8000;

int sndfile_subformat(Codec c) {
  switch (c) {
    case Codec::MuLaw:
      return SF_FORMAT_ULAW;
    case Codec::ALaw:
      return SF_FORMAT_ALAW;
    case Codec::Gsm:
      return SF_FORMAT_GSM610;
  }
  return 0;
}

// The clip through the codec at 8 kHz: encoded into a WAV in memory, decoded back, `n` samples.
std::vector<float> encode_decode(const std::vector<float>& x, Codec codec) {
  SndfileMemory memory;
  SF_INFO info{};
  info.samplerate = kCodecRate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | sndfile_subformat(codec);
  const std::string what = std::string("the ") + codec_name(codec) + " round trip (libsndfile): ";
  SNDFILE* f = sf_open_virtual(&memory.io, SFM_WRITE, &info, &memory);
  if (!f) throw std::runtime_error(what + sf_strerror(nullptr));
  std::vector<float> in(x.size());
  std::transform(x.begin(), x.end(), in.begin(), [](float v) { return std::clamp(v, -1.0f, 1.0f); });
  const auto n = static_cast<sf_count_t>(in.size());
  const bool wrote = sf_writef_float(f, in.data(), n) == n;
  sf_close(f);
  if (!wrote) throw std::runtime_error(what + "cannot encode");
  memory.position = 0;
  SF_INFO read_info{};
  f = sf_open_virtual(&memory.io, SFM_READ, &read_info, &memory);
  if (!f) throw std::runtime_error(what + sf_strerror(nullptr));
  // GSM decodes whole frames: at least n samples come back, the tail of the last frame is dropped.
  std::vector<float> out(static_cast<size_t>(std::max<sf_count_t>(read_info.frames, n)), 0.0f);
  const sf_count_t got = sf_readf_float(f, out.data(), read_info.frames);
  sf_close(f);
  if (got < 0) throw std::runtime_error(what + "cannot decode");
  out.resize(x.size());
  return out;
}

}  // namespace

std::vector<Codec> parse_codecs(const std::string& list) {
  std::vector<Codec> codecs;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, end - start);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name == "ulaw")
      codecs.push_back(Codec::MuLaw);
    else if (name == "alaw")
      codecs.push_back(Codec::ALaw);
    else if (name == "gsm")
      codecs.push_back(Codec::Gsm);
    else if (!name.empty() || list.find_first_not_of(' ') != std::string::npos)
      throw std::invalid_argument("'" + name + "' is not a codec: expected a comma-separated list of ulaw, alaw, gsm");
    start = end + 1;
  }
  if (codecs.empty()) throw std::invalid_argument("names no codec: expected a comma-separated list of ulaw, alaw, gsm");
  return codecs;
}

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::MuLaw:
      return "ulaw";
    case Codec::ALaw:
      return "alaw";
    case Codec::Gsm:
      return "gsm";
  }
  return "?";
}

void codec_round_trip(float* x, int64_t n, int sample_rate, Codec codec) {
  if (n <= 0) return;
  std::vector<float> clip(x, x + n);
  const double down = static_cast<double>(sample_rate) / kCodecRate;  // resampling = playing `down` times faster
  if (sample_rate != kCodecRate) clip = change_speed(clip, down);
  clip = encode_decode(clip, codec);
  if (sample_rate != kCodecRate) clip = change_speed(clip, 1.0 / down);
  clip.resize(static_cast<size_t>(n), 0.0f);
  std::copy(clip.begin(), clip.end(), x);
}

void change_level(float* x, int64_t n, double gain_db) {
  const double gain = std::pow(10.0, gain_db / 20);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::clamp(x[i] * gain, -1.0, 1.0));
}

}  // namespace imprint
