#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "config/reference.h"
#include "config/section.h"
#include "trainer/job_config.h"

using imprint::ConfigError;
using imprint::JobConfig;
using imprint::parse_job;

namespace {

// The message of the ConfigError that parsing `yaml` (with `sets`) throws; fails the test if none is thrown.
std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    parse_job(yaml, "test.yaml", sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << yaml;
  return "";
}

}  // namespace

TEST(Config, DefaultsAreValidAndTyped) {
  const JobConfig c = parse_job("", "defaults");
  EXPECT_EQ(c.model.modality, imprint::Modality::Image);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_TRUE(c.optimizer.fused);
  EXPECT_EQ(c.values.values().size(), imprint::job_schema().keys().size());
}

TEST(Config, FileValuesAndOverridesApplyInOrder) {
  const JobConfig c =
      parse_job("optimizer:\n  lr: 0.01\ntrain:\n  steps: 7\n", "t.yaml", {"train.steps=9", "data.modality=audio"});
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.01);
  EXPECT_EQ(c.train.steps, 9);
  EXPECT_EQ(c.model.modality, imprint::Modality::Audio);
}

TEST(Config, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error_of("optimizer:\n  lrr: 0.1\n"),
            "test.yaml: optimizer.lrr: unknown key (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(error_of("lr: 0.1\n"), "test.yaml: lr: unknown key (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(error_of("zzzzzz: 1\n"), "test.yaml: zzzzzz: unknown key");
  EXPECT_EQ(error_of("", {"trian.steps=3"}),
            "--set trian.steps=3: trian.steps: unknown key (did you mean 'train.steps'?)");
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  EXPECT_EQ(error_of("train:\n  steps: many\n"),
            "test.yaml: train.steps: expected an integer in [1, 9e+15], got 'many'");
  EXPECT_EQ(error_of("train:\n  steps: 2.5\n"), "test.yaml: train.steps: expected an integer in [1, 9e+15], got '2.5'");
  EXPECT_EQ(error_of("optimizer:\n  fused: maybe\n"),
            "test.yaml: optimizer.fused: expected true or false, got 'maybe'");
  EXPECT_EQ(error_of("optimizer:\n  lr: [1, 2]\n"),
            "test.yaml: optimizer.lr: expected a number in (0, 10], got a list");
  EXPECT_EQ(error_of("optimizer: 3\n"), "test.yaml: optimizer: expected a mapping of keys, got a value");
  EXPECT_EQ(error_of("augment:\n  codecs: ulaw,mp3\n"),
            "test.yaml: augment.codecs: 'mp3' is not a codec: expected a comma-separated list of ulaw, alaw, gsm");
  EXPECT_EQ(error_of("optimizer:\n  lr:\n    x: 1\n"),
            "test.yaml: optimizer.lr: expected a number in (0, 10], got a mapping");
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
  EXPECT_NE(
      error_of("data:\n  modality: audio\n  clip_seconds: 0.1\n  sample_rate: 4000\nmodel:\n  audio:\n    n_fft: 512\n")
          .find("data.clip_seconds: clip of 400 samples must be longer than model.audio.n_fft (512)"),
      std::string::npos);
  EXPECT_NE(error_of("train:\n  steps: 10\n  stop_at: 11\n").find("train.stop_at"), std::string::npos);
}

TEST(Config, SyntaxErrorAndMissingFile) {
  EXPECT_NE(error_of("train: [\n").find("test.yaml:"), std::string::npos);
  EXPECT_NE(error_of("train: [\n").find("YAML syntax error"), std::string::npos);
  EXPECT_THROW(imprint::load_job("/nonexistent/x.yaml"), ConfigError);
  try {
    imprint::load_job("/nonexistent/x.yaml");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/x.yaml: cannot open config file (does it exist and is it readable?)");
  }
  EXPECT_EQ(error_of("", {"novalue"}), "--set novalue: expected key.path=value");
}

TEST(Config, ResolvedYamlRoundTrips) {
  const JobConfig c = parse_job("", "t.yaml", {"optimizer.lr=0.003", "data.modality=audio"});
  const JobConfig back = parse_job(c.to_yaml(), "resolved.yaml");
  EXPECT_EQ(back.values.values(), c.values.values());
}

TEST(Config, ShippedConfigsLoad) {
  for (const char* name : {"smoke-image.yaml", "smoke-audio.yaml"}) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(imprint::load_job(std::string(IMPRINT_SOURCE_DIR) + "/configs/" + name));
  }
}

TEST(Config, EveryKeyIsDocumented) {
  std::ifstream in(std::string(IMPRINT_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(imprint::reference_markdown(imprint::job_schema())), std::string::npos)
      << "docs/configuration.md's key table is not the schema's: regenerate it with launch/update-config-doc.sh";
  for (const auto& k : imprint::job_schema().keys())
    EXPECT_NE(doc.str().find("`" + k.path + "`"), std::string::npos) << k.path << " is not in docs/configuration.md";
}

TEST(Config, FloatsPrintAsWrittenAndReadBackExactly) {
  // Shortest text that reads back as the same double: what a user wrote, not 0.070000000000000007.
  const JobConfig c =
      parse_job("objective:\n  infonce:\n    temperature: 0.07\noptimizer:\n  lr: 3e-4\n  eps: 1e-8\n", "t.yaml");
  const std::string yaml = c.to_yaml();
  EXPECT_NE(yaml.find("temperature: 0.07\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("lr: 0.0003\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("eps: 1e-08\n"), std::string::npos) << yaml;
  EXPECT_EQ(parse_job(yaml, "again.yaml").values.text("objective.infonce.temperature"), "0.07");
  EXPECT_EQ(parse_job("optimizer:\n  lr: 0.1234567890123456789\n", "t.yaml").optimizer.lr, 0.1234567890123456789);
}

// A typed section is the schema, the parse and the way back to text of its struct, with enums for choices.
namespace {
enum class Colour { Red, Green };
struct Paint {
  int64_t coats = 0;
  double gloss = 0;
  bool primer = false;
  std::string brand;
  Colour colour = Colour::Red;
};
const imprint::Section<Paint>& paint_section() {
  static const auto s = imprint::Section<Paint>("paint")
                            .integer("coats", &Paint::coats, int64_t{2}, imprint::Range::closed(1, 5), "Coats.")
                            .real("gloss", &Paint::gloss, 0.5, imprint::Range::closed(0, 1).open_below(), "Gloss.")
                            .flag("primer", &Paint::primer, true, "Primer first.", imprint::KeyRole::Shaping)
                            .text("brand", &Paint::brand, "acme", "Brand.")
                            .choice("colour", &Paint::colour, {{"red", Colour::Red}, {"green", Colour::Green}},
                                    Colour::Green, "Colour.", imprint::KeyRole::Operational);
  return s;
}
}  // namespace

TEST(ConfigSection, DeclaresParsesAndWritesBackItsKeys) {
  const imprint::Schema schema(paint_section().keys());
  ASSERT_EQ(schema.keys().size(), 5u);
  EXPECT_EQ(schema.find("paint.colour")->choices, (std::vector<std::string>{"red", "green"}));
  EXPECT_TRUE(schema.find("paint.primer")->shapes_model());
  EXPECT_EQ(imprint::describe_expected(*schema.find("paint.gloss")), "a number in (0, 1]");
  const Paint defaults = paint_section().read(imprint::ConfigValues(schema));
  EXPECT_EQ(defaults.coats, 2);
  EXPECT_EQ(defaults.colour, Colour::Green);
  EXPECT_EQ(defaults.brand, "acme");
  const auto v = imprint::ConfigValues::parse(schema, "paint:\n  coats: 4\n  colour: red\n  gloss: 0.25\n", "p.yaml");
  const Paint p = paint_section().read(v);
  EXPECT_EQ(p.coats, 4);
  EXPECT_EQ(p.colour, Colour::Red);
  EXPECT_DOUBLE_EQ(p.gloss, 0.25);
  EXPECT_EQ(paint_section().write(p), v.values()) << "write() gives back the canonical text read() took";
  EXPECT_THROW(imprint::ConfigValues::parse(schema, "paint:\n  colour: blue\n", "p.yaml"), ConfigError);
  // A key no section declared is a programming error naming the key, not a map::at.
  try {
    v.text("paint.thinner");
    FAIL() << "no error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("'paint.thinner' is read but no component declares it"), std::string::npos);
  }
}

TEST(ConfigSection, AKeyDeclaredTwiceMustAgree) {
  imprint::Schema schema(paint_section().keys());
  imprint::KeySpec same = *schema.find("paint.coats");
  same.doc = "Also read elsewhere.";
  EXPECT_NO_THROW(schema.add(same));
  EXPECT_NE(schema.find("paint.coats")->doc.find("Also read elsewhere."), std::string::npos);
  imprint::KeySpec other = same;
  other.default_value = "3";
  EXPECT_THROW(schema.add(other), std::logic_error);
}

TEST(Config, TheSchemaIsTheSectionsAndTheRegistries) {
  // Built once at first use: a contradiction between two declarations of a key would throw here.
  const auto& schema = imprint::job_schema();
  for (const auto& info : imprint::objective_registry()) {
    EXPECT_NE(schema.find(imprint::weight_key(info)), nullptr) << info.name << " has no weight key";
    for (const auto& k : info.keys) EXPECT_NE(schema.find(k.path), nullptr) << k.path;
  }
  for (const auto& e : imprint::encoder_registry()) {
    EXPECT_NE(std::find(schema.find("model.name")->choices.begin(), schema.find("model.name")->choices.end(), e.name),
              schema.find("model.name")->choices.end())
        << e.name << " is not among model.name's choices";
    for (const auto& k : e.keys) EXPECT_NE(schema.find(k.path), nullptr) << k.path;
  }
}

TEST(Config, ADryRunChecksRulesWithoutTouchingFiles) {
  // read_job checks every rule but no file; check_job_files is the separate step that does.
  const JobConfig j = parse_job("data:\n  source: shards\n  path: /nonexistent/ds\n", "t.yaml");
  EXPECT_EQ(j.data.source, imprint::DataSource::Shards);
  EXPECT_THROW(imprint::check_job_files(j), ConfigError);
}

// File keys are stored absolute: a resume or an `imprint eval` from another directory still finds the
// generator, judge and data a run was started with (issue 24: relative generator_from broke resumes elsewhere).
TEST(Config, RelativePathsAreStoredAbsolute) {
  const std::string cwd = std::filesystem::current_path().string();
  const JobConfig c = parse_job("data:\n  source: shards\n  path: runs/../runs/data/x\n", "t.yaml",
                                {"objective.denoise.weight=1", "objective.denoise.train=adapter",
                                 "objective.denoise.generator_from=pre/step.ckpt", "eval.judge=/abs/judge.ckpt"});
  EXPECT_EQ(c.values.text("data.path"), cwd + "/runs/data/x");
  EXPECT_EQ(c.values.text("objective.denoise.generator_from"), cwd + "/pre/step.ckpt");
  EXPECT_EQ(c.values.text("eval.judge"), "/abs/judge.ckpt");
  EXPECT_EQ(c.values.text("objective.denoise.autoencoder_from"), "") << "an unset path stays unset";
  // The resolved YAML read from elsewhere names the same files.
  const std::string yaml = c.to_yaml();
  const auto here = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::temp_directory_path());
  const JobConfig again = parse_job(yaml, "config.yaml");
  std::filesystem::current_path(here);
  EXPECT_EQ(again.values.text("objective.denoise.generator_from"), cwd + "/pre/step.ckpt");
}
