// Audio augmentation of a training clip (float samples), run in the loader's workers: speed perturbation
// (libsoxr), additive noise at a drawn SNR (generated coloured noise or a folder of recordings), a synthetic
// room response, the transmission channel (data/audio_channel.h), and SpecAugment's time and frequency
// masks applied to the waveform (frequency masks remove a band from the clip's spectrum, which is what the
// trunk's log-mel front end then sees).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/augment_options.h"

namespace imprint {

class CounterRng;

// Noise recordings read once (every .wav/.flac under `dir`, resampled to `sample_rate`). Throws
// std::runtime_error naming the folder when it is missing, holds no audio, or holds more than max_samples.
class NoiseBank {
 public:
  NoiseBank(const std::string& dir, int sample_rate, int64_t max_samples = int64_t{1} << 28);
  size_t files() const { return clips_.size(); }
  // n samples from a drawn recording at a drawn offset (looped when shorter), unit RMS.
  void draw(CounterRng& rng, int64_t n, float* out) const;

 private:
  std::vector<std::vector<float>> clips_;
};

// The speed factor a sample's seed draws (1 when o.speed is 0).
double draw_speed(uint64_t seed, const AudioAugmentOptions& o);
// `in` played `factor` times faster: ceil(n / factor) samples, resampled by libsoxr.
std::vector<float> change_speed(const std::vector<float>& in, double factor);

// White (colour 0), pink (1) or brown (2) Gaussian noise with unit RMS: white noise shaped by f^(-colour/2).
std::vector<float> coloured_noise(CounterRng& rng, int64_t n, int colour);
// Adds `noise` scaled so that 10 log10(energy(x) / energy(noise)) = snr_db; silent x is left as it is.
void add_at_snr(float* x, const float* noise, int64_t n, double snr_db);
// Synthetic room impulse response: a unit direct path and a Gaussian tail decaying 60 dB over rt60 seconds,
// its energy drr_db below the direct path's.
std::vector<float> synthetic_rir(CounterRng& rng, int sample_rate, double rt60, double drr_db);
// x convolved with h (FFT), the first n samples kept, rescaled to x's energy.
void reverberate(float* x, int64_t n, const std::vector<float>& h);
// Removes [low_hz, high_hz] from the spectrum of the whole clip.
void remove_band(float* x, int64_t n, int sample_rate, double low_hz, double high_hz);

// Everything `o` enables except speed (which changes how much source audio is read: the dataset applies it),
// in order: reverberation, noise, the channel (telephone band, codec, lost packets, level: audio_channel.h),
// frequency masks, time masks. A pure function of (seed, o, noise bank, x).
void augment_audio(float* x, int64_t n, int sample_rate, const AudioAugmentOptions& o, uint64_t seed,
                   const NoiseBank* noise);

}  // namespace imprint
