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

}  // namespace imprint
