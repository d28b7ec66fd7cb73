// A conditional generator a generative objective trains the encoder's tokens through: it predicts the
// noise (or v) of a noised sample x_t from the timestep, a content label and the identity tokens. The same
// call is what a user's own TorchScript generator must provide (docs/architecture.md, "Bring a generator").
#pragma once
#include <torch/nn/module.h>

#include <memory>
#include <string>

namespace imprint {

struct GeneratorSpec {
  int64_t channels = 3, image_size = 32;  // what it denoises: pixels, or a frozen autoencoder's latents
  int64_t sample_width = 0;     // the sample's second side when it is not square (log-mel frames); 0 = image_size
  int64_t width = 32;           // channels of the first level; deeper levels have 2x
  int64_t content_classes = 0;  // content labels it is conditioned on; index content_classes = "no content"
  int64_t id_dim = 128;         // width D of the identity tokens
  int64_t id_tokens = 1;        // their count K (a scripted generator's trial call passes K of them)
  int64_t heads = 4;
  // Content as token sequences [B, L, Dc] (generation/content_tokens.h) instead of labels: L and Dc, 0 = labels.
  int64_t context_length = 0, context_dim = 0;

  int64_t height() const { return image_size; }
  int64_t width_px() const { return sample_width > 0 ? sample_width : image_size; }
};

class Generator : public torch::nn::Module {
 public:
  // x_t [B, C, H, W] (H = image_size, W = width_px()); t [B] int64 timesteps; content [B] int64 labels (content_classes
  // = dropped), or with content tokens [B, L, Dc] float (all zeros = dropped); id_tokens [B, K, D]; id_scale: weight of
  // the identity branch of each cross-attention (0 = identity ignored). Returns the model's prediction, shaped like
  // x_t.
  virtual torch::Tensor predict(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                                const torch::Tensor& id_tokens, double id_scale) = 0;
  // The names (as in named_parameters()) of the weights that read the identity tokens: what adapter
  // training trains while the rest stays frozen.
  virtual bool is_adapter_parameter(const std::string& name) const = 0;
  // Sets the identity branch to a copy of the content branch (IP-Adapter's initialisation): called when
  // adapter training starts from a generator pretrained without identity tokens.
  virtual void init_adapter_from_content() = 0;
};

std::shared_ptr<Generator> make_generator(const GeneratorSpec& spec);

}  // namespace imprint
