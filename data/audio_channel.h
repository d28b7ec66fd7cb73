// What a transmission channel does to a voice, for the channel augmentation (augment.telephone_prob,
// codec_prob, packet_loss_prob, level_db): a telephone band, G.711 / GSM codec round trips, lost packets and
// level changes that saturate. A speaker encoder trained on clean studio speech meets these in deployment
// (calls, VoIP, a hot microphone) and has never heard them; each is a pure function of its draws.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace imprint {

enum class Codec { MuLaw, ALaw, Gsm };

// "ulaw,alaw,gsm" -> the codecs in that order (G.711 mu-law, G.711 A-law, GSM 06.10 full rate). Throws
// std::invalid_argument naming the unknown name, or when the list is empty.
std::vector<Codec> parse_codecs(const std::string& list);
const char* codec_name(Codec c);

// x encoded with `codec` and decoded again, in memory by libsndfile (WAV container), at 8 kHz, the rate
// these codecs are defined at: other rates are resampled there and back by libsoxr, which also band-limits
// the clip to 4 kHz as a phone line would. Keeps n samples. Throws std::runtime_error if libsndfile fails.
void codec_round_trip(float* x, int64_t n, int sample_rate, Codec codec);

// Zeroes each `packet_seconds` packet with probability `loss_rate` (no concealment: the gaps a jitter
// buffer leaves), drawn from `u`, one uniform in [0, 1) per packet.
template <class Uniform>
void drop_packets(float* x, int64_t n, int sample_rate, double packet_seconds, double loss_rate, Uniform&& u) {
  const int64_t packet = std::max<int64_t>(1, static_cast<int64_t>(packet_seconds * sample_rate));
  for (int64_t start = 0; start < n; start += packet)
    if (u() < loss_rate)
      for (int64_t i = start; i < std::min(n, start + packet); ++i) x[i] = 0.0f;
}

// Multiplies by 10^(gain_db / 20) and clips to [-1, 1], as a converter at full scale does.
void change_level(float* x, int64_t n, double gain_db);

}  // namespace imprint
