#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "models/encoder_spec.h"
#include "trainer/optim/fused_optimizer_cpu.h"
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
    auto fused = make_fused_optimizer(t.groups_a, o);
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
  auto fused = make_fused_optimizer(t.groups_a, {});
  auto reference = make_torch_adamw(t.groups_b, {});
  for (int64_t step = 0; step < 20; ++step) {
    set_grads(t, step);
    const StepReport a = fused->step(1e-3, 0.5), b = reference->step(1e-3, 0.5);
    // The fused norm sums squares in float within a chunk (16 lanes), in double across chunks.
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-6 * b.grad_norm);
    EXPECT_GT(a.grad_norm, 0.5) << "the test must exercise clipping";
  }
  EXPECT_LT(max_rel_diff(t.a, t.b), 1e-6);
}

TEST(FusedAdamW, NonFiniteGradientChangesNothing) {
  Twin t = make_twin(3);
  auto fused = make_fused_optimizer(t.groups_a, {});
  set_grads(t, 0);
  fused->step(1e-3, 1.0);
  std::vector<torch::Tensor> before;
  for (auto& p : t.a) before.push_back(p.detach().clone());
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
  FusedOptimizer one(t.groups_a, {});
  at::set_num_threads(1);
  const double n1 = one.step(0.0 + 1e-12, 0.0).grad_norm;
  at::set_num_threads(std::max(2, threads));
  FusedOptimizer two(t.groups_b, {});
  const double n2 = two.step(1e-12, 0.0).grad_norm;
  at::set_num_threads(threads);
  EXPECT_EQ(n1, n2);
}

TEST(FusedAdamW, StateRoundTripsThroughAnArchive) {
  Twin t = make_twin(5);
  auto a = make_fused_optimizer(t.groups_a, {});
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
  auto b = make_fused_optimizer(t.groups_b, {});
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

namespace {

// LAMB straight from the paper (You et al. 2019, Algorithm 2), in double, one tensor at a time; with Apex's
// convention that parameters without weight decay are not rescaled by the trust ratio.
struct ReferenceLamb {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::vector<torch::Tensor> m, v;
  int64_t t = 0;
  void step(std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads, const std::vector<double>& wd,
            double lr) {
    if (m.empty())
      for (auto& p : params) m.push_back(torch::zeros_like(p)), v.push_back(torch::zeros_like(p));
    ++t;
    for (size_t i = 0; i < params.size(); ++i) {
      m[i] = beta1 * m[i] + (1 - beta1) * grads[i];
      v[i] = beta2 * v[i] + (1 - beta2) * grads[i] * grads[i];
      auto m_hat = m[i] / (1 - std::pow(beta1, t));
      auto v_hat = v[i] / (1 - std::pow(beta2, t));
      auto u = m_hat / (v_hat.sqrt() + eps) + wd[i] * params[i];
      double trust = 1;
      const double pn = params[i].norm().item<double>(), un = u.norm().item<double>();
      if (wd[i] != 0 && pn > 0 && un > 0) trust = pn / un;
      params[i] = params[i] - lr * trust * u;
    }
  }
};

}  // namespace

TEST(FusedLamb, MatchesThePaperOver50Steps) {
  Twin t = make_twin(6);
  OptimizerOptions o;
  o.kind = OptimizerKind::Lamb;
  auto fused = make_fused_optimizer(t.groups_a, o);
  std::vector<torch::Tensor> ref;
  std::vector<double> wd;
  for (auto& g : t.groups_b)
    for (auto& p : g.params) ref.push_back(p.detach().to(torch::kDouble)), wd.push_back(g.weight_decay);
  ReferenceLamb lamb;
  for (int64_t step = 0; step < 50; ++step) {
    set_grads(t, step);
    std::vector<torch::Tensor> grads;
    for (auto& g : t.groups_b)
      for (auto& p : g.params) grads.push_back(p.grad().to(torch::kDouble));
    fused->step(0.01, 0.0);
    lamb.step(ref, grads, wd, 0.01);
  }
  std::vector<torch::Tensor> mine, theirs;
  size_t k = 0;
  for (auto& g : t.groups_a)
    for (auto& p : g.params) mine.push_back(p.detach().to(torch::kDouble)), theirs.push_back(ref[k++]);
  EXPECT_LT(max_rel_diff(mine, theirs), 1e-5);
  Twin fresh = make_twin(6);
  EXPECT_GT(max_rel_diff(t.a, fresh.a), 1e-2) << "LAMB must have moved the parameters";
}

TEST(FusedOptimizer, LossScaleIsUndoneExactly) {
  // A power-of-two loss scale is exact in float: scaled gradients with that loss scale must give bitwise
  // the update of unscaled gradients, clipping included.
  for (auto kind : {OptimizerKind::AdamW, OptimizerKind::Lamb}) {
    Twin t = make_twin(7);
    OptimizerOptions o;
    o.kind = kind;
    auto plain = make_fused_optimizer(t.groups_a, o);
    auto scaled = make_fused_optimizer(t.groups_b, o);
    for (int64_t step = 0; step < 10; ++step) {
      set_grads(t, step);
      for (auto& p : t.b) p.mutable_grad().mul_(1024.0);
      const auto a = plain->step(1e-3, 0.5);
      const auto b = scaled->step(1e-3, 0.5, 1024.0);
      EXPECT_DOUBLE_EQ(a.grad_norm, b.grad_norm);
    }
    for (size_t i = 0; i < t.a.size(); ++i) EXPECT_TRUE(torch::equal(t.a[i], t.b[i])) << i;
  }
}

TEST(FusedOptimizer, LowPrecisionParametersTrackFloat32ThroughMasterWeights) {
  // bf16 and fp16 parameters, fed the same gradient values as a float32 run: the float32 master weights must
  // follow the float32 run exactly, and the model's copy must be the master rounded to its dtype. Without
  // master weights, bf16 parameters would lose updates smaller than 2^-8 of their value.
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    torch::manual_seed(8);
    auto p32 = torch::randn({3000}).set_requires_grad(true);
    auto low = p32.detach().to(dtype).set_requires_grad(true);
    p32.detach().copy_(low.detach().to(torch::kFloat));  // start from the same representable values
    auto a = make_fused_optimizer({ParamGroup{{p32}, 0.01}}, {});
    auto b = make_fused_optimizer({ParamGroup{{low}, 0.01}}, {});
    for (int64_t step = 0; step < 100; ++step) {
      auto g = (torch::randn({3000}) * 0.01).to(dtype);
      low.mutable_grad() = g;
      p32.mutable_grad() = g.to(torch::kFloat);
      a->step(1e-4, 0.0);
      b->step(1e-4, 0.0);
    }
    EXPECT_TRUE(torch::equal(low.detach(), p32.detach().to(dtype)));
    torch::serialize::OutputArchive out;
    b->save(out);
    std::ostringstream bytes;
    out.save_to(bytes);
    torch::serialize::InputArchive in;
    std::istringstream src(bytes.str());
    in.load_from(src);
    torch::Tensor master;
    in.read("master.0", master, true);
    EXPECT_TRUE(torch::equal(master, p32.detach())) << "master weights must equal the float32 run";
    EXPECT_FALSE(torch::equal(master, low.detach().to(torch::kFloat))) << "the test must see sub-ulp updates";
  }
}
