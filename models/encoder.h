// What every encoder returns for a batch of samples: K conditioning tokens of width D for a generator's
// cross-attention, and one pooled vector per sample for identity-level objectives and retrieval.
#pragma once
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace imprint {

struct Conditioning {
  torch::Tensor tokens;  // [B, K, D]
  torch::Tensor pooled;  // [B, D]
};

class Encoder : public torch::nn::Module {
 public:
  virtual Conditioning encode(const torch::Tensor& batch) = 0;
};

struct EncoderSpec {
  std::string name = "auto";       // a registry name (encoder_registry()); "auto": the modality's default
  std::string modality = "image";  // "image" | "audio"
  int64_t embed_dim = 128;         // D
  int64_t tokens = 4;              // K
  int64_t width = 32;
  int64_t depth = 2;               // image_resnet: blocks per stage; image_vit: transformer blocks
  int64_t heads = 4;               // image_vit: attention heads
  int64_t patch = 4;               // image_vit: patch side in pixels
  int64_t resampler_depth = 1;     // every encoder's conditioning head (models/token_resampler.h)
  int64_t resampler_heads = 4;
  int64_t image_size = 32;
  int64_t sample_rate = 8000;
  int64_t n_mels = 40, n_fft = 256, hop = 80;
};

// The encoders imprint can build. Adding one: its file (a trunk producing features [B, N, C] and a
// ConditioningHead), one line in models/registry.cpp, its name in model.name's choices
// (trainer/config_schema.cpp) and a row in docs/configuration.md.
struct EncoderInfo {
  std::string name, modality, summary;
  // Config keys beyond model.embed_dim/tokens/width and the modality's own that shape this encoder: they
  // enter the checkpoint's model signature, which is how a checkpoint rebuilds it.
  std::vector<std::string> shaping_keys;
  std::function<std::shared_ptr<Encoder>(const EncoderSpec&)> make;
};
const std::vector<EncoderInfo>& encoder_registry();

// The registry name `spec.name` stands for ("auto" -> the modality's default). Throws std::invalid_argument
// naming the choices when the name is unknown or encodes another modality.
std::string resolve_encoder_name(const EncoderSpec& spec);
std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec);

}  // namespace imprint
