// The CUDA fused optimizer against the CPU one (same update_rules.h) on the same parameters and gradients.
// Built whenever nvcc is found; skips, saying why, on a machine without a GPU. The torch glue (CUDA tensors,
// every dtype, AMSGrad, the skip flag, checks) is tested in test_fused_optimizer_cuda_glue.cpp.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "trainer/optim/fused_optimizer_cpu.h"
#include "trainer/optim/fused_optimizer_cuda.h"

using namespace imprint;

namespace {

void skip_without_gpu() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0)
    GTEST_SKIP() << "no CUDA device (" << (e != cudaSuccess ? cudaGetErrorString(e) : "0 devices")
                 << "): the CUDA kernels were compiled but not run";
}

float* to_device(const torch::Tensor& t) {
  float* d = nullptr;
  EXPECT_EQ(cudaMalloc(&d, t.numel() * sizeof(float)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d, t.contiguous().data_ptr<float>(), t.numel() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  return d;
}
torch::Tensor to_host(const float* d, const torch::Tensor& like) {
  auto t = torch::empty_like(like);
  EXPECT_EQ(cudaMemcpy(t.data_ptr<float>(), d, t.numel() * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return t;
}

void compare(OptimizerKind kind) {
  // Sizes that cross chunk and pack boundaries: many tensors (> kMaxTensors) and big ones (> kMaxBlocks chunks).
  std::vector<int64_t> sizes{7, 16384, 16385, 100000};
  for (int i = 0; i < 40; ++i) sizes.push_back(1000 + 37 * i);
  sizes.push_back(cuda::kChunk * (cuda::kMaxBlocks + 3) + 5);
  torch::manual_seed(11);
  std::vector<torch::Tensor> cpu;
  ParamGroup decay{{}, 0.05}, none{{}, 0.0};
  std::vector<cuda::TensorRef> refs;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto p = torch::randn({sizes[i]}).set_requires_grad(true);
    cpu.push_back(p);
    (i % 2 ? none : decay).params.push_back(p);
  }
  OptimizerOptions o;
  o.kind = kind;
  FusedOptimizer reference({decay, none}, o);
  // Device copies in the group order the CPU optimizer sees: decay group first.
  std::vector<torch::Tensor> order;
  for (auto* g : {&decay, &none})
    for (auto& p : g->params) order.push_back(p);
  for (size_t i = 0; i < order.size(); ++i) {
    cuda::TensorRef r{};
    r.param = to_device(order[i].detach());
    r.exp_avg = to_device(torch::zeros_like(order[i]));
    r.exp_avg_sq = to_device(torch::zeros_like(order[i]));
    r.grad = nullptr;
    r.numel = order[i].numel();
    r.group = i < decay.params.size() ? 0 : 1;
    refs.push_back(r);
  }
  size_t floats = cuda::workspace_floats(refs);
  float* base = nullptr;
  ASSERT_EQ(cudaMalloc(&base, floats * sizeof(float)), cudaSuccess);
  cuda::Workspace ws{};
  ASSERT_EQ(cuda::prepare_workspace(refs, {0.05f, 0.0f}, base, nullptr, &ws), cudaSuccess);
  for (int64_t step = 1; step <= 5; ++step) {
    for (size_t i = 0; i < order.size(); ++i) {
      auto g = torch::randn_like(order[i]) * 0.1;
      order[i].mutable_grad() = g;
      if (refs[i].grad) cudaFree(const_cast<void*>(refs[i].grad));
      refs[i].grad = to_device(g);
    }
    reference.step(1e-3, 1.0);
    cuda::StepHypers hypers{};
    hypers.groups = 2;
    hypers.group[0] = FusedOptimizer::hyper(o, 1e-3, 0.05);
    hypers.group[1] = FusedOptimizer::hyper(o, 1e-3, 0.0);
    ASSERT_EQ(cuda::begin_step(refs, cuda::ParamType::F32, 1.0f, 1.0f, hypers, ws, nullptr), cudaSuccess);
    const cudaError_t e = kind == OptimizerKind::AdamW ? cuda::adamw_step(refs, cuda::ParamType::F32, ws, nullptr)
                                                       : cuda::lamb_step(refs, cuda::ParamType::F32, ws, nullptr);
    ASSERT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  int taken = 0;  // the device's own update counter drove the bias corrections
  ASSERT_EQ(cudaMemcpy(&taken, ws.step_count, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(taken, 5);
  for (size_t i = 0; i < order.size(); ++i) {
    auto got = to_host(static_cast<float*>(refs[i].param), order[i].detach());
    const double rel = ((got - order[i].detach()).norm() / order[i].detach().norm()).item<double>();
    EXPECT_LT(rel, 1e-5) << "tensor " << i << " of " << order[i].numel() << " elements";
  }
  for (auto& r : refs) {
    cudaFree(r.param);
    cudaFree(const_cast<void*>(r.grad));
    cudaFree(r.exp_avg);
    cudaFree(r.exp_avg_sq);
  }
  cudaFree(base);
}

}  // namespace

TEST(FusedOptimizerCuda, AdamWMatchesTheCpuLoop) {
  skip_without_gpu();
  if (IsSkipped()) return;
  compare(OptimizerKind::AdamW);
}

TEST(FusedOptimizerCuda, LambMatchesTheCpuLoop) {
  skip_without_gpu();
  if (IsSkipped()) return;
  compare(OptimizerKind::Lamb);
}
