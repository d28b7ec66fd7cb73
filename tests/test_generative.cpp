// The generative path: noise schedule and DDIM algebra, the conditional UNet with decoupled cross-attention,
// the denoise objective (per-row draws, frozen parameters, what a checkpoint holds), content labels in the
// data, and sampling.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "collectives/communicator.h"
#include "data/folder_pack.h"
#include "data/media_decode.h"
#include "data/png_write.h"
#include "data/shard_dataset.h"
#include "data/shard_writer.h"
#include "data/synthetic_dataset.h"
#include "data/synthetic_export.h"
#include "generation/conditional_unet.h"
#include "generation/ddim_sampler.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/tensor_archive.h"
#include "trainer/evaluation/fidelity_eval.h"
#include "trainer/inference/generate_grid.h"
#include "trainer/model_parts.h"
#include "trainer/objectives/denoise.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;
namespace fs = std::filesystem;

namespace {

GeneratorSpec tiny_generator() {
  GeneratorSpec s;
  s.image_size = 8;
  s.width = 8;
  s.content_classes = 3;
  s.id_dim = 16;
  s.heads = 2;
  return s;
}

std::vector<std::string> generative(const std::string& train, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"data.content_classes=3",
                                   "objective.infonce.weight=0",
                                   "objective.denoise.weight=1",
                                   "objective.denoise.train=" + train,
                                   "objective.denoise.content_classes=3",
                                   "objective.denoise.width=8",
                                   "objective.denoise.timesteps=100",
                                   "train.steps=8",
                                   "checkpoint.every=4"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

std::shared_ptr<DenoiseObjective> make_denoise(const JobConfig& job) {
  return std::make_shared<DenoiseObjective>(denoise_options(objective_context(job)),
                                            diffusion_spec(job.values, job.model));
}

// Rows of x0 as the batch of views the objective sees: the reference and the target are both x0 here.
TrainBatch batch_of(const at::Tensor& x0, const at::Tensor& content, int64_t begin, int64_t end, int64_t step) {
  const auto x = x0.slice(0, begin, end), c = content.slice(0, begin, end).unsqueeze(1);
  return TrainBatch{at::stack({x, x}, 1), at::arange(begin, end), at::cat({c, c}, 1), step, begin};
}
EncodedBatch tokens_of(const at::Tensor& tok) { return EncodedBatch{tok.unsqueeze(1), {}}; }

}  // namespace

TEST(NoiseSchedule, BothKindsDecayFromCleanToNoise) {
  for (const auto kind : {ScheduleKind::Linear, ScheduleKind::Cosine, ScheduleKind::ScaledLinear}) {
    const NoiseSchedule s(kind, 1000);
    EXPECT_GT(s.alpha_bar(0), 0.99) << static_cast<int>(kind);
    EXPECT_LT(s.alpha_bar(999), 0.01) << static_cast<int>(kind);
    for (int64_t t = 1; t < 1000; ++t)
      ASSERT_LT(s.alpha_bar(t), s.alpha_bar(t - 1)) << static_cast<int>(kind) << " t=" << t;
  }
  EXPECT_THROW(NoiseSchedule(ScheduleKind::Cosine, 1), std::invalid_argument);
}

// A pretrained Stable Diffusion UNet is fine-tuned against the exact schedule it was trained with: these are
// diffusers 0.42.1's DDPMScheduler(beta_schedule="scaled_linear", 0.00085, 0.012, 1000).alphas_cumprod.
TEST(NoiseSchedule, ScaledLinearIsStableDiffusions) {
  const NoiseSchedule s(ScheduleKind::ScaledLinear, 1000);
  EXPECT_NEAR(s.alpha_bar(0), 0.9991499782, 1e-7);
  EXPECT_NEAR(s.alpha_bar(1), 0.9982960224, 1e-7);
  EXPECT_NEAR(s.alpha_bar(500), 0.2763324678, 1e-6);
  EXPECT_NEAR(s.alpha_bar(999), 0.0046600951, 1e-7);
}

TEST(NoiseSchedule, TargetsSplitBackIntoTheCleanSampleAndTheNoise) {
  const NoiseSchedule s(ScheduleKind::Cosine, 1000);
  torch::manual_seed(0);
  const auto x0 = torch::randn({4, 3, 5, 5}, torch::kDouble), eps = torch::randn({4, 3, 5, 5}, torch::kDouble);
  const auto t = torch::tensor({0, 10, 500, 999}, torch::kLong);
  const auto x_t = s.add_noise(x0.to(torch::kFloat), eps.to(torch::kFloat), t);
  for (Prediction kind : {Prediction::Eps, Prediction::V}) {
    at::Tensor x0_hat, eps_hat;
    s.split(kind, s.target(kind, x0.to(torch::kFloat), eps.to(torch::kFloat), t), x_t, t, x0_hat, eps_hat);
    // Row 3 (t = 999, alpha_bar ~ 0) recovers x0 only through v; eps prediction divides by sqrt(alpha_bar).
    const int64_t rows = kind == Prediction::Eps ? 3 : 4;
    EXPECT_LT((x0_hat.slice(0, 0, rows) - x0.slice(0, 0, rows).to(torch::kFloat)).abs().max().item<double>(), 2e-3);
    EXPECT_LT((eps_hat - eps.to(torch::kFloat)).abs().max().item<double>(), 2e-3);
  }
  // A DDIM step with the true noise lands on the noised sample of the earlier timestep.
  const auto t500 = torch::full({4}, 500, torch::kLong), t200 = torch::full({4}, 200, torch::kLong);
  const auto x500 = s.add_noise(x0.to(torch::kFloat), eps.to(torch::kFloat), t500);
  const auto x200 = s.ddim_step(Prediction::Eps, eps.to(torch::kFloat), x500, 500, 200);
  EXPECT_LT((x200 - s.add_noise(x0.to(torch::kFloat), eps.to(torch::kFloat), t200)).abs().max().item<double>(), 1e-4);
  // A wild prediction at t = T-1 (alpha_bar ~ 0) stays in the data range with x0_limit, not without.
  const auto wild = torch::full({4, 3, 5, 5}, 5.0f), x999 = torch::randn({4, 3, 5, 5});
  EXPECT_LE(s.ddim_step(Prediction::Eps, wild, x999, 999, -1, 2.0).abs().max().item<double>(), 2.0 + 1e-6);
  EXPECT_GT(s.ddim_step(Prediction::Eps, wild, x999, 999, -1).abs().max().item<double>(), 10.0);
  const auto grid = s.sampling_grid(10);
  ASSERT_EQ(grid.size(), 10u);
  EXPECT_EQ(grid.front(), 999);
  EXPECT_EQ(grid.back(), 0);
}

TEST(ConditionalUnet, ShapesAndRowsAreIndependent) {
  torch::manual_seed(0);
  ConditionalUnet g(tiny_generator());
  for (auto& p : g.parameters()) p.data().normal_(0, 0.1);  // conv_out starts at zero: make the output depend on x
  const auto x = torch::randn({3, 3, 8, 8});
  const auto t = torch::tensor({1, 50, 99}, torch::kLong), c = torch::tensor({0, 2, 3}, torch::kLong);
  const auto tok = torch::randn({3, 2, 16});
  const auto all = g.predict(x, t, c, tok, 1.0);
  EXPECT_EQ(all.sizes(), x.sizes());
  const auto row1 = g.predict(x.slice(0, 1, 2), t.slice(0, 1, 2), c.slice(0, 1, 2), tok.slice(0, 1, 2), 1.0);
  EXPECT_LT((row1 - all.slice(0, 1, 2)).abs().max().item<double>(), 1e-5);
  // Zeroed identity tokens add exactly nothing: the same as switching the identity branch off.
  const auto zero = g.predict(x, t, c, torch::zeros_like(tok), 1.0), off = g.predict(x, t, c, tok, 0.0);
  EXPECT_TRUE(torch::allclose(zero, off, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(all, off, 1e-4, 1e-4)) << "the identity tokens change nothing";
  EXPECT_THROW(g.predict(torch::randn({1, 3, 12, 12}), t.slice(0, 0, 1), c.slice(0, 0, 1), tok.slice(0, 0, 1), 1.0),
               c10::Error);
}

TEST(ConditionalUnet, AdapterWeightsAreNamedAndStartAsTheContentBranch) {
  torch::manual_seed(0);
  ConditionalUnet g(tiny_generator());
  int adapters = 0;
  for (const auto& kv : g.named_parameters().pairs()) {
    if (!g.is_adapter_parameter(kv.first)) continue;
    ++adapters;
    std::string twin = kv.first;
    twin.replace(twin.find("adapter_"), 8, "to_");
    EXPECT_TRUE(torch::equal(kv.second, g.named_parameters()[twin])) << kv.first;
  }
  EXPECT_EQ(adapters, 10);  // k and v in 5 attention blocks
}

TEST(ConditionalUnet, Float32GradientsMatchFloat64) {
  // The attention blocks transpose a GroupNorm output, the pattern that breaks libtorch 1.13's float32
  // GroupNorm backward in the encoders (models/conv_block.h): guard the generator against it too.
  torch::manual_seed(0);
  ConditionalUnet g(tiny_generator());
  for (auto& p : g.parameters()) p.data().normal_(0, 0.2);
  const auto x = torch::randn({2, 3, 8, 8}), tok = torch::randn({2, 2, 16}), probe = torch::randn({2, 3, 8, 8});
  const auto t = torch::tensor({3, 70}, torch::kLong), c = torch::tensor({1, 3}, torch::kLong);
  auto grads = [&](torch::Dtype dtype) {
    g.zero_grad();
    (g.predict(x.to(dtype), t, c, tok.to(dtype), 1.0) * probe.to(dtype)).sum().backward();
    std::vector<torch::Tensor> out;
    for (auto& p : g.parameters()) out.push_back(p.grad().to(torch::kDouble).clone());
    return out;
  };
  const auto g32 = grads(torch::kFloat);
  g.to(torch::kDouble);
  const auto g64 = grads(torch::kDouble);
  const auto names = g.named_parameters().keys();
  for (size_t i = 0; i < g64.size(); ++i) {
    const double ref = g64[i].norm().item<double>();
    if (ref < 1e-6) continue;
    EXPECT_LT((g32[i] - g64[i]).norm().item<double>() / ref, 1e-3) << names[i];
  }
}

TEST(Denoise, RowDrawsDependOnTheGlobalRowNotOnTheSplit) {
  const JobConfig cfg = tiny_config("image", generative("all", {"objective.denoise.drop_identity=0.3"}));
  torch::manual_seed(0);
  auto d = make_denoise(cfg);
  auto comm = make_local_communicator();
  torch::manual_seed(1);
  const auto x0 = torch::randn({6, 3, 16, 16}), tok = torch::randn({6, 2, 32});
  const auto content = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong);
  auto loss = [&](int64_t begin, int64_t end) {
    return d->compute(batch_of(x0, content, begin, end, /*step=*/5), tokens_of(tok.slice(0, begin, end)), *comm)
        .loss.item<double>();
  };
  const double whole = loss(0, 6), halves = 0.5 * (loss(0, 3) + loss(3, 6));
  EXPECT_NEAR(whole, halves, 1e-6 * whole);
  EXPECT_NE(d->compute(batch_of(x0, content, 0, 6, 6), tokens_of(tok), *comm).loss.item<double>(), whole)
      << "draws ignore the step";
}

TEST(Denoise, TimestepBiasDrawsTheDocumentedDensity) {
  // objective.denoise.timestep_bias b: s = t / T has CDF s^(1+b), mean (1+b)/(2+b); b = 0 is uniform.
  constexpr int64_t T = 1000, n = 20000;
  for (const double b : {0.0, 1.0, 3.0}) {
    std::vector<double> s(n);
    for (int64_t i = 0; i < n; ++i) {
      CounterRng rng(stream_key(7, Stream::DenoiseRow, 0, static_cast<uint64_t>(i)));
      const int64_t t = draw_timestep(rng, T, b);
      ASSERT_GE(t, 0);
      ASSERT_LT(t, T);
      s[i] = (static_cast<double>(t) + 0.5) / T;
    }
    std::sort(s.begin(), s.end());
    double mean = 0, ks = 0;
    for (int64_t i = 0; i < n; ++i) {
      mean += s[i] / n;
      const double cdf = std::pow(s[i], 1.0 + b);
      ks = std::max({ks, std::abs(cdf - static_cast<double>(i) / n), std::abs(cdf - static_cast<double>(i + 1) / n)});
    }
    EXPECT_NEAR(mean, (1.0 + b) / (2.0 + b), 0.01) << "bias " << b;
    EXPECT_LT(ks, 0.015) << "bias " << b << ": Kolmogorov-Smirnov distance to s^(1+b)";
  }
}

TEST(Denoise, MinSnrWeightingChangesTheLossNotItsSign) {
  const auto base = generative("all");
  auto snr = base;
  snr.push_back("objective.denoise.min_snr_gamma=5");
  torch::manual_seed(0);
  auto plain = make_denoise(tiny_config("image", base));
  torch::manual_seed(0);
  auto weighted = make_denoise(tiny_config("image", snr));
  auto comm = make_local_communicator();
  const auto x0 = torch::randn({4, 3, 16, 16}), tok = torch::randn({4, 2, 32});
  const TrainBatch b = batch_of(x0, torch::tensor({0, 1, 2, 0}, torch::kLong), 0, 4, 0);
  const double a = plain->compute(b, tokens_of(tok), *comm).loss.item<double>();
  const double w = weighted->compute(b, tokens_of(tok), *comm).loss.item<double>();
  EXPECT_GT(w, 0);
  EXPECT_NE(a, w);
  EXPECT_LE(w, a + 1e-9);  // every weight min(snr, 5) / snr is at most 1
}

TEST(Denoise, PretrainingFreezesTheIdentityBranchAndTheEncoder) {
  const auto run = build_model_parts(tiny_config("image", generative("generator")), at::Device(at::kCPU));
  ASSERT_FALSE(run.named.empty());
  for (const auto& [name, p] : run.named) {
    EXPECT_EQ(name.rfind("objective.denoise.generator.", 0), 0u) << name << " trains in generator pretraining";
    EXPECT_EQ(name.find("adapter"), std::string::npos) << name;
  }
}

TEST(Denoise, AdapterTrainingFreezesTheGeneratorAndKeepsItOutOfCheckpoints) {
  const std::string pre = fresh_dir("pretrain");
  train(tiny_config("image", generative("generator")), {pre, false, nullptr});
  const std::string ckpt = pre + "/checkpoints/step-00000008.ckpt";
  ASSERT_TRUE(fs::exists(ckpt));
  const JobConfig adapter = tiny_config("image", generative("adapter", {"objective.denoise.generator_from=" + ckpt}));
  auto run = build_model_parts(adapter, at::Device(at::kCPU));
  int64_t generator_weights = 0;
  for (const auto& [name, p] : run.named) {
    if (name.rfind("objective.", 0) != 0) continue;  // the encoder trains
    EXPECT_NE(name.find("adapter"), std::string::npos) << name << " should be frozen";
    ++generator_weights;
  }
  EXPECT_EQ(generator_weights, 10);
  EXPECT_EQ(run.signature.count("objective.denoise.generator_fnv1a64"), 1u);
  // The frozen weights equal the pretrained ones, and a checkpoint of this run does not hold them.
  torch::serialize::InputArchive pre_ar, pre_obj;
  read_checkpoint(ckpt, pre_ar);
  pre_ar.read("objective", pre_obj);
  const auto dir = fresh_dir("adapter");
  const auto summary = train(adapter, {dir, false, nullptr});
  torch::serialize::InputArchive ar, obj, denoise, generator, enc0;
  read_checkpoint(dir + "/checkpoints/step-00000008.ckpt", ar);
  ar.read("objective", obj);
  obj.read("denoise", denoise);
  denoise.read("generator", generator);
  EXPECT_FALSE(generator.try_read("enc0", enc0)) << "frozen generator weights were checkpointed";
  torch::serialize::InputArchive att1;
  EXPECT_TRUE(generator.try_read("att1", att1));
  EXPECT_LT(summary.last_loss, 10.0);
}

// The denoise loss's gradient must reach what each mode trains: a no_grad or a detached tensor on the way
// (PuLID #159: an auxiliary loss under no_grad silently stopped training the encoder) leaves weights that
// train on nothing while the run looks healthy. One step of the real parts (encoder + objective), backward,
// and every trained adapter weight and the encoder must hold a finite, non-zero gradient.
TEST(Denoise, TheLossGradientReachesEveryAdapterWeightAndTheEncoderInEachMode) {
  const std::string pre = fresh_dir("pretrain-for-gradients");
  train(tiny_config("image", generative("generator", {"train.steps=2", "checkpoint.every=2"})), {pre, false, nullptr});
  const std::string ckpt = pre + "/checkpoints/step-00000002.ckpt";
  ASSERT_TRUE(fs::exists(ckpt));
  for (const std::string mode : {"generator", "adapter", "all"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> extra;
    if (mode == "adapter") extra.push_back("objective.denoise.generator_from=" + ckpt);
    torch::manual_seed(3);
    auto parts = build_model_parts(tiny_config("image", generative(mode, extra)), at::Device(at::kCPU));
    if (mode != "adapter") {
      // A fresh UNet's output layer is zero (a stable start), which stops every gradient upstream of it at the
      // first step; small weights there make this test the path, not the initialisation.
      torch::NoGradGuard no_grad;
      for (auto& [name, p] : parts.named)
        if (name.find("conv_out") != std::string::npos) p.normal_(0, 0.02);
    }
    const auto x0 = at::randn({6, 3, 16, 16}), content = at::randint(3, {6}, at::kLong);
    const auto ref = at::randn({6, 3, 16, 16});
    TrainBatch batch{at::stack({ref, x0}, 1), at::arange(6), at::stack({content, content}, 1), 5, 0};
    EncodedBatch encoded;
    if (parts.views_read > 0) {
      const Conditioning c = parts.encoder->encode(ref);
      encoded = {c.tokens.unsqueeze(1), c.pooled.unsqueeze(1)};
    }
    auto comm = make_local_communicator();
    parts.objective->compute(batch, encoded, *comm).loss.backward();
    double encoder_sq = 0;
    int64_t adapter_weights = 0, generator_weights = 0;
    for (const auto& [name, p] : parts.named) {
      const bool pooled_head = name.rfind("objective.", 0) != 0 && name.find("pool") != std::string::npos;
      if (pooled_head) continue;  // the pooled vector is for retrieval; the denoise loss reads the tokens only
      ASSERT_TRUE(p.grad().defined()) << name << " got no gradient";
      const double norm = p.grad().norm().item<double>();
      ASSERT_TRUE(std::isfinite(norm)) << name;
      if (name.rfind("objective.denoise.generator.", 0) == 0) {
        const bool adapter = name.find("adapter") != std::string::npos;
        adapter ? ++adapter_weights : ++generator_weights;
        EXPECT_GT(norm, 0) << name << " is trained but the loss does not reach it";
      } else if (name.rfind("objective.", 0) != 0) {
        encoder_sq += norm * norm;
      }
    }
    EXPECT_EQ(adapter_weights > 0, mode != "generator");
    EXPECT_EQ(generator_weights > 0, mode != "adapter");
    EXPECT_EQ(parts.views_read > 0, mode != "generator");
    if (mode != "generator") {
      EXPECT_GT(encoder_sq, 0) << "the denoise loss does not reach the encoder";
      // Every encoder weight that makes the tokens (all but the pooled projection) is reached.
      for (const auto& [name, p] : parts.named) {
        if (name.rfind("objective.", 0) != 0 && name.find("pool") == std::string::npos) {
          EXPECT_GT(p.grad().norm().item<double>(), 0) << name << " is not reached";
        }
      }
    }
  }
}

// A pretraining run with ema.decay samples from its weight average; the frozen generator an adapter trains
// against must be that average, not the raw weights the average smooths (issue 22: the frozen font generator).
TEST(Denoise, AFrozenGeneratorIsThePretrainingRunsWeightAverage) {
  const std::string pre = fresh_dir("pretrain-ema");
  train(tiny_config("image", generative("generator", {"ema.decay=0.5"})), {pre, false, nullptr});
  const std::string ckpt = pre + "/checkpoints/step-00000008.ckpt";
  const JobConfig job = tiny_config("image", generative("adapter", {"objective.denoise.generator_from=" + ckpt}));
  DiffusionSpec spec = diffusion_spec(job.values, job.model);
  spec.generator_from.clear();
  Diffusion g(spec);
  CheckpointReader(ckpt).load_pretrained_generator(g);
  torch::serialize::InputArchive ar, ema, obj;
  read_checkpoint(ckpt, ar);
  ar.read("ema", ema);
  ar.read("objective", obj);
  std::vector<std::pair<std::string, at::Tensor>> loaded, average, weights;
  for (const auto& kv : g.generator().named_parameters().pairs()) {
    if (g.generator().is_adapter_parameter(kv.first)) continue;
    loaded.emplace_back(kv.first, kv.second);
    average.emplace_back("objective.denoise.generator." + kv.first, torch::empty_like(kv.second));
    weights.emplace_back("denoise.generator." + kv.first, torch::empty_like(kv.second));
  }
  read_named_tensors(ema, average, "ema");
  read_named_tensors(obj, weights, "objective");
  int64_t compared = 0, differs_from_raw = 0;
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_TRUE(loaded[i].second.equal(average[i].second)) << loaded[i].first << " is not the weight average";
    differs_from_raw += !average[i].second.equal(weights[i].second);
    ++compared;
  }
  EXPECT_GT(compared, 0);
  EXPECT_GT(differs_from_raw, 0) << "the average equals the raw weights: the test cannot tell them apart";
}

TEST(Denoise, ResumeRefusesAChangedGeneratorAndLoadRefusesAnotherShape) {
  const std::string pre = fresh_dir("pretrain-b");
  train(tiny_config("image", generative("generator")), {pre, false, nullptr});
  const std::string ckpt = pre + "/checkpoints/step-00000008.ckpt", copy = pre + "/generator.ckpt";
  fs::copy_file(ckpt, copy);
  const auto sets = generative("adapter", {"objective.denoise.generator_from=" + copy, "train.stop_at=4"});
  const std::string dir = fresh_dir("adapter-b");
  train(tiny_config("image", sets), {dir, false, nullptr});
  fs::copy_file(pre + "/checkpoints/step-00000004.ckpt", copy, fs::copy_options::overwrite_existing);
  auto resumed = generative("adapter", {"objective.denoise.generator_from=" + copy});
  try {
    train(tiny_config("image", resumed), {dir, true, nullptr});
    FAIL() << "resumed against another generator";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("objective.denoise.generator_fnv1a64"), std::string::npos) << e.what();
  }
  const JobConfig job = tiny_config("image", resumed);
  DiffusionSpec wider = diffusion_spec(job.values, job.model);
  wider.width = 16;
  wider.generator_from.clear();
  Diffusion g(wider);
  try {
    CheckpointReader(ckpt).load_pretrained_generator(g);
    FAIL() << "loaded a generator of another width";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("objective.denoise.width is 8 there, 16 here"), std::string::npos) << e.what();
  }
}

TEST(Denoise, GenerateDrawsAGridAndNamesBadInput) {
  const std::string pre = fresh_dir("pretrain-c"), dir = fresh_dir("all-c"), data = fresh_dir("data-c");
  train(tiny_config("image", generative("generator")), {pre, false, nullptr});
  train(tiny_config("image", generative("all")), {dir, false, nullptr});
  SyntheticSpec spec;
  spec.train_identities = 6;
  spec.eval_identities = 2;
  spec.samples_per_identity = 3;
  spec.image_size = 16;
  spec.content_classes = 3;
  spec.data_seed = 7;
  export_synthetic(spec, data, 1 << 20);
  GenerateOptions o;
  o.checkpoint = dir + "/checkpoints/step-00000008.ckpt";
  o.data = data;
  o.content = "spot2,spot0";
  o.out = dir + "/grid.png";
  o.zoom = 2;
  o.sampler.steps = 4;
  const auto r = generate_grid(o);
  EXPECT_EQ(r.references, 2);
  EXPECT_EQ(r.samples, 8);
  std::vector<uint8_t> rgb;
  std::string error;
  ASSERT_TRUE(decode_image(o.out, 16, rgb, error)) << error;  // a readable PNG
  o.content = "spot7";
  EXPECT_THROW(generate_grid(o), ConfigError);
  o.content = "";
  o.checkpoint = pre + "/checkpoints/step-00000008.ckpt";
  EXPECT_THROW(generate_grid(o), CheckpointError);  // pretraining: no identity branch
  o.checkpoint = dir + "/checkpoints/step-00000008.ckpt";
  o.reference = o.out;  // --reference and --data together: the file is the reference, the data names labels
  o.content = "spot1";
  o.out = o.out + ".second.png";
  EXPECT_EQ(generate_grid(o).references, 1);
  o.out = o.out + ".jpg";
  EXPECT_THROW(generate_grid(o), ConfigError);  // a PNG under another name
}

TEST(Sampler, RowsSharingANoiseStreamDifferOnlyByTheirCondition) {
  torch::manual_seed(0);
  ConditionalUnet g(tiny_generator());
  for (auto& p : g.parameters()) p.data().normal_(0, 0.1);
  const NoiseSchedule schedule(ScheduleKind::Cosine, 100);
  const auto content = torch::tensor({1, 1, 1}, torch::kLong);
  const auto tok = torch::randn({1, 2, 16}).expand({3, 2, 16}).contiguous();
  SamplerOptions o;
  o.steps = 3;
  o.guidance = 1;
  const auto apart = sample_ddim(g, schedule, Prediction::Eps, content, at::full_like(content, 3), tok, {3, 8, 8}, o);
  EXPECT_GT((apart[0] - apart[1]).abs().max().item<double>(), 1e-3) << "rows drew the same noise by default";
  o.noise_rows = {5, 5, 6};
  const auto shared = sample_ddim(g, schedule, Prediction::Eps, content, at::full_like(content, 3), tok, {3, 8, 8}, o);
  EXPECT_TRUE(torch::equal(shared[0], shared[1]));
  EXPECT_GT((shared[0] - shared[2]).abs().max().item<double>(), 1e-3);
  o.noise_rows = {5};
  EXPECT_THROW(sample_ddim(g, schedule, Prediction::Eps, content, at::full_like(content, 3), tok, {3, 8, 8}, o),
               c10::Error);
}

TEST(Fidelity, JudgeScoresAgainstPrototypesAndRealSamplesLeaveOneOut) {
  // Identity 0's real samples a = (1,0), b = (0,1); identity 1's c = d = (0.6,0.8).
  const auto real = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 0.6f, 0.8f, 0.6f, 0.8f}).view({4, 2});
  const auto own = torch::tensor({0, 0, 1, 1}, torch::kLong);
  const auto sums = torch::zeros({2, 2}).index_add(0, own, real);
  // Scored as outside samples, a is nearest its own prototype (0.707 > 0.6), b is not (0.707 < 0.8).
  const auto plain = judge_scores(real, own, sums, false);
  EXPECT_DOUBLE_EQ(plain.top1, 0.75);
  // Leave-one-out, a and b each only have the other to match: cosine 0, nearer identity 1's prototype.
  const auto loo = judge_scores(real, own, sums, true);
  EXPECT_DOUBLE_EQ(loo.top1, 0.5);
  EXPECT_NEAR(loo.cosine, 0.5, 1e-6);
  // Generated samples: each conditioned on its own identity.
  const auto generated = torch::tensor({0.0f, 1.0f, 0.6f, 0.8f}).view({2, 2});
  const auto g = judge_scores(generated, torch::tensor({1, 1}, torch::kLong), sums, false);
  EXPECT_DOUBLE_EQ(g.top1, 1.0);
  EXPECT_NEAR(g.cosine, (0.8 + 1.0) / 2, 1e-6);
}

TEST(Fidelity, ContentIsReadByTheNearestBankSampleInShapeNotBrightness) {
  // Patterns: "left pair" (0), "right pair" (1), "alternate" (2), and a near-blank sample (3).
  const auto bank =
      torch::tensor({1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.0f, 0.1f, 0.1f, 0.1f, 0.1f})
          .view({4, 4});
  const auto bank_content = torch::tensor({0, 1, 2, 3}, torch::kLong);
  // A faint "left pair" (nearest to the blank one in L2), a bold "right pair", an "alternate" on a grey ground.
  const auto samples =
      torch::tensor({0.3f, 0.3f, 0.1f, 0.1f, 4.0f, 4.0f, 9.0f, 9.0f, 2.0f, 1.0f, 2.0f, 1.0f}).view({3, 4});
  EXPECT_DOUBLE_EQ(content_accuracy(samples, torch::tensor({0, 1, 2}, torch::kLong), bank, bank_content), 1.0);
  EXPECT_DOUBLE_EQ(content_accuracy(samples, torch::tensor({0, 1, 1}, torch::kLong), bank, bank_content), 2.0 / 3);
}

TEST(Fidelity, TheTrainingLoopScoresGeneratedSamplesWithAJudge) {
  const std::string judge = fresh_dir("judge"), pre = fresh_dir("pretrain-f"), dir = fresh_dir("adapter-f");
  train(tiny_config("image", {"data.content_classes=3", "train.steps=6"}), {judge, false, nullptr});
  train(tiny_config("image", generative("generator")), {pre, false, nullptr});
  const std::string judge_ckpt = judge + "/checkpoints/step-00000006.ckpt";
  const auto sets =
      generative("adapter", {"objective.denoise.generator_from=" + pre + "/checkpoints/step-00000008.ckpt",
                             "eval.judge=" + judge_ckpt, "eval.fidelity_identities=5", "eval.fidelity_content=2",
                             "eval.fidelity_steps=3", "train.eval_every=4"});
  const auto s = train(tiny_config("image", sets), {dir, false, nullptr});
  const auto& f = s.evaluation;  // what the denoise objective's evaluation reported last
  EXPECT_EQ(f.at("fidelity_identities"), 5);
  EXPECT_DOUBLE_EQ(f.at("fidelity_chance"), 0.2);
  for (const char* row : {"", "_floor", "_real"}) {
    EXPECT_GE(f.at(std::string("fidelity_top1") + row), 0);
    EXPECT_LE(f.at(std::string("fidelity_top1") + row), 1);
    EXPECT_GE(f.at(std::string("fidelity_content") + row), 0) << "the synthetic dataset has content labels";
    EXPECT_LE(f.at(std::string("fidelity_cosine") + row), 1 + 1e-6);
  }
  // Samples with and without the identity are different samples (the adapter trained), scored apart.
  EXPECT_NE(f.at("fidelity_cosine"), f.at("fidelity_cosine_floor"));
  std::ifstream metrics(dir + "/metrics.jsonl");
  std::string line;
  int records = 0;
  while (std::getline(metrics, line)) records += line.find("\"fidelity_top1_real\"") != std::string::npos;
  EXPECT_EQ(records, 2) << "steps 4 and 8";

  // A judge that reads other samples, and a run that generates nothing from identity tokens, are refused.
  const std::string audio_judge = fresh_dir("audio-judge");
  train(tiny_config("audio", {"train.steps=2", "checkpoint.every=2"}), {audio_judge, false, nullptr});
  auto wrong = sets;
  wrong.push_back("eval.judge=" + audio_judge + "/checkpoints/step-00000002.ckpt");
  try {
    train(tiny_config("image", wrong), {fresh_dir("wrong-judge"), false, nullptr});
    ADD_FAILURE() << "an audio judge scored images";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("eval.judge"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("reads audio"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tiny_config("image", generative("generator", {"eval.judge=" + judge_ckpt})), ConfigError);
}

TEST(ContentLabels, SyntheticLabelsPlaceTheShape) {
  SyntheticSpec spec;
  spec.train_identities = 4;
  spec.eval_identities = 2;
  spec.samples_per_identity = 8;
  spec.image_size = 16;
  spec.content_classes = 4;
  const SyntheticDataset ds(spec);
  ASSERT_EQ(ds.content_labels().size(), 4u);
  EXPECT_EQ(ds.content_label(1, 6), 2);
  spec.content_classes = 0;
  EXPECT_EQ(SyntheticDataset(spec).content_label(1, 6), -1);
  spec.modality = Modality::Audio;
  spec.content_classes = 2;
  EXPECT_THROW(SyntheticDataset{spec}, std::invalid_argument);
}

TEST(ContentLabels, ShardsRoundTripAndVersion1StillReads) {
  const std::string dir = fresh_dir("content-shards");
  DatasetWriter w(dir, Modality::Image, 4, 200);  // small shards: labels cross shard boundaries
  w.set_content_labels({"a", "b", "c"});
  const std::vector<uint8_t> img(4 * 4 * 3, 7);
  for (int id = 0; id < 5; ++id) w.add_image_identity("id" + std::to_string(id), {img, img, img}, {2, 0, id % 3});
  EXPECT_THROW(w.add_image_identity("bad", {img, img}, {0, 3}), DatasetError);
  EXPECT_THROW(w.add_image_identity("short", {img, img}, {0}), DatasetError);
  const Manifest m = w.finish({4});
  EXPECT_EQ(m.version, 2);
  EXPECT_GT(m.shards.size(), 1u);
  const ShardDataset ds(dir, 1, true);
  EXPECT_EQ(ds.content_labels(), (std::vector<std::string>{"a", "b", "c"}));
  for (int id = 0; id < 5; ++id) {
    EXPECT_EQ(ds.content_label(id, 0), 2);
    EXPECT_EQ(ds.content_label(id, 2), id % 3);
  }
  EXPECT_NE(inspect_dataset(dir).summary.find("content:    3 labels (a, b, c)"), std::string::npos);
  // The same data without labels, written as version 1 by hand: still reads, with no labels.
  const std::string v1 = fresh_dir("v1");
  DatasetWriter plain(v1, Modality::Image, 4, 1 << 20);
  for (int id = 0; id < 3; ++id) plain.add_image_identity("id" + std::to_string(id), {img, img});
  plain.finish({2});
  std::ifstream in(v1 + "/manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("\"version\": 2"), 12, "\"version\": 1");
  std::ofstream(v1 + "/manifest.json") << text;
  const ShardDataset old(v1, 1);
  EXPECT_EQ(old.manifest().version, 1);
  EXPECT_TRUE(old.content_labels().empty());
  EXPECT_EQ(old.content_label(0, 1), -1);
}

TEST(ContentLabels, PackTakesThemFromTheStemOrATsv) {
  const std::string root = fresh_dir("pack-content");
  std::vector<uint8_t> img(6 * 6 * 3, 100);
  for (const char* id : {"fontA", "fontB", "fontC"}) {
    fs::create_directories(root + "/" + id);
    for (const char* glyph : {"x", "y"}) write_png_rgb(root + "/" + id + "/" + glyph + ".png", 6, 6, img);
  }
  PackOptions o;
  o.input = root;
  o.output = fresh_dir("packed-stem");
  o.image_size = 6;
  o.content_from = "stem";
  pack_folders(o);
  const ShardDataset stem(o.output, 1);
  EXPECT_EQ(stem.content_labels(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(stem.content_label(1, 1), 1);

  const std::string tsv = root + "/../labels-" + fs::path(root).filename().string() + ".tsv";
  {
    std::ofstream t(tsv);
    t << "# path\tlabel\n";
    for (const char* id : {"fontA", "fontB", "fontC"}) t << id << "/x.png\tglyph-x\n" << id << "/y.png\tglyph-y\n";
  }
  o.output = fresh_dir("packed-tsv");
  o.content_from = tsv;
  pack_folders(o);
  EXPECT_EQ(ShardDataset(o.output, 1).content_labels(), (std::vector<std::string>{"glyph-x", "glyph-y"}));
  std::ofstream(tsv) << "fontA/x.png\tglyph-x\n";
  o.output = fresh_dir("packed-missing");
  try {
    pack_folders(o);
    FAIL() << "a file without a label was packed";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("no content label for fontA/y.png"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output + "/manifest.json"));
}

TEST(ContentLabels, TheConfigMustMatchTheDataset) {
  auto sets = generative("generator");
  sets.push_back("objective.denoise.content_classes=5");
  try {
    train(tiny_config("image", sets), {fresh_dir("mismatch"), false, nullptr});
    FAIL() << "trained with a content count the dataset does not have";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("set it to 3"), std::string::npos) << e.what();
  }
}

TEST(ContentLabels, H5pyReadsAndWritesThemBothWays) {
  const std::string interop = std::string(IMPRINT_SOURCE_DIR) + "/tests/interop/";
  const std::string from = fresh_dir("content-from-h5py");
  ASSERT_EQ(std::system(("/usr/bin/python3 " + interop + "write_dataset.py " + from + " image content").c_str()), 0);
  const ShardDataset ds(from, 1, true);
  ASSERT_EQ(ds.content_labels().size(), 3u);
  for (int64_t k = 0; k < 6; ++k)
    for (int64_t i = 0; i < ds.num_samples(k); ++i) EXPECT_EQ(ds.content_label(k, i), (k + i) % 3) << k << "/" << i;
  // The other way: imprint writes tests/interop/pattern.py's images with labels (k + i) % 3, h5py checks them.
  const std::string to = fresh_dir("content-to-h5py");
  DatasetWriter w(to, Modality::Image, 8, 600);
  w.set_content_labels({"c0", "c1", "c2"});
  for (int k = 0; k < 4; ++k) {
    std::vector<std::vector<uint8_t>> images;
    std::vector<int32_t> labels;
    for (int i = 0; i < 3; ++i) {
      std::vector<uint8_t> img(8 * 8 * 3);
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x)
          for (int c = 0; c < 3; ++c) img[(y * 8 + x) * 3 + c] = (7 * k + 3 * i + 5 * y + 11 * x + 13 * c) % 256;
      images.push_back(img);
      labels.push_back((k + i) % 3);
    }
    w.add_image_identity("subject_" + std::to_string(k), images, labels);
  }
  w.finish({3});
  EXPECT_EQ(std::system(("/usr/bin/python3 " + interop + "check_imprint_dataset.py " + to + " image").c_str()), 0);
}
