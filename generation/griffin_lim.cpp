#include "generation/griffin_lim.h"

#include <ATen/ATen.h>

namespace imprint {

namespace {

at::Tensor window_for(const at::Tensor& like, int64_t n_fft) {
  return at::hann_window(n_fft, like.options().dtype(at::kFloat));
}

at::Tensor forward_stft(const at::Tensor& x, const at::Tensor& window, const GriffinLimOptions& o) {
  return at::stft(x, o.n_fft, o.hop, o.n_fft, window, /*center=*/true, /*pad_mode=*/"reflect", /*normalized=*/false,
                  /*onesided=*/true, /*return_complex=*/true);
}

at::Tensor inverse_stft(const at::Tensor& spectrum, const at::Tensor& window, int64_t length,
                        const GriffinLimOptions& o) {
  return at::istft(spectrum, o.n_fft, o.hop, o.n_fft, window, /*center=*/true, /*normalized=*/false,
                   /*onesided=*/true, length, /*return_complex=*/false);
}

}  // namespace

at::Tensor griffin_lim(const at::Tensor& magnitude, int64_t length, const GriffinLimOptions& o) {
  TORCH_CHECK(magnitude.dim() == 3 && magnitude.size(1) == o.n_fft / 2 + 1, "griffin_lim: expected [B, ",
              o.n_fft / 2 + 1, ", frames] magnitudes, got ", magnitude.sizes());
  const auto mag = magnitude.to(at::kFloat).clamp_min(0);
  const auto window = window_for(mag, o.n_fft);
  auto angles = at::ones_like(mag, mag.options().dtype(at::kComplexFloat));  // phase 0
  at::Tensor previous = at::zeros_like(angles);
  const double beta = o.momentum / (1.0 + o.momentum);
  for (int64_t i = 0; i < o.iterations; ++i) {
    const auto x = inverse_stft(mag * angles, window, length, o);
    auto rebuilt = forward_stft(x, window, o);
    // The fast variant: step past the projection by the momentum term, then keep only the phase.
    auto step = rebuilt - beta * previous;
    previous = rebuilt;
    angles = step / (step.abs() + 1e-16);
  }
  return inverse_stft(mag * angles, window, length, o);
}

double spectral_convergence(const at::Tensor& magnitude, const at::Tensor& waveform, const GriffinLimOptions& o) {
  const auto got = forward_stft(waveform.to(at::kFloat), window_for(waveform, o.n_fft), o).abs();
  const int64_t frames = std::min(got.size(-1), magnitude.size(-1));
  const auto want = magnitude.to(at::kFloat).narrow(-1, 0, frames);
  return ((want - got.narrow(-1, 0, frames)).norm() / want.norm().clamp_min(1e-12)).item<double>();
}

}  // namespace imprint
