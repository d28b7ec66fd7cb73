// Counter-based randomness: every draw is a pure function of (seed, stream, tags), so a sample, an
// augmentation or a batch can be recomputed exactly on any rank, thread or resumed run.
//
// Every stream has a NAME and an id in the one table below: two unrelated draws that shared an id (and
// their other tags) would be correlated. tests/test_rng.cpp checks the ids are distinct. The ids are the
// values the streams had before they were named: changing one changes what every run draws.
#pragma once
#include <cmath>
#include <cstdint>

namespace imprint {

#define IMPRINT_RNG_STREAMS(X)                                                                   \
  X(SamplerEpochOrder, 0x5a3f1e)    /* data/view_sampler: per-epoch permutation of identities */ \
  X(SamplerViews, 0x9a1e)           /* data/view_sampler: a row's views and augment seeds */     \
  X(SyntheticImageIdentity, 0x1a6e) /* data/synthetic_image: an identity's shape and palette */  \
  X(SyntheticImagePose, 0x905e)     /* data/synthetic_image: one sample's pose and lighting */   \
  X(SyntheticVoice, 0x7015e)        /* data/synthetic_audio: a voice's pitch and formants */     \
  X(SyntheticUtterance, 0x0773)     /* data/synthetic_audio: one utterance */                    \
  X(SyntheticBreath, 0xb4ea7)       /* data/synthetic_audio: its breath noise */                 \
  X(AugmentWarp, 0x5741)            /* data/image_augment: crop, rotation, shear, shift */       \
  X(AugmentBlur, 0x424c)            /* data/image_augment */                                     \
  X(AugmentContrast, 0x434f)        /* data/image_augment */                                     \
  X(AugmentSpeed, 0x5350)           /* data/audio_augment */                                     \
  X(AugmentReverb, 0x5256)          /* data/audio_augment */                                     \
  X(AugmentNoise, 0x4e4f)           /* data/audio_augment */                                     \
  X(AugmentFreqMask, 0x4652)        /* data/audio_augment */                                     \
  X(AugmentTimeMask, 0x544d)        /* data/audio_augment */                                     \
  X(AugmentTelephone, 0x54454c)     /* data/audio_augment: the channel's band edges */           \
  X(AugmentCodec, 0xc0dec)          /* data/audio_augment: the channel's codec */                \
  X(AugmentPacketLoss, 0x9ac10)     /* data/audio_augment: the channel's lost packets */         \
  X(AugmentLevel, 0x1e7e1)          /* data/audio_augment: the channel's gain */                 \
  X(DenoiseRow, 0xd1ff)             /* denoise objective: a row's timestep, dropout, noise */    \
  X(SamplerNoise, 0x5a3b1e)         /* generation/ddim_sampler: a sample's starting noise */     \
  X(NegativeCentres, 0xaa3e9a)      /* aam objective: Partial FC's sampled negative centres */   \
  X(CentreInit, 0xce47e5)           /* aam objective: a sharded class centre's initial row */    \
  X(AutoencoderPosterior, 0xae9057) /* autoencoder objective: a row's latent sample */           \
  X(FidelityIdentities, 0xf1de17)   /* identity fidelity: which held-out identities are scored */

enum class Stream : uint64_t {
#define IMPRINT_RNG_STREAM_ENUM(name, id) name = id,
  IMPRINT_RNG_STREAMS(IMPRINT_RNG_STREAM_ENUM)
#undef IMPRINT_RNG_STREAM_ENUM
};

struct StreamName {
  const char* name;
  uint64_t id;
};
// Every stream of the table, for the uniqueness test and for messages.
inline const StreamName* rng_streams(int* count) {
  static const StreamName table[] = {
#define IMPRINT_RNG_STREAM_ROW(name, id) {#name, id},
      IMPRINT_RNG_STREAMS(IMPRINT_RNG_STREAM_ROW)
#undef IMPRINT_RNG_STREAM_ROW
  };
  *count = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t mix(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b + 0x632be59bd9b4e019ULL)); }
inline uint64_t mix(uint64_t a, uint64_t b, uint64_t c) { return mix(mix(a, b), c); }
inline uint64_t mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return mix(mix(a, b, c), d); }
// The key of stream `s` under `seed`, further tagged by up to two indices (step, row, identity, ...).
inline uint64_t stream_key(uint64_t seed, Stream s) { return mix(seed, static_cast<uint64_t>(s)); }
inline uint64_t stream_key(uint64_t seed, Stream s, uint64_t a) { return mix(seed, static_cast<uint64_t>(s), a); }
inline uint64_t stream_key(uint64_t seed, Stream s, uint64_t a, uint64_t b) {
  return mix(seed, static_cast<uint64_t>(s), a, b);
}

class CounterRng {
 public:
  explicit CounterRng(uint64_t key) : key_(key) {}
  uint64_t next_u64() { return splitmix64(key_ ^ splitmix64(++counter_)); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n); n > 0. Modulo bias is below 2^-40 for the n used here.
  int64_t below(int64_t n) { return static_cast<int64_t>(next_u64() % static_cast<uint64_t>(n)); }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

}  // namespace imprint
