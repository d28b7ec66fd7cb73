// Latent diffusion and content tokens (generation/autoencoder.h, generation/content_tokens.h): imprint's own
// autoencoder and its objective, a user's TorchScript autoencoder, adapter training on a frozen autoencoder's
// latents with content token sequences, what stays frozen and out of checkpoints, and the two-condition
// guidance of the sampler.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/serialize/archive.h>

#include <filesystem>
#include <functional>

#include "collectives/communicator.h"
#include "generation/conditional_unet.h"
#include "generation/ddim_sampler.h"
#include "tests/scripted_modules.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/inference/generate_grid.h"
#include "trainer/model_parts.h"
#include "trainer/objectives/autoencoder.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

const std::vector<std::string> kAutoencoderRun = {"objective.infonce.weight=0",
                                                  "objective.autoencoder.weight=1",
                                                  "objective.autoencoder.width=8",
                                                  "train.steps=6",
                                                  "checkpoint.every=6",
                                                  "train.eval_every=6"};

std::vector<std::string> latent_adapter(const std::vector<std::string>& extra) {
  return with({"data.content_classes=3", "objective.infonce.weight=0", "objective.denoise.weight=1",
               "objective.denoise.train=adapter", "objective.denoise.content_classes=3",
               "objective.denoise.timesteps=100", "train.steps=6", "checkpoint.every=3"},
              extra);
}

// The error building the model of a latent run with `extra` gives ("no error" if it builds).
std::string build_error(const std::vector<std::string>& extra) {
  return error_of([&] { build_model_parts(tiny_config("image", latent_adapter(extra)), at::Device(at::kCPU)); });
}

// The same for generator pretraining at width 8 (no encoder, no identity branch to load).
std::string pretrain_build_error(const std::string& set) {
  return build_error({"objective.denoise.train=generator", "objective.denoise.width=8", set});
}

}  // namespace

TEST(KlAutoencoder, LatentShapesAndScale) {
  for (const int64_t f : {4, 8}) {
    AutoencoderSpec spec;
    spec.downsample = f;
    spec.width = 8;
    spec.latent_channels = 3;
    KlAutoencoder ae(spec);
    const auto x = at::randn({2, 3, 32, 32});
    const auto [mean, logvar] = ae.posterior(x);
    EXPECT_EQ(mean.sizes(), (std::vector<int64_t>{2, 3, 32 / f, 32 / f}));
    EXPECT_EQ(ae.latent_shape(32), (std::vector<int64_t>{3, 32 / f, 32 / f}));
    EXPECT_EQ(ae.reconstruct(mean).sizes(), x.sizes());
    ae.set_latent_std(2.0);
    EXPECT_TRUE(at::allclose(ae.encode(x), mean / 2.0));
    EXPECT_TRUE(at::allclose(ae.decode(ae.encode(x)), ae.reconstruct(mean), 1e-5, 1e-6));
  }
}

// The first stage of latent diffusion: the autoencoder objective trains it (loss falls), keeps the latents'
// running standard deviation, reports held-out reconstruction, and nothing else trains.
TEST(AutoencoderObjective, TrainsReconstructionAndKeepsTheLatentScale) {
  const std::string dir = fresh_dir("ae");
  const auto summary = train(
      tiny_config("image", with(kAutoencoderRun, {"train.steps=80", "checkpoint.every=80", "train.eval_every=80"})),
      {dir, false, nullptr});
  EXPECT_LT(summary.last_loss, summary.first_loss);
  EXPECT_FALSE(summary.eval.measured) << "no encoder trains: no retrieval score";
  ASSERT_TRUE(summary.evaluation.count("ae_psnr"));
  EXPECT_GT(summary.evaluation.at("ae_psnr"), 5.0);
  CheckpointReader reader(dir + "/checkpoints/step-00000080.ckpt");
  const AutoencoderSpec spec = reader.autoencoder_spec();
  EXPECT_EQ(spec.width, 8);
  KlAutoencoder ae(spec);
  reader.load_autoencoder(ae);
  EXPECT_GT(ae.latent_std(), 0.0);
  EXPECT_NE(ae.latent_std(), 1.0);
  // Alone: another objective beside it is refused, naming its weight.
  EXPECT_NE(error_of([&] {
              tiny_config("image", with(kAutoencoderRun, {"objective.infonce.weight=1"}));
            }).find("objective.infonce.weight"),
            std::string::npos);
}

// Adapter training on imprint's own frozen autoencoder: the generator denoises [C, S/f, S/f] latents, the
// autoencoder is out of the trained weights and of the checkpoint (recorded by hash), generate decodes.
TEST(LatentDiffusion, AdapterTrainingOnImprintsFrozenAutoencoder) {
  const std::string ae_dir = fresh_dir("ae-for-latents");
  train(tiny_config("image", kAutoencoderRun), {ae_dir, false, nullptr});
  const std::string ae = ae_dir + "/checkpoints/step-00000006.ckpt";
  const std::string pre = fresh_dir("latent-pretrain");
  const auto common = std::vector<std::string>{"objective.denoise.autoencoder_from=" + ae, "objective.denoise.width=8"};
  train(tiny_config("image", with(latent_adapter(common), {"objective.denoise.train=generator"})),
        {pre, false, nullptr});
  const JobConfig job = tiny_config(
      "image",
      latent_adapter(with(common, {"objective.denoise.generator_from=" + pre + "/checkpoints/step-00000006.ckpt"})));
  auto parts = build_model_parts(job, at::Device(at::kCPU));
  EXPECT_EQ(parts.signature.count("objective.denoise.autoencoder_fnv1a64"), 1u);
  for (const auto& [name, p] : parts.named)
    EXPECT_EQ(name.find("autoencoder"), std::string::npos) << name << " trains: the autoencoder must be frozen";
  const std::string dir = fresh_dir("latent-adapter");
  train(job, {dir, false, nullptr});
  const std::string ckpt = dir + "/checkpoints/step-00000006.ckpt";
  torch::serialize::InputArchive ar, objective, denoise, autoencoder;
  read_checkpoint(ckpt, ar);
  ar.read("objective", objective);
  objective.read("denoise", denoise);
  EXPECT_FALSE(denoise.try_read("autoencoder", autoencoder)) << "the frozen autoencoder was checkpointed";
  const TrainedGenerator g = load_trained_generator(ckpt);
  EXPECT_EQ(g.diffusion->sample_shape(), (std::vector<int64_t>{4, 4, 4}));  // 16 px, f = 4, 4 channels
  SamplerOptions o;
  o.steps = 3;
  const auto images = g.diffusion->sample(at::zeros({2}, at::kLong), at::randn({2, 2, 32}), o);
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{2, 3, 16, 16})) << "samples are decoded to images";
  // A checkpoint of a run that trained no autoencoder is refused as one, naming the key.
  EXPECT_NE(pretrain_build_error("objective.denoise.autoencoder_from=" + ckpt)
                .find("autoencoder_from: this checkpoint holds no autoencoder"),
            std::string::npos);
}

// A user's TorchScript autoencoder and generator with content token sequences: only the adapter trains; a
// changed autoencoder file is refused on resume; files that cannot serve are named.
TEST(LatentDiffusion, UsersScriptedAutoencoderGeneratorAndContentTokens) {
  const std::string dir = fresh_dir("latent-script");
  const std::string ae = imprint::testing::write_autoencoder(dir + "/ae");
  const std::string gen = imprint::testing::write_token_generator(dir + "/gen", 4, 12, 32);
  const std::string tokens = imprint::testing::write_content_tokens(dir + "/tokens", 3, 5, 12);
  const auto sets =
      latent_adapter({"objective.denoise.autoencoder_script=" + ae, "objective.denoise.generator_script=" + gen,
                      "objective.denoise.content_tokens=" + tokens});
  auto parts = build_model_parts(tiny_config("image", sets), at::Device(at::kCPU));
  std::vector<std::string> generator_weights;
  for (const auto& [name, p] : parts.named)
    if (name.rfind("objective.", 0) == 0) generator_weights.push_back(name);
  EXPECT_EQ(generator_weights, std::vector<std::string>{"objective.denoise.generator.adapter__w"});
  EXPECT_EQ(parts.signature.count("objective.denoise.content_tokens_fnv1a64"), 1u);
  const std::string out = dir + "/run";
  const auto summary = train(tiny_config("image", sets), {out, false, nullptr});
  EXPECT_TRUE(std::isfinite(summary.last_loss));
  // The autoencoder file changes: the resume is refused, naming the hash key.
  {
    torch::jit::Module changed = torch::jit::load(ae);
    for (auto p : changed.parameters()) p.detach().mul_(2);
    changed.save(ae);
  }
  EXPECT_NE(error_of([&] {
              train(tiny_config("image", with(sets, {"train.steps=9"})), {out, true, nullptr});
            }).find("objective.denoise.autoencoder_fnv1a64"),
            std::string::npos);

  // Files that cannot serve: no decode; a decode of the wrong shape; tokens of another width than the file
  // reads; a table with another label count.
  const std::string no_decode = imprint::testing::write_autoencoder(dir + "/no-decode", "encode");
  EXPECT_NE(pretrain_build_error("objective.denoise.autoencoder_script=" + no_decode)
                .find("objective.denoise.autoencoder_script: " + no_decode + ": the TorchScript module has no decode"),
            std::string::npos);
  const std::string bad_decode = imprint::testing::write_autoencoder(dir + "/bad-decode", "both", 2);
  EXPECT_NE(pretrain_build_error("objective.denoise.autoencoder_script=" + bad_decode)
                .find("decode returned shape [1, 3, 8, 8]"),
            std::string::npos);
  const std::string wide = imprint::testing::write_content_tokens(dir + "/wide", 3, 5, 20);
  EXPECT_NE(build_error({"objective.denoise.autoencoder_script=" + ae, "objective.denoise.generator_script=" + gen,
                         "objective.denoise.content_tokens=" + wide})
                .find("content_tokens [1, 5, 20] float"),
            std::string::npos);
  const std::string four = imprint::testing::write_content_tokens(dir + "/four", 4, 5, 12);
  EXPECT_NE(pretrain_build_error("objective.denoise.content_tokens=" + four)
                .find("holds 4 labels' tokens but objective.denoise.content_classes is 3"),
            std::string::npos);
}

// imprint's UNet reads content tokens through its content branch: a dropped content (all-zero tokens) adds
// nothing there, and different tokens give different predictions.
TEST(ContentTokens, TheUnetReadsTokenSequences) {
  GeneratorSpec s;
  s.image_size = 8;
  s.width = 8;
  s.content_classes = 3;
  s.id_dim = 16;
  s.heads = 2;
  s.context_length = 5;
  s.context_dim = 12;
  torch::manual_seed(0);
  ConditionalUnet unet(s);
  for (auto& p : unet.parameters()) p.detach().normal_(0, 0.2);  // the output layer starts at zero
  const auto x = at::randn({2, 3, 8, 8}), t = at::full({2}, 5, at::kLong), id = at::randn({2, 2, 16});
  const auto a = unet.predict(x, t, at::randn({2, 5, 12}), id, 1.0);
  const auto b = unet.predict(x, t, at::randn({2, 5, 12}), id, 1.0);
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-4);
  EXPECT_NE(error_of([&] { unet.predict(x, t, at::zeros({2}, at::kLong), id, 1.0); }).find("content tokens [B, L, 12]"),
            std::string::npos);
}

TEST(ContentTokens, NpyTablesAreReadOrNamed) {
  const std::string dir = fresh_dir("npy");
  const auto path = imprint::testing::write_content_tokens(dir, 3, 2, 4);
  const ContentTokens table = ContentTokens::load(path);
  EXPECT_EQ(table.labels(), 3);
  EXPECT_EQ(table.length(), 2);
  EXPECT_EQ(table.width(), 4);
  const auto looked = table.lookup(at::tensor({2, 3, 0}, at::kLong));
  EXPECT_TRUE(at::equal(looked[0], table.table()[2]));
  EXPECT_TRUE(at::equal(looked[1], at::zeros({2, 4}))) << "the dropped content is the zero sequence";
  std::ofstream(dir + "/not.npy") << "hello";
  EXPECT_NE(error_of([&] { ContentTokens::load(dir + "/not.npy"); }).find("not a NumPy .npy file"), std::string::npos);
}

// Two conditions, two scales (InstructPix2Pix): with equal scales the sampler is the classic single-scale
// guidance exactly; with different ones the identity scale alone moves the result.
TEST(Sampler, SeparateGuidanceForContentAndIdentity) {
  GeneratorSpec s;
  s.image_size = 8;
  s.width = 8;
  s.content_classes = 3;
  s.id_dim = 16;
  s.heads = 2;
  torch::manual_seed(1);
  ConditionalUnet g(s);
  for (auto& p : g.parameters()) p.detach().normal_(0, 0.1);
  const NoiseSchedule schedule(ScheduleKind::Cosine, 100);
  const auto content = at::tensor({0, 2}, at::kLong), none = at::full({2}, 3, at::kLong);
  const auto tok = at::randn({2, 2, 16});
  SamplerOptions o;
  o.steps = 4;
  o.guidance = 3;
  const auto classic = sample_ddim(g, schedule, Prediction::Eps, content, none, tok, {3, 8, 8}, o);
  o.guidance_identity = 3;
  const auto equal = sample_ddim(g, schedule, Prediction::Eps, content, none, tok, {3, 8, 8}, o);
  EXPECT_TRUE(at::allclose(classic, equal, 1e-5, 1e-6));
  o.guidance_identity = 6;
  const auto stronger = sample_ddim(g, schedule, Prediction::Eps, content, none, tok, {3, 8, 8}, o);
  EXPECT_GT((stronger - classic).abs().max().item<double>(), 1e-4);
  o.guidance_identity = 0;  // the identity's contribution removed entirely: no token changes the samples
  const auto a = sample_ddim(g, schedule, Prediction::Eps, content, none, tok, {3, 8, 8}, o);
  const auto b = sample_ddim(g, schedule, Prediction::Eps, content, none, at::randn({2, 2, 16}), {3, 8, 8}, o);
  EXPECT_TRUE(at::allclose(a, b, 1e-5, 1e-6));
}
