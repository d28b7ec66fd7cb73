#include "data/identity_dataset.h"

#include <stdexcept>

namespace imprint {

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
