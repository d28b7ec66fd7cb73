#include "trainer/retrieval_eval.h"

#include "trainer/verification_metrics.h"

#include <torch/nn/functional/normalization.h>

#include <chrono>
#include <stdexcept>

#include "core/log.h"

namespace imprint {

namespace F = torch::nn::functional;

EvalSet build_eval_set(const IdentityDataset& dataset, int64_t gallery_per_identity) {
  return build_eval_set(dataset, dataset.eval_identities(), gallery_per_identity);
}

EvalSet build_eval_set(const IdentityDataset& dataset, const std::vector<int64_t>& ids, int64_t gallery_per_identity) {
  const auto m = static_cast<int64_t>(ids.size());
  std::vector<int64_t> shape{m};
  for (auto d : dataset.sample_shape()) shape.push_back(d);
  EvalSet set;
  set.references = at::empty(shape, at::kFloat);
  shape[0] = m * gallery_per_identity;
  set.gallery = at::empty(shape, at::kFloat);
  set.gallery_identity = at::empty({m * gallery_per_identity}, at::kLong);
  const int64_t numel = dataset.sample_numel();
  for (int64_t i = 0; i < m; ++i) {
    if (dataset.num_samples(ids[i]) < gallery_per_identity + 1)
      throw std::invalid_argument("identity " + std::to_string(ids[i]) + " has " +
                                  std::to_string(dataset.num_samples(ids[i])) +
                                  " samples; eval.gallery_per_identity needs one more than its value");
    dataset.read(ids[i], 0, 0, set.references.data_ptr<float>() + i * numel);
    for (int64_t g = 0; g < gallery_per_identity; ++g) {
      const int64_t row = i * gallery_per_identity + g;
      dataset.read(ids[i], g + 1, 0, set.gallery.data_ptr<float>() + row * numel);
      set.gallery_identity.data_ptr<int64_t>()[row] = i;
    }
  }
  return set;
}

at::Tensor embed_pooled(Encoder& encoder, const at::Tensor& samples, int64_t batch_size, const char* what) {
  std::vector<at::Tensor> parts;
  auto last = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < samples.size(0); b += batch_size) {
    parts.push_back(encoder.encode(samples.slice(0, b, std::min(b + batch_size, samples.size(0)))).pooled);
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(10)) {
      last = std::chrono::steady_clock::now();
      log::info(log::strf("eval: %s %lld/%lld samples", what, static_cast<long long>(b + batch_size),
                          static_cast<long long>(samples.size(0))));
    }
  }
  return F::normalize(at::cat(parts), F::NormalizeFuncOptions().dim(1));
}

RetrievalScore evaluate_retrieval(Encoder& encoder, const EvalSet& set, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = encoder.is_training();
  encoder.eval();
  const auto refs = embed_pooled(encoder, set.references, batch_size, "references");
  const auto gallery = embed_pooled(encoder, set.gallery, batch_size, "gallery");
  encoder.train(was_training);
  const auto nearest = at::matmul(refs, gallery.t()).argmax(1);  // [M]
  const auto hit = set.gallery_identity.index_select(0, nearest).eq(at::arange(refs.size(0), refs.options().dtype(at::kLong)));
  RetrievalScore s;
  s.identities = refs.size(0);
  s.gallery_size = gallery.size(0);
  s.top1 = hit.to(at::kDouble).mean().item<double>();
  s.chance = 1.0 / static_cast<double>(s.identities);
  s.gallery_embeddings = gallery;
  const auto ids = at::cat({at::arange(refs.size(0), at::kLong), set.gallery_identity.to(at::kCPU)});
  const VerificationScore v = verify_all_pairs(at::cat({refs, gallery}), ids);
  s.eer = v.eer;
  s.min_dcf = v.min_dcf;
  s.target_trials = v.target_trials;
  s.nontarget_trials = v.nontarget_trials;
  return s;
}

}  // namespace imprint
