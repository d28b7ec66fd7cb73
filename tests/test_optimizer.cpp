#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "models/encoder.h"
#include "trainer/optim/fused_adamw_cpu.h"
#include "trainer/optim/optimizer.h"

using namespace imprint;

namespace {

// Two identical copies of a real encoder's parameters, split into decay / no-decay groups as the trainer does.
struct Twin {
  std::vector<torch::Tensor> a, b;
  std::vector<ParamGroup> groups_a, groups_b;
};

Twin make_twin(uint64_t seed) {
  torch::manual_seed(seed);
  EncoderSpec spec;
  spec.width = 8;
  auto enc = make_encoder(spec);
  Twin t;
  ParamGroup da{{}, 0.05}, na{{}, 0.0}, db{{}, 0.05}, nb{{}, 0.0};
  for (auto& p : enc->parameters()) {
    auto x = p.detach().clone().set_requires_grad(true), y = p.detach().clone().set_requires_grad(true);
    t.a.push_back(x);
    t.b.push_back(y);
    (p.dim() >= 2 ? da : na).params.push_back(x);
    (p.dim() >= 2 ? db : nb).params.push_back(y);
  }
  t.groups_a = {da, na};
  t.groups_b = {db, nb};
  return t;
}

void set_grads(Twin& t, int64_t step) {
  torch::manual_seed(1000 + step);
  for (size_t i = 0; i < t.a.size(); ++i) {
    auto g = torch::randn_like(t.a[i]) * (0.1 + 0.01 * step);
    t.a[i].mutable_grad() = g.clone();
    t.b[i].mutable_grad() = g.clone();
  }
}

// Largest per-tensor relative difference ||a - b|| / ||b||. Per tensor rather than per element: an element
// that passes near zero has no meaningful relative error, while float32 rounding differences of one ulp per
// step are expected between two correct implementations.
double max_rel_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = (a[i] - b[i]).to(torch::kDouble).norm().item<double>();
    worst = std::max(worst, d / std::max(1e-12, b[i].to(torch::kDouble).norm().item<double>()));
  }
  return worst;
}

}  // namespace

TEST(FusedAdamW, MatchesTorchAdamWOver100Steps) {
  for (bool amsgrad : {false, true}) {
    SCOPED_TRACE(amsgrad ? "amsgrad" : "adamw");
    Twin t = make_twin(1);
    OptimizerOptions o;
    o.amsgrad = amsgrad;
    auto fused = make_fused_adamw(t.groups_a, o);
    auto reference = make_torch_adamw(t.groups_b, o);
    for (int64_t step = 0; step < 100; ++step) {
      set_grads(t, step);
      const double lr = 1e-3 * (1.0 + std::cos(step * 0.05));
      fused->step(lr, 0.0);
      reference->step(lr, 0.0);
    }
    EXPECT_LT(max_rel_diff(t.a, t.b), 1e-6);
    EXPECT_EQ(fused->steps_taken(), 100);
    // And the parameters really moved: the comparison is not between two untouched copies.
    Twin fresh = make_twin(1);
    EXPECT_GT(max_rel_diff(t.a, fresh.a), 1e-3);
  }
}

TEST(FusedAdamW, ClipsByGlobalNormLikeTorch) {
  Twin t = make_twin(2);
  auto fused = make_fused_adamw(t.groups_a, {});
  auto reference = make_torch_adamw(t.groups_b, {});
  for (int64_t step = 0; step < 20; ++step) {
    set_grads(t, step);
    const StepReport a = fused->step(1e-3, 0.5), b = reference->step(1e-3, 0.5);
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-9 * b.grad_norm);
    EXPECT_GT(a.grad_norm, 0.5) << "the test must exercise clipping";
  }
  EXPECT_LT(max_rel_diff(t.a, t.b), 1e-6);
}

TEST(FusedAdamW, NonFiniteGradientChangesNothing) {
  Twin t = make_twin(3);
  auto fused = make_fused_adamw(t.groups_a, {});
  set_grads(t, 0);
  fused->step(1e-3, 1.0);
  std::vector<torch::Tensor> before;
  for (auto& p : t.a) before.push_back(p.detach().clone());
  torch::serialize::OutputArchive state_before;
  set_grads(t, 1);
  t.a[3].mutable_grad()[0] = std::numeric_limits<float>::infinity();
  const StepReport r = fused->step(1e-3, 1.0);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(fused->steps_taken(), 1);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], t.a[i])) << i;
  t.a[3].mutable_grad()[0] = std::nanf("");
  EXPECT_TRUE(fused->step(1e-3, 0.0).skipped);
}

TEST(FusedAdamW, GradNormIsBitwiseTheSameForAnyThreadCount) {
  Twin t = make_twin(4);
  set_grads(t, 0);
  const int threads = at::get_num_threads();
  FusedAdamW one(t.groups_a, {});
  at::set_num_threads(1);
  const double n1 = one.step(0.0 + 1e-12, 0.0).grad_norm;
  at::set_num_threads(std::max(2, threads));
  FusedAdamW two(t.groups_b, {});
  const double n2 = two.step(1e-12, 0.0).grad_norm;
  at::set_num_threads(threads);
  EXPECT_EQ(n1, n2);
}

TEST(FusedAdamW, StateRoundTripsThroughAnArchive) {
  Twin t = make_twin(5);
  auto a = make_fused_adamw(t.groups_a, {});
  for (int64_t s = 0; s < 3; ++s) {
    set_grads(t, s);
    a->step(1e-3, 0.0);
  }
  torch::serialize::OutputArchive out;
  a->save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  // A second optimizer over copies of the same parameters, restored from the archive, must take the same step.
  for (size_t i = 0; i < t.a.size(); ++i) t.b[i].detach().copy_(t.a[i].detach());
  auto b = make_fused_adamw(t.groups_b, {});
  torch::serialize::InputArchive in;
  std::istringstream src(bytes.str());
  in.load_from(src);
  b->load(in);
  EXPECT_EQ(b->steps_taken(), 3);
  set_grads(t, 3);
  a->step(1e-3, 0.0);
  b->step(1e-3, 0.0);
  for (size_t i = 0; i < t.a.size(); ++i) EXPECT_TRUE(torch::equal(t.a[i], t.b[i])) << i;
  auto torch_opt = make_torch_adamw(t.groups_b, {});
  torch::serialize::InputArchive again;
  std::istringstream src2(bytes.str());
  again.load_from(src2);
  EXPECT_THROW(torch_opt->load(again), std::runtime_error) << "state of another optimizer kind must be refused";
}
