#include "trainer/checkpoint/tensor_archive.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <deque>
#include <map>

#include "trainer/checkpoint/checkpoint_store.h"

namespace imprint {

void write_named_tensors(torch::serialize::OutputArchive& archive, const std::vector<NamedTensor>& tensors) {
  std::map<std::string, std::vector<NamedTensor>> children;  // by first name component
  for (const auto& t : tensors) {
    const auto dot = t.name.find('.');
    if (dot == std::string::npos) {
      archive.write(t.name, t.tensor, t.is_buffer);
    } else {
      children[t.name.substr(0, dot)].push_back({t.name.substr(dot + 1), t.tensor, t.is_buffer});
    }
  }
  for (const auto& [name, items] : children) {
    torch::serialize::OutputArchive child(archive.compilation_unit());
    write_named_tensors(child, items);
    archive.write(name, child);
  }
}

int64_t read_named_tensors(torch::serialize::InputArchive& archive,
                           const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& what,
                           bool missing_ok) {
  torch::NoGradGuard no_grad;
  int64_t copied = 0;
  for (const auto& [name, dest] : tensors) {
    std::deque<torch::serialize::InputArchive> chain;  // sub-archives along the name (archives do not copy)
    torch::serialize::InputArchive* node = &archive;
    std::string rest = name;
    bool found = true;
    for (auto dot = rest.find('.'); dot != std::string::npos && found; dot = rest.find('.')) {
      chain.emplace_back();
      found = node->try_read(rest.substr(0, dot), chain.back());
      node = &chain.back();
      rest = rest.substr(dot + 1);
    }
    at::Tensor value;
    if (!found || !(node->try_read(rest, value) || node->try_read(rest, value, /*is_buffer=*/true))) {
      if (missing_ok) continue;
      throw CheckpointError(what + ": " + name + " is missing");
    }
    if (value.sizes() != dest.sizes())
      throw CheckpointError(what + ": " + name + " has shape " + c10::str(value.sizes()) + ", expected " +
                            c10::str(dest.sizes()));
    dest.copy_(value);
    ++copied;
  }
  return copied;
}

}  // namespace imprint
