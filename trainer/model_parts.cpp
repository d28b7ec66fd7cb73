#include "trainer/model_parts.h"

#include "config/config_error.h"
#include "core/log.h"
#include "models/encoder_spec.h"
#include "trainer/checkpoint/weight_average.h"

namespace imprint {

namespace {

// Weight matrices and kernels decay; biases, norms, queries, position tables and the temperature do not.
std::vector<ParamGroup> param_groups(const NamedTensors& named, double wd) {
  ParamGroup decay{{}, wd}, no_decay{{}, 0.0};
  for (const auto& [name, p] : named) {
    const bool is_weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    (is_weight && p.dim() >= 2 ? decay : no_decay).params.push_back(p);
  }
  return {decay, no_decay};
}

int64_t count(const std::vector<at::Tensor>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

}  // namespace

int64_t ModelParts::trainable_count() const {
  int64_t n = 0;
  for (const auto& kv : named) n += kv.second.numel();
  return n;
}

int64_t ModelParts::frozen_count() const {
  return count(encoder->parameters()) + count(objective->parameters()) - trainable_count();
}

Signature model_signature(const JobConfig& job, const CombinedObjective& objective) {
  Signature sig = encoder_signature(job.model, job.values);
  sig.merge(objectives_signature(job.objectives, job.values));
  sig.merge(objective.signature());
  sig.merge(optimizer_signature(job.values));  // the optimizer state's layout depends on these too
  return sig;
}

ModelParts build_model_parts(const JobConfig& job, const at::Device& device, int rank, int world) {
  ModelParts parts;
  parts.device = device;
  parts.encoder = make_encoder(job.model, job.values);
  parts.objective = std::make_shared<CombinedObjective>(job.objectives, objective_context(job));
  const int64_t k = job.train.samples_per_identity;
  parts.views_read = parts.objective->views_read(k);
  parts.encoder_readers = parts.objective->readers(k);
  if (k > 2 && parts.views_read < k)
    throw ConfigError("train.samples_per_identity: " + std::to_string(k) +
                      " samples per identity, but no objective turned on reads more than a reference and a target; "
                      "give one that does a weight (" +
                      every_view_objectives("objective.") + ") or set it to 2");
  parts.encoder->to(device);
  parts.objective->to(device);
  parts.objective->place(rank, world, device);
  parts.signature = model_signature(job, *parts.objective);
  // An encoder no objective reads (generator pretraining) stays as initialised; its pooled head (every
  // encoder's ConditioningHead is "head") when no objective reads the pooled vector (an IP-Adapter run:
  // denoise alone).
  const bool pooled = parts.objective->reads_pooled(k);
  if (parts.views_read > 0) {
    for (auto& kv : parts.encoder->named_parameters().pairs()) {
      if (!pooled && kv.first.rfind("head.pool_", 0) == 0) {
        kv.second.set_requires_grad(false);
        continue;
      }
      parts.named.push_back(kv);
    }
    if (!pooled && rank == 0)
      log::info(
          "the encoder's pooled head (head.pool_*) does not train: no objective of this run reads the pooled "
          "vector (held-out retrieval scores it as initialised over the trained tokens)");
  }
  for (auto& kv : parts.objective->named_parameters().pairs())
    if (kv.second.requires_grad()) parts.named.emplace_back("objective." + kv.first, kv.second);
  parts.average_decay = job.ema.decay;
  if (parts.average_decay > 0) parts.average = start_average(parts.named);
  auto groups = param_groups(parts.named, job.optimizer.weight_decay);
  const OptimizerOptions oo = job.optimizer.options();
  parts.optimizer = job.optimizer.fused ? make_fused_optimizer(groups, oo) : make_torch_adamw(groups, oo);
  return parts;
}

}  // namespace imprint
