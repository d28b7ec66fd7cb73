// Audio generation: Griffin-Lim, the log-mel codec the audio generator denoises in (and its vocoder file), the
// UNet over non-square log-mels, the denoise loss's gradient on audio in each training mode, the word reader
// (content judge), and `imprint generate` writing WAVs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <torch/csrc/jit/api/module.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "collectives/communicator.h"
#include "config/config_error.h"
#include "data/synthetic_dataset.h"
#include "data/synthetic_export.h"
#include "generation/conditional_unet.h"
#include "generation/griffin_lim.h"
#include "generation/mel_codec.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/evaluation/fidelity_eval.h"
#include "trainer/inference/generate_grid.h"
#include "trainer/model_parts.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;
namespace fs = std::filesystem;

namespace {

// A voiced, speech-like clip: harmonics of a gliding pitch under a syllable envelope, then silence.
at::Tensor voiced_clip(int64_t samples, int64_t rate, double f0 = 140) {
  const auto t = at::arange(samples, at::kDouble) / static_cast<double>(rate);
  const auto pitch = f0 * (1 + 0.1 * at::sin(2 * M_PI * 3 * t));
  const auto phase = 2 * M_PI * at::cumsum(pitch, 0) / static_cast<double>(rate);
  auto x = at::zeros_like(t);
  for (int k = 1; k <= 8; ++k) x = x + at::sin(phase * k) / k;
  const auto envelope = at::sin(M_PI * (t / 0.6).clamp(0, 1)).pow(2);
  return (0.3 * x * envelope).to(at::kFloat);
}

MelCodecSpec codec_spec() {
  MelCodecSpec s;
  s.sample_rate = 8000, s.n_fft = 256, s.hop = 80, s.n_mels = 40, s.clip_samples = 8000;
  s.griffin_lim_iterations = 32;
  return s;
}

// The audio generator's runs: synthetic voices (no content labels), the denoise objective on 0.25 s clips
// (24 mel bins x 32 frames of 64 samples).
std::vector<std::string> audio_generative(const std::string& train, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"objective.infonce.weight=0",
                                   "objective.denoise.weight=1",
                                   "objective.denoise.train=" + train,
                                   "objective.denoise.width=8",
                                   "objective.denoise.timesteps=100",
                                   "objective.denoise.griffin_lim_iterations=4",
                                   "train.steps=4",
                                   "checkpoint.every=4"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

}  // namespace

TEST(GriffinLim, RebuildsTheMagnitudeItIsGiven) {
  GriffinLimOptions o;
  o.n_fft = 256, o.hop = 80;
  const auto x = voiced_clip(8000, 8000).unsqueeze(0);
  const auto magnitude = at::stft(x, 256, 80, 256, at::hann_window(256), true, "reflect", false, true, true).abs();
  o.iterations = 1;
  const double one = spectral_convergence(magnitude, griffin_lim(magnitude, 8000, o), o);
  o.iterations = 32;
  const auto y = griffin_lim(magnitude, 8000, o);
  ASSERT_EQ(y.sizes(), x.sizes());
  const double many = spectral_convergence(magnitude, y, o);
  std::printf("spectral convergence %.3f after 1 iteration, %.3f after 32\n", one, many);
  EXPECT_LT(many, 0.25);
  EXPECT_LT(many, 0.5 * one);
  EXPECT_TRUE(at::equal(y, griffin_lim(magnitude, 8000, o))) << "the same magnitudes give the same waveform";
}

TEST(MelCodec, EncodesClipsToLogMelsAndVocodesThemBack) {
  MelCodec codec(codec_spec());
  EXPECT_EQ(codec.latent_shape(0), (std::vector<int64_t>{1, 40, 100}));  // 101 frames cut to a multiple of 4
  const auto x = at::stack({voiced_clip(8000, 8000, 120), voiced_clip(8000, 8000, 220)});
  const auto mel = codec.encode(x);
  ASSERT_EQ(mel.sizes(), (std::vector<int64_t>{2, 1, 40, 100}));
  EXPECT_LT(mel.min().item<double>(), -2) << "digital silence sits near -2.5";
  EXPECT_GT(mel.max().item<double>(), 0.5);
  const auto back = codec.decode(mel);
  ASSERT_EQ(back.sizes(), x.sizes());
  // The vocoded clip has the log-mel it was made from (Griffin-Lim keeps magnitudes, not phases), and each
  // clip is nearer its own mel than the other's.
  const auto again = codec.encode(back);
  const double own = (again - mel).abs().mean().item<double>();
  const double other = (again - mel.flip({0})).abs().mean().item<double>();
  std::printf("log-mel of the vocoded clip vs its own: %.3f, vs the other clip's: %.3f (mean abs, normalised)\n", own,
              other);
  EXPECT_LT(own, 0.35);  // measured 0.24 (the filterbank's pseudo-inverse loses detail), vs 0.58 for the other clip
  EXPECT_LT(own, 0.6 * other);
  const auto picture = MelCodec::picture(mel);
  EXPECT_EQ(picture.sizes(), (std::vector<int64_t>{2, 3, 40, 100}));
  EXPECT_LE(picture.max().item<double>(), 2.0);
  EXPECT_GE(picture.min().item<double>(), -2.0);

  MelCodecSpec bad = codec_spec();
  bad.n_mels = 42;
  EXPECT_THROW(MelCodec{bad}, std::invalid_argument);
  bad = codec_spec();
  bad.clip_samples = 160;  // 3 frames
  EXPECT_THROW(MelCodec{bad}, std::invalid_argument);
}

TEST(MelCodec, AUsersVocoderFileIsCheckedAndUsed) {
  const std::string dir = fresh_dir("vocoder");
  fs::create_directories(dir);
  // forward(mel [B, n_mels, frames]) -> wav [B, frames * 80]: a stand-in that repeats each frame's mean power.
  torch::jit::Module good("Vocoder");
  good.define(R"(
def forward(self, mel: Tensor) -> Tensor:
    return torch.tanh(mel.mean(1)).repeat_interleave(80, 1)
)");
  good.save(dir + "/vocoder.pt");
  MelCodecSpec s = codec_spec();
  s.vocoder_script = dir + "/vocoder.pt";
  MelCodec codec(s);
  const auto wav = codec.decode(codec.encode(voiced_clip(8000, 8000).unsqueeze(0)));
  EXPECT_EQ(wav.sizes(), (std::vector<int64_t>{1, 8000})) << "8000 samples from 100 frames of 80, padded";
  torch::jit::Module wrong("NotAVocoder");
  wrong.define(R"(
def forward(self, mel: Tensor) -> Tensor:
    return mel
)");
  wrong.save(dir + "/wrong.pt");
  s.vocoder_script = dir + "/wrong.pt";
  try {
    MelCodec{s};
    ADD_FAILURE() << "a vocoder returning [B, n_mels, frames] was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/wrong.pt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("wav [1, T]"), std::string::npos) << e.what();
  }
  s.vocoder_script = dir + "/missing.pt";
  EXPECT_THROW(MelCodec{s}, std::invalid_argument);
}

TEST(ConditionalUnet, DenoisesSamplesThatAreNotSquare) {
  GeneratorSpec s;
  s.channels = 1, s.image_size = 8, s.sample_width = 12, s.width = 8, s.content_classes = 3, s.id_dim = 16;
  s.heads = 2;
  ConditionalUnet unet(s);
  const auto out =
      unet.predict(at::randn({2, 1, 8, 12}), at::tensor({3, 7}), at::tensor({0, 2}), at::randn({2, 1, 16}), 1.0);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1, 8, 12}));
  EXPECT_THROW(
      unet.predict(at::randn({2, 1, 12, 8}), at::tensor({3, 7}), at::tensor({0, 2}), at::randn({2, 1, 16}), 1.0),
      c10::Error);
  s.sample_width = 10;
  EXPECT_THROW(ConditionalUnet{s}, std::invalid_argument);
}

TEST(AudioDenoise, TheLossGradientReachesEveryAdapterWeightAndTheEncoderInEachMode) {
  const std::string pre = fresh_dir("audio-pretrain-for-gradients");
  train(tiny_config("audio", audio_generative("generator", {"train.steps=2", "checkpoint.every=2"})),
        {pre, false, nullptr});
  const std::string ckpt = pre + "/checkpoints/step-00000002.ckpt";
  ASSERT_TRUE(fs::exists(ckpt));
  for (const std::string mode : {"generator", "adapter", "all"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> extra;
    if (mode == "adapter") extra.push_back("objective.denoise.generator_from=" + ckpt);
    torch::manual_seed(3);
    auto parts = build_model_parts(tiny_config("audio", audio_generative(mode, extra)), at::Device(at::kCPU));
    if (mode != "adapter") {  // a fresh UNet's zero output layer would stop every gradient upstream of it
      torch::NoGradGuard no_grad;
      for (auto& [name, p] : parts.named)
        if (name.find("conv_out") != std::string::npos) p.normal_(0, 0.02);
    }
    const auto target = at::randn({4, 2000}) * 0.3, ref = at::randn({4, 2000}) * 0.3;  // 0.25 s at 8 kHz
    TrainBatch batch{at::stack({ref, target}, 1), at::arange(4), at::Tensor(), 5, 0};
    EncodedBatch encoded;
    if (parts.views_read > 0) {
      const Conditioning c = parts.encoder->encode(ref);
      encoded = {c.tokens.unsqueeze(1), c.pooled.unsqueeze(1)};
    }
    auto comm = make_local_communicator();
    parts.objective->compute(batch, encoded, *comm).loss.backward();
    int64_t adapter = 0, generator = 0;
    double encoder_sq = 0;
    for (const auto& [name, p] : parts.named) {
      if (name.rfind("objective.", 0) != 0 && name.find("pool") != std::string::npos) continue;  // pooled head
      ASSERT_TRUE(p.grad().defined()) << name << " got no gradient";
      const double norm = p.grad().norm().item<double>();
      ASSERT_TRUE(std::isfinite(norm)) << name;
      if (name.rfind("objective.denoise.generator.", 0) == 0) {
        name.find("adapter") != std::string::npos ? ++adapter : ++generator;
        EXPECT_GT(norm, 0) << name << " is trained but the loss does not reach it";
      } else if (name.rfind("objective.", 0) != 0) {
        encoder_sq += norm * norm;
        if (mode != "generator") {
          EXPECT_GT(norm, 0) << name << " (an encoder weight) is not reached";
        }
      }
    }
    EXPECT_EQ(adapter > 0, mode != "generator");
    EXPECT_EQ(generator > 0, mode != "adapter");
    EXPECT_EQ(encoder_sq > 0, mode != "generator");
  }
}

TEST(Fidelity, TheContentJudgeReadsTheNearestLabelPrototype) {
  // Bank: labels 0 and 1 around two directions; a sample near direction 1 reads as label 1.
  const auto unit = [](at::Tensor x) { return x / x.norm(2, {1}, true); };
  const auto bank = unit(at::tensor({1.0f, 0.1f, 0.9f, -0.1f, 0.1f, 1.0f, -0.1f, 0.9f}).view({4, 2}));
  const auto bank_content = at::tensor({0, 0, 1, 1}, at::kLong);
  const auto samples = unit(at::tensor({0.2f, 1.0f, 1.0f, 0.0f, 1.0f, 0.3f}).view({3, 2}));
  EXPECT_DOUBLE_EQ(prototype_content_accuracy(samples, at::tensor({1, 0, 0}, at::kLong), bank, bank_content), 1.0);
  EXPECT_NEAR(prototype_content_accuracy(samples, at::tensor({1, 1, 1}, at::kLong), bank, bank_content), 1.0 / 3,
              1e-12);
}

TEST(AudioDenoise, GenerateWritesWavsAndAMelGridAndNamesBadInput) {
  const std::string dir = fresh_dir("audio-generate");
  train(tiny_config("audio", audio_generative("all")), {dir, false, nullptr});
  const std::string data = dir + "/data";  // the tiny run's synthetic dataset is made in memory: write one
  SyntheticSpec spec;
  spec.modality = Modality::Audio;
  spec.train_identities = 4, spec.eval_identities = 2, spec.samples_per_identity = 3;
  spec.sample_rate = 8000, spec.clip_samples = 2000, spec.data_seed = 7;
  export_synthetic(spec, data, 1 << 20);
  GenerateOptions o;
  o.checkpoint = dir + "/checkpoints/step-00000004.ckpt";
  o.data = data;
  o.out = dir + "/grid.png";
  o.sampler.steps = 3;
  const auto r = generate_grid(o);
  EXPECT_EQ(r.references, 2);
  EXPECT_EQ(r.wav_folder, dir + "/grid-wav");
  EXPECT_EQ(r.wav_files, 2 * 3) << "per reference: itself, one sample with and one without identity";
  EXPECT_TRUE(fs::exists(o.out));
  int wavs = 0;
  for (const auto& f : fs::directory_iterator(r.wav_folder)) {
    SF_INFO info{};
    SNDFILE* h = sf_open(f.path().c_str(), SFM_READ, &info);
    ASSERT_NE(h, nullptr) << f.path() << ": libsndfile cannot read it";
    sf_close(h);
    EXPECT_EQ(info.samplerate, 8000);
    EXPECT_EQ(info.frames, 2000);
    EXPECT_EQ(info.channels, 1);
    ++wavs;
  }
  EXPECT_EQ(wavs, 6);
  // An image as the reference of an audio checkpoint, and a word it does not know, each get one message.
  o.data.clear();
  o.reference = IMPRINT_SOURCE_DIR "/tests/fixtures/pattern16.png";
  try {
    generate_grid(o);
    ADD_FAILURE() << "an image reference was taken for an audio checkpoint";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("reads audio"), std::string::npos) << e.what();
  }
  o.reference.clear();
  o.data = data;
  o.content = "3";
  EXPECT_THROW(generate_grid(o), ConfigError) << "the generator has no content labels";
  // A dataset at another sample rate is refused, naming both rates (a reference FILE is resampled instead).
  spec.sample_rate = 16000, spec.clip_samples = 4000;
  export_synthetic(spec, dir + "/data16k", 1 << 20);
  o.content.clear();
  o.data = dir + "/data16k";
  try {
    generate_grid(o);
    ADD_FAILURE() << "a 16 kHz dataset was taken for an 8 kHz checkpoint";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("16000 Hz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("8000 Hz"), std::string::npos) << e.what();
  }
}
