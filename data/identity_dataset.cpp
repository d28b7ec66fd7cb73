#include "data/identity_dataset.h"

#include <stdexcept>

namespace imprint {

Modality parse_modality(const std::string& name) {
  if (name == "image") return Modality::Image;
  if (name == "audio") return Modality::Audio;
  throw std::invalid_argument("unknown modality '" + name + "' (expected image or audio)");
}

const char* modality_name(Modality m) { return m == Modality::Image ? "image" : "audio"; }

int64_t IdentityDataset::sample_numel() const {
  int64_t n = 1;
  for (auto d : sample_shape()) n *= d;
  return n;
}

const std::vector<std::string>& IdentityDataset::content_labels() const {
  static const std::vector<std::string> none;
  return none;
}

int64_t IdentityDataset::content_label(int64_t, int64_t) const { return -1; }

}  // namespace imprint
