#include "data/synthetic_audio.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/rng.h"

namespace imprint {
namespace {

constexpr double kTwoPi = 6.283185307179586;
constexpr int kMaxHarmonics = 32;
constexpr int kControlPeriod = 32;  // samples between harmonic-amplitude updates

// A sine table: harmonics are summed per sample, and std::sin there would dominate the loader's time.
struct SineTable {
  static constexpr int kSize = 4096;
  std::array<float, kSize + 1> v;
  SineTable() {
    for (int i = 0; i <= kSize; ++i) v[i] = static_cast<float>(std::sin(kTwoPi * i / kSize));
  }
  float operator()(double cycles) const {  // sin(2*pi*cycles)
    const double f = (cycles - std::floor(cycles)) * kSize;
    const int i = static_cast<int>(f);
    const float t = static_cast<float>(f - i);
    return v[i] + t * (v[i + 1] - v[i]);
  }
};
const SineTable& sine_table() {
  static const SineTable table;
  return table;
}

float formant_gain(const Voice& v, float hz) {
  float g = 0.03f;
  for (int i = 0; i < 3; ++i) {
    const float d = (hz - v.formant[i]) / v.bandwidth[i];
    g += 1.0f / (1.0f + d * d);
  }
  return g;
}

}  // namespace

Voice make_voice(uint64_t data_seed, int64_t identity) {
  CounterRng rng(stream_key(data_seed, Stream::SyntheticVoice, static_cast<uint64_t>(identity)));
  Voice v{};
  v.f0 = static_cast<float>(rng.log_uniform(80, 320));
  v.f0_range = static_cast<float>(rng.uniform(1.0, 5.0));
  v.formant[0] = static_cast<float>(rng.uniform(250, 900));
  v.formant[1] = static_cast<float>(rng.uniform(900, 2300));
  v.formant[2] = static_cast<float>(rng.uniform(2300, 3600));
  for (int i = 0; i < 3; ++i) v.bandwidth[i] = static_cast<float>(rng.uniform(60, 250));
  v.tilt = static_cast<float>(rng.uniform(0.3, 1.4));
  v.noise_level = static_cast<float>(rng.uniform(0.02, 0.4));
  v.noise_colour = static_cast<float>(rng.uniform(0.0, 0.9));
  return v;
}

void render_utterance(const Voice& v, uint64_t data_seed, int64_t identity, int64_t index, uint64_t augment_seed,
                      int sample_rate, int num_samples, float* out) {
  CounterRng utt(
      stream_key(data_seed, Stream::SyntheticUtterance, static_cast<uint64_t>(identity), static_cast<uint64_t>(index)));
  const double sr = sample_rate;
  // Pitch contour: two slow sinusoids in semitones around the voice's median pitch.
  const double r1 = utt.uniform(0.5, 3.0), r2 = utt.uniform(0.3, 1.5);
  const double p1 = utt.uniform(0, kTwoPi), p2 = utt.uniform(0, kTwoPi);
  const double a1 = utt.uniform(0.3, 1.0) * v.f0_range, a2 = utt.uniform(0.0, 0.5) * v.f0_range;
  // Syllables: voiced segments with raised-cosine envelopes.
  const int syllables = 2 + static_cast<int>(utt.below(4));
  std::vector<std::pair<double, double>> segs;  // start, length in seconds
  const double total = num_samples / sr;
  for (int s = 0; s < syllables; ++s) {
    const double len = utt.uniform(0.25, 0.6) * total / syllables * 2;
    segs.emplace_back(utt.uniform(0, std::max(1e-3, total - len * 0.5)), len);
  }
  CounterRng noise_rng(
      stream_key(data_seed, Stream::SyntheticBreath, static_cast<uint64_t>(identity), static_cast<uint64_t>(index)));

  const SineTable& sine = sine_table();
  std::array<double, kMaxHarmonics> phase{};
  std::array<float, kMaxHarmonics> amp{};
  float lp = 0;
  double sum_sq = 0;
  for (int n = 0; n < num_samples; ++n) {
    const double t = n / sr;
    const double semis = a1 * std::sin(kTwoPi * r1 * t + p1) + a2 * std::sin(kTwoPi * r2 * t + p2);
    const double f0 = v.f0 * std::exp2(semis / 12.0);
    const int harmonics = std::min(kMaxHarmonics, static_cast<int>(0.5 * sr / f0));
    if (n % kControlPeriod == 0)
      for (int k = 0; k < harmonics; ++k)
        amp[k] = formant_gain(v, static_cast<float>(f0 * (k + 1))) * std::pow(static_cast<float>(k + 1), -v.tilt);
    float env = 0;
    for (const auto& [start, len] : segs) {
      const double u = (t - start) / len;
      if (u > 0 && u < 1) env += static_cast<float>(0.5 - 0.5 * std::cos(kTwoPi * u));
    }
    float voiced = 0;
    for (int k = 0; k < harmonics; ++k) {
      phase[k] += f0 * (k + 1) / sr;
      voiced += amp[k] * sine(phase[k]);
    }
    lp = v.noise_colour * lp + (1 - v.noise_colour) * static_cast<float>(noise_rng.normal());
    const float x = env * (voiced + v.noise_level * 4.0f * lp);
    out[n] = x;
    sum_sq += static_cast<double>(x) * x;
  }
  float gain = static_cast<float>(0.1 / std::sqrt(sum_sq / num_samples + 1e-12));
  float bg = 0.001f;
  CounterRng aug(augment_seed);
  if (augment_seed != 0) {
    gain *= static_cast<float>(aug.log_uniform(0.5, 2.0));
    bg = static_cast<float>(aug.uniform(0.001, 0.01));
  }
  for (int n = 0; n < num_samples; ++n) out[n] = out[n] * gain + bg * static_cast<float>(noise_rng.normal());
}

}  // namespace imprint
