// `imprint generate`: from a checkpoint trained with a generator and ONE reference image per identity, a PNG
// grid: for each reference, a row [reference | a sample for each content label] and under it the same samples
// (same starting noise) with the identity tokens dropped, which shows what the identity adds. Encoder and
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
  std::string reference;  // one image file, or
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
};

// Throws ConfigError for unusable options, CheckpointError for a checkpoint without a trained generator.
GenerateReport generate_grid(const GenerateOptions& options);

}  // namespace imprint
