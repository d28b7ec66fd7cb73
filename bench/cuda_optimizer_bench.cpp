// The fused CUDA AdamW step against torch's own fused AdamW kernel (at::_fused_adamw_, what
// torch.optim.AdamW(fused=True) runs) and against this GPU's device-to-device copy bandwidth, measured in
// the same run on the same GPU (nccl-tests style: what was measured, against what, in one table).
//
//   ./build-gpu/bench/cuda_optimizer_bench [total_mparams=256] [tensors=1,64]
//
// Bytes per float32 parameter per step: imprint reads g for the global norm (4 B: the norm also decides the
// skip-on-non-finite flag and clipping), then reads p, g, m, v and writes p, m, v (28 B): 32 B. torch's
// fused kernel alone moves the 28 B; torch with clipping (clip_grad_norm_, a foreach norm, then the fused
// kernel with grad_scale) is the fair like-for-like. Copy: dst.copy_(src), 2 B per byte copied (read +
// write). Each timing is the median of 7 batches of CUDA-event-timed iterations after warm-up.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/optim/optimizer.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Milliseconds per call of f on the current stream: median of 7 batches of `iters`, after 3 warm-ups.
double time_ms(const std::function<void()>& f, int iters) {
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> batches;
  for (int b = 0; b < 7; ++b) {
    at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
    const auto stream = c10::cuda::getCurrentCUDAStream();
    start.record(stream);
    for (int i = 0; i < iters; ++i) f();
    stop.record(stream);
    stop.synchronize();
    batches.push_back(start.elapsed_time(stop) / iters);
  }
  return median(batches);
}

std::vector<int64_t> split(int64_t total, int tensors) {
  // Uneven sizes, as a model has: tensor i gets a share proportional to (i % 7 + 1).
  std::vector<int64_t> weights(tensors), sizes(tensors);
  int64_t wsum = 0;
  for (int i = 0; i < tensors; ++i) wsum += weights[i] = i % 7 + 1;
  int64_t used = 0;
  for (int i = 0; i < tensors; ++i) used += sizes[i] = total * weights[i] / wsum;
  sizes[0] += total - used;
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  if (c10::cuda::device_count() == 0) {
    std::printf("cuda_optimizer_bench: SKIPPED: no CUDA device\n");
    return 77;
  }
  const int64_t total = (argc > 1 ? std::atoll(argv[1]) : 256) * 1000000;
  std::vector<int> tensor_counts{1, 64};
  if (argc > 2) {
    tensor_counts.clear();
    std::stringstream ss(argv[2]);
    for (std::string t; std::getline(ss, t, ',');) tensor_counts.push_back(std::atoi(t.c_str()));
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, c10::cuda::current_device());
  std::printf("# device: %s, %d SMs, %.1f GiB; torch %s\n", prop.name, prop.multiProcessorCount,
              prop.totalGlobalMem / double(1 << 30), TORCH_VERSION);
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);

  // The yardstick: device-to-device copy of the same number of float32 values.
  at::Tensor src = at::randn({total}, f32), dst = at::empty({total}, f32);
  const double copy_ms = time_ms([&] { dst.copy_(src); }, 20);
  const double copy_gbs = 2.0 * 4 * total / (copy_ms * 1e6);
  src.reset();
  dst.reset();
  std::printf("# copy: %.2f ms for %lld floats = %.0f GB/s (read + write)\n", copy_ms, (long long)total, copy_gbs);
  std::printf("%8s %10s | %24s | %24s | %24s | %10s %10s %10s\n", "tensors", "params", "imprint fused (norm+step)",
              "torch _fused_adamw_", "torch clip + fused", "imprint", "speed-up", "speed-up");
  std::printf("%8s %10s | %11s %12s | %11s %12s | %11s %12s | %10s %10s %10s\n", "", "", "ms", "GB/s", "ms", "GB/s",
              "ms", "GB/s", "vs copy", "vs fused", "vs clip+f");
  for (int count : tensor_counts) {
    torch::manual_seed(0);
    std::vector<at::Tensor> params, grads, m, v, steps, empty;
    for (int64_t n : split(total, count)) {
      params.push_back(at::randn({n}, f32).requires_grad_(true));
      grads.push_back(at::randn({n}, f32) * 0.01);
      params.back().mutable_grad() = grads.back();
    }
    // imprint
    double imprint_ms;
    {
      auto opt = imprint::make_fused_optimizer({imprint::ParamGroup{params, 0.01}}, {});
      imprint_ms = time_ms([&] { opt->step_async(1e-3, 1.0); }, 10);
    }
    // torch's fused kernel, then with clipping (the same work as imprint's norm pass + step)
    double torch_ms = 0, torch_clip_ms = 0;
#if TORCH_VERSION_MAJOR >= 2
    {
      for (auto& p : params) {
        m.push_back(at::zeros_like(p));
        v.push_back(at::zeros_like(p));
        steps.push_back(at::zeros({}, f32));
      }
      std::vector<at::Tensor> data;
      for (auto& p : params) data.push_back(p.detach());
      auto fused = [&](const c10::optional<at::Tensor>& scale) {
        at::_fused_adamw_(data, grads, m, v, empty, steps, 1e-3, 0.9, 0.999, 0.01, 1e-8, false, false, scale,
                          c10::nullopt);
      };
      torch_ms = time_ms([&] { fused(c10::nullopt); }, 10);
      torch_clip_ms = time_ms(
          [&] {
            // clip_grad_norm_ without reading the norm back (torch >= 2 keeps it on the device)
            at::Tensor norm = at::linalg_vector_norm(at::stack(at::_foreach_norm(grads)), 2);
            at::Tensor coef = at::clamp_max(1.0 / (norm + 1e-6), 1.0);
            at::_foreach_mul_(grads, coef);
            fused(c10::nullopt);
          },
          10);
    }
#endif
    const double bytes = 32.0 * total, torch_bytes = 28.0 * total;
    std::printf("%8d %9.0fM | %11.3f %12.0f | %11.3f %12.0f | %11.3f %12.0f | %9.0f%% %9.2fx %9.2fx\n", count,
                total / 1e6, imprint_ms, bytes / (imprint_ms * 1e6), torch_ms,
                torch_ms > 0 ? torch_bytes / (torch_ms * 1e6) : 0.0, torch_clip_ms,
                torch_clip_ms > 0 ? bytes / (torch_clip_ms * 1e6) : 0.0, 100.0 * bytes / (imprint_ms * 1e6) / copy_gbs,
                torch_ms > 0 ? torch_ms / imprint_ms : 0.0, torch_clip_ms > 0 ? torch_clip_ms / imprint_ms : 0.0);
  }
  std::printf("# targets (issue 11): imprint >= 80%% of copy bandwidth and >= 1.2x torch's fused AdamW\n");
  return 0;
}
