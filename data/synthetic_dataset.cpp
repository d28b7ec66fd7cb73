#include "data/synthetic_dataset.h"

#include <numeric>
#include <stdexcept>
#include <string>

#include "data/synthetic_audio.h"
#include "data/synthetic_image.h"

namespace imprint {

SyntheticDataset::SyntheticDataset(const SyntheticSpec& spec) : spec_(spec) {
  train_.resize(spec.train_identities);
  std::iota(train_.begin(), train_.end(), 0);
  eval_.resize(spec.eval_identities);
  std::iota(eval_.begin(), eval_.end(), spec.train_identities);
  if (spec.content_classes > 0 && spec.modality != Modality::Image)
    throw std::invalid_argument("data.content_classes: synthetic content labels exist for images only");
  for (int c = 0; c < spec.content_classes; ++c) content_names_.push_back("spot" + std::to_string(c));
}

int64_t SyntheticDataset::content_label(int64_t, int64_t index) const {
  return spec_.content_classes > 0 ? index % spec_.content_classes : -1;
}

std::vector<int64_t> SyntheticDataset::sample_shape() const {
  if (spec_.modality == Modality::Image) return {3, spec_.image_size, spec_.image_size};
  return {spec_.clip_samples};
}

void SyntheticDataset::read(int64_t identity, int64_t index, uint64_t augment_seed, float* out) const {
  if (identity < 0 || identity >= spec_.train_identities + spec_.eval_identities || index < 0 ||
      index >= spec_.samples_per_identity)
    throw std::out_of_range("synthetic dataset: no sample " + std::to_string(index) + " of identity " +
                            std::to_string(identity));
  if (spec_.modality == Modality::Image) {
    render_image(make_image_identity(spec_.data_seed, identity), spec_.data_seed, identity, index, augment_seed,
                 spec_.image_size, out, static_cast<int>(content_label(identity, index)), spec_.content_classes);
  } else {
    render_utterance(make_voice(spec_.data_seed, identity), spec_.data_seed, identity, index, augment_seed,
                     spec_.sample_rate, spec_.clip_samples, out);
  }
}

}  // namespace imprint
