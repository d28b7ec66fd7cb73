// One training step of the generative path (encoder forward on the references, the denoise objective's
// generator forward, backward, no optimizer), timed per mode against full float32 training:
//   full        every generator weight and the encoder train (objective.denoise.train: all)
//   adapter     the generator frozen except its identity branch (train: adapter): backward still runs
//               through the generator to reach the encoder, but computes no frozen weight's gradient
//   pretrain    the generator alone on content (train: generator): the encoder is not run
// each in float32 and under CPU autocast to bfloat16 (libtorch's at::autocast, as torch.autocast("cpu")),
// with the bf16 loss's relative difference from float32 on the same batch. --autoencoder CKPT (a checkpoint of
// the autoencoder objective, e.g. a few steps of it: the cost does not depend on the weights) runs the same
// modes in latent space, its frozen encoder encoding each step's targets on the fly, under no gradient, as
// training does; the pixel-space rows are timed in the same run for the side-by-side ratio. --audio-seconds S
// runs the same modes for the AUDIO generator (recipes/words: clips of S seconds at 8 kHz, the generator over
// their log-mels, 32 mel bins of 20 ms frames, the references encoded by an ECAPA-TDNN of width 16), float32,
// and times vocoding a batch with Griffin-Lim (what every fidelity evaluation and generate pay per sample).
//
//   ./build/bench/generator_bench [--width 32] [--batch 32] [--size 32] [--steps 10] [--threads 2]
//                                 [--autoencoder CKPT | --audio-seconds 1]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "models/encoder_spec.h"
#include "trainer/autocast_scope.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/objectives/denoise.h"

using namespace imprint;

namespace {

struct Args {
  int64_t width = 32, batch = 32, size = 32, steps = 10, threads = 2, classes = 26;
  std::string autoencoder;   // --autoencoder: latent space
  double audio_seconds = 0;  // --audio-seconds: the audio generator
};

// The audio generator's encoder and log-mel front end (recipes/words/joint.yaml's).
EncoderSpec audio_encoder_spec() {
  EncoderSpec spec;
  spec.name = "ecapa_tdnn";
  spec.modality = Modality::Audio;
  spec.embed_dim = 128;
  spec.width = 16;
  spec.sample_rate = 8000;
  spec.n_mels = 32;
  spec.n_fft = 320;
  spec.hop = 160;
  return spec;
}

struct Result {
  double median_ms = 0, loss = 0;
};

// The generator every measurement builds: pixels, or the latents of the autoencoder checkpoint a.autoencoder.
DiffusionSpec bench_spec(const Args& a, bool latent) {
  DiffusionSpec g;
  g.image_size = a.size;
  g.width = a.width;
  g.content_classes = a.classes;
  g.id_dim = 128;
  g.heads = 4;
  g.timesteps = 1000;
  if (latent) {
    g.autoencoder_from = a.autoencoder;
    g.autoencoder = CheckpointReader(a.autoencoder).autoencoder_spec();
  }
  if (a.audio_seconds > 0) {
    const EncoderSpec e = audio_encoder_spec();
    g.modality = Modality::Audio;
    g.mel.sample_rate = e.sample_rate;
    g.mel.n_fft = e.n_fft;
    g.mel.hop = e.hop;
    g.mel.n_mels = e.n_mels;
    g.mel.clip_samples = static_cast<int64_t>(a.audio_seconds * static_cast<double>(e.sample_rate));
  }
  return g;
}

double median(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

Result time_mode(const Args& a, const std::string& mode, bool bf16, bool latent) {
  torch::manual_seed(0);
  DenoiseOptions o;
  // adapter: frozen below, as train: adapter does (without a pretrained generator to load)
  o.train = mode == "pretrain" ? DenoiseTraining::Generator : DenoiseTraining::All;
  DenoiseObjective objective(o, bench_spec(a, latent));
  Generator& generator = objective.diffusion().generator();
  if (mode == "adapter")
    for (auto& kv : generator.named_parameters().pairs())
      kv.second.set_requires_grad(generator.is_adapter_parameter(kv.first));
  EncoderSpec spec;
  spec.image_size = a.size;
  spec.embed_dim = 128;
  spec.width = 16;
  if (a.audio_seconds > 0) spec = audio_encoder_spec();
  auto encoder = make_encoder(spec);
  auto comm = make_local_communicator();
  TrainBatch b;
  b.views = a.audio_seconds > 0  // reference, target
                ? torch::randn({a.batch, 2, bench_spec(a, false).mel.clip_samples}) * 0.3
                : torch::randn({a.batch, 2, 3, a.size, a.size});
  b.identity = torch::arange(a.batch);
  b.content = torch::randint(a.classes, {a.batch, 2}, torch::kLong);
  std::vector<double> ms;
  Result r;
  for (int64_t s = 0; s < a.steps + 2; ++s) {  // 2 warm-up steps
    b.step = s;
    objective.zero_grad();
    encoder->zero_grad();
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor loss;
    {
      AutocastScope autocast(torch::kCPU, bf16);  // the forward pass only, as in training (train_step.cpp)
      EncodedBatch encoded;
      if (mode != "pretrain") {
        const Conditioning ref = encoder->encode(b.view(0));
        encoded = {ref.tokens.unsqueeze(1), ref.pooled.unsqueeze(1)};
      }
      loss = objective.compute(b, encoded, *comm).loss;
    }
    loss.backward();
    const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s == 0) r.loss = loss.item<double>();
    if (s >= 2) ms.push_back(elapsed);
  }
  r.median_ms = median(ms);
  return r;
}

// Median time of the frozen autoencoder's encoding of one batch of targets (what latents packed into the
// shards would save per step).
double encode_ms(const Args& a) {
  Diffusion diffusion(bench_spec(a, /*latent=*/true));
  const at::Tensor x = torch::randn({a.batch, 3, a.size, a.size});
  std::vector<double> ms;
  for (int64_t s = 0; s < a.steps + 2; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    diffusion.to_sample_space(x);
    if (s >= 2) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int64_t v = k == "--autoencoder" || k == "--audio-seconds" ? 0 : std::stoll(argv[i + 1]);
    if (k == "--width")
      a.width = v;
    else if (k == "--batch")
      a.batch = v;
    else if (k == "--size")
      a.size = v;
    else if (k == "--steps")
      a.steps = v;
    else if (k == "--threads")
      a.threads = v;
    else if (k == "--autoencoder")
      a.autoencoder = argv[i + 1];
    else if (k == "--audio-seconds")
      a.audio_seconds = std::stod(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  at::set_num_threads(static_cast<int>(a.threads));
  std::printf(
      "# generator_bench: one generative training step (forward + backward, no optimizer), median of %lld\n"
      "# generator width %lld, %lldx%lld images, batch %lld, %lld torch threads, libtorch CPU\n",
      (long long)a.steps, (long long)a.width, (long long)a.size, (long long)a.size, (long long)a.batch,
      (long long)a.threads);
  if (a.audio_seconds > 0) {
    Diffusion diffusion(bench_spec(a, false));
    const auto shape = diffusion.sample_shape();
    std::printf("# audio: %.2f s clips at 8 kHz -> log-mels [%lld, %lld, %lld]; encoder ecapa_tdnn width 16\n",
                a.audio_seconds, (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    std::printf("%-9s %12s %12s %12s\n", "mode", "ms/step", "samples/s", "vs full");
    double base = 0;
    for (const std::string mode : {"full", "adapter", "pretrain"}) {
      const Result r = time_mode(a, mode, false, false);
      if (mode == "full") base = r.median_ms;
      std::printf("%-9s %12.1f %12.1f %11.2fx\n", mode.c_str(), r.median_ms, 1000.0 * a.batch / r.median_ms,
                  base / r.median_ms);
    }
    const auto mel = diffusion.to_sample_space(torch::randn({a.batch, diffusion.spec().mel.clip_samples}) * 0.3);
    std::vector<double> ms;
    for (int64_t s = 0; s < 3; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      diffusion.to_images(mel);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("Griffin-Lim (%lld iterations) vocoding a batch of %lld: %.1f ms (%.1f clips/s)\n",
                (long long)diffusion.spec().mel.griffin_lim_iterations, (long long)a.batch, median(ms),
                1000.0 * a.batch / median(ms));
    return 0;
  }
  if (!a.autoencoder.empty()) {
    // Pixel against latent space, float32, each mode side by side.
    const AutoencoderSpec ae = CheckpointReader(a.autoencoder).autoencoder_spec();
    std::printf("# latent: KL autoencoder %lldx down, %lld channels, width %lld; targets encoded on the fly\n",
                (long long)ae.downsample, (long long)ae.latent_channels, (long long)ae.width);
    std::printf("%-9s %12s %12s %12s %12s %10s\n", "mode", "pixel ms", "latent ms", "pixel sps", "latent sps",
                "speed-up");
    for (const std::string mode : {"full", "adapter", "pretrain"}) {
      const Result p = time_mode(a, mode, false, false), l = time_mode(a, mode, false, true);
      std::printf("%-9s %12.1f %12.1f %12.1f %12.1f %9.2fx\n", mode.c_str(), p.median_ms, l.median_ms,
                  1000.0 * a.batch / p.median_ms, 1000.0 * a.batch / l.median_ms, p.median_ms / l.median_ms);
    }
    std::printf("on-the-fly encoding of a batch's targets (inside the latent rows above): %.1f ms\n", encode_ms(a));
    return 0;
  }
  std::printf("%-9s %-9s %12s %12s %14s %14s\n", "mode", "dtype", "ms/step", "samples/s", "vs full fp32",
              "bf16 loss diff");
  double base = 0;
  for (const std::string mode : {"full", "adapter", "pretrain"}) {
    const Result f = time_mode(a, mode, false, false);
    if (mode == "full") base = f.median_ms;
    std::printf("%-9s %-9s %12.1f %12.1f %13.2fx %14s\n", mode.c_str(), "float32", f.median_ms,
                1000.0 * a.batch / f.median_ms, base / f.median_ms, "-");
    try {
      const Result h = time_mode(a, mode, true, false);
      std::printf("%-9s %-9s %12.1f %12.1f %13.2fx %13.2e\n", mode.c_str(), "bf16-amp", h.median_ms,
                  1000.0 * a.batch / h.median_ms, base / h.median_ms, std::abs(h.loss - f.loss) / std::abs(f.loss));
    } catch (const c10::Error& e) {  // the AutocastScope has ended autocast on its way out
      const std::string what = e.what_without_backtrace();
      std::printf("%-9s %-9s unsupported by this libtorch: %s\n", mode.c_str(), "bf16-amp",
                  what.substr(0, what.find('\n')).c_str());
    }
  }
  return 0;
}
