#include "models/encoder_spec.h"

namespace imprint {

namespace {

std::vector<std::pair<std::string, std::string>> encoder_names() {
  std::vector<std::pair<std::string, std::string>> names{{"auto", "auto"}};
  for (const auto& e : encoder_registry()) names.emplace_back(e.name, e.name);
  return names;
}

std::string encoder_name_doc() {
  std::string doc = "Encoder to build (models/registry.cpp): auto picks the data.modality's default (";
  std::string defaults, list;
  for (const auto& m : {Modality::Image, Modality::Audio}) {
    EncoderSpec s;
    s.modality = m;
    defaults += (defaults.empty() ? "" : ", ") + resolve_encoder(s).name;
  }
  for (const auto& e : encoder_registry()) list += "; " + e.name + " (" + modality_name(e.modality) + "): " + e.summary;
  return doc + defaults + ")" + list + ".";
}

}  // namespace

const Section<EncoderSpec>& encoder_input_section() {
  using S = EncoderSpec;
  using R = KeyRole;
  static const auto section =
      Section<S>()
          .choice("data.modality", &S::modality, {{"image", Modality::Image}, {"audio", Modality::Audio}},
                  Modality::Image, "Which encoder to train and which samples to read.", R::Shaping)
          .integer("data.image_size", &S::image_size, int64_t{32}, Range::closed(8, 1024),
                   "Image side in pixels (images are square, RGB). With data.source: shards, the dataset's own "
                   "(manifest) unless the config sets it; then the two must match.",
                   R::Shaping)
          .integer("data.sample_rate", &S::sample_rate, int64_t{8000}, Range::closed(4000, 48000),
                   "Audio sample rate in Hz. With data.source: shards, the dataset's own (manifest) unless the "
                   "config sets it; then the two must match.",
                   R::Shaping);
  return section;
}

const Section<EncoderSpec>& encoder_spec_section() {
  using S = EncoderSpec;
  using R = KeyRole;
  static const auto section =
      Section<S>()
          .choice("model.name", &S::name, encoder_names(), std::string("auto"), encoder_name_doc(), R::Shaping)
          .integer("model.embed_dim", &S::embed_dim, int64_t{128}, Range::closed(8, 4096),
                   "Width D of the conditioning tokens and the pooled vector.", R::Shaping)
          .integer("model.tokens", &S::tokens, int64_t{4}, Range::closed(1, 256),
                   "Number K of conditioning tokens per sample.", R::Shaping)
          .integer("model.width", &S::width, int64_t{32}, Range::closed(4, 1024),
                   "Base channel count of the convolutional trunk.", R::Shaping)
          .integer("model.resampler_depth", &S::resampler_depth, int64_t{1}, Range::closed(1, 64),
                   "Every encoder's conditioning head: blocks of its token resampler (the first: K learned "
                   "queries cross-attend over the trunk's features; each further one: the tokens query the "
                   "features again, with residual attention and MLP). IP-Adapter-Plus uses 4.",
                   R::ShapingUnlessDefault)
          .integer("model.resampler_heads", &S::resampler_heads, int64_t{4}, Range::closed(1, 256),
                   "Attention heads of the token resampler (must divide model.embed_dim).", R::ShapingUnlessDefault)
          .integer("model.audio.n_mels", &S::n_mels, int64_t{40}, Range::closed(8, 256),
                   "Mel bands of the audio front end.", R::Shaping)
          .integer("model.audio.n_fft", &S::n_fft, int64_t{256}, Range::closed(32, 8192),
                   "FFT size (and window length) of the audio front end.", R::Shaping)
          .integer("model.audio.hop", &S::hop, int64_t{80}, Range::closed(1, 4096),
                   "Hop in samples between STFT frames.", R::Shaping);
  return section;
}

EncoderSpec read_encoder_spec(const ConfigValues& values) {
  EncoderSpec spec = encoder_input_section().read(values);
  encoder_spec_section().read_into(values, spec);
  return spec;
}

std::vector<KeySpec> encoder_keys() {
  std::vector<KeySpec> keys = encoder_spec_section().keys();
  for (const auto& e : encoder_registry()) keys.insert(keys.end(), e.keys.begin(), e.keys.end());
  return keys;
}

std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec) {
  static const Schema schema(encoder_keys());
  return make_encoder(spec, ConfigValues(schema));
}

std::map<std::string, std::string> encoder_signature(const EncoderSpec& spec, const ConfigValues& values) {
  auto all = encoder_spec_section().write(spec);
  all.merge(encoder_input_section().write(spec));
  std::map<std::string, std::string> sig;
  const EncoderInfo& info = resolve_encoder(spec);
  sig["model.name"] = info.name;
  for (const auto& k : info.keys) sig[k.path] = values.text(k.path);
  for (const char* k : {"model.embed_dim", "model.tokens", "model.width", "data.modality"}) sig[k] = all.at(k);
  for (const auto& k : encoder_spec_section().keys())
    if (k.role == KeyRole::ShapingUnlessDefault && all.at(k.path) != k.default_value) sig[k.path] = all.at(k.path);
  if (spec.modality == Modality::Image) {
    sig["data.image_size"] = all.at("data.image_size");
  } else {
    for (const char* k : {"data.sample_rate", "model.audio.n_mels", "model.audio.n_fft", "model.audio.hop"})
      sig[k] = all.at(k);
  }
  return sig;
}

}  // namespace imprint
