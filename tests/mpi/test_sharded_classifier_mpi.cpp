// Partial FC: the AAM classifier's centres split across ranks compute what the whole classifier computes on
// one rank (loss and every gradient), train what one rank trains, and resume on another world size.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "collectives/communicator.h"
#include "tests/mpi/mpi_world.h"
#include "tests/tiny_run.h"
#include "trainer/objectives/aam_softmax.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::g_world;
using imprint::testing::tiny_config;

using imprint::testing::max_rel_diff;
using imprint::testing::rel_diff;
using imprint::testing::shared_dir;

// 10 classes over 2, 3 or 4 ranks: uneven shards (e.g. 2, 3, 2, 3 classes), 2 sub-centres each, a margin.
TEST(ShardedClassifier, LossAndGradientsMatchTheWholeClassifierOnOneRank) {
  const int world = g_world->size(), rank = g_world->rank();
  const int64_t classes = 10, dim = 16, per_rank = 6, rows = per_rank * world;
  AamOptions o;
  o.classes = classes;
  o.embed_dim = dim;
  o.sub_centers = 2;
  o.margin = 0.2;
  torch::manual_seed(11);  // the same draws on every rank
  const auto all_embeddings = torch::randn({rows, dim});
  const auto all_labels = torch::randint(classes, {rows}, torch::kLong);
  AamSoftmax whole(o);
  {
    torch::NoGradGuard no_grad;
    whole.named_parameters()["centers"].normal_();
  }
  const at::Tensor centers = whole.named_parameters()["centers"];
  const auto e_whole = all_embeddings.clone().requires_grad_(true);
  torch::Tensor acc_whole;
  const auto loss_whole = whole.loss(e_whole, all_labels, /*step=*/3, &acc_whole);
  loss_whole.backward();

  AamOptions so = o;
  so.shard_classifier = true;
  AamSoftmax sharded(so);
  sharded.place(rank, world, at::Device(at::kCPU));
  sharded.load_shards([&](const std::string& key) -> at::Tensor {
    if (key == "centers") return centers.detach();
    if (key == "steps") return at::zeros({1}, at::kLong);
    return at::zeros_like(centers);
  });
  const auto e_mine = all_embeddings.slice(0, rank * per_rank, (rank + 1) * per_rank).clone().requires_grad_(true);
  torch::Tensor acc;
  const auto loss =
      sharded.sharded_loss(e_mine, all_labels.slice(0, rank * per_rank, (rank + 1) * per_rank), 3, *g_world, &acc);
  loss.backward();

  EXPECT_NEAR(loss.item<double>(), loss_whole.item<double>(), 1e-5 * loss_whole.item<double>());
  EXPECT_NEAR(acc.item<double>(), acc_whole.item<double>(), 1e-6);
  // The embeddings' gradient is the global loss's, times the world size (the reducer then averages it).
  const auto want_e = e_whole.grad().slice(0, rank * per_rank, (rank + 1) * per_rank);
  EXPECT_LT(rel_diff(e_mine.grad() / world, want_e), 1e-5) << "rank " << rank;
  const ShardRange r = sharded.shards()->range();
  const auto want_w = centers.grad().slice(0, r.begin * 2, r.end * 2);
  EXPECT_LT(rel_diff(sharded.shards()->weight().grad(), want_w), 1e-5) << "rank " << rank;
  std::printf(
      "sharded classifier, rank %d of %d (classes %lld-%lld): loss %.6f vs whole %.6f, centre gradient "
      "relative difference %.2g\n",
      rank, world, (long long)r.begin, (long long)r.end - 1, loss.item<double>(), loss_whole.item<double>(),
      rel_diff(sharded.shards()->weight().grad(), want_w));
}

namespace {
JobConfig sharded_config(std::vector<std::string> more = {}) {
  std::vector<std::string> sets{"train.steps=12",
                                "train.batch_size=16",
                                "objective.infonce.weight=0.5",
                                "objective.aam.weight=1",
                                "objective.aam.margin_warmup_steps=6",
                                "objective.aam.shard_classifier=true",
                                "checkpoint.every=3"};
  sets.insert(sets.end(), more.begin(), more.end());
  return tiny_config("image", sets);
}
}  // namespace

TEST(ShardedClassifier, NRanksTrainWhatOneRankTrains) {
  const auto dist = train(sharded_config(), {shared_dir("pfc-parity"), false, g_world});
  if (g_world->rank() == 0) {
    const auto single = train(sharded_config(), {shared_dir("pfc-parity-single") + "-r0", false, nullptr});
    const double worst = max_rel_diff(dist.parameters, single.parameters);
    std::printf("sharded classifier parity: %d ranks vs 1 rank, max per-tensor relative difference %.3g\n",
                g_world->size(), worst);
    EXPECT_LT(worst, 1e-4);
    EXPECT_NEAR(dist.first_loss, single.first_loss, 1e-5 * single.first_loss);
  } else {
    shared_dir("pfc-parity-single");
  }
}

// Sampled negatives (Partial FC's sample_rate) are drawn per class from (seed, step, class): the same
// classes are scored on any number of ranks, so sampling keeps N ranks = 1 rank.
TEST(ShardedClassifier, SampledNegativesKeepNRanksEqualToOneRank) {
  const JobConfig cfg = sharded_config({"objective.aam.sample_rate=0.3"});
  const auto dist = train(cfg, {shared_dir("pfc-sampled"), false, g_world});
  if (g_world->rank() == 0) {
    const auto single = train(cfg, {shared_dir("pfc-sampled-single") + "-r0", false, nullptr});
    const auto all = train(sharded_config(), {shared_dir("pfc-sampled-all") + "-r0", false, nullptr});
    const double worst = max_rel_diff(dist.parameters, single.parameters);
    const double to_all = max_rel_diff(single.parameters, all.parameters);
    std::printf("sharded classifier, sample_rate 0.3: %d ranks vs 1 rank %.3g (vs scoring every class: %.3g)\n",
                g_world->size(), worst, to_all);
    EXPECT_LT(worst, 1e-4);
    EXPECT_GT(to_all, 1e-3) << "sampling changed nothing: were all classes scored anyway?";
  } else {
    shared_dir("pfc-sampled-single");
    shared_dir("pfc-sampled-all");
  }
}

// Checkpoints hold the centres whole: N ranks stop at step 6, one rank takes the run over (re-sharding the
// centres to one shard) and ends where an uninterrupted one-rank run ends.
TEST(ShardedClassifier, ACheckpointOfNRanksResumesOnOneRank) {
  const std::string dir = shared_dir("pfc-reshard");
  const auto first = train(sharded_config({"train.stop_at=6"}), {dir, false, g_world});
  EXPECT_TRUE(first.stopped_early);
  if (g_world->rank() == 0) {
    const auto resumed = train(sharded_config(), {dir, true, nullptr});
    EXPECT_EQ(resumed.start_step, 6);
    const auto whole = train(sharded_config(), {shared_dir("pfc-reshard-whole") + "-r0", false, nullptr});
    const double worst = max_rel_diff(resumed.parameters, whole.parameters);
    std::printf("sharded classifier: %d-rank checkpoint resumed on 1 rank vs 1 rank throughout: %.3g\n",
                g_world->size(), worst);
    EXPECT_LT(worst, 1e-4);
  } else {
    shared_dir("pfc-reshard-whole");
  }
}

// ... and the other way: one rank's checkpoint is split over N ranks (each takes its own classes' rows).
TEST(ShardedClassifier, AOneRankCheckpointResumesOnNRanks) {
  const std::string dir = shared_dir("pfc-split");
  if (g_world->rank() == 0)
    EXPECT_TRUE(train(sharded_config({"train.stop_at=6"}), {dir, false, nullptr}).stopped_early);
  g_world->barrier();
  const auto resumed = train(sharded_config(), {dir, true, g_world});
  EXPECT_EQ(resumed.start_step, 6);
  if (g_world->rank() == 0) {
    const auto whole = train(sharded_config(), {shared_dir("pfc-split-whole") + "-r0", false, nullptr});
    const double worst = max_rel_diff(resumed.parameters, whole.parameters);
    std::printf("sharded classifier: 1-rank checkpoint resumed on %d ranks vs 1 rank throughout: %.3g\n",
                g_world->size(), worst);
    EXPECT_LT(worst, 1e-4);
  } else {
    shared_dir("pfc-split-whole");
  }
}
