#include <gtest/gtest.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/synthetic_export.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/weight_average.h"
#include "trainer/dataset_setup.h"
#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/run_device.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;

class TrainBothModalities : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainBothModalities, LossFallsAndHeldOutBeatsChance) {
  const auto s = train(tiny_config(GetParam(), {"train.steps=60"}), {fresh_dir("loss-" + GetParam()), false});
  EXPECT_EQ(s.steps_done, 60);
  EXPECT_FALSE(s.stopped_early);
  EXPECT_LT(s.last_loss, 0.8 * s.first_loss) << "first " << s.first_loss << " last " << s.last_loss;
  EXPECT_EQ(s.eval.identities, 8);
  EXPECT_DOUBLE_EQ(s.eval.chance, 1.0 / 8);
  EXPECT_GT(s.eval.top1, s.eval.chance);
}

TEST_P(TrainBothModalities, ResumeIsBitwiseExact) {
  // k steps, stop, resume to 2k == 2k steps in one go: parameters, optimizer moments, schedule and data
  // position must all be restored.
  const auto whole = train(tiny_config(GetParam()), {fresh_dir("whole-" + GetParam()), false});
  const std::string dir = fresh_dir("split-" + GetParam());
  const auto first = train(tiny_config(GetParam(), {"train.stop_at=12"}), {dir, false});
  EXPECT_TRUE(first.stopped_early);
  EXPECT_EQ(first.steps_done, 12);
  const auto second = train(tiny_config(GetParam()), {dir, true});
  EXPECT_EQ(second.start_step, 12);
  EXPECT_EQ(second.steps_done, 24);
  ASSERT_EQ(whole.parameters.size(), second.parameters.size());
  for (size_t i = 0; i < whole.parameters.size(); ++i)
    EXPECT_TRUE(torch::equal(whole.parameters[i], second.parameters[i])) << "parameter " << i << " differs";
  EXPECT_FALSE(torch::equal(whole.parameters[1], first.parameters[1])) << "the run must go on after the resume";
  EXPECT_DOUBLE_EQ(whole.eval.top1, second.eval.top1);
}

INSTANTIATE_TEST_SUITE_P(Modalities, TrainBothModalities, ::testing::Values("image", "audio"));

TEST(Training, UnfusedOptimizerAlsoTrains) {
  const auto s =
      train(tiny_config("image", {"optimizer.fused=false", "train.steps=40"}), {fresh_dir("unfused"), false});
  EXPECT_LT(s.last_loss, 0.8 * s.first_loss);
}

// train.precision: bf16 on the CPU, where libtorch can (2.x; 1.13 refuses it with one message,
// cli.bf16_on_cpu_needs_newer_libtorch). The run learns, and its forward pass really ran in bfloat16: the
// first loss (same weights, same batch) differs from the float32 run's, by no more than bfloat16's rounding.
TEST(Training, Bf16AutocastTrainsOnTheCpu) {
#if TORCH_VERSION_MAJOR < 2
  GTEST_SKIP() << "libtorch " TORCH_VERSION
                  " cannot run bf16 autocast on the CPU (see cli.bf16_on_cpu_needs_newer_libtorch)";
#endif
  const auto fp32 = train(tiny_config("image", {"train.steps=40"}), {fresh_dir("precision-fp32"), false});
  const auto bf16 =
      train(tiny_config("image", {"train.steps=40", "train.precision=bf16"}), {fresh_dir("precision-bf16"), false});
  EXPECT_LT(bf16.last_loss, 0.8 * bf16.first_loss) << "first " << bf16.first_loss << " last " << bf16.last_loss;
  EXPECT_NE(bf16.first_loss, fp32.first_loss) << "the forward pass did not run in bfloat16";
  EXPECT_NEAR(bf16.first_loss, fp32.first_loss, 0.02 * fp32.first_loss);
}

TEST(Training, AResumedRunKeepsOneRecordPerStepAndItsTrueFirstLoss) {
  const auto whole = train(tiny_config("image"), {fresh_dir("records-whole"), false});
  const std::string dir = fresh_dir("records-split");
  train(tiny_config("image", {"train.stop_at=12"}), {dir, false});
  // As if the job died after step 12 was logged but before its checkpoint: the resume starts at step 6 and
  // logs steps 8 and 12 again.
  std::filesystem::remove(dir + "/checkpoints/step-00000012.ckpt");
  const auto second = train(tiny_config("image"), {dir, true});
  EXPECT_EQ(second.start_step, 6);
  EXPECT_DOUBLE_EQ(second.first_loss, whole.first_loss) << "the summary must report the run's first loss";

  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<int64_t> loss_steps;
  int resumes = 0;
  for (std::string line; std::getline(in, line);) {
    const auto r = nlohmann::json::parse(line);
    ASSERT_TRUE(r.contains("time") && r["time"].get<double>() > 1.6e9) << line;
    ASSERT_TRUE(r.contains("restart")) << line;
    if (r.contains("event") && r["event"] == "resume") {
      ++resumes;
      EXPECT_EQ(r["step"], 6);
      EXPECT_EQ(r["restart"], 1);
    }
    if (r.contains("loss")) {
      loss_steps.push_back(r["step"].get<int64_t>());
      EXPECT_EQ(r["restart"].get<int64_t>(), loss_steps.back() <= 6 ? 0 : 1) << line;
    }
  }
  EXPECT_EQ(resumes, 1);
  EXPECT_EQ(loss_steps, (std::vector<int64_t>{4, 8, 12, 16, 20, 24}));

  const auto again = train(tiny_config("image"), {dir, true});
  EXPECT_TRUE(again.already_finished);
  EXPECT_EQ(again.steps_done, 24);
}

TEST(WeightAverage, FollowsTheFormulaAndTheRawWeightsComeBack) {
  auto w = torch::tensor({1.0f, 2.0f});
  const NamedParameters named{{"w", w}};
  auto average = start_average(named);
  w.copy_(torch::tensor({3.0f, 6.0f}));
  update_average(average, named, 0.75);  // 0.75 * (1, 2) + 0.25 * (3, 6)
  EXPECT_TRUE(torch::allclose(average[0], torch::tensor({1.5f, 3.0f})));
  {
    AveragedWeights swapped(named, average);
    EXPECT_TRUE(torch::equal(w, average[0]));
  }
  EXPECT_TRUE(torch::equal(w, torch::tensor({3.0f, 6.0f})));
}

TEST(WeightAverage, ResumesExactlyAndIsWhatExportLoads) {
  const std::vector<std::string> ema{"ema.decay=0.9"};
  const auto whole = train(tiny_config("image", ema), {fresh_dir("ema-whole"), false});
  const std::string dir = fresh_dir("ema-split");
  auto first_half = ema;
  first_half.push_back("train.stop_at=12");
  train(tiny_config("image", first_half), {dir, false});
  const auto resumed = train(tiny_config("image", ema), {dir, true});
  ASSERT_EQ(whole.averaged.size(), whole.parameters.size());
  ASSERT_EQ(resumed.averaged.size(), whole.averaged.size());
  for (size_t i = 0; i < whole.averaged.size(); ++i)
    EXPECT_TRUE(torch::equal(whole.averaged[i], resumed.averaged[i])) << "averaged parameter " << i << " differs";
  EXPECT_FALSE(torch::equal(whole.averaged[1], whole.parameters[1])) << "the average is not the last weights";
  // Rebuilt from its checkpoint, the encoder holds the average, not the raw weights.
  const auto loaded = load_trained_encoder(dir + "/checkpoints/step-00000024.ckpt");
  const auto params = loaded.encoder->parameters();
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::equal(params[i], whole.averaged[i])) << "encoder parameter " << i;
  EXPECT_TRUE(loaded.averaged_weights);
}

// A dataset's image size comes from its manifest unless the config sets it; a value the config sets must
// match (one message naming the key and both sizes).
TEST(Training, ImageSizeComesFromTheDatasetUnlessTheConfigSetsIt) {
  SyntheticSpec spec;
  spec.train_identities = 6;
  spec.eval_identities = 3;
  spec.samples_per_identity = 3;
  spec.image_size = 16;
  const std::string dir = imprint::testing::fresh_dir("adopt-size");
  export_synthetic(spec, dir, 1 << 20);
  const std::string yaml = "data:\n  source: shards\n  path: " + dir + "\n";
  ConfigValues free = parse_job_values(yaml, "test.yaml");
  ASSERT_EQ(free.text("data.image_size"), "32") << "the schema default, before";
  const auto taken = adopt_dataset_shape(free);
  EXPECT_EQ(free.text("data.image_size"), "16");
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], "data.image_size: 16 from " + dir + "/manifest.json");

  ConfigValues pinned = parse_job_values(yaml, "test.yaml", {"data.image_size=32", "train.steps=1"});
  EXPECT_TRUE(adopt_dataset_shape(pinned).empty());
  EXPECT_EQ(pinned.text("data.image_size"), "32");
  try {
    train(read_job(pinned, "test.yaml"), {imprint::testing::fresh_dir("adopt-size-run"), false, nullptr});
    FAIL() << "trained on 16-pixel images with data.image_size 32";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.image_size: is 32 but the images of " + dir + " are 16 pixels"),
              std::string::npos)
        << e.what();
  }
}

// train.threads: 0 leaves room for the loader's workers and the communication thread (a loaded 2-core
// machine trained 2-4x slower with intra-op threads on every core).
TEST(Training, DefaultThreadsDoNotOversubscribeTheRanksCores) {
  EXPECT_EQ(default_intra_op_threads(2, 2, false), 1);   // 2 cores, 2 loader workers: at least 1
  EXPECT_EQ(default_intra_op_threads(16, 2, true), 13);  // 16 cores, 2 workers, a communication thread
  EXPECT_EQ(default_intra_op_threads(8, 0, false), 8);
  EXPECT_GE(cores_for_rank(1), 1);
  EXPECT_LE(cores_for_rank(1000000), std::max(1, cores_for_rank(1)));  // many ranks: at least one core each
}

// checkpoint.keep_best: RUN/best.ckpt holds the step whose VALIDATION evaluation was best by the metric (the
// first such step on ties), and best.json says so; the checkpoint is a normal one. The test identities' figures
// (eval_*) are logged beside and chosen on by nothing.
TEST(Training, KeepsTheBestCheckpointByTheChosenMetric) {
  const std::string dir = imprint::testing::fresh_dir("keep-best");
  const JobConfig cfg =
      imprint::testing::tiny_config("image", {"train.steps=40", "train.eval_every=10", "checkpoint.keep_best=eer",
                                              "checkpoint.keep=1", "eval.validation_identities=3"});
  train(cfg, {dir, false, nullptr});
  double best = 2;
  int64_t best_step = -1, validation_records = 0, test_identities = 0;
  std::map<int64_t, double> test_eer;
  std::ifstream metrics(dir + "/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("eval_eer")) test_eer[j["step"]] = j["eval_eer"], test_identities = j["identities"];
    if (!j.contains("val_eer")) continue;
    ++validation_records;
    EXPECT_EQ(j["val_identities"].get<int64_t>(), 3);
    if (j["val_eer"].get<double>() < best) best = j["val_eer"], best_step = j["step"];
  }
  EXPECT_EQ(validation_records, 4);
  EXPECT_EQ(test_identities, cfg.data.eval_identities - 3);
  ASSERT_GE(best_step, 10);
  std::ifstream in(dir + "/best.json");
  ASSERT_TRUE(in) << "no best.json";
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["metric"], "eer");
  EXPECT_EQ(j["set"], "validation (3 identities)");
  EXPECT_EQ(j["step"].get<int64_t>(), best_step);
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), best);
  EXPECT_NE(test_eer.at(best_step), best)
      << "validation and test gave the same EER: this test could not tell them apart";
  torch::serialize::InputArchive ar;
  EXPECT_EQ(read_checkpoint(dir + "/best.ckpt", ar), best_step);
}

// The validation identities are held-out identities, never test ones, chosen by a hash of the identity (the
// same for a dataset whatever else changes); keep_best without them is refused.
TEST(Training, ValidationIdentitiesAreSplitOffTheHeldOutOnes) {
  const std::vector<int64_t> heldout = {3, 8, 11, 20, 21, 40, 41, 42, 77, 90};
  const HeldoutSplit split = split_heldout(heldout, 4);
  EXPECT_EQ(split.validation.size(), 4u);
  EXPECT_EQ(split.test.size(), 6u);
  std::vector<int64_t> both = split.validation;
  both.insert(both.end(), split.test.begin(), split.test.end());
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, heldout);
  EXPECT_TRUE(std::is_sorted(split.validation.begin(), split.validation.end()));
  EXPECT_NE(split.validation, std::vector<int64_t>(heldout.begin(), heldout.begin() + 4)) << "not the first 4 by order";
  EXPECT_EQ(split_heldout(heldout, 4).validation, split.validation);
  EXPECT_EQ(split_heldout(heldout, 0).test, heldout);
  EXPECT_THROW(split_heldout(heldout, 9), std::invalid_argument);
  EXPECT_THROW(split_heldout({1, 2, 3}, 2), std::invalid_argument);
  EXPECT_THROW(imprint::testing::tiny_config("image", {"checkpoint.keep_best=eer"}), ConfigError);
  EXPECT_THROW(imprint::testing::tiny_config("image", {"eval.validation_identities=1"}), ConfigError);
}

// Every registered encoder survives its checkpoint: rebuilt from the signature and loaded (what resume,
// export, embed and eval do). A module named like a Python keyword ("in") trains but cannot be read back.
// Keys only some encoders have (model.depth/heads/patch) travel in the signature of those encoders only.
TEST(Training, AnEncodersOwnKeysRebuildItFromTheCheckpoint) {
  const std::string dir = imprint::testing::fresh_dir("reload-vit-keys");
  train(imprint::testing::tiny_config(
            "image", {"model.name=image_vit", "model.depth=1", "model.heads=2", "model.patch=2", "train.steps=2"}),
        {dir, false, nullptr});
  const TrainedEncoder t = load_trained_encoder(dir + "/checkpoints/step-00000002.ckpt");
  EXPECT_EQ(t.signature.at("model.depth"), "1");
  EXPECT_EQ(t.signature.at("model.heads"), "2");
  EXPECT_EQ(t.signature.at("model.patch"), "2");
  const std::string cnn = imprint::testing::fresh_dir("reload-cnn-keys");
  train(imprint::testing::tiny_config("image", {"train.steps=2"}), {cnn, false, nullptr});
  const TrainedEncoder plain = load_trained_encoder(cnn + "/checkpoints/step-00000002.ckpt");
  EXPECT_EQ(plain.signature.count("model.depth"), 0u)
      << "image_cnn does not read model.depth: it must not be in its signature";
  EXPECT_EQ(plain.signature.count("model.resampler_depth"), 0u)
      << "the default resampler stays out of the signature: checkpoints from before the key still load";
  // Every encoder's resampler keys, when not the default, rebuild it (a wrong depth would not load).
  const std::string deep = imprint::testing::fresh_dir("reload-resampler-keys");
  train(imprint::testing::tiny_config(
            "audio", {"model.name=ecapa_tdnn", "model.resampler_depth=3", "model.resampler_heads=8", "train.steps=2"}),
        {deep, false, nullptr});
  const TrainedEncoder r = load_trained_encoder(deep + "/checkpoints/step-00000002.ckpt");
  EXPECT_EQ(r.spec.resampler_depth, 3);
  EXPECT_EQ(r.spec.resampler_heads, 8);
  EXPECT_THROW(imprint::testing::tiny_config("image", {"model.resampler_heads=5"}), ConfigError);
}

TEST(Training, EveryEncoderReloadsFromItsCheckpoint) {
  for (const auto& e : encoder_registry()) {
    const std::string dir = imprint::testing::fresh_dir("reload-" + e.name);
    const JobConfig cfg =
        imprint::testing::tiny_config(modality_name(e.modality), {"model.name=" + e.name, "train.steps=2"});
    train(cfg, {dir, false, nullptr});
    const TrainedEncoder t = load_trained_encoder(dir + "/checkpoints/step-00000002.ckpt");
    EXPECT_EQ(t.spec.name, e.name);
    EXPECT_EQ(t.step, 2);
  }
}
