#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "trainer/config.h"
#include "trainer/config_schema.h"

using imprint::Config;
using imprint::ConfigError;

namespace {

// The message of the ConfigError that parsing `yaml` (with `sets`) throws; fails the test if none is thrown.
std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    Config::parse(yaml, "test.yaml", sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << yaml;
  return "";
}

}  // namespace

TEST(Config, DefaultsAreValidAndTyped) {
  Config c;
  EXPECT_EQ(c.get_string("data.modality"), "image");
  EXPECT_EQ(c.get_int("train.batch_size"), 64);
  EXPECT_DOUBLE_EQ(c.get_float("optimizer.lr"), 1e-3);
  EXPECT_TRUE(c.get_bool("optimizer.fused"));
  EXPECT_EQ(c.values().size(), imprint::config_schema().size());
}

TEST(Config, FileValuesAndOverridesApplyInOrder) {
  Config c = Config::parse("optimizer:\n  lr: 0.01\ntrain:\n  steps: 7\n", "t.yaml",
                           {"train.steps=9", "data.modality=audio"});
  EXPECT_DOUBLE_EQ(c.get_float("optimizer.lr"), 0.01);
  EXPECT_EQ(c.get_int("train.steps"), 9);
  EXPECT_EQ(c.get_string("data.modality"), "audio");
}

TEST(Config, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error_of("optimizer:\n  lrr: 0.1\n"), "test.yaml: optimizer.lrr: unknown key (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(error_of("lr: 0.1\n"), "test.yaml: lr: unknown key (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(error_of("zzzzzz: 1\n"), "test.yaml: zzzzzz: unknown key");
  EXPECT_EQ(error_of("", {"trian.steps=3"}), "--set trian.steps=3: trian.steps: unknown key (did you mean 'train.steps'?)");
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  EXPECT_EQ(error_of("train:\n  steps: many\n"), "test.yaml: train.steps: expected an integer in [1, 9e+15], got 'many'");
  EXPECT_EQ(error_of("train:\n  steps: 2.5\n"), "test.yaml: train.steps: expected an integer in [1, 9e+15], got '2.5'");
  EXPECT_EQ(error_of("optimizer:\n  fused: maybe\n"), "test.yaml: optimizer.fused: expected true or false, got 'maybe'");
  EXPECT_EQ(error_of("optimizer:\n  lr: [1, 2]\n"), "test.yaml: optimizer.lr: expected a number in (0, 10], got a list");
  EXPECT_EQ(error_of("optimizer: 3\n"), "test.yaml: optimizer: expected a mapping of keys, got a value");
  EXPECT_EQ(error_of("optimizer:\n  lr:\n    x: 1\n"), "test.yaml: optimizer.lr: expected a number in (0, 10], got a mapping");
  EXPECT_EQ(error_of("data:\n  modality: imgae\n"),
            "test.yaml: data.modality: expected one of image, audio, got 'imgae' (did you mean 'image'?)");
}

TEST(Config, OutOfRangeNamesKeyAndRange) {
  EXPECT_EQ(error_of("optimizer:\n  lr: 0\n"), "test.yaml: optimizer.lr: expected a number in (0, 10], got '0'");
  EXPECT_EQ(error_of("optimizer:\n  beta2: 1\n"), "test.yaml: optimizer.beta2: expected a number in [0, 1), got '1'");
  EXPECT_EQ(error_of("", {"train.batch_size=1"}),
            "--set train.batch_size=1: train.batch_size: expected an integer in [2, 1e+06], got '1'");
}

TEST(Config, RulesBetweenKeys) {
  EXPECT_EQ(error_of("data:\n  train_identities: 10\ntrain:\n  batch_size: 32\n"),
            "test.yaml: train.batch_size: 32 identities per step need as many distinct training identities, but "
            "data.train_identities is 10");
  EXPECT_NE(error_of("data:\n  samples_per_identity: 4\neval:\n  gallery_per_identity: 4\n")
                .find("eval.gallery_per_identity: must be below data.samples_per_identity (4)"),
            std::string::npos);
  EXPECT_NE(error_of("data:\n  modality: audio\n  clip_seconds: 0.1\n  sample_rate: 4000\nmodel:\n  audio:\n    n_fft: 512\n")
                .find("data.clip_seconds: clip of 400 samples must be longer than model.audio.n_fft (512)"),
            std::string::npos);
  EXPECT_NE(error_of("train:\n  steps: 10\n  stop_at: 11\n").find("train.stop_at"), std::string::npos);
}

TEST(Config, SyntaxErrorAndMissingFile) {
  EXPECT_NE(error_of("train: [\n").find("test.yaml:"), std::string::npos);
  EXPECT_NE(error_of("train: [\n").find("YAML syntax error"), std::string::npos);
  EXPECT_THROW(Config::load("/nonexistent/x.yaml"), ConfigError);
  try {
    Config::load("/nonexistent/x.yaml");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.yaml: cannot open config file (does it exist and is it readable?)");
  }
  EXPECT_EQ(error_of("", {"novalue"}), "--set novalue: expected key.path=value");
}

TEST(Config, ResolvedYamlRoundTrips) {
  Config c = Config::parse("", "t.yaml", {"optimizer.lr=0.003", "data.modality=audio"});
  Config back = Config::parse(c.to_yaml(), "resolved.yaml");
  EXPECT_EQ(back.values(), c.values());
}

TEST(Config, ShippedConfigsLoad) {
  for (const char* name : {"smoke-image.yaml", "smoke-audio.yaml"}) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(Config::load(std::string(IMPRINT_SOURCE_DIR) + "/configs/" + name));
  }
}

TEST(Config, EveryKeyIsDocumented) {
  std::ifstream in(std::string(IMPRINT_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(imprint::config_reference_markdown()), std::string::npos)
      << "docs/configuration.md's key table is not the schema's: regenerate it with `imprint config-reference`";
  for (const auto& k : imprint::config_schema())
    EXPECT_NE(doc.str().find("`" + k.path + "`"), std::string::npos) << k.path << " is not in docs/configuration.md";
}

TEST(Config, FloatsPrintAsWrittenAndReadBackExactly) {
  // Shortest text that reads back as the same double: what a user wrote, not 0.070000000000000007.
  Config c = Config::parse("objective:\n  infonce:\n    temperature: 0.07\noptimizer:\n  lr: 3e-4\n  eps: 1e-8\n", "t.yaml");
  const std::string yaml = c.to_yaml();
  EXPECT_NE(yaml.find("temperature: 0.07\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("lr: 0.0003\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("eps: 1e-08\n"), std::string::npos) << yaml;
  EXPECT_EQ(Config::parse(yaml, "again.yaml").get_float("objective.infonce.temperature"), 0.07);
  EXPECT_EQ(Config::parse("optimizer:\n  lr: 0.1234567890123456789\n", "t.yaml").get_float("optimizer.lr"),
            0.1234567890123456789);
}
