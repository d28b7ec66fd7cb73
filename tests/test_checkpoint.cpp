#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/tiny_run.h"
#include "trainer/checkpoint_store.h"
#include "trainer/train_loop.h"

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
  EXPECT_EQ(all[0].first, 10);
  EXPECT_EQ(all[1].first, 15);
  EXPECT_EQ(*store.latest(), store.path_for(15));
  torch::serialize::InputArchive in;
  read_checkpoint(*store.latest(), in);
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
  EXPECT_EQ(all[0].first, 18);
  EXPECT_EQ(all[1].first, 24);
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

TEST(TrainCheckpoints, ATruncatedLatestCheckpointStopsTheResume) {
  const std::string dir = fresh_dir("truncated-resume");
  train(tiny_config("image", {"train.stop_at=6"}), {dir, false});
  const std::string path = dir + "/checkpoints/step-00000006.ckpt";
  ASSERT_TRUE(fs::exists(path));
  fs::resize_file(path, fs::file_size(path) / 2);
  const std::string msg = error_of([&] { train(tiny_config("image"), {dir, true}); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}
