// What the trainer needs from a dataset grouped by identity, whatever stores it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/modality.h"

namespace imprint {

class IdentityDataset {
 public:
  virtual ~IdentityDataset() = default;
  virtual Modality modality() const = 0;
  // Identities a training pair may be drawn from, and the held-out ones (disjoint).
  virtual const std::vector<int64_t>& train_identities() const = 0;
  virtual const std::vector<int64_t>& eval_identities() const = 0;
  virtual int64_t num_samples(int64_t identity) const = 0;
  // Shape of one decoded sample: {3, H, W} for images, {T} for audio.
  virtual std::vector<int64_t> sample_shape() const = 0;
  int64_t sample_numel() const;
  // Writes sample `index` of `identity` into `out` (sample_numel() floats). `augment_seed` == 0 means no
  // augmentation. Must be safe to call from several threads at once.
  virtual void read(int64_t identity, int64_t index, uint64_t augment_seed, float* out) const = 0;
  // Content labels (what a sample shows whatever its identity, e.g. the character of a glyph): their names,
  // index = label. Empty when the dataset has none.
  virtual const std::vector<std::string>& content_labels() const;
  // The content label of a sample, or -1 when the dataset has none.
  virtual int64_t content_label(int64_t identity, int64_t index) const;
};

}  // namespace imprint
