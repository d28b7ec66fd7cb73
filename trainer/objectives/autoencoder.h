// The autoencoder objective: trains imprint's own KL autoencoder (generation/autoencoder.h) on the dataset's
// images — the first stage of latent diffusion, whose checkpoint a generative run then names in
// objective.denoise.autoencoder_from and uses FROZEN. No encoder is read or trained.
//
// loss = mean squared reconstruction error (model range) + kl_weight * KL(q(z|x) || N(0, I)) summed over the
// latent and divided by the image's values (Stable Diffusion's ratio of the two terms). Each row's latent sample
// comes from (seed, step, global row): N ranks train what one rank trains. It also keeps `latent_std`, the
// running standard deviation of the posterior means over the global batch (one all-reduce a step), by which a
// frozen use divides its latents so the generator sees about unit variance (SD's scale_factor, measured).
// Every evaluation reports the reconstruction of the held-out references: mean squared error and PSNR in
// [0, 1] pixels (ae_mse, ae_psnr).
#pragma once
#include <memory>

#include "generation/autoencoder.h"
#include "trainer/objectives/objective_registry.h"

namespace imprint {

ObjectiveInfo autoencoder_objective();

class AutoencoderObjective final : public Objective {
 public:
  AutoencoderObjective(const AutoencoderSpec& spec, uint64_t seed);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t) const override { return 0; }
  bool augments_targets() const override { return false; }  // it learns to reproduce clean images
  std::unique_ptr<ObjectiveEvaluation> evaluation(const EvaluationContext& context) override;

  KlAutoencoder& model() { return *model_; }
  at::Tensor latent_std() const { return latent_std_; }

 private:
  AutoencoderSpec spec_;
  uint64_t seed_;
  std::shared_ptr<KlAutoencoder> model_;
  at::Tensor latent_std_;  // buffer: 0 until the first step
};

// PSNR in dB of a mean squared error of [0, 1] pixels.
double psnr_of(double unit_mse);

}  // namespace imprint
