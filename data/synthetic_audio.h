// Procedural voices: a pitch range, a formant envelope, a spectral tilt and a breath-noise colour that stay
// fixed for the speaker, rendered as different utterances (pitch contour, syllable timing, loudness).
#pragma once
#include <cstdint>

namespace imprint {

struct Voice {
  float f0;            // median pitch, Hz
  float f0_range;      // pitch excursion, semitones
  float formant[3];    // Hz
  float bandwidth[3];  // Hz
  float tilt;          // amplitude exponent per harmonic number
  float noise_level;   // breathiness relative to the harmonics
  float noise_colour;  // one-pole low-pass coefficient of the breath noise
};

Voice make_voice(uint64_t data_seed, int64_t identity);

// Renders utterance `index` of `voice` as `num_samples` floats at `sample_rate`, RMS-normalised to 0.1.
// augment_seed != 0 adds random gain and background noise.
void render_utterance(const Voice& voice, uint64_t data_seed, int64_t identity, int64_t index, uint64_t augment_seed,
                      int sample_rate, int num_samples, float* out);

}  // namespace imprint
