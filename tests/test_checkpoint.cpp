#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/checksum.h"
#include "data/media_decode.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;
namespace fs = std::filesystem;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CheckpointError";
  return "";
}
}  // namespace

TEST(CheckpointStore, RoundTripAndPruning) {
  CheckpointStore store(fresh_dir("store"), 2);
  for (int64_t step : {5, 10, 15}) {
    torch::serialize::OutputArchive out;
    out.write("value", torch::full({3}, static_cast<float>(step)));
    store.save(step, out);
  }
  const auto all = store.list();
  ASSERT_EQ(all.size(), 2u) << "keep=2 must delete the oldest";
  EXPECT_EQ(all[0].step, 15);
  EXPECT_EQ(all[1].step, 10);
  EXPECT_EQ(all[0].path, store.path_for(15));
  torch::serialize::InputArchive in;
  EXPECT_EQ(read_checkpoint(all[0].path, in), 15);
  torch::Tensor v;
  in.read("value", v);
  EXPECT_TRUE(torch::equal(v, torch::full({3}, 15.0f)));
  for (const auto& e : fs::directory_iterator(store.dir()))
    EXPECT_EQ(e.path().extension(), ".ckpt") << "no temp file may be left behind: " << e.path();
}

TEST(CheckpointStore, TruncatedCorruptAndForeignFilesAreRefusedByName) {
  CheckpointStore store(fresh_dir("damage"), 5);
  torch::serialize::OutputArchive out;
  out.write("value", torch::ones({1000}));
  const std::string path = store.save(1, out);
  const auto size = fs::file_size(path);

  fs::resize_file(path, size - 100);
  torch::serialize::InputArchive in;
  std::string msg = error_of([&] { read_checkpoint(path, in); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  torch::serialize::OutputArchive again;
  again.write("value", torch::ones({1000}));
  store.save(1, again);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x5a');
  }
  msg = error_of([&] { read_checkpoint(path, in); });
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;

  const std::string foreign = store.dir() + "/step-00000002.ckpt";
  std::ofstream(foreign) << "hello";
  msg = error_of([&] { read_checkpoint(foreign, in); });
  EXPECT_NE(msg.find("not an imprint checkpoint"), std::string::npos) << msg;
}

TEST(TrainCheckpoints, KeepsTheLastKAndRefusesToOverwriteARun) {
  const std::string dir = fresh_dir("keep");
  train(tiny_config("image"), {dir, false});
  CheckpointStore store(dir + "/checkpoints", 2);
  const auto all = store.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].step, 24);
  EXPECT_EQ(all[1].step, 18);
  EXPECT_TRUE(fs::exists(dir + "/config.yaml"));
  EXPECT_TRUE(fs::exists(dir + "/metrics.jsonl"));
  const std::string msg = error_of([&] { train(tiny_config("image"), {dir, false}); });
  EXPECT_NE(msg.find("pass --resume"), std::string::npos) << msg;
}

TEST(TrainCheckpoints, ADifferentModelIsRefused) {
  const std::string dir = fresh_dir("model-change");
  train(tiny_config("image", {"train.stop_at=6"}), {dir, false});
  const std::string msg = error_of([&] { train(tiny_config("image", {"model.width=16"}), {dir, true}); });
  EXPECT_NE(msg.find("written for a different model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.width is 8 there, 16 here"), std::string::npos) << msg;
}

void save_value(const CheckpointStore& store, int64_t step) {
  torch::serialize::OutputArchive out;
  out.write("value", torch::full({3}, static_cast<float>(step)));
  store.save(step, out);
}

TEST(CheckpointStore, TheStepInsideDecidesNotTheName) {
  CheckpointStore store(fresh_dir("by-content"), 3);
  save_value(store, 5);
  save_value(store, 10);
  // A copy of step 5 under a name that sorts last must neither win nor push the real step 10 out.
  fs::copy_file(store.path_for(5), store.dir() + "/step-00000099.ckpt");
  torch::serialize::InputArchive in;
  const auto newest = load_newest_valid(store, in, nullptr);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->step, 10);
  EXPECT_EQ(newest->path, store.path_for(10));
  save_value(store, 15);
  save_value(store, 20);
  EXPECT_TRUE(fs::exists(store.path_for(20)));
  EXPECT_TRUE(fs::exists(store.path_for(15)));
  EXPECT_TRUE(fs::exists(store.path_for(10))) << "keep=3 keeps 10, 15, 20 by their stored steps";
}

TEST(CheckpointStore, ACorruptNewestFallsBackToThePreviousValidOne) {
  CheckpointStore store(fresh_dir("fallback"), 5);
  save_value(store, 4);
  save_value(store, 8);
  fs::resize_file(store.path_for(8), fs::file_size(store.path_for(8)) - 10);
  fs::create_directory(store.dir() + "/step-00000012.ckpt");  // a directory named like a checkpoint
  torch::serialize::InputArchive in;
  std::vector<std::string> skipped;
  const auto newest = load_newest_valid(store, in, &skipped);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->step, 4);
  ASSERT_EQ(skipped.size(), 2u);
  std::string all = skipped[0] + "\n" + skipped[1];
  EXPECT_NE(all.find("step-00000012.ckpt: not a regular file"), std::string::npos) << all;
  EXPECT_NE(all.find(store.path_for(8) + ": truncated"), std::string::npos) << all;
  torch::Tensor v;
  in.read("value", v);
  EXPECT_TRUE(torch::equal(v, torch::full({3}, 4.0f)));
  // Rotation after resuming from 4 must not delete the checkpoint it resumed from.
  CheckpointStore keep_one(store.dir(), 1);
  save_value(keep_one, 5);
  EXPECT_TRUE(fs::exists(store.path_for(5)));
  EXPECT_FALSE(fs::exists(store.path_for(4)));
  EXPECT_TRUE(fs::exists(store.path_for(8))) << "a damaged file claiming a later step is left for a person to look at";
}

TEST(CheckpointStore, AnUndecodablePayloadIsOneLineWithoutABacktrace) {
  CheckpointStore store(fresh_dir("bad-payload"), 5);
  save_value(store, 3);
  // Rewrite the payload with garbage but a matching header and checksum: only decoding can fail.
  std::ifstream in(store.path_for(3), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::string payload(bytes.size() - 40, 'x');
  std::string header = bytes.substr(0, 40);
  uint64_t h = fnv1a64_bytes(header.data() + 16, 8);
  for (char c : payload) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  for (int i = 0; i < 8; ++i) header[32 + i] = static_cast<char>((h >> (8 * i)) & 0xff);
  std::ofstream(store.path_for(3), std::ios::binary) << header << payload;
  torch::serialize::InputArchive ar;
  const std::string msg = error_of([&] { read_checkpoint(store.path_for(3), ar); });
  EXPECT_NE(msg.find("cannot decode checkpoint payload"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line, no libtorch backtrace: " << msg;
}

TEST(TrainCheckpoints, ATruncatedLatestCheckpointFallsBackToThePreviousOne) {
  const std::string dir = fresh_dir("truncated-resume");
  train(tiny_config("image", {"train.stop_at=12", "checkpoint.keep=3"}), {dir, false});
  const std::string path = dir + "/checkpoints/step-00000012.ckpt";
  ASSERT_TRUE(fs::exists(path));
  fs::resize_file(path, fs::file_size(path) / 2);
  const auto s = train(tiny_config("image", {"checkpoint.keep=3"}), {dir, true});
  EXPECT_EQ(s.start_step, 6);
  EXPECT_EQ(s.steps_done, 24);
}

TEST(TrainCheckpoints, NoIntactCheckpointRefusesToRestartFromScratch) {
  const std::string dir = fresh_dir("all-truncated");
  train(tiny_config("image", {"train.stop_at=6"}), {dir, false});
  const std::string path = dir + "/checkpoints/step-00000006.ckpt";
  fs::resize_file(path, fs::file_size(path) / 2);
  const std::string msg = error_of([&] { train(tiny_config("image"), {dir, true}); });
  EXPECT_NE(msg.find("reads back intact"), std::string::npos) << msg;
}

TEST(TrainCheckpoints, TimeBasedIntervalCheckpointsBetweenStepIntervals) {
  // No step interval; a time interval every step is due (6 ms): checkpoints appear at steps the ranks
  // agreed on, one step after each was posted, besides the final one.
  const std::string dir = fresh_dir("every-minutes");
  train(tiny_config("image", {"checkpoint.every=0", "checkpoint.every_minutes=0.0001", "checkpoint.keep=100"}),
        {dir, false});
  CheckpointStore store(dir + "/checkpoints", 100);
  const auto all = store.list();
  ASSERT_GE(all.size(), 5u) << "expected time-based checkpoints besides the final one";
  EXPECT_EQ(all.front().step, 24);
  EXPECT_GE(all.back().step, 2) << "the first decision lands one step after it was posted";

  const std::string none = fresh_dir("every-minutes-off");
  train(tiny_config("image", {"checkpoint.every=0", "checkpoint.keep=100"}), {none, false});
  EXPECT_EQ(CheckpointStore(none + "/checkpoints", 100).list().size(), 1u) << "only the final checkpoint";
}

// A checkpoint written before checkpoints stored their settings (format 1, by imprint 0.1.0 before the trainer
// redesign; tests/fixtures): rebuilt by the reader it embeds a file as the old binary did, and a run resumes
// from it.
namespace {
const std::string kFixtures = std::string(IMPRINT_SOURCE_DIR) + "/tests/fixtures/";
const std::vector<std::string> kFixtureRun = {"model.embed_dim=8",        "model.width=4",      "model.tokens=1",
                                              "model.resampler_heads=2",  "checkpoint.every=4", "log.tensorboard=false",
                                              "data.train_identities=16", "train.batch_size=8"};
}  // namespace

TEST(CheckpointFormats, AFormat1CheckpointStillLoadsAndResumes) {
  const std::string old = kFixtures + "format1-image-step4.ckpt";
  CheckpointReader reader(old);
  EXPECT_EQ(reader.format(), 1);
  const TrainedEncoder t = reader.encoder();
  std::vector<uint8_t> rgb;
  std::string error;
  ASSERT_TRUE(decode_image(kFixtures + "pattern16.png", 16, rgb, error)) << error;
  at::Tensor pooled;
  {
    torch::NoGradGuard no_grad;
    pooled = t.encoder->encode(image_input(rgb.data(), 16).unsqueeze(0)).pooled[0];
  }
  std::ifstream in(kFixtures + "format1-image-step4.pooled.txt");
  for (int64_t i = 0; i < 8; ++i) {
    double want = 0;
    in >> want;
    EXPECT_NEAR(pooled[i].item<double>(), want, 1e-6) << "dimension " << i << ": not what the old binary embedded";
  }
  const std::string dir = fresh_dir("format1-resume");
  std::filesystem::create_directories(dir + "/checkpoints");
  std::filesystem::copy_file(old, dir + "/checkpoints/step-00000004.ckpt");
  auto sets = kFixtureRun;
  sets.push_back("train.steps=8");
  const auto s = train(tiny_config("image", sets), {dir, true});
  EXPECT_EQ(s.start_step, 4);
  EXPECT_EQ(s.steps_done, 8);
  EXPECT_EQ(CheckpointReader(dir + "/checkpoints/step-00000008.ckpt").format(), kCheckpointFormat);
}

TEST(CheckpointFormats, ANewerFormatIsRefusedNamingIt) {
  CheckpointStore store(fresh_dir("format-future"), 2);
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(kCheckpointFormat + 1));
  ar.write("signature", c10::IValue(std::string("data.modality=image\n")));
  const std::string path = store.save(1, ar);
  const std::string msg = error_of([&] { CheckpointReader{path}; });
  EXPECT_NE(msg.find("written by a newer imprint (checkpoint format " + std::to_string(kCheckpointFormat + 1)),
            std::string::npos)
      << msg;
}
