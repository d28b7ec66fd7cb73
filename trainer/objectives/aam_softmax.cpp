#include "trainer/objectives/aam_softmax.h"

#include "collectives/all_gather_autograd.h"
#include "config/config_error.h"
#include "config/section.h"
#include "core/rng.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

namespace {

const Section<AamOptions>& aam_keys() {
  using O = AamOptions;
  using R = KeyRole;
  static const auto section =
      Section<O>("objective.aam")
          .integer("classes", &O::classes, int64_t{0}, Range::closed(0, 1e8),
                   "Class centres: the dataset's identity count, held-out identities included (their centres never "
                   "get a positive). 0 takes it from the dataset (manifest, or data.train_identities + "
                   "data.eval_identities).",
                   R::Shaping)
          .real("scale", &O::scale, 32, Range::closed(0, 1e4).open_below(),
                "Logit scale s (WeSpeaker and ArcFace use 32 to 64).")
          .real("margin", &O::margin, 0.2, Range::closed(0, 1.5),
                "Additive angular margin m in radians, added to the true class's angle.")
          .integer("margin_warmup_steps", &O::margin_warmup_steps, int64_t{0}, Range::closed(0, 1e9),
                   "Steps over which the margin ramps linearly from 0 to objective.aam.margin; 0: the full margin "
                   "from the start.")
          .integer("sub_centers", &O::sub_centers, int64_t{1}, Range::closed(1, 64),
                   "Centres per class (sub-center ArcFace): a sample counts against its closest one.", R::Shaping)
          .flag("shard_classifier", &O::shard_classifier, false,
                "Partial FC: each rank holds 1/N of the class centres (and their AdamW moments), scores the "
                "all-gathered embeddings against them, and the softmax crosses ranks exactly. The centres then train "
                "with their own AdamW (optimizer.lr/beta1/beta2/eps, no weight decay, outside optimizer.grad_clip); "
                "checkpoints hold them whole, so a resume on another number of ranks re-shards them.",
                R::Shaping)
          .real("sample_rate", &O::sample_rate, 1, Range::closed(0, 1).open_below(),
                "Sharded classifier only (Partial FC's sample_rate): each step scores the classes present in the "
                "global batch plus this fraction of the other classes (drawn per class from seed and step, the same "
                "on any number of ranks); 1 scores all.");
  return section;
}

AamOptions aam_options(const ObjectiveContext& c) {
  AamOptions o = aam_keys().read(c.values);
  o.embed_dim = c.encoder.embed_dim;
  o.seed = c.seed;
  o.adamw.beta1 = c.optimizer.beta1;
  o.adamw.beta2 = c.optimizer.beta2;
  o.adamw.eps = c.optimizer.eps;
  return o;
}

}  // namespace

ObjectiveInfo aam_objective() {
  ObjectiveInfo info;
  info.name = "aam";
  info.reads_every_view = true;
  info.summary =
      "additive angular margin softmax (ArcFace; trainer/objectives/aam_softmax.h): every sample's "
      "pooled embedding (all K views) is classified among the dataset's identities with a margin";
  info.keys = aam_keys().keys();
  info.make = [](const ObjectiveContext& c) { return std::make_shared<AamSoftmax>(aam_options(c)); };
  info.check = [](const ObjectiveContext& c) {
    const AamOptions o = aam_keys().read(c.values);
    if (o.sample_rate < 1 && !o.shard_classifier)
      throw ConfigError("objective.aam.sample_rate: " + c.values.text("objective.aam.sample_rate") +
                        " samples negative centres of the sharded classifier only; set "
                        "objective.aam.shard_classifier: true");
  };
  info.adopt = [](ConfigValues& values, const DatasetFacts& facts) -> std::vector<std::string> {
    if (aam_keys().read(values).classes != 0) return {};
    values.set("objective.aam.classes", std::to_string(facts.identities), facts.where);
    return {"objective.aam.classes: " + std::to_string(facts.identities) + " from " + facts.where};
  };
  return info;
}

void AamSoftmax::check_dataset(const DatasetFacts& facts) const {
  if (options_.classes < facts.identities)
    throw ConfigError("objective.aam.classes: is " + std::to_string(options_.classes) + " but " + facts.where +
                      "'s identities go up to index " + std::to_string(facts.identities - 1) + "; set it to " +
                      std::to_string(facts.identities) + " (or 0 to take it from the dataset)");
}

AamSoftmax::AamSoftmax(const AamOptions& o) : options_(o) {
  if (o.classes < 2)
    throw ConfigError("objective.aam.classes: is " + std::to_string(o.classes) +
                      "; the AAM-softmax objective needs the dataset's identity count (0 takes it from the data)");
  if (o.shard_classifier) return;  // place() builds this rank's shard
  centers_ = register_parameter("centers", torch::empty({o.classes * o.sub_centers, o.embed_dim}));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(centers_);
}

void AamSoftmax::place(int rank, int world, const at::Device& device) {
  if (!options_.shard_classifier) return;
  if (options_.classes < world)
    throw ConfigError("objective.aam.shard_classifier: " + std::to_string(options_.classes) +
                      " classes cannot be split over " + std::to_string(world) + " ranks (each needs at least one)");
  sharded_ = std::make_unique<ShardedCenters>(options_.classes, options_.sub_centers, options_.embed_dim, options_.seed,
                                              rank, world, options_.adamw);
  sharded_->to(device);
}

void AamSoftmax::step_shards(double lr) {
  if (sharded_) sharded_->step(lr);
}

std::map<std::string, at::Tensor> AamSoftmax::gather_shards(Communicator& comm) {
  return sharded_ ? sharded_->gather(comm) : std::map<std::string, at::Tensor>{};
}

void AamSoftmax::load_shards(const ShardReader& read) {
  if (sharded_) sharded_->load(read);
}

torch::Tensor AamSoftmax::with_margin(const torch::Tensor& cos_y, int64_t step) const {
  const double m = margin_at(step);
  const auto sin_y = (1 - cos_y * cos_y).clamp(1e-7, 1).sqrt();
  const auto widened = cos_y * std::cos(m) - sin_y * std::sin(m);
  return torch::where(cos_y > std::cos(M_PI - m), widened, cos_y - std::sin(M_PI - m) * m);
}

double AamSoftmax::margin_at(int64_t step) const {
  if (options_.margin_warmup_steps <= 0) return options_.margin;
  return options_.margin * std::min(1.0, static_cast<double>(step) / static_cast<double>(options_.margin_warmup_steps));
}

torch::Tensor AamSoftmax::loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                               torch::Tensor* accuracy) const {
  const auto e = F::normalize(embeddings.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  const auto w = F::normalize(centers_, F::NormalizeFuncOptions().dim(1));
  auto cosine = torch::matmul(e, w.t());  // [N, classes * K]
  if (options_.sub_centers > 1)
    cosine = std::get<0>(cosine.view({e.size(0), options_.classes, options_.sub_centers}).max(2));
  const auto target = labels.to(cosine.device()).view({-1, 1});
  const auto logits = options_.scale * cosine.scatter(1, target, with_margin(cosine.gather(1, target), step));
  if (accuracy) *accuracy = (cosine.argmax(1) == target.view({-1})).to(torch::kFloat).mean().detach();
  return F::cross_entropy(logits, target.view({-1}));
}

ObjectiveOutput AamSoftmax::compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) {
  // Every view of every identity is classified: [B, K, D] -> [B*K, D], labels repeated per view.
  const auto& views = encoded.pooled;  // [B, K, D]
  const auto embeddings = views.reshape({-1, views.size(2)});
  const auto labels = batch.identity.to(views.device()).repeat_interleave(views.size(1));
  torch::Tensor accuracy;
  ObjectiveOutput out;
  out.loss = sharded_ ? sharded_loss(embeddings, labels, batch.step, comm, &accuracy)
                      : loss(embeddings, labels, batch.step, &accuracy);
  out.logged.emplace_back("aam_margin", torch::full({}, margin_at(batch.step)));
  out.logged.emplace_back("aam_train_accuracy", accuracy);
  return out;
}

namespace {

// Sums `x` over the ranks; the backward passes the gradient through unchanged (every rank computes the same
// function of the sum, so each rank's own term receives exactly dL/dsum once).
torch::Tensor sum_over_ranks(const torch::Tensor& x, Communicator& comm) {
  at::Tensor total = x.detach().clone();
  comm.allreduce_(total, ReduceOp::Sum);
  return x + (total - x.detach());
}

}  // namespace

at::Tensor AamSoftmax::sampled_classes(const ShardRange& range, const at::Tensor& labels, int64_t step) const {
  const int64_t n = range.end - range.begin;
  std::vector<char> keep(static_cast<size_t>(n), 0);
  const at::Tensor cpu = labels.to(at::kCPU).contiguous();  // a copy from the GPU when training on one
  const int64_t* l = cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < cpu.numel(); ++i)
    if (l[i] >= range.begin && l[i] < range.end) keep[static_cast<size_t>(l[i] - range.begin)] = 1;
  std::vector<int64_t> kept;
  for (int64_t c = 0; c < n; ++c) {
    CounterRng rng(stream_key(options_.seed, Stream::NegativeCentres, static_cast<uint64_t>(step),
                              static_cast<uint64_t>(range.begin + c)));
    if (keep[static_cast<size_t>(c)] || rng.uniform() < options_.sample_rate) kept.push_back(c);
  }
  return at::tensor(kept, at::kLong);
}

torch::Tensor AamSoftmax::sharded_loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                                       Communicator& comm, torch::Tensor* accuracy) const {
  const int world = comm.size();
  auto e = F::normalize(embeddings.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  torch::Tensor all = e, all_labels = labels.to(e.device());
  if (world > 1) {
    e = e * world - e.detach() * (world - 1);  // value e, gradient x N: see the header
    all = all_gather_with_grad(e, comm);
    all_labels = comm.allgather(all_labels.contiguous());
  }
  const ShardRange range = sharded_->range();
  int64_t local_classes = range.end - range.begin;
  at::Tensor local = all_labels - range.begin;
  const auto mine = (local >= 0) & (local < local_classes);  // rows whose class this rank holds
  at::Tensor centres = sharded_->weight();
  if (options_.sample_rate < 1) {  // score only the sampled classes: their rows, labels renumbered among them
    const at::Tensor kept = sampled_classes(range, all_labels, step);  // local indices, ascending
    const auto k = options_.sub_centers;
    const at::Tensor rows = (kept.view({-1, 1}) * k + at::arange(k, kept.options()).view({1, -1})).flatten();
    centres = centres.index_select(0, rows.to(centres.device()));
    at::Tensor position = at::full({local_classes}, -1, kept.options());
    position.index_put_({kept}, at::arange(kept.size(0), kept.options()));
    position = position.to(local.device());
    local =
        torch::where(mine, position.index_select(0, local.clamp(0, local_classes - 1)), torch::full_like(local, -1));
    local_classes = kept.size(0);
  }
  const auto w = F::normalize(centres, F::NormalizeFuncOptions().dim(1));
  auto cosine = torch::matmul(all, w.t());  // [N_global, local classes * K]
  if (options_.sub_centers > 1)
    cosine = std::get<0>(cosine.view({all.size(0), local_classes, options_.sub_centers}).max(2));
  const auto index = torch::where(mine, local, torch::zeros_like(local)).view({-1, 1});
  const auto cos_y = cosine.gather(1, index);
  const auto chosen = torch::where(mine.view({-1, 1}), with_margin(cos_y, step), cos_y);
  const auto logits = options_.scale * cosine.scatter(1, index, chosen);
  // Row maxima over every rank's classes (logits for a stable exp; cosines for the accuracy).
  at::Tensor maxima = torch::stack({std::get<0>(logits.detach().max(1)), std::get<0>(cosine.detach().max(1))});
  if (world > 1) comm.allreduce_(maxima, ReduceOp::Max);
  const auto shift = maxima[0];
  const auto zero = torch::zeros_like(shift);
  const auto own_logit = torch::where(mine, logits.gather(1, index).view({-1}), zero);
  const auto own_cosine = torch::where(mine, cos_y.detach().view({-1}), zero);
  auto sums = torch::stack({(logits - shift.view({-1, 1})).exp().sum(1), own_logit, own_cosine});
  if (world > 1) sums = sum_over_ranks(sums, comm);
  if (accuracy) *accuracy = (sums[2].detach() >= maxima[1]).to(torch::kFloat).mean();
  return (sums[0].log() + shift - sums[1]).mean();
}

}  // namespace imprint
