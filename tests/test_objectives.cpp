#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/encoder.h"
#include "tests/tiny_run.h"
#include "trainer/objectives/infonce.h"
#include "trainer/objectives/objective.h"
#include "trainer/train_loop.h"

using namespace imprint;
using imprint::testing::tiny_config;

namespace {
Conditioning random_conditioning(int64_t b, int64_t k, int64_t d) {
  return {torch::randn({b, k, d}), torch::randn({b, d})};
}
}  // namespace

TEST(Objectives, TheWeightedSumOfTheTermsThatAreOn) {
  torch::manual_seed(3);
  auto comm = make_local_communicator();
  const Conditioning r = random_conditioning(8, 2, 16), t = random_conditioning(8, 2, 16);
  const TrainBatch rows{torch::zeros({8, 1}), torch::zeros({8, 1}), torch::arange(8), {}};
  InfoNCE alone(0.07, true);
  const double reference = alone.loss(r, t, comm.get()).item<double>();
  CombinedObjective twice(tiny_config("image", {"objective.infonce.weight=2.5"}));
  ASSERT_EQ(twice.names(), std::vector<std::string>{"infonce"});
  const ObjectiveOutput out = twice.compute(rows, r, t, *comm);
  EXPECT_NEAR(out.loss.item<double>(), 2.5 * reference, 1e-6 * reference);
  ASSERT_EQ(out.logged.size(), 1u);
  EXPECT_EQ(out.logged[0].first, "temperature");
  EXPECT_NEAR(out.logged[0].second.item<double>(), 0.07, 1e-6);
  // The term's parameters live under its name.
  EXPECT_TRUE(twice.named_parameters().contains("infonce.log_scale"));
}

TEST(Objectives, AllWeightsZeroIsAConfigError) {
  try {
    CombinedObjective none(tiny_config("image", {"objective.infonce.weight=0"}));
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("every objective's weight is 0"), std::string::npos) << e.what();
  }
}

TEST(Encoders, BuiltByNameAndCheckedAgainstTheModality) {
  EncoderSpec spec;
  spec.modality = "audio";
  EXPECT_EQ(resolve_encoder_name(spec), "audio_cnn") << "auto picks the modality's default";
  spec.name = "image_cnn";
  try {
    resolve_encoder_name(spec);
    FAIL() << "an image encoder for audio must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.name: image_cnn encodes image, but data.modality is audio"),
              std::string::npos) << e.what();
  }
  try {
    tiny_config("image", {"model.name=audio_cnn"});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("audio_cnn encodes audio, but data.modality is image"), std::string::npos);
  }
  for (const auto& e : encoder_registry()) {
    EncoderSpec s;
    s.name = e.name;
    s.modality = e.modality;
    s.image_size = 16, s.width = 8, s.embed_dim = 16, s.tokens = 2, s.n_mels = 24, s.n_fft = 128, s.hop = 64;
    EXPECT_TRUE(make_encoder(s)->named_parameters().contains("head.resampler.queries"))
        << e.name << " must end in the shared conditioning head";
  }
}

TEST(ModelSignature, CoversOnlyWhatShapesTheModelBuilt) {
  const auto image = model_signature(tiny_config("image"));
  EXPECT_EQ(image.at("model.name"), "image_cnn");
  EXPECT_EQ(image.count("model.audio.n_mels"), 0u) << "an image model has no audio front end";
  EXPECT_EQ(image.count("data.sample_rate"), 0u);
  EXPECT_EQ(image.at("objectives"), "infonce");
  EXPECT_EQ(image.at("objective.infonce.learn_temperature"), "true");
  EXPECT_EQ(image.count("objective.infonce.temperature"), 0u) << "an initial value does not shape parameters";
  EXPECT_EQ(model_signature(tiny_config("image", {"model.audio.n_mels=30"})), image);
  const auto audio = model_signature(tiny_config("audio"));
  EXPECT_EQ(audio.at("model.name"), "audio_cnn");
  EXPECT_EQ(audio.at("model.audio.n_mels"), "24");
}
