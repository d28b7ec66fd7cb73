#include "trainer/inference/traced_module.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include <stdexcept>

namespace imprint {

namespace {
// TorchScript attribute names cannot hold dots: "resampler.to_k.weight" -> "resampler_to_k_weight".
std::string attribute_name(std::string name) {
  for (auto& c : name)
    if (c == '.') c = '_';
  return name;
}
}  // namespace

torch::jit::Module traced_module(const std::string& class_name, const torch::nn::Module& weights,
                                 const std::vector<at::Tensor>& example,
                                 const std::function<torch::jit::Stack(torch::jit::Stack)>& fn,
                                 const std::string& method) {
  torch::jit::Module module(c10::QualifiedName("__torch__.imprint." + class_name));
  for (const auto& p : weights.named_parameters())
    module.register_parameter(attribute_name(p.key()), p.value(), /*is_buffer=*/false);
  for (const auto& b : weights.named_buffers()) module.register_buffer(attribute_name(b.key()), b.value());
  torch::jit::Stack inputs(example.begin(), example.end());
  auto traced = torch::jit::tracer::trace(
      inputs, fn, [](const torch::autograd::Variable&) { return std::string(); },
      /*strict=*/false, /*force_outplace=*/false, &module);
  auto* function = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), method), traced.first->graph);
  module.type()->addMethod(function);
  return module;
}

void define_or_explain(torch::jit::Module& module, const std::string& source, const char* what) {
  try {
    module.define(source);
  } catch (const std::exception& e) {
    std::string text = e.what();
    text.erase(0, text.find_first_not_of(" \n"));
    for (auto& c : text)
      if (c == '\n') c = ' ';
    throw std::runtime_error(std::string("export: the ") + what + " does not compile as TorchScript: " + text);
  }
}

}  // namespace imprint
