#include "trainer/objectives/autoencoder.h"

#include <ATen/ATen.h>

#include <cmath>

#include "config/config_error.h"
#include "core/log.h"
#include "core/pixels.h"
#include "core/rng.h"

namespace imprint {

namespace {

void check_autoencoder(const ObjectiveContext& c) {
  const AutoencoderSpec s = autoencoder_section().read(c.values);
  if (c.encoder.modality != Modality::Image)
    throw ConfigError("objective.autoencoder.weight: the autoencoder encodes images; data.modality is audio");
  if (c.encoder.image_size % s.downsample != 0)
    throw ConfigError("data.image_size: " + std::to_string(c.encoder.image_size) +
                      " must be a multiple of objective.autoencoder.downsample (" + std::to_string(s.downsample) + ")");
  for (const auto& other : c.enabled)
    if (other != "autoencoder")
      throw ConfigError("objective." + other +
                        ".weight: the autoencoder objective trains the autoencoder alone (a stage of its own, "
                        "before the generator); set it to 0");
}

// Reconstruction of the held-out references at every evaluation.
class ReconstructionEvaluation final : public ObjectiveEvaluation {
 public:
  ReconstructionEvaluation(AutoencoderObjective& objective, const EvaluationContext& c)
      : objective_(objective), images_(c.heldout.references), batch_(c.batch_size) {}

  EvaluationResult run(Encoder&, int64_t) override {
    torch::NoGradGuard no_grad;
    KlAutoencoder& ae = objective_.model();
    const bool was_training = ae.is_training();
    ae.eval();
    double sum = 0;
    const int64_t n = images_.size(0);
    for (int64_t i = 0; i < n; i += batch_) {
      const auto x = images_.slice(0, i, std::min(n, i + batch_));
      const auto back = ae.reconstruct(ae.posterior(x).first);
      sum += (to_unit_range(back.clamp(-kModelPixelLimit, kModelPixelLimit)) - to_unit_range(x))
                 .pow(2)
                 .mean({1, 2, 3})
                 .sum()
                 .item<double>();
    }
    ae.train(was_training);
    const double mse = sum / static_cast<double>(std::max<int64_t>(1, n));
    EvaluationResult r;
    r.values = {{"ae_mse", mse}, {"ae_psnr", psnr_of(mse)}, {"ae_latent_std", objective_.latent_std().item<double>()}};
    r.line = log::strf(
        "autoencoder: held-out reconstruction PSNR %.2f dB (MSE %.5f in [0, 1] pixels, %lld images), "
        "latent std %.3f",
        psnr_of(mse), mse, static_cast<long long>(n), objective_.latent_std().item<double>());
    return r;
  }

 private:
  AutoencoderObjective& objective_;
  at::Tensor images_;
  int64_t batch_;
};

}  // namespace

double psnr_of(double unit_mse) { return 10.0 * std::log10(1.0 / std::max(unit_mse, 1e-12)); }

ObjectiveInfo autoencoder_objective() {
  ObjectiveInfo info;
  info.name = "autoencoder";
  info.summary =
      "trains imprint's own KL autoencoder for latent diffusion (trainer/objectives/autoencoder.h): "
      "reconstruction + KL; its checkpoint is then objective.denoise.autoencoder_from. Images only; alone";
  info.keys = autoencoder_section().keys();
  info.make = [](const ObjectiveContext& c) {
    return std::make_shared<AutoencoderObjective>(autoencoder_section().read(c.values), c.seed);
  };
  info.check = check_autoencoder;
  info.example = {"objective.infonce.weight=0", "objective.autoencoder.width=8"};
  return info;
}

AutoencoderObjective::AutoencoderObjective(const AutoencoderSpec& spec, uint64_t seed) : spec_(spec), seed_(seed) {
  model_ = register_module("model", std::make_shared<KlAutoencoder>(spec));
  latent_std_ = register_buffer("latent_std", at::zeros({}));
}

ObjectiveOutput AutoencoderObjective::compute(const TrainBatch& batch, const EncodedBatch&, Communicator& comm) {
  const at::Tensor x = batch.view(batch.views_per_row() > 1 ? 1 : 0).contiguous();  // the clean view
  const int64_t B = x.size(0);
  auto [mean, logvar] = model_->posterior(x);
  // Each row's latent sample from (seed, step, global row).
  at::Tensor eps = at::empty(mean.sizes(), at::kFloat);
  const int64_t numel = mean.numel() / std::max<int64_t>(1, B);
  float* e = eps.data_ptr<float>();
  for (int64_t r = 0; r < B; ++r) {
    CounterRng rng(stream_key(seed_, Stream::AutoencoderPosterior, static_cast<uint64_t>(batch.step),
                              static_cast<uint64_t>(batch.first_row + r)));
    for (int64_t i = 0; i < numel; ++i) e[r * numel + i] = static_cast<float>(rng.normal());
  }
  const auto z = mean + (0.5 * logvar).exp() * eps.to(mean.device());
  const auto back = model_->reconstruct(z);
  const auto mse = (back - x).pow(2).mean();
  const auto kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1).mean();
  const double per_image = static_cast<double>(x.numel() / std::max<int64_t>(1, B));
  ObjectiveOutput out;
  out.loss = mse + spec_.kl_weight * kl / per_image;
  {
    // The global batch's latent standard deviation: [sum, sum of squares, count] summed over ranks.
    torch::NoGradGuard no_grad;
    const auto m = mean.detach().to(at::kDouble);
    at::Tensor stats = at::stack({m.sum(), m.pow(2).sum(), at::full({}, static_cast<double>(m.numel()), m.options())});
    comm.allreduce_(stats, ReduceOp::Sum);
    const auto mu = stats[0] / stats[2];
    const auto std = (stats[1] / stats[2] - mu * mu).clamp_min(1e-12).sqrt().to(latent_std_.scalar_type());
    const bool first = latent_std_.item<double>() == 0;
    latent_std_.copy_(first ? std : 0.99 * latent_std_ + 0.01 * std);
  }
  out.logged = {{"ae_mse", mse.detach()}, {"ae_kl", kl.detach()}, {"latent_std", latent_std_.clone()}};
  return out;
}

std::unique_ptr<ObjectiveEvaluation> AutoencoderObjective::evaluation(const EvaluationContext& context) {
  return std::make_unique<ReconstructionEvaluation>(*this, context);
}

}  // namespace imprint
