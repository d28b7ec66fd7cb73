// `imprint generate`: from a checkpoint trained with a generator and ONE reference (image, or audio clip) per
// identity, a PNG grid: for each reference, a row [reference | a sample for each content label] and under it
// the same samples (same starting noise) with the identity tokens dropped, which shows what the identity adds.
// Audio shows as log-mel pictures, and the clips are also written as WAVs (16-bit PCM at the run's sample rate)
// into a folder beside the PNG (OUT.png -> OUT-wav/): NN-<reference>-reference.wav, NN-<reference>-<label>.wav
// and NN-<reference>-<label>-no-identity.wav. Encoder and
// generator are rebuilt by the checkpoint reader (trainer/checkpoint/checkpoint_reader.h).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "generation/ddim_sampler.h"

namespace imprint {

struct GenerateOptions {
  std::string checkpoint;
  std::string reference;  // one image (or audio) file, or
  std::string data;       // a dataset: sample 0 of each held-out identity is a reference
  int64_t max_references = 8;
  std::string content;  // comma-separated labels (names with --data, else indices); "" = the first 16, "all"
  std::string out = "generated.png";
  int64_t zoom = 4;  // each pixel drawn as zoom x zoom
  SamplerOptions sampler;
  std::function<void(int64_t done, int64_t total)> progress;
};

struct GenerateReport {
  int64_t references = 0, samples = 0;
  std::vector<std::string> content;  // the labels of the columns
  std::string out;
  std::string wav_folder;  // audio: where the WAVs went ("" for images)
  int64_t wav_files = 0;
};

// Throws ConfigError for unusable options, CheckpointError for a checkpoint without a trained generator.
GenerateReport generate_grid(const GenerateOptions& options);

}  // namespace imprint
