// The built-in identity dataset: procedural and deterministic from data.seed, no files needed.
// Identities [0, train) are for training, [train, train + eval) are held out.
#pragma once
#include <vector>

#include "data/identity_dataset.h"

namespace imprint {

struct SyntheticSpec {
  Modality modality = Modality::Image;
  uint64_t data_seed = 7;
  int64_t train_identities = 1000;
  int64_t eval_identities = 100;
  int64_t samples_per_identity = 16;
  int image_size = 32;
  int sample_rate = 8000;
  int clip_samples = 4000;
  // Images only: > 0 gives sample i the content label i % content_classes, which decides where the shape
  // sits (data/synthetic_image.h); 0: no content labels, shapes placed at random.
  int content_classes = 0;
};

class SyntheticDataset final : public IdentityDataset {
 public:
  explicit SyntheticDataset(const SyntheticSpec& spec);
  Modality modality() const override { return spec_.modality; }
  const std::vector<int64_t>& train_identities() const override { return train_; }
  const std::vector<int64_t>& eval_identities() const override { return eval_; }
  int64_t num_samples(int64_t) const override { return spec_.samples_per_identity; }
  std::vector<int64_t> sample_shape() const override;
  void read(int64_t identity, int64_t index, uint64_t augment_seed, float* out) const override;
  const std::vector<std::string>& content_labels() const override { return content_names_; }
  int64_t content_label(int64_t identity, int64_t index) const override;

 private:
  SyntheticSpec spec_;
  std::vector<std::string> content_names_;
  std::vector<int64_t> train_, eval_;
};

}  // namespace imprint
