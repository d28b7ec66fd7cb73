#include <gtest/gtest.h>

#include <torch/torch.h>
#include <filesystem>
#include <set>

#include "models/encoder.h"
#include "tests/tiny_run.h"
#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/evaluation/verification_metrics.h"
#include "trainer/model_parts.h"
#include "trainer/objectives/aam_softmax.h"
#include "trainer/objectives/combined_objective.h"
#include "trainer/objectives/infonce.h"
#include "trainer/objectives/sharded_centers.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::tiny_config;

namespace {
Conditioning random_conditioning(int64_t b, int64_t k, int64_t d) {
  return {torch::randn({b, k, d}), torch::randn({b, d})};
}
}  // namespace

TEST(Objectives, TheWeightedSumOfTheTermsThatAreOn) {
  torch::manual_seed(3);
  auto comm = make_local_communicator();
  const Conditioning r = random_conditioning(8, 2, 16), t = random_conditioning(8, 2, 16);
  const TrainBatch rows{torch::zeros({8, 2, 1}), torch::arange(8), {}};
  InfoNCE alone({0.07, true});
  const double reference = alone.loss(r, t, comm.get()).item<double>();
  const JobConfig job = tiny_config("image", {"objective.infonce.weight=2.5"});
  CombinedObjective twice(job.objectives, objective_context(job));
  ASSERT_EQ(twice.names(), std::vector<std::string>{"infonce"});
  const EncodedBatch encoded{torch::stack({r.tokens, t.tokens}, 1), torch::stack({r.pooled, t.pooled}, 1)};
  const ObjectiveOutput out = twice.compute(rows, encoded, *comm);
  EXPECT_NEAR(out.loss.item<double>(), 2.5 * reference, 1e-6 * reference);
  ASSERT_EQ(out.logged.size(), 1u);
  EXPECT_EQ(out.logged[0].first, "temperature");
  EXPECT_NEAR(out.logged[0].second.item<double>(), 0.07, 1e-6);
  // The term's parameters live under its name.
  EXPECT_TRUE(twice.named_parameters().contains("infonce.log_scale"));
}

TEST(Objectives, AllWeightsZeroIsAConfigError) {
  try {
    tiny_config("image", {"objective.infonce.weight=0"});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("every objective's weight is 0"), std::string::npos) << e.what();
  }
}

TEST(Encoders, BuiltByNameAndCheckedAgainstTheModality) {
  EncoderSpec spec;
  spec.modality = Modality::Audio;
  EXPECT_EQ(resolve_encoder(spec).name, "audio_cnn") << "auto picks the modality's default";
  spec.name = "image_cnn";
  try {
    resolve_encoder(spec);
    FAIL() << "an image encoder for audio must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.name: image_cnn encodes image, but data.modality is audio"),
              std::string::npos)
        << e.what();
  }
  try {
    tiny_config("image", {"model.name=audio_cnn"});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("audio_cnn encodes audio, but data.modality is image"), std::string::npos);
  }
  for (const auto& e : encoder_registry()) {
    const JobConfig job = tiny_config(modality_name(e.modality), {"model.name=" + e.name});
    EXPECT_TRUE(make_encoder(job.model, job.values)->named_parameters().contains("head.resampler.queries"))
        << e.name << " must end in the shared conditioning head";
  }
}

namespace {
Signature signature_of(const JobConfig& job) {
  return model_signature(job, CombinedObjective(job.objectives, objective_context(job)));
}
}  // namespace

TEST(ModelSignature, CoversOnlyWhatShapesTheModelBuilt) {
  const auto image = signature_of(tiny_config("image"));
  EXPECT_EQ(image.at("model.name"), "image_cnn");
  EXPECT_EQ(image.count("model.audio.n_mels"), 0u) << "an image model has no audio front end";
  EXPECT_EQ(image.count("data.sample_rate"), 0u);
  EXPECT_EQ(image.at("objectives"), "infonce");
  EXPECT_EQ(image.at("objective.infonce.learn_temperature"), "true");
  EXPECT_EQ(image.count("objective.infonce.temperature"), 0u) << "an initial value does not shape parameters";
  EXPECT_EQ(signature_of(tiny_config("image", {"model.audio.n_mels=30"})), image);
  const auto audio = signature_of(tiny_config("audio"));
  EXPECT_EQ(audio.at("model.name"), "audio_cnn");
  EXPECT_EQ(audio.at("model.audio.n_mels"), "24");
}

namespace {
// Two classes in 2-D; the centres are set by hand through the module's parameters.
AamSoftmax two_class_aam(double margin, int64_t warmup = 0, int64_t sub_centers = 1) {
  AamOptions o;
  o.classes = 2;
  o.embed_dim = 2;
  o.scale = 10;
  o.margin = margin;
  o.margin_warmup_steps = warmup;
  o.sub_centers = sub_centers;
  AamSoftmax aam(o);
  torch::NoGradGuard g;
  auto centers = aam.named_parameters()["centers"];
  if (sub_centers == 1) {
    centers.copy_(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}));
  } else {  // class 0: (1,0) and (-1,0); class 1: (0,1) and (0,-1)
    centers.copy_(torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}, {0.0f, 1.0f}, {0.0f, -1.0f}}));
  }
  return aam;
}
}  // namespace

TEST(AamSoftmax, MarginIsAddedToTheTrueClassAngleOnly) {
  // A sample at 30 degrees from class 0's centre (60 from class 1's), label 0.
  const double a = M_PI / 6;
  const auto x = torch::tensor({{static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))}});
  const auto y = torch::tensor({0L});
  for (double m : {0.0, 0.2, 0.5}) {
    const auto got = two_class_aam(m).loss(x * 3, y, 0).item<double>();  // the norm of the embedding is irrelevant
    const double l0 = 10 * std::cos(a + m), l1 = 10 * std::cos(M_PI / 2 - a);
    const double want = -l0 + std::log(std::exp(l0) + std::exp(l1));
    EXPECT_NEAR(got, want, 1e-4) << "margin " << m;
  }
  EXPECT_GT(two_class_aam(0.5).loss(x, y, 0).item<double>(), two_class_aam(0.0).loss(x, y, 0).item<double>());
}

TEST(AamSoftmax, MarginRampsOverTheWarmupSteps) {
  const auto aam = two_class_aam(0.2, 100);
  EXPECT_DOUBLE_EQ(aam.margin_at(0), 0.0);
  EXPECT_NEAR(aam.margin_at(50), 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(aam.margin_at(100), 0.2);
  EXPECT_DOUBLE_EQ(aam.margin_at(5000), 0.2);
  EXPECT_DOUBLE_EQ(two_class_aam(0.2).margin_at(0), 0.2);
}

TEST(AamSoftmax, ASampleCountsAgainstItsClosestSubCentre) {
  // (-1, 0) is class 0's second sub-centre: with 2 sub-centres it is a perfect class-0 sample.
  const auto x = torch::tensor({{-1.0f, 0.0f}});
  const auto y = torch::tensor({0L});
  const double with_sub = two_class_aam(0.0, 0, 2).loss(x, y, 0).item<double>();
  EXPECT_NEAR(with_sub, std::log(1 + std::exp(10.0 * (0 - 1))), 1e-4);  // logits 10 (own) vs 0 (class 1)
  EXPECT_GT(two_class_aam(0.0).loss(x, y, 0).item<double>(), 5.0) << "one centre: (-1,0) is far from class 0";
}

TEST(AamSoftmax, TrainsAnEncoderOnItsOwn) {
  const JobConfig cfg = imprint::testing::tiny_config(
      "image", {"objective.infonce.weight=0", "objective.aam.weight=1", "objective.aam.margin=0.1",
                "objective.aam.margin_warmup_steps=10", "train.steps=80"});
  const auto s = train(cfg, {imprint::testing::fresh_dir("aam-train"), false, nullptr});
  EXPECT_LT(s.last_loss, s.first_loss);
  // Every held-out sample as the reference (8 identities x 6 queries): one reference each moves top-1 in
  // steps of 1/8, too coarse to tell a weak encoder from chance.
  EXPECT_GT(s.eval.top1_all, 1.5 / s.eval.identities) << "held-out top-1 not above chance";
  std::printf("aam tiny run: every-sample top-1 %.3f (chance %.3f)\n", s.eval.top1_all, 1.0 / s.eval.identities);
}

TEST(Verification, EerAndMinDcfOfKnownTrials) {
  // Targets 0.9 0.8 0.3, non-targets 0.7 0.2 0.1: accepting >= 0.7 misses 1/3 and falsely accepts 1/3.
  auto v = verification_metrics(torch::tensor({0.9, 0.7, 0.8, 0.2, 0.3, 0.1}),
                                torch::tensor({true, false, true, false, true, false}));
  EXPECT_NEAR(v.eer, 1.0 / 3, 1e-12);
  EXPECT_NEAR(v.min_dcf, 1.0 / 3, 1e-12);  // threshold 0.8: miss 1/3, no false alarm: 0.01 * 1/3 / 0.01
  EXPECT_EQ(v.target_trials, 3);
  EXPECT_EQ(v.nontarget_trials, 3);
  v = verification_metrics(torch::tensor({0.9, 0.1, 0.8, 0.2}), torch::tensor({1, 0, 1, 0}));
  EXPECT_DOUBLE_EQ(v.eer, 0.0);
  EXPECT_DOUBLE_EQ(v.min_dcf, 0.0);
  // Scores that carry no information: EER near 50%, minDCF near 1 (no threshold beats rejecting all).
  torch::manual_seed(3);
  v = verification_metrics(torch::rand({20000}), torch::rand({20000}) < 0.3);
  EXPECT_NEAR(v.eer, 0.5, 0.02);
  EXPECT_GT(v.min_dcf, 0.9);
  EXPECT_THROW(verification_metrics(torch::tensor({0.5}), torch::tensor({true})), std::invalid_argument);
}

TEST(Verification, AllPairsOfEmbeddings) {
  // Two identities on opposite sides of a circle, three samples each: every pair separates perfectly.
  const auto e =
      torch::tensor({{1.0f, 0.0f}, {0.9f, 0.1f}, {0.95f, -0.1f}, {-1.0f, 0.0f}, {-0.9f, 0.2f}, {-1.0f, -0.1f}});
  const auto u = torch::nn::functional::normalize(e, torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto v = verify_all_pairs(torch::matmul(u, u.t()), torch::tensor({0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(v.target_trials, 6);     // 3 + 3
  EXPECT_EQ(v.nontarget_trials, 9);  // 3 x 3
  EXPECT_DOUBLE_EQ(v.eer, 0.0);
}

TEST(Verification, EverySampleAsTheReference) {
  // 3 identities x 3 samples on a circle; identity 2's third sample sits on identity 0's: its own query
  // misses at top-1 (nearest is identity 0) but finds its own within the top 5, and identity 0's samples
  // may find it first too.
  auto at = [](double deg) {
    return std::vector<float>{static_cast<float>(std::cos(deg * M_PI / 180)),
                              static_cast<float>(std::sin(deg * M_PI / 180))};
  };
  std::vector<float> flat;
  for (double d : {0.0, 2.0, 4.0, 120.0, 122.0, 124.0, 240.0, 242.0, 1.0})
    for (float v : at(d)) flat.push_back(v);
  const auto pool = torch::tensor(flat).view({9, 2});
  const auto ids = torch::tensor({0L, 0L, 0L, 1L, 1L, 1L, 2L, 2L, 2L});
  RetrievalScore s;
  score_multi_query(torch::matmul(pool, pool.t()), ids, s);
  EXPECT_EQ(s.queries, 9);
  // Misses at top-1: sample 8 (nearest: identity 0 at 0 or 2 deg) and sample 0 / 1 (nearest: sample 8 at 1 deg).
  EXPECT_NEAR(s.top1_all, 6.0 / 9, 1e-12);
  EXPECT_NEAR(s.top5_all, 1.0, 1e-12);
  EXPECT_NEAR(s.chance_all, 2.0 / 8, 1e-12);
  EXPECT_LE(s.top1_all_low, s.top1_all);
  EXPECT_GE(s.top1_all_high, s.top1_all);
  EXPECT_LT(s.top1_all_low, s.top1_all_high);
}

TEST(ShardedCenters, AdamWStepAndANonFiniteGradientLeavesEverythingAsItWas) {
  ShardedAdamW adamw;
  ShardedCenters c(6, 1, 4, /*seed=*/3, /*rank=*/0, /*world=*/1, adamw);
  const at::Tensor w0 = c.weight().detach().clone();
  // Rows are drawn from (seed, row) alone: rank 1 of 2 holds rows 3..5 of the same matrix.
  ShardedCenters half(6, 1, 4, 3, 1, 2, adamw);
  EXPECT_TRUE(at::equal(half.weight().detach(), w0.slice(0, 3, 6)));
  const at::Tensor g = torch::randn({6, 4});
  c.weight().mutable_grad() = g.clone();
  c.step(0.1);
  // The first AdamW step moves every element by lr * g / (|g| + eps) = lr * sign(g).
  EXPECT_LT((c.weight().detach() - (w0 - 0.1 * g.sign())).abs().max().item<double>(), 1e-5);
  const at::Tensor w1 = c.weight().detach().clone();
  auto bad = g.clone();
  bad[2][1] = std::nan("");
  c.weight().mutable_grad() = bad;
  const auto before = c.gather(*make_local_communicator());
  c.step(0.1);
  const auto after = c.gather(*make_local_communicator());
  EXPECT_TRUE(at::equal(c.weight().detach(), w1));
  EXPECT_TRUE(at::equal(before.at("exp_avg"), after.at("exp_avg")));
  EXPECT_TRUE(at::equal(before.at("exp_avg_sq"), after.at("exp_avg_sq")));
}

TEST(ShardedCenters, SampledClassesKeepThePositivesAndAreTheSameOnAnySplit) {
  AamOptions o;
  o.classes = 1000;
  o.embed_dim = 8;
  o.shard_classifier = true;
  o.sample_rate = 0.1;
  o.seed = 5;
  AamSoftmax aam(o);
  const auto labels = torch::tensor({3, 500, 501, 999, 250}, torch::kLong);
  const auto whole = aam.sampled_classes({0, 1000}, labels, /*step=*/7);
  std::set<int64_t> kept(whole.data_ptr<int64_t>(), whole.data_ptr<int64_t>() + whole.numel());
  for (int64_t c : {3, 500, 501, 999, 250}) EXPECT_TRUE(kept.count(c)) << "positive class " << c << " dropped";
  EXPECT_GT(kept.size(), 60u);  // 5 positives + ~99.5 of 995 others
  EXPECT_LT(kept.size(), 150u);
  std::set<int64_t> joined;
  for (int r = 0; r < 3; ++r) {
    const ShardRange range = shard_range(1000, r, 3);
    const auto part = aam.sampled_classes(range, labels, 7);
    for (int64_t i = 0; i < part.numel(); ++i) joined.insert(range.begin + part[i].item<int64_t>());
  }
  EXPECT_EQ(joined, kept) << "the sample depends on the split";
  const auto next = aam.sampled_classes({0, 1000}, labels, 8);
  EXPECT_FALSE(at::equal(next, whole)) << "the same negatives every step";
}

// AS-norm removes (half of) what a sample adds to every score it takes part in (a "hub" close to everything):
// with scores = identity agreement + per-sample offsets + noise, normalising by a cohort that sees the same
// offsets doubles the signal against them (2s - mu_i - mu_j = 2 agreement + b_i + b_j), so verification improves.
TEST(Verification, AsNormRemovesPerSampleScoreOffsets) {
  torch::manual_seed(9);
  const int64_t n = 60, cohort = 40;
  const auto identity = torch::arange(n, torch::kLong).div(6, "floor");  // 10 identities x 6 samples
  const auto same = identity.view({-1, 1}).eq(identity.view({1, -1})).to(torch::kFloat);
  const auto offset = torch::randn({n}) * 0.6;  // per-sample bias
  const auto similarity = 0.5 * same + offset.view({-1, 1}) + offset.view({1, -1}) + 0.15 * torch::randn({n, n});
  const auto sym = (similarity + similarity.t()) / 2;
  const auto cohort_scores = offset.view({-1, 1}) + 0.15 * torch::randn({n, cohort});
  const double raw = verify_all_pairs(sym, identity).eer;
  const auto normalised = adaptive_snorm(sym, cohort_scores, 20);
  const double normed = verify_all_pairs(normalised, identity).eer;
  EXPECT_LT(normed, 0.85 * raw) << "raw EER " << raw << ", AS-norm " << normed;  // 0.39 -> 0.30 with this seed
  // The formula, for one pair, by hand.
  const auto top = std::get<0>(cohort_scores.to(torch::kDouble).topk(20, 1));
  const double m3 = top[3].mean().item<double>(), s3 = top[3].std(false).item<double>();
  const double m7 = top[7].mean().item<double>(), s7 = top[7].std(false).item<double>();
  const double s = sym[3][7].item<double>();
  EXPECT_NEAR(normalised[3][7].item<double>(), 0.5 * ((s - m3) / s3 + (s - m7) / s7), 1e-4);
  // A trial list's normalisation is the matrix's, entry by entry.
  const auto first = torch::tensor({3, 0, 5, 11}, torch::kLong), second = torch::tensor({7, 9, 2, 4}, torch::kLong);
  const auto listed = adaptive_snorm_trials(sym.index({first, second}), first, second, cohort_scores, 20);
  EXPECT_TRUE(torch::allclose(listed, normalised.index({first, second}), 1e-5, 1e-6));
}

TEST(Verification, AsNormInTheTrainingLoop) {
  const JobConfig cfg =
      tiny_config("image", {"train.steps=8", "eval.asnorm_cohort=20", "eval.asnorm_top_k=10",
                            "checkpoint.keep_best=eer_asnorm", "train.eval_every=4", "eval.validation_identities=2"});
  const std::string dir = imprint::testing::fresh_dir("asnorm");
  const auto s = train(cfg, {dir, false, nullptr});
  EXPECT_GE(s.eval.eer_asnorm, 0.0);
  EXPECT_LE(s.eval.eer_asnorm, 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/best.ckpt"));
  EXPECT_THROW(tiny_config("image", {"checkpoint.keep_best=eer_asnorm", "eval.validation_identities=2"}),
               ConfigError);  // no cohort
}
