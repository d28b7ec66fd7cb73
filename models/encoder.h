// What every encoder returns for a batch of samples: K conditioning tokens of width D for a generator's
// cross-attention, and one pooled vector per sample for identity-level objectives and retrieval.
#pragma once
#include <torch/nn/module.h>

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
  std::string modality = "image";  // "image" | "audio"
  int64_t embed_dim = 128;         // D
  int64_t tokens = 4;              // K
  int64_t width = 32;
  int64_t image_size = 32;
  int64_t sample_rate = 8000;
  int64_t n_mels = 40, n_fft = 256, hop = 80;
};

std::shared_ptr<Encoder> make_encoder(const EncoderSpec& spec);

}  // namespace imprint
