#include "models/log_mel.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

namespace imprint {
namespace {
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }
}  // namespace

torch::Tensor mel_filterbank(int64_t n_mels, int64_t n_fft, int64_t sample_rate) {
  const int64_t bins = n_fft / 2 + 1;
  std::vector<double> edges(n_mels + 2);
  const double top = hz_to_mel(sample_rate / 2.0);
  for (int64_t i = 0; i < n_mels + 2; ++i) edges[i] = mel_to_hz(top * i / (n_mels + 1));
  auto fb = torch::zeros({n_mels, bins});
  auto a = fb.accessor<float, 2>();
  for (int64_t m = 0; m < n_mels; ++m) {
    const double lo = edges[m], mid = edges[m + 1], hi = edges[m + 2];
    for (int64_t k = 0; k < bins; ++k) {
      const double hz = static_cast<double>(k) * sample_rate / n_fft;
      double w = 0;
      if (hz > lo && hz <= mid)
        w = (hz - lo) / (mid - lo);
      else if (hz > mid && hz < hi)
        w = (hi - hz) / (hi - mid);
      a[m][k] = static_cast<float>(w);
    }
  }
  return fb;
}

LogMelImpl::LogMelImpl(int64_t sample_rate, int64_t n_fft, int64_t hop, int64_t n_mels) : n_fft_(n_fft), hop_(hop) {
  window_ = register_buffer("window", torch::hann_window(n_fft));
  filterbank_ = register_buffer("filterbank", mel_filterbank(n_mels, n_fft, sample_rate));
}

torch::Tensor LogMelImpl::forward(const torch::Tensor& audio) {
  TORCH_CHECK(audio.dim() == 2, "log-mel expects [B, T] audio, got ", audio.sizes());
  TORCH_CHECK(audio.size(1) > n_fft_ / 2, "audio clip of ", audio.size(1), " samples is too short for n_fft ", n_fft_);
  auto padded = at::reflection_pad1d(audio.unsqueeze(1), {n_fft_ / 2, n_fft_ / 2}).squeeze(1);
  auto spec = at::stft(padded, n_fft_, hop_, n_fft_, window_, /*normalized=*/false, /*onesided=*/true,
                       /*return_complex=*/true);                // [B, bins, frames]
  auto power = at::view_as_real(spec).pow(2).sum(-1);           // [B, bins, frames]
  return torch::log(torch::matmul(filterbank_, power) + 1e-6);  // [B, n_mels, frames]
}

}  // namespace imprint
