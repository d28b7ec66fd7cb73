#include "trainer/evaluation/retrieval_eval.h"

#include "trainer/evaluation/verification_metrics.h"

#include <torch/nn/functional/normalization.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

#include "core/log.h"

namespace imprint {

namespace F = torch::nn::functional;

HeldoutSplit split_heldout(const std::vector<int64_t>& heldout, int64_t validation) {
  HeldoutSplit split;
  if (validation == 0) {
    split.test = heldout;
    return split;
  }
  const auto n = static_cast<int64_t>(heldout.size());
  if (validation < 2 || n - validation < 2)
    throw std::invalid_argument("eval.validation_identities " + std::to_string(validation) +
                                ": the dataset holds out " + std::to_string(n) +
                                " identities; validation and test need at least 2 each (hold out more identities, "
                                "or split off fewer)");
  const auto hash = [](uint64_t x) {  // splitmix64's finaliser
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  std::vector<int64_t> order = heldout;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return hash(static_cast<uint64_t>(a)) < hash(static_cast<uint64_t>(b));
  });
  const std::set<int64_t> chosen(order.begin(), order.begin() + validation);
  for (const int64_t id : heldout) (chosen.count(id) ? split.validation : split.test).push_back(id);
  return split;
}

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

void add_asnorm_cohort(EvalSet& set, const IdentityDataset& dataset, int64_t identities, int64_t top_k) {
  const auto& train = dataset.train_identities();
  const int64_t m = std::min<int64_t>(identities, static_cast<int64_t>(train.size()));
  std::vector<int64_t> shape{m};
  for (auto d : dataset.sample_shape()) shape.push_back(d);
  set.cohort = at::empty(shape, at::kFloat);
  for (int64_t i = 0; i < m; ++i)
    dataset.read(train[static_cast<size_t>(i)], 0, 0, set.cohort.data_ptr<float>() + i * dataset.sample_numel());
  set.cohort_top_k = top_k;
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

void score_multi_query(const at::Tensor& similarity, const at::Tensor& ids_in, RetrievalScore& s) {
  const at::Tensor ids = ids_in.to(at::kCPU).to(at::kLong);
  at::Tensor scores = similarity.to(at::kCPU).clone();  // the diagonal is overwritten below
  const int64_t n = scores.size(0), m = ids.max().item<int64_t>() + 1;
  scores.fill_diagonal_(-std::numeric_limits<float>::infinity());  // a query is not its own gallery
  const int64_t k = std::min<int64_t>(5, n - 1);
  const at::Tensor nearest = std::get<1>(scores.topk(k, 1));  // [n, k]
  const at::Tensor same = ids.index_select(0, nearest.view({-1})).view({n, k}).eq(ids.view({n, 1}));
  const at::Tensor hit1 = same.select(1, 0).to(at::kDouble), hit5 = same.any(1).to(at::kDouble);
  s.queries = n;
  s.top1_all = hit1.mean().item<double>();
  s.top5_all = hit5.mean().item<double>();
  const double per_identity_samples = static_cast<double>(n) / static_cast<double>(m);
  s.chance_all = (per_identity_samples - 1) / static_cast<double>(n - 1);
  // Bootstrap over identities: resample M identities with replacement, top-1 over their queries.
  std::vector<double> hits(m, 0.0), count(m, 0.0);
  const double* h = hit1.data_ptr<double>();
  const int64_t* id = ids.data_ptr<int64_t>();
  for (int64_t q = 0; q < n; ++q) hits[id[q]] += h[q], count[id[q]] += 1;
  std::mt19937_64 rng(12345);  // fixed: the interval is part of the deterministic evaluation
  std::uniform_int_distribution<int64_t> pick(0, m - 1);
  std::vector<double> rates(1000);
  for (auto& r : rates) {
    double hs = 0, cs = 0;
    for (int64_t i = 0; i < m; ++i) {
      const int64_t j = pick(rng);
      hs += hits[j], cs += count[j];
    }
    r = hs / cs;
  }
  std::sort(rates.begin(), rates.end());
  s.top1_all_low = rates[25];
  s.top1_all_high = rates[974];
}

RetrievalScore evaluate_retrieval(Encoder& encoder, const EvalSet& set, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = encoder.is_training();
  encoder.eval();
  const auto refs = embed_pooled(encoder, set.references, batch_size, "references");
  const auto gallery = embed_pooled(encoder, set.gallery, batch_size, "gallery");
  const auto cohort =
      set.cohort.defined() ? embed_pooled(encoder, set.cohort, batch_size, "AS-norm cohort") : at::Tensor();
  encoder.train(was_training);
  return score_embeddings(refs, gallery, set.gallery_identity, cohort, set.cohort_top_k);
}

RetrievalScore score_embeddings(const at::Tensor& refs, const at::Tensor& gallery, const at::Tensor& gallery_identity,
                                const at::Tensor& cohort, int64_t cohort_top_k) {
  const auto nearest = at::matmul(refs, gallery.t()).argmax(1);  // [M]
  const auto hit =
      gallery_identity.index_select(0, nearest).eq(at::arange(refs.size(0), refs.options().dtype(at::kLong)));
  RetrievalScore s;
  s.identities = refs.size(0);
  s.gallery_size = gallery.size(0);
  s.reference_hit = hit.to(at::kCPU);
  s.top1 = hit.to(at::kDouble).mean().item<double>();
  s.chance = 1.0 / static_cast<double>(s.identities);
  s.gallery_embeddings = gallery;
  // One similarity matrix of every held-out sample serves both verification and multi-query retrieval.
  const auto ids = at::cat({at::arange(refs.size(0), at::kLong), gallery_identity.to(at::kCPU)});
  const auto pool = at::cat({refs, gallery}).to(at::kCPU).to(at::kFloat);
  const auto similarity = at::matmul(pool, pool.t());
  const VerificationScore v = verify_all_pairs(similarity, ids);
  score_multi_query(similarity, ids, s);
  s.eer = v.eer;
  s.min_dcf = v.min_dcf;
  s.target_trials = v.target_trials;
  s.nontarget_trials = v.nontarget_trials;
  if (cohort.defined()) {
    const auto normalised =
        adaptive_snorm(similarity, at::matmul(pool, cohort.to(at::kCPU).to(at::kFloat).t()), cohort_top_k);
    const VerificationScore a = verify_all_pairs(normalised, ids);
    s.eer_asnorm = a.eer;
    s.min_dcf_asnorm = a.min_dcf;
  }
  return s;
}

}  // namespace imprint
