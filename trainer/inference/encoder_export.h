// Using a trained encoder outside training: export it (rebuilt from a checkpoint alone by the checkpoint
// reader, trainer/checkpoint/checkpoint_reader.h) as safetensors weights and a TorchScript module.
//
// The exported TorchScript module takes the raw input it documents (export.json "input"):
//   image: [B, 3, H, W] (or [3, H, W]) float32 RGB in [0, 1] (pixel / 255) or uint8, of ANY size: forward
//          centre-crops and resizes it to the training size S exactly as `imprint pack`/`embed` decode files
//          (TorchScript source), then calls `encode`, the encoder traced on [B, 3, S, S];
//   audio: [B, T] float32 mono in [-1, 1] (int16 / 32768), any T > n_fft / 2; forward(x, sample_rate)
//          resamples audio at another rate to the training rate (windowed sinc; embed uses libsoxr), then
//          calls `encode`, the encoder traced at the training rate;
// and returns (tokens [B, K, D], pooled [B, D]), pooled not normalised (compare by cosine). The trace is
// shape-agnostic in B (and T).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "models/encoder.h"
#include "trainer/checkpoint/checkpoint_reader.h"

namespace imprint {

// The encoder's input from what `imprint pack` stores: HWC uint8 RGB -> [3, S, S] in the training
// normalisation; int16 PCM -> [T]. Both as training reads them (no augmentation).
at::Tensor image_input(const uint8_t* hwc, int64_t size);
at::Tensor audio_input(const int16_t* pcm, int64_t samples);

struct ExportedFiles {
  std::string safetensors, torchscript, metadata;
};
// Writes OUT/model.safetensors, OUT/encoder.torchscript.pt and OUT/export.json (the metadata, readable).
// ip_adapter_embeds (images): the module also gets ip_adapter_image_embeds(image) -> [B, 1, K*D], its tokens
// flattened: the image embeds of one IP-Adapter image that a diffusers adapter exported beside it projects
// (trainer/inference/diffusers_export.h).
ExportedFiles export_encoder(const TrainedEncoder& trained, const std::string& out_dir, bool ip_adapter_embeds = false);

}  // namespace imprint
