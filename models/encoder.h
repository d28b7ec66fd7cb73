// What every encoder returns for a batch of samples: K conditioning tokens of width D for a generator's
// cross-attention, and one pooled vector per sample for identity-level objectives and retrieval.
#pragma once
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config_values.h"
#include "config/key_spec.h"
#include "core/modality.h"

namespace imprint {

struct Conditioning {
  torch::Tensor tokens;  // [B, K, D]
  torch::Tensor pooled;  // [B, D]
};

class Encoder : public torch::nn::Module {
 public:
  virtual Conditioning encode(const torch::Tensor& batch) = 0;
};

// What every encoder is built from: the `model.*` keys all encoders read and the input they encode
// (models/encoder_spec.h binds them to their keys). Keys only some encoders read are theirs: declared in
// their registry entry and read by their factory.
struct EncoderSpec {
  std::string name = "auto";  // a registry name (encoder_registry()); "auto": the modality's default
  Modality modality = Modality::Image;
  int64_t embed_dim = 128;  // D
  int64_t tokens = 4;       // K
  int64_t width = 32;
  int64_t resampler_depth = 1;  // every encoder's conditioning head (models/token_resampler.h)
  int64_t resampler_heads = 4;
  int64_t image_size = 32;     // images: side in pixels
  int64_t sample_rate = 8000;  // audio: Hz, and the log-mel front end below
  int64_t n_mels = 40, n_fft = 256, hop = 80;
};

// The encoders imprint can build. Adding one: its file pair (a trunk producing features [B, N, C] and a
// ConditioningHead; any keys of its own as a Section in its file) and one entry in models/registry.cpp.
// model.name's choices, the config reference, the checkpoint signature and the tests that every encoder must
// pass (tests/test_encoders.cpp) all come from the registry.
struct EncoderInfo {
  std::string name;
  Modality modality;
  std::string summary;
  // Keys of its own beyond EncoderSpec's (e.g. model.depth): with their defaults, ranges and docs. They
  // shape the encoder, so they enter the checkpoint's model signature: that is how a checkpoint rebuilds it.
  std::vector<KeySpec> keys;
  std::function<std::shared_ptr<Encoder>(const EncoderSpec&, const ConfigValues&)> make;
  // Rules between its keys and the spec (may be empty); throws std::invalid_argument naming the key.
  std::function<void(const EncoderSpec&, const ConfigValues&)> check;
};
const std::vector<EncoderInfo>& encoder_registry();

// The registry entry `spec.name` stands for ("auto" -> the modality's default). Throws std::invalid_argument
// naming the choices when the name is unknown or encodes another modality.
const EncoderInfo& resolve_encoder(const EncoderSpec& spec);
// resolve_encoder + its rules; throws std::invalid_argument naming the key.
void check_encoder(const EncoderSpec& spec, const ConfigValues& values);
std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec, const ConfigValues& values);

}  // namespace imprint
