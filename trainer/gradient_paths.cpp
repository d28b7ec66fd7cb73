#include "trainer/gradient_paths.h"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>

#include "core/log.h"

namespace imprint {

GradientPaths::GradientPaths(const ModelParts& parts) : reads_encoder_(parts.encoder_readers) {
  const std::string objective_prefix = "objective.";
  for (const auto& [name, param] : parts.named) {
    std::string part = "encoder";
    if (name.rfind(objective_prefix, 0) == 0) {
      const size_t dot = name.find('.', objective_prefix.size());
      part = name.substr(objective_prefix.size(), dot - objective_prefix.size());
    }
    auto it = std::find_if(parts_.begin(), parts_.end(), [&](const Part& p) { return p.name == part; });
    if (it == parts_.end()) it = parts_.insert(parts_.end(), Part{part, {}});
    it->params.push_back(param);
  }
}

std::vector<std::pair<std::string, at::Tensor>> GradientPaths::measure(
    const std::vector<std::pair<std::string, at::Tensor>>& terms) {
  std::vector<std::pair<std::string, at::Tensor>> values;
  unreached_.clear();
  for (const auto& [term, loss] : terms) {
    if (!loss.requires_grad()) {  // computed without a graph at all: reaches nothing
      for (const auto& part : parts_) {
        values.emplace_back("grad_" + term + "_to_" + part.name, at::zeros({}));
        unreached_.insert(values.back().first);
      }
      continue;
    }
    std::vector<at::Tensor> all;  // one backward per term over every part's weights
    for (const auto& part : parts_) all.insert(all.end(), part.params.begin(), part.params.end());
    const auto grads = torch::autograd::grad({loss}, all, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                             /*allow_unused=*/true);
    size_t i = 0;
    for (const auto& part : parts_) {
      at::Tensor sum = at::zeros({}, at::kDouble);
      bool reached = false;  // an undefined gradient: the graph does not lead to that weight at all
      for (size_t j = 0; j < part.params.size(); ++j, ++i)
        if (grads[i].defined()) {
          sum = sum + grads[i].detach().to(at::kDouble).pow(2).sum().cpu();
          reached = true;
        }
      values.emplace_back("grad_" + term + "_to_" + part.name, sum.sqrt());
      if (!reached) unreached_.insert(values.back().first);
    }
  }
  return values;
}

std::vector<std::string> GradientPaths::broken(const std::vector<std::pair<std::string, at::Tensor>>& values) const {
  std::vector<std::string> warnings;
  for (const auto& [key, norm] : values) {
    const std::string rest = key.substr(5);  // grad_<term>_to_<part>
    const size_t to = rest.rfind("_to_");
    const std::string term = rest.substr(0, to), part = rest.substr(to + 4);
    const bool expected = part == "encoder"
                              ? std::find(reads_encoder_.begin(), reads_encoder_.end(), term) != reads_encoder_.end()
                              : part == term;
    if (!expected) continue;
    const double v = norm.item<double>();
    if (std::isfinite(v) && !unreached_.count(key)) continue;
    const std::string what = part == "encoder" ? "reads the encoder's outputs, but its loss gives the encoder"
                                               : "trains weights of its own, but its loss gives them";
    warnings.push_back("objective '" + term + "' " + what +
                       (std::isfinite(v) ? " no gradient" : " a non-finite gradient") +
                       ": something cuts the path (a no_grad, a detached tensor) and " +
                       (part == "encoder" ? "the encoder" : "they") + " will not learn from it");
  }
  return warnings;
}

}  // namespace imprint
