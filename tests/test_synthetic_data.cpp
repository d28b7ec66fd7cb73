#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "data/prefetch_loader.h"
#include "data/synthetic_dataset.h"
#include "data/view_sampler.h"

using namespace imprint;

namespace {
SyntheticSpec small(Modality m) {
  SyntheticSpec s;
  s.modality = m;
  s.train_identities = 40;
  s.eval_identities = 6;
  s.samples_per_identity = 5;
  s.image_size = 16;
  s.sample_rate = 8000;
  s.clip_samples = 2000;
  return s;
}
at::Tensor read(const IdentityDataset& d, int64_t id, int64_t index, uint64_t aug) {
  at::Tensor t = at::empty(d.sample_shape(), at::kFloat);
  d.read(id, index, aug, t.data_ptr<float>());
  return t;
}
}  // namespace

class SyntheticBothModalities : public ::testing::TestWithParam<Modality> {};

TEST_P(SyntheticBothModalities, DeterministicAndDistinct) {
  SyntheticDataset d(small(GetParam()));
  const auto a = read(d, 3, 1, 0), again = read(d, 3, 1, 0);
  EXPECT_TRUE(at::equal(a, again)) << "same (identity, index) must render the same sample";
  EXPECT_FALSE(at::equal(a, read(d, 3, 2, 0))) << "another sample of the identity must differ";
  EXPECT_FALSE(at::equal(a, read(d, 4, 1, 0))) << "another identity must differ";
  EXPECT_FALSE(at::equal(a, read(d, 3, 1, 99))) << "augmentation must change the sample";
  EXPECT_TRUE(at::isfinite(a).all().item<bool>());
  EXPECT_GT(a.std().item<double>(), 0.01);
  SyntheticSpec other = small(GetParam());
  other.data_seed = 8;
  EXPECT_FALSE(at::equal(a, read(SyntheticDataset(other), 3, 1, 0))) << "data.seed must change the identities";
}

TEST_P(SyntheticBothModalities, SamplesOfOneIdentityAreCloserThanOfOthers) {
  // The property the encoder learns: on average two samples of one identity resemble each other more
  // than samples of two identities do (in a crude, hand-made feature).
  SyntheticDataset d(small(GetParam()));
  auto feature = [&](int64_t id, int64_t i) {
    auto x = read(d, id, i, 0);
    if (GetParam() == Modality::Image) return x.view({3, -1}).mean(1);  // mean colour
    auto spec = at::abs(at::fft_rfft(x));                               // long-term spectrum
    return at::log(spec.slice(0, 0, 1000).view({50, -1}).mean(1) + 1e-4);
  };
  double same = 0, diff = 0;
  for (int64_t id = 0; id < 20; ++id) {
    same += (feature(id, 0) - feature(id, 1)).norm().item<double>();
    diff += (feature(id, 0) - feature(id + 1, 1)).norm().item<double>();
  }
  EXPECT_LT(same, 0.8 * diff);
}

INSTANTIATE_TEST_SUITE_P(Modalities, SyntheticBothModalities, ::testing::Values(Modality::Image, Modality::Audio));

TEST(SyntheticDataset, HeldOutIdentitiesAreDisjoint) {
  SyntheticDataset d(small(Modality::Image));
  std::set<int64_t> train(d.train_identities().begin(), d.train_identities().end());
  for (auto id : d.eval_identities()) EXPECT_EQ(train.count(id), 0u) << id;
  EXPECT_EQ(d.eval_identities().size(), 6u);
}

TEST(ViewSampler, DistinctIdentitiesPerStepAndFullCoveragePerEpoch) {
  SyntheticDataset d(small(Modality::Image));
  ViewSampler s(d, 1, 8, 0, 1, true);
  ASSERT_EQ(s.steps_per_epoch(), 5);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t step = epoch * 5; step < (epoch + 1) * 5; ++step)
      for (const auto& slot : s.slots(step)) {
        EXPECT_TRUE(seen.insert(slot.identity).second) << "identity twice in epoch " << epoch;
        EXPECT_NE(slot.sample[0], slot.sample[1]);
        EXPECT_LT(slot.sample[1], 5);
        EXPECT_NE(slot.augment[0], 0u);
      }
    EXPECT_EQ(seen.size(), 40u);
  }
  // Epochs are shuffled differently.
  EXPECT_NE(s.slots(0)[0].identity * 1000 + s.slots(0)[1].identity,
            s.slots(5)[0].identity * 1000 + s.slots(5)[1].identity);
}

TEST(ViewSampler, RanksSplitTheGlobalBatchWithoutOverlap) {
  SyntheticDataset d(small(Modality::Image));
  ViewSampler whole(d, 3, 8, 0, 1, true);
  for (int64_t step : {0, 4, 11}) {
    std::vector<ViewSlot> joined;
    for (int r = 0; r < 4; ++r) {
      ViewSampler part(d, 3, 8, r, 4, true);
      for (const auto& slot : part.slots(step)) joined.push_back(slot);
    }
    const auto ref = whole.slots(step);
    ASSERT_EQ(joined.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(joined[i].identity, ref[i].identity);
      EXPECT_EQ(joined[i].sample, ref[i].sample);
      EXPECT_EQ(joined[i].augment, ref[i].augment);
    }
  }
}

TEST(ViewSampler, GeneratorTargetsCanStayClean) {
  // The denoise objective's targets are what its generator learns to draw: not augmented, and turning their
  // augmentation off changes nothing else the sampler draws.
  SyntheticDataset d(small(Modality::Image));
  ViewSampler both(d, 5, 8, 0, 1, true), references_only(d, 5, 8, 0, 1, true, /*augment_targets=*/false);
  for (int64_t step : {0, 7}) {
    const auto a = both.slots(step), b = references_only.slots(step);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(b[i].augment[1], 0u);
      EXPECT_NE(a[i].augment[1], 0u);
      EXPECT_EQ(a[i].augment[0], b[i].augment[0]);
      EXPECT_EQ(a[i].identity, b[i].identity);
      EXPECT_EQ(a[i].sample, b[i].sample);
    }
  }
}

TEST(ViewSampler, RefusesImpossibleBatches) {
  SyntheticDataset d(small(Modality::Image));
  EXPECT_THROW(ViewSampler(d, 1, 41, 0, 1, true), std::invalid_argument);
  EXPECT_THROW(ViewSampler(d, 1, 6, 0, 4, true), std::invalid_argument);
}

TEST(PrefetchLoader, WorkersDeliverTheSameBatchesInOrder) {
  SyntheticDataset d(small(Modality::Audio));
  ViewSampler s(d, 5, 4, 0, 1, true);
  PrefetchLoader threaded(d, s, 3, 4, 2);
  for (int64_t step = 2; step < 12; ++step) {
    ViewBatch b = threaded.next();
    EXPECT_EQ(b.step, step);
    ViewBatch ref = build_batch(d, s.slots(step), step);
    EXPECT_TRUE(at::equal(b.views, ref.views));
    EXPECT_TRUE(at::equal(b.identity, ref.identity));
  }
}

TEST(PrefetchLoader, WorkerErrorReachesTheTrainer) {
  struct Broken final : IdentityDataset {
    std::vector<int64_t> ids{0, 1, 2, 3};
    Modality modality() const override { return Modality::Audio; }
    const std::vector<int64_t>& train_identities() const override { return ids; }
    const std::vector<int64_t>& eval_identities() const override { return ids; }
    int64_t num_samples(int64_t) const override { return 2; }
    std::vector<int64_t> sample_shape() const override { return {4}; }
    void read(int64_t, int64_t, uint64_t, float*) const override { throw std::runtime_error("shard 7 is gone"); }
  } broken;
  ViewSampler s(broken, 1, 2, 0, 1, false);
  PrefetchLoader loader(broken, s, 2, 2, 0);
  try {
    loader.next();
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "shard 7 is gone");
  }
}
