// `imprint eval --judge J` on a generative checkpoint: the identity fidelity the training loop measures
// (trainer/evaluation/fidelity_eval.h: samples generated from ONE reference of each identity, scored by a
// judge encoder beside the identity-dropped floor and the real ceiling, and content accuracy), on ANY dataset
// and without training a step. The identities scored are drawn by seed from the dataset's held-out ones
// (every identity with all_identities).
#pragma once
#include <cstdint>
#include <string>

#include "generation/ddim_sampler.h"
#include "trainer/evaluation/fidelity_eval.h"

namespace imprint {

struct CheckpointFidelityOptions {
  std::string checkpoint, data, judge;
  std::string content_judge;  // "" = the nearest-neighbour content reader (eval.content_judge)
  bool all_identities = false;
  int64_t identities = 16;  // scored (top-1 chance is 1 / this)
  int64_t content = 4;      // samples per reference, spread over the content vocabulary
  int64_t gallery_per_identity = 4;
  int64_t bank_identities = 256;  // training identities whose samples read a sample's content label
  int64_t batch_size = 256;
  uint64_t draw_seed = 0;  // which identities; the sampler's seed is the starting noise
  SamplerOptions sampler;
};

// Throws CheckpointError (no trained generator, a judge that is not an encoder checkpoint) or DatasetError
// (a dataset the encoder or judge cannot read, too few identities).
FidelityReport evaluate_checkpoint_fidelity(const CheckpointFidelityOptions& options);

}  // namespace imprint
