#include <stdexcept>

#include "models/audio_encoder.h"
#include "models/audio_resnet34.h"
#include "models/ecapa_tdnn.h"
#include "models/encoder.h"
#include "models/image_encoder.h"
#include "models/image_resnet.h"
#include "models/image_vit.h"

namespace imprint {

const std::vector<EncoderInfo>& encoder_registry() {
  static const std::vector<EncoderInfo> registry = {
      {"image_cnn", "image", "4 conv blocks (stride 4 in all), learned positions, conditioning head", {},
       [](const EncoderSpec& s) { return std::make_shared<ImageEncoder>(s); }},
      {"audio_cnn", "audio", "log-mel front end, 3 conv1d blocks over time, conditioning head", {},
       [](const EncoderSpec& s) { return std::make_shared<AudioEncoder>(s); }},
      {"ecapa_tdnn", "audio", "ECAPA-TDNN: SE-Res2Blocks (dilation 2/3/4), feature aggregation, attentive statistics "
                              "pooling (GroupNorm), conditioning head over frames + statistics; C = 8 x model.width",
       {},
       [](const EncoderSpec& s) { return std::make_shared<EcapaTdnn>(s); }},
      {"audio_resnet34", "audio", "thin ResNet34 on the log-mel image: stages of 3/4/6/3 basic blocks (widths w..8w), "
                                  "frames of channels x bins to the conditioning head",
       {},
       [](const EncoderSpec& s) { return std::make_shared<AudioResNet34>(s); }},
      {"image_resnet", "image", "ResNet: stem + 3 stages of model.depth basic blocks (widths w, 2w, 4w; stride 1, 2, 2)",
       {"model.depth"},
       [](const EncoderSpec& s) { return std::make_shared<ImageResNet>(s); }},
      {"image_vit", "image", "ViT: model.patch patches to 4 x model.width, model.depth pre-norm blocks of model.heads heads",
       {"model.depth", "model.heads", "model.patch"},
       [](const EncoderSpec& s) { return std::make_shared<ImageVit>(s); }},
  };
  return registry;
}

std::string resolve_encoder_name(const EncoderSpec& spec) {
  std::string names;
  for (const auto& e : encoder_registry()) {
    names += (names.empty() ? "" : ", ") + e.name + " (" + e.modality + ")";
    if (spec.name == "auto" && e.modality == spec.modality) return e.name;  // the first of a modality is its default
    if (e.name == spec.name) {
      if (e.modality != spec.modality)
        throw std::invalid_argument("model.name: " + e.name + " encodes " + e.modality + ", but data.modality is " +
                                    spec.modality);
      return e.name;
    }
  }
  throw std::invalid_argument("model.name: no encoder '" + spec.name + "' for " + spec.modality + " (known: " + names +
                              ")");
}

std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec) {
  const std::string name = resolve_encoder_name(spec);
  for (const auto& e : encoder_registry())
    if (e.name == name) return e.make(spec);
  throw std::logic_error("encoder registry: " + name);
}

}  // namespace imprint
