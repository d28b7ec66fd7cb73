#include "trainer/evaluation/trial_list.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "trainer/evaluation/retrieval_eval.h"

namespace imprint {

TrialList read_trials(const std::string& path, const ShardDataset& dataset) {
  std::ifstream in(path);
  if (!in) throw DatasetError(path + ": cannot open the trial list");
  const Manifest& m = dataset.manifest();
  std::unordered_map<std::string, int64_t> by_name;
  for (size_t i = 0; i < m.identities.size(); ++i) by_name.emplace(m.identities[i], static_cast<int64_t>(i));
  std::vector<char> trains(m.identities.size(), 0);
  for (int64_t id : dataset.train_identities()) trains[static_cast<size_t>(id)] = 1;
  TrialList t;
  std::map<std::pair<int64_t, int64_t>, int64_t> seen;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    std::istringstream fields(line);
    std::string label, a, b, extra;
    if (!(fields >> label) || label[0] == '#') continue;
    if (!(fields >> a >> b) || (fields >> extra))
      throw DatasetError(where + "expected three fields, LABEL ENROL TEST (e.g. '1 alice/0 alice/3')");
    bool target;
    if (label == "1" || label == "target") {
      target = true;
    } else if (label == "0" || label == "nontarget") {
      target = false;
    } else {
      throw DatasetError(where + "label '" + label + "': expected 1, 0, target or nontarget");
    }
    int64_t refs[2];
    const std::string* names[2] = {&a, &b};
    for (int k = 0; k < 2; ++k) {
      const std::string& name = *names[k];
      const size_t slash = name.rfind('/');
      const auto found = slash == std::string::npos ? by_name.end() : by_name.find(name.substr(0, slash));
      if (found == by_name.end())
        throw DatasetError(where + "'" + name + "': expected IDENTITY/INDEX naming an identity of the dataset's " +
                           "manifest.json (e.g. '" + m.identities.front() + "/0')");
      const std::string digits = name.substr(slash + 1);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 12)
        throw DatasetError(where + "'" + name + "': the sample index after the last '/' must be a number");
      const int64_t index = std::stoll(digits), count = dataset.num_samples(found->second);
      if (index >= count)
        throw DatasetError(where + "'" + name + "': identity " + found->first + " has " + std::to_string(count) +
                           " samples (0.." + std::to_string(count - 1) + ")");
      const auto key = std::make_pair(found->second, index);
      auto s = seen.find(key);
      if (s == seen.end()) {
        s = seen.emplace(key, static_cast<int64_t>(t.samples.size())).first;
        t.samples.push_back({found->second, index});
      }
      refs[k] = s->second;
    }
    if (refs[0] == refs[1]) throw DatasetError(where + "a sample paired with itself ('" + a + "')");
    const int64_t ids[2] = {t.samples[refs[0]].identity, t.samples[refs[1]].identity};
    if (target != (ids[0] == ids[1]))
      throw DatasetError(where + "labelled " + (target ? "target" : "non-target") + " but '" + a + "' and '" + b +
                         "' are " + (ids[0] == ids[1] ? "the same identity" : "different identities"));
    t.first.push_back(refs[0]);
    t.second.push_back(refs[1]);
    t.target.push_back(target);
    if (trains[static_cast<size_t>(ids[0])] || trains[static_cast<size_t>(ids[1])]) ++t.training_identity_trials;
  }
  const auto targets = std::count(t.target.begin(), t.target.end(), true);
  if (targets == 0 || targets == static_cast<int64_t>(t.target.size()))
    throw DatasetError(path + ": " + std::to_string(t.target.size()) + " trials, " + std::to_string(targets) +
                       " of them target: EER needs at least one target and one non-target trial");
  return t;
}

TrialScore score_trials(Encoder& encoder, const IdentityDataset& dataset, const TrialList& trials, int64_t batch_size,
                        const at::Tensor& cohort, int64_t top_k) {
  std::vector<int64_t> shape{static_cast<int64_t>(trials.samples.size())};
  for (auto d : dataset.sample_shape()) shape.push_back(d);
  at::Tensor samples = at::empty(shape, at::kFloat);
  const int64_t numel = dataset.sample_numel();
  for (size_t i = 0; i < trials.samples.size(); ++i)
    dataset.read(trials.samples[i].identity, trials.samples[i].index, 0, samples.data_ptr<float>() + i * numel);
  torch::NoGradGuard no_grad;
  const bool was_training = encoder.is_training();
  encoder.eval();
  const at::Tensor e = embed_pooled(encoder, samples, batch_size, "trial samples").to(at::kCPU);
  const at::Tensor c =
      cohort.defined() ? embed_pooled(encoder, cohort, batch_size, "AS-norm cohort").to(at::kCPU) : at::Tensor();
  encoder.train(was_training);
  const at::Tensor first = at::tensor(trials.first, at::kLong), second = at::tensor(trials.second, at::kLong);
  std::vector<uint8_t> target(trials.target.begin(), trials.target.end());
  const at::Tensor is_target = at::tensor(target, at::kByte).to(at::kBool);
  const at::Tensor scores = (e.index_select(0, first) * e.index_select(0, second)).sum(1);
  TrialScore s;
  s.raw = verification_metrics(scores, is_target);
  if (c.defined()) {
    const VerificationScore n =
        verification_metrics(adaptive_snorm_trials(scores, first, second, at::matmul(e, c.t()), top_k), is_target);
    s.eer_asnorm = n.eer, s.min_dcf_asnorm = n.min_dcf;
  }
  return s;
}

}  // namespace imprint
