#include "generation/scripted_generator.h"

#include <torch/csrc/jit/serialization/import.h>

#include <stdexcept>

#include "core/text.h"

namespace imprint {
namespace {
std::string registered_name(std::string name) {
  for (size_t at = name.find('.'); at != std::string::npos; at = name.find('.', at + 2)) name.replace(at, 1, "__");
  return name;
}
}  // namespace

ScriptedGenerator::ScriptedGenerator(const std::string& path, const std::string& adapter_pattern,
                                     const GeneratorSpec& spec) {
  try {
    module_ = torch::jit::load(path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": not a TorchScript file torch::jit::load can read: " + first_line(e.what()));
  }
  if (!module_.find_method("forward"))
    throw std::invalid_argument(path + ": the TorchScript module has no forward method");
  try {
    pattern_ = std::regex(adapter_pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("objective.denoise.adapter_pattern: '" + adapter_pattern +
                                "' is not a regex: " + e.what());
  }
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
    const std::string name = registered_name(p.name);
    file_name_[name] = p.name;
    register_parameter(name, p.value, p.value.requires_grad());
  }
  for (const auto& b : module_.named_buffers(/*recurse=*/true)) register_buffer(registered_name(b.name), b.value);
  // A file that says what it takes (launch/diffusers_import.py writes expects_*) gets a mismatch named in the
  // user's terms before the trial call fails inside the traced graph.
  const bool tokens_in = spec.context_dim > 0;
  const auto expects = [&](const char* attr, int64_t have, const std::string& what, const std::string& fix) {
    if (!module_.hasattr(attr) || !module_.attr(attr).isInt()) return;
    const int64_t want = module_.attr(attr).toInt();
    if (want != have)
      throw std::invalid_argument(path + ": takes " + what + " " + std::to_string(want) + ", but the run gives " +
                                  std::to_string(have) + " (" + fix + ")");
  };
  if (tokens_in) {
    expects("expects_context_dim", spec.context_dim, "content tokens of width (its cross-attention width)",
            "objective.denoise.content_tokens: embed the captions with the text encoder of the model this "
            "generator was imported from, launch/diffusers_captions.py --model");
    expects("expects_context_length", spec.context_length, "content token sequences of length",
            "objective.denoise.content_tokens: embed the captions with that model's tokenizer");
  }
  expects("expects_id_tokens", spec.id_tokens,
          "identity tokens K =", "model.tokens; launch/diffusers_import.py --id-tokens must equal it");
  expects("expects_id_dim", spec.id_dim,
          "identity tokens of width D =", "model.embed_dim; launch/diffusers_import.py --id-dim must equal it");
  // One call with the shapes training will use, so a wrong signature fails here, naming the file.
  torch::NoGradGuard no_grad;
  const auto x = torch::zeros({1, spec.channels, spec.height(), spec.width_px()});
  const bool tokens = spec.context_dim > 0;
  const auto content = tokens ? torch::zeros({1, spec.context_length, spec.context_dim})
                              : torch::full({1}, spec.content_classes, torch::kLong);
  at::Tensor out;
  try {
    out = predict(x, torch::zeros({1}, torch::kLong), content, torch::zeros({1, spec.id_tokens, spec.id_dim}), 1.0);
  } catch (const std::exception& e) {
    const std::string content_text = tokens ? "content_tokens [1, " + std::to_string(spec.context_length) + ", " +
                                                  std::to_string(spec.context_dim) + "] float"
                                            : "content [1] int64";
    throw std::invalid_argument(path + ": forward(x_t [1, " + std::to_string(spec.channels) + ", " +
                                std::to_string(spec.height()) + ", " + std::to_string(spec.width_px()) +
                                "], t [1] int64, " + content_text + ", id_tokens [1, " +
                                std::to_string(spec.id_tokens) + ", " + std::to_string(spec.id_dim) +
                                "], id_scale float) failed: " + first_line(e.what()));
  }
  if (out.sizes() != x.sizes())
    throw std::invalid_argument(path + ": forward returned a tensor of shape " + c10::str(out.sizes()) +
                                " for x_t of shape " + c10::str(x.sizes()) +
                                " (it must predict a tensor shaped like x_t)");
}

torch::Tensor ScriptedGenerator::predict(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                                         const torch::Tensor& id_tokens, double id_scale) {
  return module_.forward({x_t, t, content, id_tokens, id_scale}).toTensor();
}

bool ScriptedGenerator::is_adapter_parameter(const std::string& name) const {
  const auto it = file_name_.find(name);
  return std::regex_search(it == file_name_.end() ? name : it->second, pattern_);
}

void ScriptedGenerator::train(bool on) {
  Generator::train(on);
  module_.train(on);
}

std::vector<std::string> ScriptedGenerator::adapter_names() const {
  std::vector<std::string> names;
  for (const auto& [registered, original] : file_name_)
    if (std::regex_search(original, pattern_)) names.push_back(original);
  return names;
}

std::map<std::string, at::Tensor> ScriptedGenerator::file_parameters() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) out[p.name] = p.value;
  return out;
}

std::string ScriptedGenerator::ip_adapter_layout() const {
  if (!module_.hasattr("ip_adapter_layout")) return "";
  const auto v = module_.attr("ip_adapter_layout");
  return v.isString() ? v.toStringRef() : "";
}

void ScriptedGenerator::save(const std::string& path) const { module_.save(path); }

}  // namespace imprint
