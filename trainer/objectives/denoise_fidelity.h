// The evaluation the denoise objective adds with eval.judge: identity fidelity of samples generated from ONE
// reference of each held-out identity, scored by a separately trained judge, beside the identity-dropped floor
// and the real ceiling (trainer/evaluation/fidelity_eval.h). Built once at the start of training (the judge
// is loaded and checked against the run's samples then), run at every evaluation.
#pragma once
#include <memory>

#include "trainer/evaluation/fidelity_eval.h"
#include "trainer/objectives/denoise.h"

namespace imprint {

class FidelityEvaluation final : public ObjectiveEvaluation {
 public:
  // Throws ConfigError naming eval.judge when the judge cannot be loaded or encodes other samples.
  FidelityEvaluation(Diffusion& diffusion, const DenoiseOptions& options, const EvaluationContext& context);
  EvaluationResult run(Encoder& encoder, int64_t step) override;
  const FidelityReport& last() const { return last_; }

 private:
  Diffusion& diffusion_;
  std::shared_ptr<Encoder> judge_, content_judge_;  // content_judge_ null: the nearest-neighbour reader
  FidelitySet set_;
  SamplerOptions sampler_;
  int64_t batch_size_;
  FidelityReport last_;
};

}  // namespace imprint
