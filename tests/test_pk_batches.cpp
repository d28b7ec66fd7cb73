// P x K batches: the sampler's views, and the objectives that read every view (supcon, ge2e, aam, triplet).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "data/prefetch_loader.h"
#include "data/synthetic_dataset.h"
#include "data/view_sampler.h"
#include "tests/tiny_run.h"
#include "trainer/objectives/ge2e.h"
#include "trainer/objectives/supcon.h"
#include "trainer/objectives/triplet.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;

namespace {

SyntheticSpec five_per_identity() {
  SyntheticSpec s;
  s.modality = Modality::Image;
  s.train_identities = 40;
  s.eval_identities = 6;
  s.samples_per_identity = 5;
  s.image_size = 16;
  return s;
}

// Unit vectors of views [B, K, D], in double, as the loops below read them.
at::Tensor unit(const at::Tensor& views) {
  const auto v = views.to(at::kFloat).to(at::kDouble);
  return v / v.norm(2, -1, true);
}

// Khosla et al.'s L_out written as the paper's sums, one anchor at a time.
at::Tensor supcon_by_loops(const at::Tensor& views, double tau) {
  const auto z = unit(views);
  const int64_t B = z.size(0), K = z.size(1);
  at::Tensor total = at::zeros({}, at::kDouble);
  for (int64_t r = 0; r < B; ++r)
    for (int64_t v = 0; v < K; ++v) {
      at::Tensor denominator = at::zeros({}, at::kDouble);
      for (int64_t r2 = 0; r2 < B; ++r2)
        for (int64_t v2 = 0; v2 < K; ++v2)
          if (r2 != r || v2 != v) denominator = denominator + at::exp(at::dot(z[r][v], z[r2][v2]) / tau);
      for (int64_t u = 0; u < K; ++u)
        if (u != v) total = total - (at::dot(z[r][v], z[r][u]) / tau - at::log(denominator)) / (K - 1);
    }
  return total / (B * K);
}

// Wan et al.'s GE2E (softmax form) with the exclusive own centroid, one view at a time.
at::Tensor ge2e_by_loops(const at::Tensor& views, double w, double b) {
  const auto e = unit(views);
  const int64_t B = e.size(0), K = e.size(1);
  auto cos = [](const at::Tensor& x, const at::Tensor& y) { return at::dot(x, y) / (x.norm() * y.norm()); };
  at::Tensor total = at::zeros({}, at::kDouble);
  for (int64_t j = 0; j < B; ++j)
    for (int64_t i = 0; i < K; ++i) {
      at::Tensor own, sum_exp = at::zeros({}, at::kDouble);
      for (int64_t k = 0; k < B; ++k) {
        at::Tensor centroid = k == j ? (e[k].sum(0) - e[j][i]) / (K - 1) : e[k].mean(0);
        const auto s = w * cos(e[j][i], centroid) + b;
        if (k == j) own = s;
        sum_exp = sum_exp + at::exp(s);
      }
      total = total + at::log(sum_exp) - own;
    }
  return total / (B * K);
}

}  // namespace

TEST(PxKSampler, TheFirstTwoViewsOfAnyKAreWhatTwoViewsDraw) {
  SyntheticDataset d(five_per_identity());
  ViewSampler pairs(d, 7, 8, 0, 1, true), four(d, 7, 8, 0, 1, true, true, 4);
  for (int64_t step = 0; step < 6; ++step) {
    const auto a = pairs.slots(step), b = four.slots(step);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].identity, b[i].identity);
      ASSERT_EQ(a[i].sample.size(), 2u);
      ASSERT_EQ(b[i].sample.size(), 4u);
      for (size_t v = 0; v < 2; ++v) {
        EXPECT_EQ(a[i].sample[v], b[i].sample[v]);
        EXPECT_EQ(a[i].augment[v], b[i].augment[v]);
      }
      EXPECT_NE(a[i].sample[0], a[i].sample[1]) << "the target is always another sample than the reference";
    }
  }
}

TEST(PxKSampler, ViewsAreDistinctWhileTheIdentityHasSamples) {
  SyntheticDataset d(five_per_identity());  // 5 samples per identity
  ViewSampler four(d, 3, 8, 0, 1, true, true, 4), seven(d, 3, 8, 0, 1, true, true, 7);
  for (int64_t step = 0; step < 10; ++step) {
    for (const auto& s : four.slots(step)) {
      EXPECT_EQ(std::set<int64_t>(s.sample.begin(), s.sample.end()).size(), 4u) << "step " << step;
      for (auto a : s.augment) EXPECT_NE(a, 0u);
    }
    for (const auto& s : seven.slots(step)) {
      // The first 5 views are the identity's 5 samples; the last 2 are drawn again from all 5.
      EXPECT_EQ(std::set<int64_t>(s.sample.begin(), s.sample.begin() + 5).size(), 5u);
      for (size_t v = 5; v < 7; ++v) EXPECT_LT(s.sample[v], 5);
      std::set<uint64_t> augments(s.augment.begin() + 2, s.augment.end());
      EXPECT_EQ(augments.size(), 5u) << "repeated samples must still be different views";
    }
  }
  EXPECT_THROW(ViewSampler(d, 1, 8, 0, 1, true, true, 1), std::invalid_argument);
}

TEST(PxKSampler, RanksSplitTheGlobalBatchAndItsViews) {
  SyntheticDataset d(five_per_identity());
  ViewSampler whole(d, 9, 8, 0, 1, true, true, 3);
  for (int64_t step = 0; step < 4; ++step) {
    std::vector<ViewSlot> joined;
    for (int r = 0; r < 4; ++r) {
      ViewSampler part(d, 9, 8, r, 4, true, true, 3);
      for (const auto& slot : part.slots(step)) joined.push_back(slot);
    }
    const auto all = whole.slots(step);
    ASSERT_EQ(joined.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(joined[i].identity, all[i].identity);
      EXPECT_EQ(joined[i].sample, all[i].sample);
      EXPECT_EQ(joined[i].augment, all[i].augment);
    }
  }
}

TEST(PxKSampler, TheBatchIsOneTensorOfEveryView) {
  SyntheticDataset d(five_per_identity());
  ViewSampler s(d, 2, 4, 0, 1, true, true, 4);
  const auto slots = s.slots(3);
  const ViewBatch b = build_batch(d, slots, 3);
  EXPECT_EQ(b.views.sizes(), (std::vector<int64_t>{4, 4, 3, 16, 16}));
  for (size_t i = 0; i < slots.size(); ++i)
    for (int64_t v = 0; v < 4; ++v) {
      at::Tensor want = at::empty(d.sample_shape(), at::kFloat);
      d.read(slots[i].identity, slots[i].sample[v], slots[i].augment[v], want.data_ptr<float>());
      EXPECT_TRUE(at::equal(b.views[static_cast<int64_t>(i)][v], want)) << "row " << i << " view " << v;
    }
  EXPECT_EQ(build_batch(d, ViewSampler(d, 2, 4, 0, 1, true).slots(3), 3).views.size(1), 2);
}

TEST(SupCon, IsThePapersSumOverAnchorsAndPositives) {
  torch::manual_seed(4);
  for (int64_t k : {2, 3, 5}) {
    const auto views = torch::randn({4, k, 6}, torch::requires_grad());
    SupCon supcon(0.2);
    const auto loss = supcon.loss(views);
    const auto want = supcon_by_loops(views, 0.2);
    EXPECT_NEAR(loss.item<double>(), want.item<double>(), 1e-5 * want.item<double>()) << "K=" << k;
    const auto g = torch::autograd::grad({loss}, {views})[0];
    const auto g_want = torch::autograd::grad({want}, {views})[0];
    EXPECT_LT((g - g_want).abs().max().item<double>(), 1e-5) << "K=" << k;
  }
}

TEST(Ge2e, IsThePapersSoftmaxLossWithTheExclusiveCentroid) {
  torch::manual_seed(5);
  for (int64_t k : {2, 4}) {
    const auto views = torch::randn({5, k, 6}, torch::requires_grad());
    Ge2e ge2e({false, 7.0, -2.0});
    const auto loss = ge2e.loss(views);
    const auto want = ge2e_by_loops(views, 7.0, -2.0);
    EXPECT_NEAR(loss.item<double>(), want.item<double>(), 1e-5 * want.item<double>()) << "K=" << k;
    const auto g = torch::autograd::grad({loss}, {views})[0];
    const auto g_want = torch::autograd::grad({want}, {views})[0];
    EXPECT_LT((g - g_want).abs().max().item<double>(), 1e-5) << "K=" << k;
  }
}

TEST(Ge2e, ContrastFormRewardsTheOwnCentroidAndPunishesTheHardestOther) {
  // Two identities, views exactly on their own axis: own cosine 1, other 0.
  const auto views = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.0f}).view({2, 2, 2});
  Ge2e ge2e({true, 10.0, -5.0});
  const double sig = [](double x) { return 1 / (1 + std::exp(-x)); }(5.0), other = 1 / (1 + std::exp(5.0));
  EXPECT_NEAR(ge2e.loss(views).item<double>(), 1 - sig + other, 1e-6);
  // Identity 1's views swapped onto identity 0's axis: its own centroid still matches, but so does the other.
  const auto confused = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f}).view({2, 2, 2});
  EXPECT_GT(ge2e.loss(confused).item<double>(), ge2e.loss(views).item<double>() + 0.5);
}

// Hermans et al.'s batch-hard triplet loss written as loops over anchors, positives and negatives.
namespace {
at::Tensor triplet_by_loops(const at::Tensor& views, double margin) {
  const auto z = unit(views);
  const int64_t B = z.size(0), K = z.size(1);
  at::Tensor total = at::zeros({}, at::kDouble);
  for (int64_t r = 0; r < B; ++r)
    for (int64_t v = 0; v < K; ++v) {
      at::Tensor hardest_positive = at::full({}, -1.0, at::kDouble), hardest_negative = at::full({}, 9.0, at::kDouble);
      for (int64_t r2 = 0; r2 < B; ++r2)
        for (int64_t v2 = 0; v2 < K; ++v2) {
          if (r2 == r && v2 == v) continue;
          const auto d = (z[r][v] - z[r2][v2]).norm();
          if (r2 == r) hardest_positive = at::maximum(hardest_positive, d);
          if (r2 != r) hardest_negative = at::minimum(hardest_negative, d);
        }
      const auto diff = hardest_positive - hardest_negative;
      total = total + (margin > 0 ? at::relu(diff + margin) : at::log1p(at::exp(diff)));
    }
  return total / (B * K);
}
}  // namespace

TEST(Triplet, IsTheBatchHardLossOverEveryAnchor) {
  torch::manual_seed(6);
  for (double margin : {0.0, 0.3}) {
    for (int64_t k : {2, 3}) {
      const auto views = torch::randn({5, k, 6}, torch::requires_grad());
      Triplet triplet(margin);
      const auto loss = triplet.loss(views);
      const auto want = triplet_by_loops(views, margin);
      EXPECT_NEAR(loss.item<double>(), want.item<double>(), 1e-5 + 1e-5 * want.item<double>()) << "K=" << k;
      const auto g = torch::autograd::grad({loss}, {views})[0];
      const auto g_want = torch::autograd::grad({want}, {views})[0];
      EXPECT_LT((g - g_want).abs().max().item<double>(), 1e-5) << "K=" << k << " margin " << margin;
    }
  }
  // Every identity on its own axis: the hardest positive is at 0, the nearest negative at sqrt(2).
  const auto apart = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.0f}).view({2, 2, 2});
  EXPECT_NEAR(Triplet(0.2).loss(apart).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(Triplet(2.0).loss(apart).item<double>(), 2.0 - std::sqrt(2.0), 1e-5);
}

// The losses compared are means over 10 steps: with 2 identities per batch one batch's loss is noise (at lr 0.01
// SupCon's single-batch losses went 2.83 -> 3.86 -> 2.86 on libtorch 2.15; at 0.003, 2.83 -> 1.61 over means).
TEST(PxKTraining, SupconGe2eAndTripletTrainAnEncoderFromFourViewsPerIdentity) {
  for (const char* objective : {"supcon", "ge2e", "triplet"}) {
    const JobConfig cfg = tiny_config(
        "image", {"objective.infonce.weight=0", std::string("objective.") + objective + ".weight=1",
                  "train.samples_per_identity=4", "train.batch_size=8", "train.steps=40", "train.log_every=10"});
    const auto s = train(cfg, {fresh_dir(std::string("pk-") + objective), false, nullptr});
    EXPECT_LT(s.last_loss, 0.9 * s.first_loss) << objective;
    EXPECT_GT(s.eval.top1, 1.5 / s.eval.identities) << objective << ": held-out top-1 not above chance";
  }
}

TEST(PxKTraining, ExtraViewsNobodyReadsAreAConfigError) {
  // A rule of the config (so --dry-run finds it too), not a failure once the model is built.
  try {
    tiny_config("image", {"train.samples_per_identity=3"});
    FAIL() << "a config with views no objective reads";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.samples_per_identity: 3 samples per identity, but no objective"),
              std::string::npos)
        << e.what();
  }
}
