// `imprint generate`: from a checkpoint trained with the denoise objective and ONE reference image per
// identity, a PNG grid: for each reference, a row [reference | a sample for each content label] and under it
// the same samples (same starting noise) with the identity tokens dropped, which shows what the identity
// adds.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/ddim_sampler.h"
#include "trainer/encoder_export.h"
#include "trainer/objectives/denoise.h"

namespace imprint {

// An encoder and its generator, restored from a checkpoint for sampling (eval mode, on the CPU).
struct TrainedGenerator {
  TrainedEncoder encoder;
  std::shared_ptr<DenoiseObjective> denoise;
};
// Throws CheckpointError when the checkpoint has no generator, only a pretrained one (no identity branch
// trained), or was trained against a generator file that is missing or has changed.
TrainedGenerator load_trained_generator(const std::string& checkpoint);

struct GenerateOptions {
  std::string checkpoint;
  std::string reference;      // one image file, or
  std::string data;           // a dataset: sample 0 of each held-out identity is a reference
  int64_t max_references = 8;
  std::string content;        // comma-separated labels (names with --data, else indices); "" = the first 16, "all"
  std::string out = "generated.png";
  int64_t zoom = 4;           // each pixel drawn as zoom x zoom
  SamplerOptions sampler;
  std::function<void(int64_t done, int64_t total)> progress;
};

struct GenerateReport {
  int64_t references = 0, samples = 0;
  std::vector<std::string> content;  // the labels of the columns
  std::string out;
};

GenerateReport generate_grid(const GenerateOptions& options);

}  // namespace imprint
