#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/pixels.h"
#include "data/shard_dataset.h"
#include "data/shard_writer.h"
#include "data/synthetic_dataset.h"
#include "data/synthetic_export.h"
#include "tests/tiny_run.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
namespace fs = std::filesystem;

namespace {

// tests/interop/pattern.py, in C++.
constexpr int kSize = 8, kRate = 8000;
uint8_t pixel(int k, int i, int y, int x, int c) {
  return static_cast<uint8_t>((7 * k + 3 * i + 5 * y + 11 * x + 13 * c) % 256);
}
std::vector<int16_t> clip(int k, int i) {
  std::vector<int16_t> v(100 + 10 * k + i);
  for (size_t n = 0; n < v.size(); ++n)
    v[n] = static_cast<int16_t>((1000 * k + 100 * i + 7 * static_cast<int>(n)) % 20000 - 10000);
  return v;
}
const int kCounts[6] = {3, 3, 4, 3, 3, 3};

void write_pattern(const std::string& dir, Modality m) {
  DatasetWriter w(dir, m, m == Modality::Image ? kSize : kRate, /*shard_bytes=*/400);
  for (int k = 0; k < 6; ++k) {
    if (m == Modality::Image) {
      std::vector<std::vector<uint8_t>> imgs;
      for (int i = 0; i < kCounts[k]; ++i) {
        std::vector<uint8_t> img(kSize * kSize * 3);
        for (int y = 0; y < kSize; ++y)
          for (int x = 0; x < kSize; ++x)
            for (int c = 0; c < 3; ++c) img[(y * kSize + x) * 3 + c] = pixel(k, i, y, x, c);
        imgs.push_back(img);
      }
      w.add_image_identity("subject_" + std::to_string(k), imgs);
    } else {
      std::vector<std::vector<int16_t>> clips;
      for (int i = 0; i < kCounts[k]; ++i) clips.push_back(clip(k, i));
      w.add_audio_identity("speaker_" + std::to_string(k), clips);
    }
  }
  w.finish({4, 5});
}

// Checks every sample ShardDataset returns against the pattern.
void expect_pattern(const std::string& dir, Modality m) {
  const int64_t clip_len = 150;
  ShardDataset ds(dir, clip_len);
  EXPECT_EQ(ds.train_identities(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(ds.eval_identities(), (std::vector<int64_t>{4, 5}));
  std::vector<float> out(static_cast<size_t>(ds.sample_numel()));
  for (int k = 0; k < 6; ++k) {
    ASSERT_EQ(ds.num_samples(k), kCounts[k]);
    for (int i = 0; i < kCounts[k]; ++i) {
      ds.read(k, i, 0, out.data());
      if (m == Modality::Image) {
        for (int c = 0; c < 3; ++c)
          for (int y = 0; y < kSize; ++y)
            for (int x = 0; x < kSize; ++x)
              ASSERT_FLOAT_EQ(out[(c * kSize + y) * kSize + x], to_model_range(pixel(k, i, y, x, c) / 255.0f))
                  << k << " " << i;
      } else {
        const auto pcm = clip(k, i);
        for (int64_t n = 0; n < clip_len; ++n)
          ASSERT_FLOAT_EQ(out[n], n < static_cast<int64_t>(pcm.size()) ? pcm[n] / 32768.0f : 0.0f) << k << " " << i;
      }
    }
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DatasetError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DatasetError";
  return "";
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }
const std::string kInterop = std::string(IMPRINT_SOURCE_DIR) + "/tests/interop/";

}  // namespace

class ShardsBothModalities : public ::testing::TestWithParam<Modality> {};

TEST_P(ShardsBothModalities, WriteReadRoundTrip) {
  const std::string dir = fresh_dir("roundtrip");
  write_pattern(dir, GetParam());
  EXPECT_GT(Manifest::read(dir).shards.size(), 1u) << "the test must cross shard boundaries";
  expect_pattern(dir, GetParam());
  EXPECT_NE(inspect_dataset(dir).summary.find("all checksums match"), std::string::npos);
}

TEST_P(ShardsBothModalities, H5pyReadsWhatImprintWrites) {
  const std::string dir = fresh_dir("to-h5py");
  write_pattern(dir, GetParam());
  const char* m = GetParam() == Modality::Image ? "image" : "audio";
  EXPECT_EQ(run("/usr/bin/python3 " + kInterop + "check_imprint_dataset.py " + dir + " " + m), 0);
}

TEST_P(ShardsBothModalities, ImprintReadsWhatH5pyWrites) {
  const std::string dir = fresh_dir("from-h5py");
  const char* m = GetParam() == Modality::Image ? "image" : "audio";
  ASSERT_EQ(run("/usr/bin/python3 " + kInterop + "write_dataset.py " + dir + " " + m), 0);
  EXPECT_NO_THROW(inspect_dataset(dir));
  expect_pattern(dir, GetParam());
  // And imprint trains on it: 4 training identities, 2 held out with 3 samples each.
  const auto s =
      train(imprint::testing::tiny_config(m, {"data.source=shards", "data.path=" + dir, "data.image_size=8",
                                              "model.audio.n_fft=64", "model.audio.hop=16", "model.audio.n_mels=16",
                                              "train.batch_size=4", "train.steps=6", "eval.gallery_per_identity=2"}),
            {fresh_dir("h5py-train"), false});
  EXPECT_EQ(s.steps_done, 6);
  EXPECT_EQ(s.eval.identities, 2);
  EXPECT_TRUE(std::isfinite(s.last_loss));
}

TEST_P(ShardsBothModalities, InspectReadsEverySampleBackNotOnlyTheChecksums) {
  // h5py's LZF filter: the bytes match the manifest's checksums, but libhdf5 cannot decode a single sample.
  const std::string dir = fresh_dir("lzf");
  const char* m = GetParam() == Modality::Image ? "image" : "audio";
  ASSERT_EQ(run("/usr/bin/python3 " + kInterop + "write_dataset.py " + dir + " " + m + " lzf"), 0);
  const std::string msg = error_of([&] { inspect_dataset(dir); });
  EXPECT_NE(msg.find(dir + "/shard-00000.h5: " + (GetParam() == Modality::Image ? "images 0.." : "audio samples 0..")),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("read failed"), std::string::npos) << msg;
}

TEST_P(ShardsBothModalities, SyntheticExportMatchesTheGeneratorAndIsReproducible) {
  SyntheticSpec spec;
  spec.modality = GetParam();
  spec.train_identities = 12;
  spec.eval_identities = 3;
  spec.samples_per_identity = 4;
  spec.image_size = 16;
  spec.clip_samples = 1200;
  const std::string a = fresh_dir("synth-a"), b = fresh_dir("synth-b");
  const Manifest ma = export_synthetic(spec, a, 20000), mb = export_synthetic(spec, b, 20000);
  ASSERT_EQ(ma.shards.size(), mb.shards.size());
  for (size_t s = 0; s < ma.shards.size(); ++s)
    EXPECT_EQ(ma.shards[s].fnv1a64, mb.shards[s].fnv1a64) << "byte-identical";
  EXPECT_EQ(ma.holdout, (std::vector<int64_t>{12, 13, 14}));
  const SyntheticDataset gen(spec);
  const ShardDataset shards(a, spec.clip_samples);
  std::vector<float> x(static_cast<size_t>(gen.sample_numel())), y(x.size());
  for (int64_t id : {0, 7, 14}) {
    gen.read(id, 2, 0, x.data());
    shards.read(id, 2, 0, y.data());
    const double tolerance = GetParam() == Modality::Image ? 4.0 * 0.5 / 255 + 1e-6 : 0.5 / 32768 + 1e-7;
    for (size_t k = 0; k < x.size(); ++k) ASSERT_NEAR(x[k], y[k], tolerance) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Modalities, ShardsBothModalities, ::testing::Values(Modality::Image, Modality::Audio));

TEST(ShardDataset, DamagedDatasetsNameTheFile) {
  const std::string dir = fresh_dir("damaged");
  write_pattern(dir, Modality::Image);
  const std::string shard = dir + "/shard-00001.h5";
  const auto size = fs::file_size(shard);
  {  // one flipped byte: same size, different checksum
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 10));
    f.put('\x7f');
  }
  std::string msg = error_of([&] { inspect_dataset(dir); });
  EXPECT_NE(msg.find(shard + ": checksum"), std::string::npos) << msg;
  msg = error_of([&] { ShardDataset(dir, 1, /*verify_checksums=*/true); });
  EXPECT_NE(msg.find(shard + ": checksum"), std::string::npos) << "training (data.verify_checksums) too: " << msg;
  fs::resize_file(shard, size / 2);
  msg = error_of([&] { inspect_dataset(dir); });
  EXPECT_NE(msg.find(shard + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  msg = error_of([&] { ShardDataset(dir, 1); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << "training refuses it too: " << msg;
  fs::remove(shard);
  msg = error_of([&] { ShardDataset(dir, 1); });
  EXPECT_NE(msg.find(shard + ": missing"), std::string::npos) << msg;
  std::ofstream(dir + "/manifest.json")
      << R"({"format": "imprint-identity-dataset", "version": 1, "modality": "video"})";
  msg = error_of([&] { Manifest::read(dir); });
  EXPECT_NE(msg.find("manifest.json: modality: expected image or audio, got 'video'"), std::string::npos) << msg;
  msg = error_of([&] { Manifest::read(fresh_dir("empty")); });
  EXPECT_NE(msg.find("manifest.json: cannot open"), std::string::npos) << msg;
}

TEST(ShardDataset, TrainsFromShardsMadeOnFirstUse) {
  const std::string data = fresh_dir("shards-data");
  const JobConfig cfg = imprint::testing::tiny_config(
      "image", {"data.source=shards", "data.path=" + data, "data.create_if_missing=true", "train.steps=40"});
  const auto s = train(cfg, {fresh_dir("shards-run"), false});
  EXPECT_TRUE(fs::exists(data + "/manifest.json"));
  EXPECT_LT(s.last_loss, 0.8 * s.first_loss);
  EXPECT_GT(s.eval.top1, s.eval.chance);
  EXPECT_EQ(s.eval.identities, 8);
}

TEST(ShardDataset, ConfigNamesAMissingDataset) {
  try {
    check_job_files(parse_job("data:\n  source: shards\n  path: /nonexistent/ds\n", "t.yaml"));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml: data.path: '/nonexistent/ds' holds no manifest.json"),
              std::string::npos)
        << e.what();
  }
}
