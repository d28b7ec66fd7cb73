// An IdentityDataset read from shard files (data/shard_format.h). Identities listed as held out in the
// manifest are the evaluation identities; every other identity with at least 2 samples trains.
#pragma once
#include <memory>
#include <vector>

#include "data/augment_options.h"
#include "data/h5_handle.h"
#include "data/identity_dataset.h"
#include "data/shard_format.h"

namespace imprint {

class NoiseBank;

class ShardDataset final : public IdentityDataset {
 public:
  // clip_samples: audio clips are cropped (randomly when augmenting, from the start otherwise) or zero-padded
  // to this length. Opens every shard and checks it against the manifest (sizes, sample counts, identity
  // ranges) and, with verify_checksums, every shard's checksum (reads every byte once).
  ShardDataset(const std::string& dir, int64_t clip_samples, bool verify_checksums = false);
  ~ShardDataset() override;
  // What read() does with a non-zero augment seed (data/augment_options.h); `noise` (may be null: generated
  // noise) must outlive the dataset's reads. Set before any read.
  void set_augmentation(const AugmentOptions& options, std::shared_ptr<const NoiseBank> noise = nullptr);

  Modality modality() const override { return manifest_.modality; }
  const std::vector<int64_t>& train_identities() const override { return train_; }
  const std::vector<int64_t>& eval_identities() const override { return eval_; }
  int64_t num_samples(int64_t identity) const override;
  std::vector<int64_t> sample_shape() const override;
  void read(int64_t identity, int64_t index, uint64_t augment_seed, float* out) const override;
  const std::vector<std::string>& content_labels() const override { return manifest_.content_labels; }
  int64_t content_label(int64_t identity, int64_t index) const override;
  // Audio: how many samples the clip holds as stored, before read() crops or zero-pads it to clip_samples;
  // images: 0.
  int64_t stored_length(int64_t identity, int64_t index) const;
  const Manifest& manifest() const { return manifest_; }
  // Reads every stored sample back through the same HDF5 path training uses (throws DatasetError naming the
  // shard and rows that fail): a checksum proves the bytes are the ones written, not that they decode.
  void read_back_every_sample() const;

 private:
  struct Shard;
  struct Where {
    int32_t shard = -1;
    int64_t first_row = 0, count = 0;
  };
  std::string dir_;
  Manifest manifest_;
  int64_t clip_samples_;
  AugmentOptions augment_;
  std::shared_ptr<const NoiseBank> noise_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<Where> where_;  // by identity
  std::vector<int64_t> train_, eval_;
};

struct InspectReport {
  int64_t identities = 0, holdout = 0, samples = 0, bytes = 0;
  int64_t min_per_identity = 0, max_per_identity = 0;
  int64_t unusable_identities = 0;                        // fewer than 2 samples
  int64_t content_labels = 0, unused_content_labels = 0;  // named in the manifest; of those, on no sample
  std::string summary;                                    // human-readable, several lines
};

// Full validation: manifest, every shard's size and checksum, datasets, counts, identity table. Throws
// DatasetError naming the file and what is wrong.
InspectReport inspect_dataset(const std::string& dir);

}  // namespace imprint
