// The loader's augmentation (data/image_augment.*, data/audio_augment.*): each operation against what it
// must do to a signal whose answer is known, determinism from the seed, and the dataset applying them.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "core/rng.h"
#include "data/audio_augment.h"
#include "data/audio_channel.h"
#include "data/image_augment.h"
#include "data/shard_dataset.h"
#include "data/shard_writer.h"
#include "tests/tiny_run.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;

namespace {

constexpr double kPi = 3.14159265358979323846;

// A plane a*x + b*y + c per channel (pixel centres at integers): bilinear sampling reproduces it exactly.
std::vector<float> ramp_image(int size) {
  std::vector<float> img(3 * size * size);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) img[(c * size + y) * size + x] = 0.01f * (c + 1) * x + 0.02f * y + 0.1f * c;
  return img;
}

double energy(const std::vector<float>& x) { return std::inner_product(x.begin(), x.end(), x.begin(), 0.0); }

std::vector<float> sine(double hz, int rate, int64_t n, double amplitude = 0.5) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(amplitude * std::sin(2 * kPi * hz * i / rate));
  return x;
}

// Frequency from upward zero crossings, over the middle of the signal (away from resampler edges).
double zero_crossing_hz(const std::vector<float>& x, int rate) {
  int64_t first = -1, last = -1, count = 0;
  for (size_t i = x.size() / 8 + 1; i < x.size() * 7 / 8; ++i)
    if (x[i - 1] < 0 && x[i] >= 0) {
      if (first < 0) first = static_cast<int64_t>(i);
      last = static_cast<int64_t>(i);
      ++count;
    }
  return (count - 1) * static_cast<double>(rate) / (last - first);
}

// Energy of x at frequency hz (a single DFT bin, by correlation).
double tone_energy(const std::vector<float>& x, double hz, int rate) {
  double re = 0, im = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    re += x[i] * std::cos(2 * kPi * hz * i / rate);
    im += x[i] * std::sin(2 * kPi * hz * i / rate);
  }
  return re * re + im * im;
}

}  // namespace

TEST(ImageAugment, TheWarpSamplesWhereItsMapSays) {
  const int size = 16;
  const std::vector<float> img = ramp_image(size);
  ImageAugmentOptions o;
  o.crop_scale_min = 0.4;
  o.rotate_degrees = 25;
  o.shear_degrees = 10;
  o.translate = 0.1;
  std::vector<float> out(img.size());
  int checked = 0;
  for (uint64_t seed = 1; seed < 30; ++seed) {
    const ImageWarp w = draw_image_warp(seed, o, size);
    EXPECT_LE(w.width * w.height, size * size * 1.0000001);
    EXPECT_GE(w.width * w.height, 0.4 * size * size - 1e-6);
    warp_image(img.data(), size, w, out.data());
    const double c = std::cos(w.angle), s = std::sin(w.angle);
    for (int v = 0; v < size; ++v)
      for (int u = 0; u < size; ++u) {
        const double px = (u + 0.5) / size - 0.5, py = (v + 0.5) / size - 0.5, hx = px + w.shear * py;
        const double x = w.centre_x + (c * hx - s * py + w.shift_x) * w.width - 0.5;
        const double y = w.centre_y + (s * hx + c * py + w.shift_y) * w.height - 0.5;
        if (x < 0 || y < 0 || x > size - 1 || y > size - 1) continue;  // edge-extended there, not the plane
        for (int ch = 0; ch < 3; ++ch, ++checked)
          ASSERT_NEAR(out[(ch * size + v) * size + u], 0.01 * (ch + 1) * x + 0.02 * y + 0.1 * ch, 2e-6)
              << "seed " << seed << " at " << u << "," << v;
      }
  }
  EXPECT_GT(checked, 3000);
}

TEST(ImageAugment, TheIdentityWarpAndRightAngles) {
  const int size = 8;
  std::vector<float> img(3 * size * size);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  std::vector<float> out(img.size());
  warp_image(img.data(), size, identity_warp(size), out.data());
  EXPECT_EQ(out, img);
  ImageWarp quarter = identity_warp(size);
  quarter.angle = kPi / 2;  // output (u, v) reads source (size-1-v, u)
  warp_image(img.data(), size, quarter, out.data());
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < size; ++v)
      for (int u = 0; u < size; ++u)
        ASSERT_NEAR(out[(c * size + v) * size + u], img[(c * size + u) * size + (size - 1 - v)], 1e-6);
}

TEST(ImageAugment, BlurKeepsFlatImagesAndSpreadsAnImpulseAsAGaussian) {
  const int size = 15;
  std::vector<float> flat(3 * size * size, 0.3f);
  gaussian_blur(flat.data(), size, 1.5);
  for (float v : flat) ASSERT_NEAR(v, 0.3f, 1e-6);
  std::vector<float> dot(3 * size * size, 0.0f);
  dot[7 * size + 7] = 1.0f;
  gaussian_blur(dot.data(), size, 1.0);
  double total = 0;
  for (int i = 0; i < size * size; ++i) total += dot[i];
  EXPECT_NEAR(total, 1.0, 1e-5);
  // The 2-D kernel is separable: value at (dx, dy) / value at centre = exp(-(dx^2 + dy^2) / 2).
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx)
      EXPECT_NEAR(dot[(7 + dy) * size + 7 + dx] / dot[7 * size + 7], std::exp(-(dx * dx + dy * dy) / 2.0), 1e-5);
}

TEST(ImageAugment, ContrastKeepsTheMeanAndTheDrawIsTheSeeds) {
  const int size = 12;
  ImageAugmentOptions o;
  o.gain = o.brightness = o.pixel_noise = 0;
  o.contrast = 0.5;
  std::vector<float> a = ramp_image(size), b = a, c = a;
  const double mean = std::accumulate(a.begin(), a.end(), 0.0) / a.size();
  augment_image(a.data(), size, o, 42);
  EXPECT_NEAR(std::accumulate(a.begin(), a.end(), 0.0) / a.size(), mean, 1e-5);
  EXPECT_NE(a, ramp_image(size));
  o.crop_scale_min = 0.5;
  o.rotate_degrees = 10;
  o.blur_prob = 1;
  o.pixel_noise = 0.02;
  a = ramp_image(size);
  augment_image(a.data(), size, o, 7);
  augment_image(b.data(), size, o, 7);
  augment_image(c.data(), size, o, 8);
  EXPECT_EQ(a, b) << "a pure function of the seed";
  EXPECT_NE(a, c);
  for (float v : a) ASSERT_TRUE(v >= 0 && v <= 1);
}

TEST(AudioAugment, SpeedChangesPitchAndLengthByTheFactor) {
  const int rate = 8000;
  const std::vector<float> x = sine(300, rate, 8000);
  for (double f : {0.9, 1.1}) {
    const std::vector<float> y = change_speed(x, f);
    EXPECT_NEAR(static_cast<double>(y.size()), 8000 / f, 2.0);
    EXPECT_NEAR(zero_crossing_hz(y, rate), 300 * f, 1.0) << f;
  }
  EXPECT_EQ(change_speed(x, 1.0), x);
  AudioAugmentOptions o;
  o.speed = 0.1;
  for (uint64_t seed = 1; seed < 50; ++seed) {
    const double f = draw_speed(seed, o);
    ASSERT_TRUE(f >= 0.9 && f <= 1.1);
    ASSERT_EQ(f, draw_speed(seed, o));
  }
}

TEST(AudioAugment, NoiseLandsAtTheDrawnSnr) {
  CounterRng rng(5);
  const std::vector<float> x = sine(440, 16000, 16000);
  for (int colour : {0, 1, 2}) {
    const std::vector<float> n = coloured_noise(rng, 16000, colour);
    EXPECT_NEAR(energy(n) / n.size(), 1.0, 1e-3) << "unit RMS";
    for (double snr : {-5.0, 0.0, 12.5}) {
      std::vector<float> y = x;
      add_at_snr(y.data(), n.data(), 16000, snr);
      std::vector<float> added(y.size());
      for (size_t i = 0; i < y.size(); ++i) added[i] = y[i] - x[i];
      EXPECT_NEAR(10 * std::log10(energy(x) / energy(added)), snr, 1e-3) << colour;
    }
  }
  // The share of energy below 100 Hz: white 100/8000, pink ln(100)/ln(8000) ~ 0.5, brown ~ all of it.
  const auto low_share = [&](int colour) {
    std::vector<float> n = coloured_noise(rng, 16000, colour), high = n;
    remove_band(high.data(), 16000, 16000, 0, 100);
    return 1 - energy(high) / energy(n);
  };
  EXPECT_NEAR(low_share(0), 100.0 / 8000, 0.005);
  EXPECT_NEAR(low_share(1), std::log(100.0) / std::log(8000.0), 0.06);
  EXPECT_GT(low_share(2), 0.95);
}

TEST(AudioAugment, ReverbIsTheRoomResponseAtTheSameEnergy) {
  CounterRng rng(3);
  const int rate = 8000;
  const std::vector<float> h = synthetic_rir(rng, rate, 0.3, 6.0);
  ASSERT_EQ(h.size(), 2400u);
  EXPECT_EQ(h[0], 1.0f);
  double tail = 0, late = 0;
  for (size_t i = 1; i < h.size(); ++i) tail += h[i] * h[i];
  for (size_t i = 1800; i < h.size(); ++i) late += h[i] * h[i];
  EXPECT_NEAR(10 * std::log10(tail), -6.0, 1e-4) << "direct-to-reverberant ratio";
  EXPECT_LT(late, tail * 0.01) << "the last quarter of an RT60 carries little";
  std::vector<float> impulse(4000, 0.0f);
  impulse[100] = 1.0f;
  reverberate(impulse.data(), 4000, h);
  const double scale = 1 / std::sqrt(1 + tail);  // the response, rescaled to the impulse's energy
  for (size_t i = 0; i < h.size(); ++i) ASSERT_NEAR(impulse[100 + i], h[i] * scale, 1e-5) << i;
  for (size_t i = 0; i < 100; ++i) ASSERT_NEAR(impulse[i], 0.0f, 1e-5);
}

TEST(AudioAugment, FrequencyMasksRemoveTheBandAndTimeMasksSilenceSpans) {
  const int rate = 8000;
  std::vector<float> x = sine(1000, rate, 8000);
  const std::vector<float> low = sine(300, rate, 8000);
  for (size_t i = 0; i < x.size(); ++i) x[i] += low[i];
  const double before_1k = tone_energy(x, 1000, rate), before_300 = tone_energy(x, 300, rate);
  remove_band(x.data(), 8000, rate, 900, 1100);
  EXPECT_LT(tone_energy(x, 1000, rate), 1e-6 * before_1k);
  EXPECT_NEAR(tone_energy(x, 300, rate) / before_300, 1.0, 1e-4);

  AudioAugmentOptions o;
  o.time_masks = 3;
  o.time_mask_seconds = 0.02;  // up to 160 samples each
  int64_t silenced = 0;
  for (uint64_t seed = 1; seed < 20; ++seed) {
    std::vector<float> y(8000, 1.0f);
    augment_audio(y.data(), 8000, rate, o, seed, nullptr);
    const int64_t zeros = std::count(y.begin(), y.end(), 0.0f);
    ASSERT_LE(zeros, 3 * 160);
    silenced += zeros;
    std::vector<float> again(8000, 1.0f);
    augment_audio(again.data(), 8000, rate, o, seed, nullptr);
    ASSERT_EQ(y, again);
  }
  EXPECT_GT(silenced, 19 * 100) << "masks are drawn, not empty";
}

// SNR of y against the reference x, in dB (sample by sample: the codecs here add no delay).
double snr_db(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0;
  for (size_t i = 0; i < x.size(); ++i) err += (x[i] - y[i]) * (x[i] - y[i]);
  return 10 * std::log10(energy(x) / std::max(err, 1e-30));
}

// A voiced sound to code: a 150 Hz harmonic series, the first 20 harmonics decaying (what GSM's LPC models).
std::vector<float> voiced(int rate, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  for (int h = 1; h <= 20; ++h) {
    const std::vector<float> s = sine(150.0 * h, rate, n, 0.3 / h);
    for (int64_t i = 0; i < n; ++i) x[i] += s[i];
  }
  return x;
}

TEST(AudioChannel, CodecsRoundTripAtTheirKnownQuality) {
  const std::vector<float> x = voiced(8000, 8000);
  std::map<Codec, double> snr;
  for (const Codec c : {Codec::MuLaw, Codec::ALaw, Codec::Gsm}) {
    std::vector<float> y = x;
    codec_round_trip(y.data(), 8000, 8000, c);
    snr[c] = snr_db(x, y);
    EXPECT_NE(y, x) << codec_name(c) << " changes the clip";
    std::vector<float> again = x;
    codec_round_trip(again.data(), 8000, 8000, c);
    EXPECT_EQ(y, again) << codec_name(c) << " is deterministic";
  }
  // G.711 companding keeps ~38 dB on a loud signal; GSM 06.10 is a vocoder-like codec: far lower, yet the
  // sound survives (its energy near the original's).
  EXPECT_GT(snr[Codec::MuLaw], 30);
  EXPECT_GT(snr[Codec::ALaw], 30);
  EXPECT_LT(snr[Codec::Gsm], 20);
  std::vector<float> gsm = x;
  codec_round_trip(gsm.data(), 8000, 8000, Codec::Gsm);
  EXPECT_NEAR(energy(gsm) / energy(x), 1.0, 0.5);
  EXPECT_GT(tone_energy(gsm, 150, 8000), 0.5 * tone_energy(x, 150, 8000)) << "the fundamental survives";

  // At 16 kHz the clip goes through the codec at 8 kHz: a 6 kHz tone does not come back, 1 kHz does.
  std::vector<float> wide = sine(1000, 16000, 16000, 0.3);
  const std::vector<float> high = sine(6000, 16000, 16000, 0.3);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] += high[i];
  const double before_1k = tone_energy(wide, 1000, 16000), before_6k = tone_energy(wide, 6000, 16000);
  codec_round_trip(wide.data(), 16000, 16000, Codec::MuLaw);
  EXPECT_EQ(wide.size(), 16000u);
  EXPECT_LT(tone_energy(wide, 6000, 16000), 1e-3 * before_6k);
  EXPECT_NEAR(tone_energy(wide, 1000, 16000) / before_1k, 1.0, 0.1);
}

TEST(AudioChannel, CodecListsAreParsedAndBadNamesNamed) {
  EXPECT_EQ(parse_codecs("ulaw,alaw,gsm"), (std::vector<Codec>{Codec::MuLaw, Codec::ALaw, Codec::Gsm}));
  EXPECT_EQ(parse_codecs(" gsm "), (std::vector<Codec>{Codec::Gsm}));
  for (const char* bad : {"mp3", "ulaw,,gsm", "", "ulaw,opus"}) {
    try {
      parse_codecs(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("ulaw, alaw, gsm"), std::string::npos) << e.what();
    }
  }
}

TEST(AudioChannel, PacketsAreLostWholeAndLevelsClipAtFullScale) {
  std::vector<float> x(8000, 0.5f);
  uint64_t k = 0;
  drop_packets(x.data(), 8000, 8000, 0.02, 0.3, [&] { return static_cast<double>((k++ * 7) % 10) / 10; });
  for (int64_t p = 0; p < 50; ++p) {  // 160-sample packets, each all kept or all lost
    const auto zeros = std::count(x.begin() + p * 160, x.begin() + (p + 1) * 160, 0.0f);
    EXPECT_TRUE(zeros == 0 || zeros == 160) << "packet " << p;
  }
  EXPECT_EQ(std::count(x.begin(), x.end(), 0.0f), 15 * 160) << "3 of every 10 packets";

  std::vector<float> y{0.1f, -0.3f, 0.6f};
  change_level(y.data(), 3, 20 * std::log10(2.0));
  EXPECT_NEAR(y[0], 0.2f, 1e-6);
  EXPECT_NEAR(y[1], -0.6f, 1e-6);
  EXPECT_EQ(y[2], 1.0f) << "clipped";
}

TEST(AudioChannel, AugmentationDrawsTheChannelFromTheSeed) {
  const int rate = 8000;
  std::vector<float> x = sine(1000, rate, 8000, 0.3);
  const std::vector<float> low = sine(100, rate, 8000, 0.3);
  for (size_t i = 0; i < x.size(); ++i) x[i] += low[i];
  AudioAugmentOptions phone;
  phone.telephone_prob = 1;
  std::vector<float> y = x;
  augment_audio(y.data(), 8000, rate, phone, 5, nullptr);
  EXPECT_LT(tone_energy(y, 100, rate), 1e-6 * tone_energy(x, 100, rate)) << "below the telephone band";
  EXPECT_NEAR(tone_energy(y, 1000, rate) / tone_energy(x, 1000, rate), 1.0, 1e-3) << "inside it";

  AudioAugmentOptions all;
  all.telephone_prob = 0.5;
  all.codec_prob = 0.5;
  all.packet_loss_prob = 0.5;
  all.packet_loss_rate = 0.5;
  all.level_db = 6;
  std::set<std::vector<float>> distinct;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    std::vector<float> a = x, b = x;
    augment_audio(a.data(), 8000, rate, all, seed, nullptr);
    augment_audio(b.data(), 8000, rate, all, seed, nullptr);
    ASSERT_EQ(a, b) << "seed " << seed;
    distinct.insert(a);
  }
  EXPECT_EQ(distinct.size(), 8u) << "every seed draws its own channel";
  AudioAugmentOptions gsm_only;
  gsm_only.codec_prob = 1;
  gsm_only.codecs = "gsm";
  std::vector<float> g = x, direct = x;
  augment_audio(g.data(), 8000, rate, gsm_only, 3, nullptr);
  codec_round_trip(direct.data(), 8000, rate, Codec::Gsm);
  EXPECT_EQ(g, direct) << "augment.codecs limits the draw";
}

TEST(AudioAugment, NoiseFolderIsReadOnceAndNamedWhenUnusable) {
  const std::string dir = fresh_dir("noise-bank");
  std::filesystem::create_directories(dir);
  auto error_of = [](const std::string& d) {
    try {
      NoiseBank bank(d, 8000);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(dir + "/missing").find("/missing: not a folder"), std::string::npos);
  EXPECT_NE(error_of(dir).find("no audible .wav or .flac"), std::string::npos);
  SF_INFO info{};
  info.samplerate = 16000;  // resampled to the dataset's rate when read
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open((dir + "/hum.wav").c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  const std::vector<float> hum = sine(100, 16000, 16000, 0.25);
  sf_write_float(f, hum.data(), static_cast<sf_count_t>(hum.size()));
  sf_close(f);
  const NoiseBank bank(dir, 8000);
  EXPECT_EQ(bank.files(), 1u);
  CounterRng rng(1);
  std::vector<float> drawn(20000);  // longer than the recording: looped
  bank.draw(rng, 20000, drawn.data());
  EXPECT_NEAR(energy(drawn) / drawn.size(), 1.0, 0.02) << "unit RMS";
  EXPECT_NEAR(zero_crossing_hz(std::vector<float>(drawn.begin(), drawn.begin() + 7000), 8000), 100, 1.0);
}

// The dataset applies what set_augmentation says, only with a non-zero seed, the same for the same seed.
TEST(AudioAugment, ShardDatasetAppliesItDeterministically) {
  const std::string dir = fresh_dir("augment-shards");
  {
    DatasetWriter w(dir, Modality::Audio, 8000, 1 << 20);
    for (int k = 0; k < 3; ++k) {
      std::vector<std::vector<int16_t>> clips;
      for (int i = 0; i < 2; ++i) {
        const std::vector<float> s = sine(200 + 100 * k + 10 * i, 8000, 6000);
        std::vector<int16_t> pcm(s.size());
        for (size_t n = 0; n < s.size(); ++n) pcm[n] = static_cast<int16_t>(s[n] * 20000);
        clips.push_back(pcm);
      }
      w.add_audio_identity("voice_" + std::to_string(k), clips);
    }
    w.finish({2});
  }
  ShardDataset plain(dir, 4000), augmented(dir, 4000);
  AugmentOptions a;
  a.audio.speed = 0.1;
  a.audio.noise_prob = 1;
  a.audio.reverb_prob = 1;
  a.audio.freq_masks = 2;
  a.audio.time_masks = 2;
  a.audio.telephone_prob = 1;
  a.audio.codec_prob = 1;
  a.audio.packet_loss_prob = 1;
  a.audio.level_db = 6;
  augmented.set_augmentation(a);
  std::vector<float> p(4000), q(4000), r(4000);
  plain.read(1, 0, 0, p.data());
  augmented.read(1, 0, 0, q.data());
  EXPECT_EQ(p, q) << "seed 0: no augmentation";
  plain.read(1, 0, 99, p.data());
  augmented.read(1, 0, 99, q.data());
  augmented.read(1, 0, 99, r.data());
  EXPECT_EQ(q, r);
  double diff = 0;
  for (size_t i = 0; i < p.size(); ++i) diff += (p[i] - q[i]) * (p[i] - q[i]);
  EXPECT_GT(diff, 0.05 * energy(p)) << "the options change the clip";
}

// Through the trainer, with every operation on and the loader's workers running them: stopping and resuming
// gives bitwise the parameters of the uninterrupted run, and the operations do change what it learns.
class AugmentedTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(AugmentedTraining, ResumesBitwiseExactly) {
  const std::string data = fresh_dir("augment-data-" + GetParam());
  const std::vector<std::string> shards = {"data.source=shards", "data.path=" + data, "data.create_if_missing=true",
                                           "data.workers=2"};
  std::vector<std::string> all = shards;
  for (const char* k :
       {"augment.crop_scale_min=0.6", "augment.rotate_degrees=10", "augment.shear_degrees=5", "augment.translate=0.05",
        "augment.contrast=0.3", "augment.blur_prob=0.5", "augment.speed=0.1", "augment.noise_prob=0.5",
        "augment.reverb_prob=0.5", "augment.time_masks=2", "augment.freq_masks=2", "augment.telephone_prob=0.5",
        "augment.codec_prob=0.5", "augment.packet_loss_prob=0.5", "augment.level_db=6"})
    all.push_back(k);
  const auto whole = train(imprint::testing::tiny_config(GetParam(), all), {fresh_dir("aug-whole"), false});
  const std::string dir = fresh_dir("aug-split");
  std::vector<std::string> stop = all;
  stop.push_back("train.stop_at=12");
  train(imprint::testing::tiny_config(GetParam(), stop), {dir, false});
  const auto resumed = train(imprint::testing::tiny_config(GetParam(), all), {dir, true});
  const auto plain = train(imprint::testing::tiny_config(GetParam(), shards), {fresh_dir("aug-plain"), false});
  ASSERT_EQ(whole.parameters.size(), resumed.parameters.size());
  for (size_t i = 0; i < whole.parameters.size(); ++i)
    EXPECT_TRUE(torch::equal(whole.parameters[i], resumed.parameters[i])) << "parameter " << i << " differs";
  EXPECT_FALSE(torch::equal(whole.parameters[1], plain.parameters[1])) << "the augment.* keys must change training";
}

INSTANTIATE_TEST_SUITE_P(Modalities, AugmentedTraining, ::testing::Values("image", "audio"));
