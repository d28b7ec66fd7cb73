// Using a trained encoder outside training: rebuild it from a checkpoint alone (the model signature stored
// in the checkpoint says how it was built), and export it as safetensors weights and a TorchScript module.
//
// The exported TorchScript module is the encoder traced on the raw input it documents:
//   image: [B, 3, S, S] float32 RGB in [0, 1] (pixel / 255), S = the training image size;
//   audio: [B, T] float32 mono in [-1, 1] (int16 / 32768) at the training sample rate, any T > n_fft / 2;
// and returns (tokens [B, K, D], pooled [B, D]). The trace is shape-agnostic in B (and T).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "models/encoder.h"

namespace imprint {

struct TrainedEncoder {
  std::shared_ptr<Encoder> encoder;  // in eval mode
  EncoderSpec spec;
  int64_t step = 0;
  std::map<std::string, std::string> signature;
  std::string checkpoint;
  bool averaged_weights = false;  // the run kept a weight average (ema.decay) and these are its weights
};

// Throws CheckpointError naming the file when it is not a readable imprint encoder checkpoint.
TrainedEncoder load_trained_encoder(const std::string& checkpoint);
// The same, leaving the verified checkpoint in `archive` for callers that read more of it.
TrainedEncoder load_trained_encoder(const std::string& checkpoint, torch::serialize::InputArchive& archive);

// The encoder's input from what `imprint pack` stores: HWC uint8 RGB -> [3, S, S] in the training
// normalisation; int16 PCM -> [T]. Both as training reads them (no augmentation).
at::Tensor image_input(const uint8_t* hwc, int64_t size);
at::Tensor audio_input(const int16_t* pcm, int64_t samples);

struct ExportedFiles {
  std::string safetensors, torchscript, metadata;
};
// Writes OUT/model.safetensors, OUT/encoder.torchscript.pt and OUT/export.json (the metadata, readable).
ExportedFiles export_encoder(const TrainedEncoder& trained, const std::string& out_dir);

}  // namespace imprint
