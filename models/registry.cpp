#include <stdexcept>

#include "models/audio_encoder.h"
#include "models/encoder.h"
#include "models/image_encoder.h"

namespace imprint {

std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec) {
  if (spec.modality == "image") return std::make_shared<ImageEncoder>(spec);
  if (spec.modality == "audio") return std::make_shared<AudioEncoder>(spec);
  throw std::invalid_argument("no encoder for modality '" + spec.modality + "'");
}

}  // namespace imprint
