// Waveform -> log-mel spectrogram with torch::stft. A fixed (not learned) front end: its filterbank and
// window are buffers, so they move with the module to the GPU and are saved with it.
#pragma once
#include <torch/nn/module.h>

namespace imprint {

// HTK-style triangular mel filterbank, [n_mels, n_fft / 2 + 1].
torch::Tensor mel_filterbank(int64_t n_mels, int64_t n_fft, int64_t sample_rate);

class LogMelImpl : public torch::nn::Module {
 public:
  LogMelImpl(int64_t sample_rate, int64_t n_fft, int64_t hop, int64_t n_mels);
  // audio [B, T] -> log-mel [B, n_mels, frames], centred frames (reflect padding of n_fft / 2)
  torch::Tensor forward(const torch::Tensor& audio);

 private:
  int64_t n_fft_, hop_;
  torch::Tensor window_, filterbank_;
};
TORCH_MODULE(LogMel);

}  // namespace imprint
