// The keys every encoder reads (model.*) and the input it encodes (data.modality, data.image_size,
// data.sample_rate), bound to EncoderSpec; and the model signature a checkpoint of an encoder carries.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "config/section.h"
#include "models/encoder.h"

namespace imprint {

// The input an encoder reads: data.modality, data.image_size, data.sample_rate.
const Section<EncoderSpec>& encoder_input_section();
// The keys every encoder reads: model.name, model.embed_dim ... model.audio.*.
const Section<EncoderSpec>& encoder_spec_section();
// Both sections read from `values`.
EncoderSpec read_encoder_spec(const ConfigValues& values);
// encoder_spec_section()'s keys and every registered encoder's own keys: the model part of a schema (the
// input keys are the data section's business).
std::vector<KeySpec> encoder_keys();
// The encoder `spec` names with every key of its own at its default (tests, benchmarks).
std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec);
// What shapes the encoder `spec` builds: the resolved model.name, embed_dim/tokens/width, the resampler's keys
// when not the default (checkpoints from before they existed have neither), the encoder's own keys, the
// modality, and the modality's input keys (image size; sample rate and the log-mel front end).
std::map<std::string, std::string> encoder_signature(const EncoderSpec& spec, const ConfigValues& values);

}  // namespace imprint
