// The encoders imprint can build: one entry each (name, modality, summary, its own keys, factory, rules).
// The first entry of a modality is what model.name: auto builds for it.
#include <stdexcept>

#include "models/audio_encoder.h"
#include "models/audio_resnet34.h"
#include "models/ecapa_tdnn.h"
#include "models/encoder.h"
#include "models/image_encoder.h"
#include "models/image_resnet.h"
#include "models/image_vit.h"

namespace imprint {

namespace {
// An encoder whose constructor takes the spec alone.
template <class E>
std::shared_ptr<Encoder> plain(const EncoderSpec& s, const ConfigValues&) {
  return std::make_shared<E>(s);
}
}  // namespace

const std::vector<EncoderInfo>& encoder_registry() {
  static const std::vector<EncoderInfo> registry = {
      {"image_cnn",
       Modality::Image,
       "4 conv blocks (stride 4 in all), learned positions, conditioning head",
       {},
       plain<ImageEncoder>,
       nullptr},
      {"audio_cnn",
       Modality::Audio,
       "log-mel front end, 3 conv1d blocks over time, conditioning head",
       {},
       plain<AudioEncoder>,
       nullptr},
      {"ecapa_tdnn",
       Modality::Audio,
       "ECAPA-TDNN with 8 x model.width channels: SE-Res2Blocks (dilation 2/3/4), feature aggregation, attentive "
       "statistics pooling (GroupNorm), conditioning head over frames + statistics",
       {},
       plain<EcapaTdnn>,
       nullptr},
      {"audio_resnet34",
       Modality::Audio,
       "thin ResNet34 on the log-mel image: stages of 3/4/6/3 basic blocks (widths model.width to 8 x model.width), "
       "frames of channels x bins to the conditioning head",
       {},
       plain<AudioResNet34>,
       nullptr},
      {"image_resnet", Modality::Image,
       "ResNet: stem + 3 stages of model.depth basic blocks (widths w, 2w, 4w; stride 1, 2, 2)",
       image_resnet_keys().keys(),
       [](const EncoderSpec& s, const ConfigValues& v) {
         return std::make_shared<ImageResNet>(s, image_resnet_keys().read(v));
       },
       nullptr},
      {"image_vit", Modality::Image,
       "ViT: model.patch patches to 4 x model.width, model.depth pre-norm blocks of model.heads heads",
       image_vit_keys().keys(),
       [](const EncoderSpec& s, const ConfigValues& v) {
         return std::make_shared<ImageVit>(s, image_vit_keys().read(v));
       },
       [](const EncoderSpec& s, const ConfigValues& v) { check_image_vit(s, image_vit_keys().read(v)); }},
  };
  return registry;
}

const EncoderInfo& resolve_encoder(const EncoderSpec& spec) {
  std::string names;
  for (const auto& e : encoder_registry()) {
    names += (names.empty() ? "" : ", ") + e.name + " (" + modality_name(e.modality) + ")";
    if (spec.name == "auto" && e.modality == spec.modality) return e;
    if (e.name == spec.name) {
      if (e.modality != spec.modality)
        throw std::invalid_argument("model.name: " + e.name + " encodes " + modality_name(e.modality) +
                                    ", but data.modality is " + modality_name(spec.modality));
      return e;
    }
  }
  throw std::invalid_argument("model.name: no encoder '" + spec.name + "' for " + modality_name(spec.modality) +
                              " (known: " + names + ")");
}

void check_encoder(const EncoderSpec& spec, const ConfigValues& values) {
  const EncoderInfo& e = resolve_encoder(spec);
  if (spec.embed_dim % spec.resampler_heads != 0 && values.given("model.resampler_heads"))
    throw std::invalid_argument("model.resampler_heads: " + std::to_string(spec.resampler_heads) +
                                " does not divide model.embed_dim (" + std::to_string(spec.embed_dim) + ")");
  if (e.check) e.check(spec, values);
}

std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec, const ConfigValues& values) {
  return resolve_encoder(spec).make(spec, values);
}

}  // namespace imprint
