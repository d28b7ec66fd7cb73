// A user's own generator, loaded from a TorchScript file (torch.jit.script(...).save() or torch.jit.trace),
// in place of imprint's ConditionalUnet: how a team trains imprint's encoder through the generator it
// already has. The file's module must provide
//   forward(x_t: Tensor, t: Tensor, content: Tensor, id_tokens: Tensor, id_scale: float) -> Tensor
// with the shapes of Generator::predict (generation/generator.h): x_t of any channel count (pixels, or a
// frozen autoencoder's latents), content int64 labels [B] or, with objective.denoise.content_tokens, float
// content tokens [B, L, Dc] (a text encoder's hidden states). Its parameters become this module's (same
// tensors, names with '.' written '__'), so the optimizer, the gradient reducer, checkpoints and device moves
// see them; the ones whose name (as in the file) matches `adapter_pattern` (ECMAScript regex, searched) are
// the adapter weights that objective.denoise.train: adapter trains while the rest stays frozen.
#pragma once
#include <torch/csrc/jit/api/module.h>

#include <map>
#include <regex>
#include <string>

#include "generation/generator.h"

namespace imprint {

class ScriptedGenerator final : public Generator {
 public:
  // Throws std::invalid_argument naming the file when it cannot be loaded, has no forward method, or the
  // pattern is not a valid regex. `spec` (size, content classes, identity width) is what one trial call
  // of forward is checked with: it must return a tensor shaped like x_t.
  ScriptedGenerator(const std::string& path, const std::string& adapter_pattern, const GeneratorSpec& spec);

  torch::Tensor predict(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                        const torch::Tensor& id_tokens, double id_scale) override;
  bool is_adapter_parameter(const std::string& name) const override;
  // The file's own initialisation of its adapter weights is kept.
  void init_adapter_from_content() override {}
  void train(bool on = true) override;
  // The file's names of the adapter parameters (for messages and tests).
  std::vector<std::string> adapter_names() const;
  // Every parameter under its name in the file (the tensors this module trains: what it holds now).
  std::map<std::string, at::Tensor> file_parameters() const;
  // The file's string attribute `ip_adapter_layout` (JSON: file parameter name -> diffusers' IP-Adapter key,
  // written by launch/diffusers_import.py), "" when it has none.
  std::string ip_adapter_layout() const;
  // The module with its current weights (a trained adapter included), as torch.jit.load reads it.
  void save(const std::string& path) const;

 private:
  torch::jit::Module module_;
  std::regex pattern_;
  std::map<std::string, std::string> file_name_;  // registered name -> the name in the file
};

}  // namespace imprint
