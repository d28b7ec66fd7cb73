// The CUDA fused optimizer as the trainer uses it (CUDA tensors through make_fused_optimizer) against the
// CPU one on the same parameters and gradients: every parameter dtype (float32; bfloat16 and float16 with
// float32 master weights), AMSGrad, LAMB, clipping, the skip-on-non-finite flag with the device-side update
// counter, the tensor checks, and a checkpoint moving between the two. Needs a CUDA build of libtorch; skips,
// saying why, on a machine without a GPU.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/serialize/archive.h>

#include <sstream>

#include "trainer/optim/fused_optimizer_cpu.h"
#include "trainer/optim/optimizer.h"

using namespace imprint;

namespace {

#define SKIP_WITHOUT_GPU()          \
  if (!torch::cuda::is_available()) \
  GTEST_SKIP() << "no CUDA device visible to libtorch: the CUDA optimizer glue was compiled but not run"

struct Case {
  OptimizerKind kind;
  bool amsgrad;
  at::ScalarType dtype;
};

std::string name(const Case& c) {
  return std::string(c.kind == OptimizerKind::AdamW ? (c.amsgrad ? "AdamW+AMSGrad" : "AdamW") : "LAMB") + " " +
         at::toString(c.dtype);
}

// Sizes across the kernels' chunk (16384) and pack (32 tensors, 192 chunks) boundaries.
std::vector<int64_t> sizes() {
  std::vector<int64_t> s{7, 16384, 16385, 100000, 16384 * 195 + 5};
  for (int i = 0; i < 36; ++i) s.push_back(1000 + 37 * i);
  return s;
}

// Runs `steps` steps on CPU and GPU copies of the same parameters, with gradient `inf_at` (1-based) made
// non-finite on both; returns the largest relative difference of the parameters.
double compare(const Case& c, int steps, int inf_at) {
  torch::manual_seed(5);
  OptimizerOptions o;
  o.kind = c.kind;
  o.amsgrad = c.amsgrad;
  std::vector<at::Tensor> cpu, gpu;
  ParamGroup cd{{}, 0.05}, cn{{}, 0.0}, gd{{}, 0.05}, gn{{}, 0.0};
  const auto all = sizes();
  for (size_t i = 0; i < all.size(); ++i) {
    at::Tensor p = torch::randn({all[i]}).to(c.dtype);
    cpu.push_back(p.clone().set_requires_grad(true));
    gpu.push_back(p.to(at::kCUDA).set_requires_grad(true));
    (i % 2 ? cn : cd).params.push_back(cpu.back());
    (i % 2 ? gn : gd).params.push_back(gpu.back());
  }
  auto a = make_fused_optimizer({cd, cn}, o);
  auto b = make_fused_optimizer({gd, gn}, o);
  for (int step = 1; step <= steps; ++step) {
    for (size_t i = 0; i < cpu.size(); ++i) {
      at::Tensor g = (torch::randn_like(cpu[i], at::kFloat) * 0.1).to(c.dtype);
      if (step == inf_at && i == 3) g[0] = std::numeric_limits<float>::infinity();
      if (i == 5 && step == 2) {  // an unused parameter this step: no gradient, no update
        cpu[i].mutable_grad() = at::Tensor();
        gpu[i].mutable_grad() = at::Tensor();
        continue;
      }
      cpu[i].mutable_grad() = g;
      gpu[i].mutable_grad() = g.to(at::kCUDA);
    }
    const StepReport ra = a->step(1e-3, 1.0);
    const StepReport rb = b->step_async(1e-3, 1.0);
    EXPECT_FALSE(rb.known) << "step_async on a GPU must not read the report back";
    const StepReport rc = b->last_report();
    EXPECT_EQ(ra.skipped, step == inf_at) << name(c) << " step " << step;
    EXPECT_EQ(rc.skipped, ra.skipped) << name(c) << " step " << step;
    if (!ra.skipped) {
      EXPECT_NEAR(rc.grad_norm, ra.grad_norm, 1e-4 * ra.grad_norm) << name(c) << " step " << step;
    }
  }
  EXPECT_EQ(a->steps_taken(), b->steps_taken()) << name(c);
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const at::Tensor x = cpu[i].detach().to(at::kFloat), y = gpu[i].detach().to(at::kCPU).to(at::kFloat);
    worst = std::max(worst, ((x - y).norm() / x.norm()).item<double>());
  }
  return worst;
}

}  // namespace

TEST(FusedOptimizerCudaGlue, EveryDtypeAndRuleMatchesTheCpuOptimizer) {
  SKIP_WITHOUT_GPU();
  // float32 agrees to rounding; bf16/f16 parameters are the float32 master weights rounded, so a one-ulp
  // difference of the master can round to a different low-precision value (relative 2^-8 / 2^-11 per element
  // at most, far less over a tensor).
  for (const Case& c :
       {Case{OptimizerKind::AdamW, false, at::kFloat}, Case{OptimizerKind::AdamW, true, at::kFloat},
        Case{OptimizerKind::Lamb, false, at::kFloat}, Case{OptimizerKind::AdamW, false, at::kBFloat16},
        Case{OptimizerKind::AdamW, true, at::kBFloat16}, Case{OptimizerKind::Lamb, false, at::kBFloat16},
        Case{OptimizerKind::AdamW, false, at::kHalf}, Case{OptimizerKind::Lamb, false, at::kHalf}}) {
    const double tol = c.dtype == at::kFloat ? 1e-5 : c.dtype == at::kHalf ? 1e-3 : 4e-3;
    EXPECT_LT(compare(c, 4, /*inf_at=*/0), tol) << name(c);
  }
}

TEST(FusedOptimizerCudaGlue, NonFiniteGradientSkipsTheStepOnTheDevice) {
  SKIP_WITHOUT_GPU();
  // Step 2 is skipped on both; the bias corrections of steps 3..5 then use update numbers 2..4 on both,
  // which the GPU knows from its own counter without a host round trip.
  for (const Case& c : {Case{OptimizerKind::AdamW, false, at::kFloat}, Case{OptimizerKind::Lamb, false, at::kFloat},
                        Case{OptimizerKind::AdamW, true, at::kBFloat16}})
    EXPECT_LT(compare(c, 5, /*inf_at=*/2), c.dtype == at::kFloat ? 1e-5 : 4e-3) << name(c);
}

TEST(FusedOptimizerCudaGlue, CheckpointMovesBetweenGpuAndCpu) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(9);
  OptimizerOptions o;
  at::Tensor init = torch::randn({5000});
  at::Tensor pg = init.to(at::kCUDA).set_requires_grad(true);
  at::Tensor pc = init.clone().set_requires_grad(true);
  auto gpu = make_fused_optimizer({ParamGroup{{pg}, 0.01}}, o);
  auto cpu = make_fused_optimizer({ParamGroup{{pc}, 0.01}}, o);
  std::vector<at::Tensor> grads;
  for (int i = 0; i < 6; ++i) grads.push_back(torch::randn({5000}) * 0.1);
  for (int i = 0; i < 3; ++i) {
    pg.mutable_grad() = grads[i].to(at::kCUDA);
    gpu->step_async(1e-2, 0.0);
  }
  torch::serialize::OutputArchive out;
  gpu->save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  pc.detach().copy_(pg.detach().cpu());
  cpu->load(in);
  EXPECT_EQ(cpu->steps_taken(), 3);
  for (int i = 3; i < 6; ++i) {
    pg.mutable_grad() = grads[i].to(at::kCUDA);
    pc.mutable_grad() = grads[i];
    gpu->step_async(1e-2, 0.0);
    cpu->step(1e-2, 0.0);
  }
  EXPECT_LT(((pg.detach().cpu() - pc.detach()).norm() / pc.detach().norm()).item<double>(), 1e-6);
  EXPECT_EQ(gpu->steps_taken(), 6);
}

TEST(FusedOptimizerCudaGlue, RejectsTensorsItCannotUpdateWithOneMessage) {
  SKIP_WITHOUT_GPU();
  OptimizerOptions o;
  at::Tensor p = torch::zeros({10}, at::TensorOptions().device(at::kCUDA)).set_requires_grad(true);
  auto opt = make_fused_optimizer({ParamGroup{{p}, 0.0}}, o);
  auto expect_message = [&](const at::Tensor& grad, const std::string& fragment) {
    p.mutable_grad() = grad;
    try {
      opt->step_async(1e-3, 0.0);
      ADD_FAILURE() << "no error for a gradient that should be refused (" << fragment << ")";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("gradient of parameter 0"), std::string::npos) << e.what();
    }
  };
  expect_message(torch::zeros({10}, at::TensorOptions().device(at::kCUDA).dtype(at::kDouble)), "Double");
  expect_message(torch::zeros({10}), "on cpu");
  expect_message(torch::zeros({11}, at::TensorOptions().device(at::kCUDA)), "[11]");
  expect_message(torch::zeros({20}, at::TensorOptions().device(at::kCUDA)).slice(0, 0, 20, 2), "not contiguous");
  // Parameters: one dtype, one device, contiguous.
  at::Tensor a = torch::zeros({4}, at::TensorOptions().device(at::kCUDA));
  at::Tensor b = torch::zeros({4}, at::TensorOptions().device(at::kCUDA).dtype(at::kHalf));
  EXPECT_THROW(make_fused_optimizer({ParamGroup{{a, b}, 0.0}}, o), std::invalid_argument);
  o.kind = OptimizerKind::Lamb;
  o.amsgrad = true;
  EXPECT_THROW(make_fused_optimizer({ParamGroup{{a}, 0.0}}, o), std::invalid_argument);
}
