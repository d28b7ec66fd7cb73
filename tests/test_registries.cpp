// The registries own their facts, and every entry runs these tests without an edit here: every key an encoder
// or an objective declares travels into its checkpoint and back (set to non-default values, trained, rebuilt
// from the checkpoint alone), and the rebuilt parts compute what the trained ones do; every encoder also
// exports to a TorchScript module that gives the same outputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <map>

#include "collectives/communicator.h"
#include "core/pixels.h"
#include "models/encoder_spec.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpointer.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/model_parts.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;

namespace {

// A valid value of `key` other than its default; "" for strings (file paths and patterns, which this test
// cannot invent; their travel is tested where a file exists: test_scripted_generator, test_generative).
std::string nudged(const KeySpec& key) {
  switch (key.type) {
    case KeyType::Bool:
      return key.default_value == "true" ? "false" : "true";
    case KeyType::Choice: {
      const auto it = std::find(key.choices.begin(), key.choices.end(), key.default_value);
      return key.choices[static_cast<size_t>((it - key.choices.begin() + 1) % key.choices.size())];
    }
    case KeyType::Int: {
      const long long d = std::stoll(key.default_value);
      return key.range.contains(static_cast<double>(d + 1)) ? std::to_string(d + 1) : std::to_string(d - 1);
    }
    case KeyType::Float: {
      const double d = std::stod(key.default_value);
      for (double v : {d * 1.5, d * 0.5, d + 0.1, d - 0.1})
        if (v != d && key.range.contains(v)) return shortest_text(v);
      return "";
    }
    case KeyType::String:
    case KeyType::Path:
      return "";
  }
  return "";
}

// Every key an entry declares, nudged, except those the entry's example already sets and those `fixed` gives.
std::vector<std::string> nudge_all(const std::vector<KeySpec>& keys, const std::vector<std::string>& example,
                                   const std::map<std::string, std::string>& fixed, std::vector<std::string>* skipped) {
  std::vector<std::string> sets;
  for (const auto& k : keys) {
    const bool in_example = std::any_of(example.begin(), example.end(),
                                        [&](const std::string& e) { return e.rfind(k.path + "=", 0) == 0; });
    if (in_example) continue;
    const auto f = fixed.find(k.path);
    const std::string v = f != fixed.end() ? f->second : nudged(k);
    if (v.empty()) {
      skipped->push_back(k.path);
      continue;
    }
    sets.push_back(k.path + "=" + v);
  }
  return sets;
}

// The parts `job` builds, restored from the checkpoint in `run_dir` (what --resume does).
ModelParts resumed_parts(const JobConfig& job, const std::string& run_dir, Communicator& comm) {
  torch::manual_seed(99);  // a different initialisation: only the checkpoint can make the parts agree
  ModelParts parts = build_model_parts(job, at::Device(at::kCPU));
  RunRecord record;
  Checkpointer checkpointer(run_dir, job, parts, record, comm);
  checkpointer.resume(checkpointer.store().list().size());
  return parts;
}

// The objectives' loss on a fixed batch of random views, encoded as the training step encodes them.
double loss_on_fixed_batch(ModelParts& parts, const JobConfig& job, Communicator& comm) {
  torch::manual_seed(5);
  const int64_t rows = 8, k = job.train.samples_per_identity, n = parts.views_read;
  const auto views = torch::randn({rows, k, 3, job.model.image_size, job.model.image_size});
  const int64_t classes = std::max<int64_t>(1, job.data.content_classes);
  const TrainBatch batch{views, torch::arange(rows), torch::randint(classes, {rows, k}, torch::kLong), 3, 0};
  EncodedBatch encoded;
  if (n > 0) {
    const Conditioning c = parts.encoder->encode(views.slice(1, 0, n).flatten(0, 1));
    encoded = {c.tokens.unflatten(0, {rows, n}), c.pooled.unflatten(0, {rows, n})};
  }
  return parts.objective->compute(batch, encoded, comm).loss.item<double>();
}

std::vector<std::string> encoder_names() {
  std::vector<std::string> names;
  for (const auto& e : encoder_registry()) names.push_back(e.name);
  return names;
}
std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const auto& o : objective_registry()) names.push_back(o.name);
  return names;
}

}  // namespace

class EveryEncoder : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryEncoder, ItsKeysTravelThroughItsCheckpointAndItExportsAsItRuns) {
  const EncoderInfo* info = nullptr;
  for (const auto& e : encoder_registry())
    if (e.name == GetParam()) info = &e;
  ASSERT_NE(info, nullptr);
  const std::string modality = modality_name(info->modality);
  // Values the generic nudge cannot choose: the ViT's heads and patch must divide its width and image size.
  const std::map<std::string, std::string> fixed = {{"model.heads", "2"}, {"model.patch", "2"}};
  std::vector<std::string> skipped;
  std::vector<std::string> sets = nudge_all(info->keys, {}, fixed, &skipped);
  for (const char* s :
       {"model.tokens=3", "model.resampler_depth=2", "model.resampler_heads=2", "train.steps=2", "checkpoint.every=2"})
    sets.push_back(s);
  sets.push_back("model.name=" + info->name);
  EXPECT_TRUE(skipped.empty()) << "an encoder key this test cannot set: " << skipped.front();
  const JobConfig job = tiny_config(modality, sets);
  const std::string dir = fresh_dir("registry-encoder-" + info->name);
  train(job, {dir, false, nullptr});
  const std::string ckpt = dir + "/checkpoints/step-00000002.ckpt";

  CheckpointReader reader(ckpt);
  const ConfigValues stored = reader.settings(job_schema());
  for (const auto& k : encoder_keys()) EXPECT_EQ(stored.text(k.path), job.values.text(k.path)) << k.path;
  for (const auto& k : info->keys) EXPECT_EQ(reader.signature().at(k.path), job.values.text(k.path)) << k.path;
  const TrainedEncoder rebuilt = reader.encoder();
  EXPECT_EQ(rebuilt.spec.resampler_depth, 2);

  auto comm = make_local_communicator();
  ModelParts parts = resumed_parts(job, dir, *comm);
  parts.encoder->eval();
  torch::manual_seed(1);
  const bool image = info->modality == Modality::Image;
  const auto unit = image ? torch::rand({3, 3, 16, 16}) : torch::randn({3, 2000}) * 0.1;
  const auto input = image ? to_model_range(unit) : unit;
  torch::NoGradGuard no_grad;
  const auto want = parts.encoder->encode(input);
  const auto got = rebuilt.encoder->encode(input);
  EXPECT_TRUE(torch::equal(got.tokens, want.tokens)) << "the reader and the resume rebuild different encoders";
  EXPECT_TRUE(torch::equal(got.pooled, want.pooled));

  const auto files = export_encoder(rebuilt, dir + "/export");
  torch::jit::Module module = torch::jit::load(files.torchscript);
  const auto out = module.forward({unit}).toTuple();
  EXPECT_TRUE(torch::allclose(out->elements()[0].toTensor(), want.tokens, 1e-4, 1e-5)) << "exported tokens differ";
  EXPECT_TRUE(torch::allclose(out->elements()[1].toTensor(), want.pooled, 1e-4, 1e-5)) << "exported pooled differ";
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryEncoder, ::testing::ValuesIn(encoder_names()));

class EveryObjective : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryObjective, ItsKeysTravelThroughItsCheckpointAndTheRebuiltPartsComputeTheSameLoss) {
  const ObjectiveInfo* info = nullptr;
  for (const auto& o : objective_registry())
    if (o.name == GetParam()) info = &o;
  ASSERT_NE(info, nullptr);
  // Values the generic nudge cannot choose: a class count that covers the dataset's 56 identities, and a
  // generator whose heads divide its attention width (2 x width).
  const std::map<std::string, std::string> fixed = {{"objective.aam.classes", "60"}, {"objective.denoise.heads", "2"}};
  std::vector<std::string> skipped;
  std::vector<std::string> sets = nudge_all(info->keys, info->example, fixed, &skipped);
  for (const auto& k : skipped) {
    const KeySpec* spec = job_schema().find(k);
    ASSERT_TRUE(spec && (spec->type == KeyType::String || spec->type == KeyType::Path))
        << k << " was not set to a non-default value";
  }
  if (info->name != "infonce") sets.push_back("objective.infonce.weight=0");
  sets.push_back(weight_key(*info) + "=1.5");
  sets.insert(sets.end(), info->example.begin(), info->example.end());
  for (const char* s : {"train.steps=2", "checkpoint.every=2", "train.batch_size=8"}) sets.push_back(s);
  const JobConfig job = tiny_config("image", sets);
  const std::string dir = fresh_dir("registry-objective-" + info->name);
  train(job, {dir, false, nullptr});

  // Rebuilt from what the checkpoint stores alone: every key of the objective comes back.
  CheckpointReader reader(dir + "/checkpoints/step-00000002.ckpt");
  const JobConfig rebuilt = read_job(reader.settings(job_schema()), reader.path());
  for (const auto& k : info->keys) EXPECT_EQ(rebuilt.values.text(k.path), job.values.text(k.path)) << k.path;
  EXPECT_EQ(rebuilt.values.text(weight_key(*info)), "1.5");
  for (const auto& k : info->keys) {
    if (!k.shapes_model()) continue;
    EXPECT_EQ(reader.signature().at(k.path), job.values.text(k.path)) << k.path;
  }

  auto comm = make_local_communicator();
  ModelParts trained = resumed_parts(job, dir, *comm), from_checkpoint = resumed_parts(rebuilt, dir, *comm);
  // The registry's static fact and the objective's own answer agree.
  EXPECT_EQ(trained.objective->views_read(3) == 3, info->reads_every_view) << "reads_every_view";
  ASSERT_EQ(trained.named.size(), from_checkpoint.named.size());
  for (size_t i = 0; i < trained.named.size(); ++i)
    EXPECT_TRUE(torch::equal(trained.named[i].second, from_checkpoint.named[i].second)) << trained.named[i].first;
  EXPECT_EQ(loss_on_fixed_batch(trained, job, *comm), loss_on_fixed_batch(from_checkpoint, rebuilt, *comm))
      << "parts rebuilt from the checkpoint's settings compute another loss: a key did not travel";
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryObjective, ::testing::ValuesIn(objective_names()));
