#include "trainer/state_parts.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/log.h"
#include "core/text.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/tensor_archive.h"
#include "trainer/checkpoint/weight_average.h"

namespace imprint {

namespace {

// Archive keys cannot hold dots: "aam.centers" is stored as "aam__centers".
std::string shard_key(std::string key) {
  for (size_t at = key.find('.'); at != std::string::npos; at = key.find('.', at + 2)) key.replace(at, 1, "__");
  return key;
}

// What trains, and buffers; not frozen weights.
std::vector<NamedTensor> trainable_state(torch::nn::Module& module) {
  std::vector<NamedTensor> state;
  for (auto& kv : module.named_parameters().pairs())
    if (kv.second.requires_grad()) state.push_back({kv.first, kv.second, false});
  for (auto& kv : module.named_buffers().pairs()) state.push_back({kv.first, kv.second, true});
  return state;
}

}  // namespace

void RunRecordState::save(torch::serialize::OutputArchive& ar) {
  ar.write("format", c10::IValue(kCheckpointFormat));
  ar.write("step", c10::IValue(record_.step));
  ar.write("signature", c10::IValue(signature_text(signature_)));
  ar.write("settings", c10::IValue(signature_text(settings_.values())));
  ar.write("restarts", c10::IValue(record_.restarts));
  ar.write("first_loss", c10::IValue(record_.first_loss));
  ar.write("encoder_trained", c10::IValue(encoder_trained_));
}

void RunRecordState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  c10::IValue format, sig, step, restarts, first_loss;
  if (ar.try_read("format", format) && format.isInt() && format.toInt() > kCheckpointFormat)
    throw CheckpointError(path + ": written by a newer imprint (checkpoint format " + std::to_string(format.toInt()) +
                          "; this one reads formats 1 to " + std::to_string(kCheckpointFormat) + ")");
  if (!ar.try_read("signature", sig) || !sig.isString())
    throw CheckpointError(path + ": holds no model signature (not an imprint training checkpoint)");
  const std::string diffs = signature_differences(signature_, parse_signature(sig.toStringRef()));
  if (!diffs.empty()) throw CheckpointError(path + ": written for a different model, refusing to load it: " + diffs);
  ar.read("step", step);
  record_.step = step.toInt();
  if (ar.try_read("restarts", restarts)) record_.restarts = restarts.toInt();  // absent in early checkpoints
  if (ar.try_read("first_loss", first_loss)) record_.first_loss = first_loss.toDouble();
}

void ObjectiveState::save(torch::serialize::OutputArchive& ar) {
  torch::serialize::OutputArchive objective;
  write_named_tensors(objective, trainable_state(objective_));
  ar.write("objective", objective);
}

void ObjectiveState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  torch::serialize::InputArchive objective;
  if (!ar.try_read("objective", objective)) throw CheckpointError(path + ": holds no objective state");
  std::vector<std::pair<std::string, at::Tensor>> wanted;
  for (const auto& t : trainable_state(objective_)) wanted.emplace_back(t.name, t.tensor);
  read_named_tensors(objective, wanted, path + ": objective");
}

void OptimizerState::save(torch::serialize::OutputArchive& ar) {
  torch::serialize::OutputArchive optimizer;
  optimizer_.save(optimizer);
  ar.write("optimizer", optimizer);
}

void OptimizerState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  torch::serialize::InputArchive optimizer;
  if (!ar.try_read("optimizer", optimizer)) throw CheckpointError(path + ": holds no optimizer state");
  try {
    optimizer_.load(optimizer);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot restore the optimizer: " + first_line(e.what()));
  }
}

void ShardState::save(torch::serialize::OutputArchive& ar) {
  if (gathered_.empty()) return;
  torch::serialize::OutputArchive whole;
  for (const auto& [key, value] : gathered_) whole.write(shard_key(key), value, /*is_buffer=*/true);
  ar.write("shards", whole);
}

void ShardState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  if (!objective_.has_shards()) return;
  torch::serialize::InputArchive whole;
  if (!ar.try_read("shards", whole)) throw CheckpointError(path + ": holds no sharded classifier state");
  objective_.load_shards([&](const std::string& key) {
    at::Tensor t;
    if (!whole.try_read(shard_key(key), t, /*is_buffer=*/true))
      throw CheckpointError(path + ": sharded classifier state '" + key + "' is missing");
    return t;
  });
}

void AverageState::save(torch::serialize::OutputArchive& ar) {
  if (!parts_.average.empty()) write_average(ar, parts_.named, parts_.average);
}

void AverageState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  if (parts_.average_decay <= 0 || read_average(ar, parts_.named, parts_.average, path)) return;
  parts_.average = start_average(parts_.named);
  log::warn(path + ": keeps no weight average (written without ema.decay); the average starts from its weights");
}

void RngState::save(torch::serialize::OutputArchive& ar) {
  ar.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  if (device_.is_cuda()) {  // dropout and noise drawn on the GPU: a resume must draw the same
    at::Generator gen = at::globalContext().defaultGenerator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    ar.write("cuda_rng", gen.get_state(), /*is_buffer=*/true);
  }
}

void RngState::load(torch::serialize::InputArchive& ar, const std::string& path) {
  at::Tensor rng;
  if (!ar.try_read("torch_rng", rng, true)) throw CheckpointError(path + ": holds no RNG state");
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  cpu.set_state(rng);
  if (!device_.is_cuda()) return;
  at::Tensor cuda_rng;
  if (ar.try_read("cuda_rng", cuda_rng, true)) {
    at::Generator gen = at::globalContext().defaultGenerator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(cuda_rng);
  } else {
    log::warn(path +
              ": holds no CUDA RNG state (written by a CPU run): random draws on the GPU will differ from an "
              "uninterrupted run");
  }
}

}  // namespace imprint
