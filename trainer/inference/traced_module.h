// A C++ module as a TorchScript module, the way `imprint export` writes encoders and generators: its parameters
// and buffers become attributes of a jit::Module ('.' in their names written '_'), so the trace reads them
// through `self` instead of baking them in as constants, and `fn` traced on `example` becomes a method.
#pragma once
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/module.h>

#include <functional>
#include <string>
#include <vector>

namespace imprint {

// Throws std::runtime_error when the trace fails.
torch::jit::Module traced_module(const std::string& class_name, const torch::nn::Module& weights,
                                 const std::vector<at::Tensor>& example,
                                 const std::function<torch::jit::Stack(torch::jit::Stack)>& fn,
                                 const std::string& method);

// Module::define with TorchScript's compile error in one line (it starts with a newline and spans many):
// "export: the <what> does not compile as TorchScript: ...".
void define_or_explain(torch::jit::Module& module, const std::string& source, const char* what);

}  // namespace imprint
