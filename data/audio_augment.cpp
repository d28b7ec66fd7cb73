#include "data/audio_augment.h"

#include <ATen/ops/fft_irfft.h>
#include <ATen/ops/fft_rfft.h>
#include <ATen/ops/from_blob.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "core/rng.h"
#include "data/audio_channel.h"
#include "data/media_decode.h"

namespace imprint {
namespace {

// Each operation draws from its own stream, so enabling one leaves the others' draws where they were.

double energy(const float* x, int64_t n) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i) e += static_cast<double>(x[i]) * x[i];
  return e;
}

// Scales x to unit RMS; returns the RMS it had.
double to_unit_rms(std::vector<float>& x) {
  const double rms = std::sqrt(energy(x.data(), static_cast<int64_t>(x.size())) / std::max<size_t>(x.size(), 1));
  for (float& v : x) v = static_cast<float>(v / rms);
  return rms;
}

at::Tensor as_tensor(const float* x, int64_t n) {
  return at::from_blob(const_cast<float*>(x), {n}, at::TensorOptions().dtype(at::kFloat));
}

void copy_out(const at::Tensor& t, float* out, int64_t n) {
  const at::Tensor c = t.contiguous();
  std::copy(c.data_ptr<float>(), c.data_ptr<float>() + n, out);
}

int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

NoiseBank::NoiseBank(const std::string& dir, int sample_rate, int64_t max_samples) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir + ": not a folder of noise recordings");
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && is_media_file(it->path().string(), Modality::Audio))
      paths.push_back(it->path().string());
  std::sort(paths.begin(), paths.end());
  int64_t total = 0;
  for (const auto& p : paths) {
    std::vector<int16_t> pcm;
    std::string error;
    if (!decode_audio(p, sample_rate, pcm, error))
      throw std::runtime_error(p + ": cannot read this noise file: " + error);
    std::vector<float> clip(pcm.size());
    for (size_t i = 0; i < pcm.size(); ++i) clip[i] = pcm[i] / 32768.0f;
    if (to_unit_rms(clip) < 1e-6) continue;  // silence adds nothing
    total += static_cast<int64_t>(clip.size());
    if (total > max_samples)
      throw std::runtime_error(dir + ": more than " + std::to_string(max_samples) +
                               " samples of noise; they are held in memory: use a smaller folder");
    clips_.push_back(std::move(clip));
  }
  if (clips_.empty()) throw std::runtime_error(dir + ": no audible .wav or .flac noise recordings found");
}

void NoiseBank::draw(CounterRng& rng, int64_t n, float* out) const {
  const std::vector<float>& clip = clips_[static_cast<size_t>(rng.below(static_cast<int64_t>(clips_.size())))];
  const int64_t len = static_cast<int64_t>(clip.size());
  int64_t at = rng.below(len);
  for (int64_t i = 0; i < n; ++i, ++at) out[i] = clip[static_cast<size_t>(at % len)];
}

double draw_speed(uint64_t seed, const AudioAugmentOptions& o) {
  if (o.speed <= 0) return 1.0;
  CounterRng rng(stream_key(seed, Stream::AugmentSpeed));
  return rng.uniform(1 - o.speed, 1 + o.speed);
}

std::vector<float> change_speed(const std::vector<float>& in, double factor) {
  if (factor == 1.0) return in;
  std::vector<float> out(static_cast<size_t>(std::ceil(in.size() / factor)));
  size_t done = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  // Played faster = the same samples read at a rate `factor` times the output's.
  const soxr_error_t e = soxr_oneshot(factor, 1.0, 1, in.data(), in.size(), nullptr, out.data(), out.size(), &done, &io,
                                      &quality, nullptr);
  if (e) throw std::runtime_error(std::string("libsoxr (speed perturbation): ") + e);
  out.resize(done);
  return out;
}

std::vector<float> coloured_noise(CounterRng& rng, int64_t n, int colour) {
  std::vector<float> white(static_cast<size_t>(n));
  for (float& v : white) v = static_cast<float>(rng.normal());
  if (colour == 0 || n < 2) {
    to_unit_rms(white);
    return white;
  }
  at::Tensor spectrum = at::fft_rfft(as_tensor(white.data(), n));
  const int64_t bins = spectrum.size(0);
  std::vector<float> shape(static_cast<size_t>(bins));
  shape[0] = 0;  // no DC
  for (int64_t k = 1; k < bins; ++k) shape[k] = static_cast<float>(std::pow(static_cast<double>(k), -colour / 2.0));
  spectrum.mul_(as_tensor(shape.data(), bins));
  std::vector<float> out(static_cast<size_t>(n));
  copy_out(at::fft_irfft(spectrum, n), out.data(), n);
  to_unit_rms(out);
  return out;
}

void add_at_snr(float* x, const float* noise, int64_t n, double snr_db) {
  const double ex = energy(x, n), en = energy(noise, n);
  if (ex <= 0 || en <= 0) return;
  const double scale = std::sqrt(ex / (en * std::pow(10.0, snr_db / 10)));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] + scale * noise[i]);
}

std::vector<float> synthetic_rir(CounterRng& rng, int sample_rate, double rt60, double drr_db) {
  const int64_t len = std::max<int64_t>(2, static_cast<int64_t>(rt60 * sample_rate));
  std::vector<float> h(static_cast<size_t>(len));
  h[0] = 1.0f;
  double tail = 0;
  for (int64_t i = 1; i < len; ++i) {
    h[i] = static_cast<float>(rng.normal() * std::pow(10.0, -3.0 * i / (rt60 * sample_rate)));  // -60 dB at rt60
    tail += static_cast<double>(h[i]) * h[i];
  }
  const double scale = std::sqrt(std::pow(10.0, -drr_db / 10) / tail);
  for (int64_t i = 1; i < len; ++i) h[i] = static_cast<float>(h[i] * scale);
  return h;
}

void reverberate(float* x, int64_t n, const std::vector<float>& h) {
  const double before = energy(x, n);
  if (before <= 0) return;
  const int64_t m = static_cast<int64_t>(h.size()), size = next_pow2(n + m - 1);
  const at::Tensor wet =
      at::fft_irfft(at::fft_rfft(as_tensor(x, n), size).mul_(at::fft_rfft(as_tensor(h.data(), m), size)), size);
  copy_out(wet, x, n);
  const double scale = std::sqrt(before / std::max(energy(x, n), 1e-30));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] * scale);
}

void remove_band(float* x, int64_t n, int sample_rate, double low_hz, double high_hz) {
  at::Tensor spectrum = at::fft_rfft(as_tensor(x, n));
  const int64_t bins = spectrum.size(0);
  const auto bin = [&](double hz) { return std::clamp<int64_t>(std::llround(hz * n / sample_rate), 0, bins); };
  const int64_t lo = bin(low_hz), hi = std::min(bins, bin(high_hz) + 1);
  if (hi <= lo) return;
  spectrum.narrow(0, lo, hi - lo).zero_();
  copy_out(at::fft_irfft(spectrum, n), x, n);
}

void augment_audio(float* x, int64_t n, int sample_rate, const AudioAugmentOptions& o, uint64_t seed,
                   const NoiseBank* noise) {
  if (n < 2) return;
  if (o.reverb_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentReverb));
    if (rng.uniform() < o.reverb_prob) {
      const double rt60 = rng.uniform(0.1, std::max(0.1, o.reverb_rt60_max)), drr = rng.uniform(0.0, 10.0);
      reverberate(x, n, synthetic_rir(rng, sample_rate, rt60, drr));
    }
  }
  if (o.noise_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentNoise));
    if (rng.uniform() < o.noise_prob) {
      const double snr = rng.uniform(o.noise_snr_min, o.noise_snr_max);
      std::vector<float> buf;
      if (noise) {
        buf.resize(static_cast<size_t>(n));
        noise->draw(rng, n, buf.data());
      } else {
        buf = coloured_noise(rng, n, static_cast<int>(rng.below(3)));
      }
      add_at_snr(x, buf.data(), n, snr);
    }
  }
  // The channel carries the room and its noise: after them, before the masks (which model the trunk's view).
  if (o.telephone_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentTelephone));
    if (rng.uniform() < o.telephone_prob) {
      const double nyquist = sample_rate / 2.0, low = rng.uniform(200, 400), high = rng.uniform(3000, 3600);
      remove_band(x, n, sample_rate, 0, low);
      if (high < nyquist) remove_band(x, n, sample_rate, high, nyquist);
    }
  }
  if (o.codec_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentCodec));
    if (rng.uniform() < o.codec_prob) {
      const std::vector<Codec> codecs = parse_codecs(o.codecs);  // checked when the config was read
      codec_round_trip(x, n, sample_rate, codecs[static_cast<size_t>(rng.below(static_cast<int64_t>(codecs.size())))]);
    }
  }
  if (o.packet_loss_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentPacketLoss));
    if (rng.uniform() < o.packet_loss_prob) {
      const double rate = rng.uniform(0, o.packet_loss_rate);
      drop_packets(x, n, sample_rate, 0.02, rate, [&] { return rng.uniform(); });
    }
  }
  if (o.level_db > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentLevel));
    change_level(x, n, rng.uniform(-o.level_db, o.level_db));
  }
  if (o.freq_masks > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentFreqMask));
    const double nyquist = sample_rate / 2.0;
    for (int m = 0; m < o.freq_masks; ++m) {
      const double width = rng.uniform(0, std::min(o.freq_mask_hz, nyquist)), low = rng.uniform(0, nyquist - width);
      remove_band(x, n, sample_rate, low, low + width);
    }
  }
  if (o.time_masks > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentTimeMask));
    const int64_t most = std::min<int64_t>(n, static_cast<int64_t>(o.time_mask_seconds * sample_rate));
    for (int m = 0; m < o.time_masks; ++m) {
      const int64_t width = rng.below(most + 1), start = rng.below(n - width + 1);
      std::fill(x + start, x + start + width, 0.0f);
    }
  }
}

}  // namespace imprint
