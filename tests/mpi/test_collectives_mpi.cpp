// Every collective of the MPI backend against a reference each rank computes on its own.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include "collectives/all_gather_autograd.h"
#include "collectives/free_core.h"
#include "collectives/gradient_reducer.h"
#include "tests/mpi/mpi_world.h"

using namespace imprint;
using imprint::testing::g_world;

namespace {
// What rank r contributes: distinct per rank and per element, exactly representable.
at::Tensor contribution(int r, int64_t n, at::ScalarType type = at::kFloat) {
  return (at::arange(n, at::kDouble) * 3 + r * 1000).to(type);
}
at::Tensor sum_over_ranks(int64_t n, at::ScalarType type = at::kFloat) {
  at::Tensor s = at::zeros({n}, at::kDouble);
  for (int r = 0; r < g_world->size(); ++r) s += contribution(r, n);
  return s.to(type);
}
}  // namespace

TEST(MpiCollectives, AllreduceSumAverageMax) {
  const int me = g_world->rank(), w = g_world->size();
  for (int64_t n : {1, 1000, 1 << 20}) {
    at::Tensor t = contribution(me, n);
    g_world->allreduce_(t, ReduceOp::Sum);
    EXPECT_TRUE(at::equal(t, sum_over_ranks(n))) << n;
    at::Tensor a = contribution(me, n, at::kDouble);
    g_world->allreduce_(a, ReduceOp::Average);
    EXPECT_TRUE(at::allclose(a, sum_over_ranks(n, at::kDouble) / w)) << n;
    at::Tensor m = contribution(me, n).to(at::kLong);
    g_world->allreduce_(m, ReduceOp::Max);
    EXPECT_TRUE(at::equal(m, contribution(w - 1, n).to(at::kLong))) << n;
  }
}

// A rank that reaches a collective early waits without taking a core that other work wants: the last rank
// arrives 1.5 s late, computing meanwhile on as many threads as the machine has cores, and every other
// rank's process uses a small fraction of a core (OpenMPI's blocking collectives poll without pause: a whole
// core each, or what the oversubscribed machine gives it). On a machine with a free core the wait may poll
// (it costs nobody anything); the late rank's threads leave none.
TEST(MpiCollectives, AnEarlyRankWaitsWithoutSpinning) {
  const auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const bool late = g_world->rank() == g_world->size() - 1;
  g_world->barrier();
  if (late) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    const int cores = FreeCoreProbe().cores();
    std::vector<std::thread> busy;
    for (int i = 0; i < cores; ++i)
      busy.emplace_back([until] {
        volatile uint64_t x = 0;
        while (std::chrono::steady_clock::now() < until) x = x + 1;
      });
    for (auto& t : busy) t.join();
  }
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  at::Tensor t = at::ones({1000});
  g_world->allreduce_(t, ReduceOp::Sum);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = cpu_seconds() - cpu0;
  EXPECT_EQ(t[0].item<float>(), static_cast<float>(g_world->size()));
  if (!late) {
    EXPECT_GT(wall, 1.0) << "the late rank was not waited for";
    EXPECT_LT(cpu, 0.2 * wall) << "rank " << g_world->rank() << " used " << cpu << " s of CPU in " << wall
                               << " s waiting for a peer: the wait spins";
  }
}

TEST(MpiCollectives, AllreduceOfBfloat16AndFloat16) {
  // Small integers: exact in both types, so the float32-accumulating user ops must give exact results.
  const int me = g_world->rank(), w = g_world->size();
  for (at::ScalarType type : {at::kBFloat16, at::kHalf}) {
    const at::Tensor k = at::arange(3000, at::kDouble).remainder(5);
    at::Tensor t = ((me + 1) * k).to(type);
    g_world->allreduce_(t, ReduceOp::Sum);
    EXPECT_TRUE(at::equal(t.to(at::kDouble), (w * (w + 1) / 2) * k)) << at::toString(type);
    at::Tensor m = ((me + 1) * k).to(type);
    g_world->allreduce_(m, ReduceOp::Max);
    EXPECT_TRUE(at::equal(m.to(at::kDouble), w * k)) << at::toString(type);
    at::Tensor a = (2 * w * k).to(type);  // the same on every rank: the average is itself
    g_world->allreduce_(a, ReduceOp::Average);
    EXPECT_TRUE(at::equal(a.to(at::kDouble), 2 * w * k)) << at::toString(type);
  }
}

TEST(MpiCollectives, SeveralAsyncAllreducesInFlight) {
  std::vector<at::Tensor> ts;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 6; ++i) {
    ts.push_back(contribution(g_world->rank(), 5000 + i));
    works.push_back(g_world->allreduce_async_(ts.back(), ReduceOp::Sum));
  }
  for (int i = 5; i >= 0; --i) works[i]->wait();  // any completion order
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(at::equal(ts[i], sum_over_ranks(5000 + i))) << i;
}

TEST(MpiCollectives, AllgatherBroadcastReduceScatterBarrier) {
  const int me = g_world->rank(), w = g_world->size();
  const at::Tensor mine = contribution(me, 6).view({2, 3});
  const at::Tensor all = g_world->allgather(mine);
  ASSERT_EQ(all.sizes(), (std::vector<int64_t>{2 * w, 3}));
  for (int r = 0; r < w; ++r) EXPECT_TRUE(at::equal(all.slice(0, 2 * r, 2 * r + 2), contribution(r, 6).view({2, 3})));

  at::Tensor b = contribution(me, 10);
  g_world->broadcast_(b, w - 1);
  EXPECT_TRUE(at::equal(b, contribution(w - 1, 10)));

  const at::Tensor rs = g_world->reduce_scatter(contribution(me, 4 * w), ReduceOp::Sum);
  EXPECT_TRUE(at::equal(rs, sum_over_ranks(4 * w).slice(0, 4 * me, 4 * me + 4)));
  g_world->barrier();
}

TEST(MpiCollectives, AllGatherBackwardSumsEveryRanksGradient) {
  // loss_r = sum(weights_r * gathered): the gradient reaching rank r's rows is sum over ranks of weights_s
  // restricted to those rows.
  const int me = g_world->rank(), w = g_world->size();
  at::Tensor x = contribution(me, 4).to(at::kDouble).view({2, 2}).set_requires_grad(true);
  at::Tensor gathered = all_gather_with_grad(x, *g_world);
  at::Tensor weights = at::full({2 * w, 2}, me + 1.0, at::kDouble);
  (gathered * weights).sum().backward();
  const double expected = w * (w + 1) / 2.0;  // sum over ranks of (rank + 1)
  EXPECT_TRUE(at::allclose(x.grad(), at::full({2, 2}, expected, at::kDouble)));
}

TEST(GradientReducer, AveragesInBucketsAndHandlesAccumulation) {
  const int me = g_world->rank(), w = g_world->size();
  // Three parameters, tiny buckets so there are several; gradient of p_k = (rank + 1) * (k + 1).
  std::vector<at::Tensor> params;
  for (int k = 0; k < 3; ++k) params.push_back(at::zeros({1000 + k}, at::kFloat).set_requires_grad(true));
  GradientReducer::Options o;
  o.bucket_bytes = 4000;
  o.first_bucket_bytes = 100;
  GradientReducer reducer(params, {"a", "b", "c"}, *g_world, o);
  EXPECT_GE(reducer.bucket_count(), 3u);
  auto backward = [&](double factor) {
    at::Tensor loss = at::zeros({}, at::kFloat);
    for (int k = 0; k < 3; ++k) loss = loss + params[k].sum() * static_cast<float>(factor * (me + 1) * (k + 1));
    loss.backward();
  };
  reducer.prepare(true);
  backward(1.0);
  reducer.finalize();
  const double mean_rank = (w + 1) / 2.0;
  for (int k = 0; k < 3; ++k)
    EXPECT_TRUE(at::allclose(params[k].grad(), at::full_like(params[k], mean_rank * (k + 1)))) << k;
  // Two micro-batches: the first accumulates locally (no communication), the second reduces the total.
  for (auto& p : params) p.mutable_grad() = at::Tensor();
  reducer.prepare(false);
  backward(1.0);
  reducer.prepare(true);
  backward(2.0);
  reducer.finalize();
  for (int k = 0; k < 3; ++k)
    EXPECT_TRUE(at::allclose(params[k].grad(), at::full_like(params[k], 3 * mean_rank * (k + 1)))) << k;
}

// distributed.grad_compression: bf16 — what reaches .grad is the average of the gradients as bfloat16
// carries it (within bf16 rounding of the float32 average, and bf16-representable), not the float32 one.
TEST(GradientReducer, Bf16CompressionRoundsWhatTravels) {
  const int me = g_world->rank(), w = g_world->size();
  at::Tensor p = at::zeros({5000}, at::kFloat).set_requires_grad(true);
  at::Tensor q = at::zeros({5000}, at::kFloat).set_requires_grad(true);
  GradientReducer::Options plain, packed;
  packed.wire = at::kBFloat16;
  GradientReducer a({p}, {"p"}, *g_world, plain), b({q}, {"q"}, *g_world, packed);
  // Gradient 1 + (i + rank) / 3001: not representable in bfloat16.
  const at::Tensor g = 1 + (at::arange(5000, at::kFloat) + me) / 3001.0f;
  a.prepare(true);
  b.prepare(true);
  (p * g).sum().backward();
  (q * g).sum().backward();
  a.finalize();
  b.finalize();
  at::Tensor want = at::zeros({5000}, at::kDouble);
  for (int r = 0; r < w; ++r) want += 1 + (at::arange(5000, at::kDouble) + r) / 3001.0;
  want /= w;
  EXPECT_LT((p.grad().to(at::kDouble) - want).abs().max().item<double>(), 1e-6);
  const double err = ((q.grad().to(at::kDouble) - want).abs() / want).max().item<double>();
  EXPECT_GT(err, 1e-5) << "the compressed average is as exact as float32: nothing was compressed";
  EXPECT_LT(err, 3 * std::ldexp(1.0, -8)) << "beyond bfloat16 rounding (sum and scale, each 2^-9 relative)";
  EXPECT_TRUE(at::equal(q.grad(), q.grad().to(at::kBFloat16).to(at::kFloat))) << "not bfloat16-representable";
}

TEST(GradientReducer, TakesBfloat16Parameters) {
  const int me = g_world->rank(), w = g_world->size();
  at::Tensor p = at::zeros({300}, at::kBFloat16).set_requires_grad(true);
  GradientReducer reducer({p}, {"p"}, *g_world, {});
  reducer.prepare(true);
  (p.to(at::kFloat) * static_cast<float>(me + 1)).sum().backward();
  reducer.finalize();
  EXPECT_EQ(p.grad().scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(p.grad().to(at::kDouble), at::full({300}, (w + 1) / 2.0, at::kDouble)));
  at::Tensor d = at::zeros({3}, at::kDouble).set_requires_grad(true);
  EXPECT_THROW(GradientReducer({d}, {"d"}, *g_world, {}), std::invalid_argument);
}

TEST(GradientReducer, UnusedParameterIsNamedOrToleratedOnRequest) {
  std::vector<at::Tensor> params{at::ones({10}).set_requires_grad(true), at::ones({10}).set_requires_grad(true)};
  {
    GradientReducer reducer(params, {"used", "frozen_branch.weight"}, *g_world, {});
    reducer.prepare(true);
    params[0].sum().backward();
    try {
      reducer.finalize();
      FAIL() << "no error for a parameter without gradient";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("frozen_branch.weight"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("find_unused_parameters"), std::string::npos) << e.what();
    }
  }
  for (auto& p : params) p.mutable_grad() = at::Tensor();
  GradientReducer::Options o;
  o.find_unused_parameters = true;
  GradientReducer reducer(params, {"used", "sometimes"}, *g_world, o);
  reducer.prepare(true);
  // Rank 0 alone uses the second parameter: everyone gets its gradient averaged with zeros.
  at::Tensor loss = params[0].sum();
  if (g_world->rank() == 0) loss = loss + params[1].sum();
  loss.backward();
  reducer.finalize();
  ASSERT_TRUE(params[1].grad().defined());
  EXPECT_TRUE(at::allclose(params[1].grad(), at::full({10}, 1.0f / g_world->size())));
}
