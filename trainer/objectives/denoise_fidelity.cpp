#include "trainer/objectives/denoise_fidelity.h"

#include <chrono>

#include "config/config_error.h"
#include "core/log.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/evaluation/sample_grid.h"

namespace imprint {

namespace {

std::shared_ptr<Encoder> load_judge(const std::string& path, const DiffusionSpec& run, const at::Device& device) {
  TrainedEncoder judge;
  try {
    judge = load_trained_encoder(path);
  } catch (const CheckpointError& e) {
    throw ConfigError(std::string("eval.judge: ") + e.what());
  }
  if (judge.spec.modality != Modality::Image)
    throw ConfigError("eval.judge: " + path + " encodes audio; this run's samples are image");
  if (judge.spec.image_size != run.image_size)
    throw ConfigError("eval.judge: " + path + " encodes images of " + std::to_string(judge.spec.image_size) +
                      " pixels; this run's are " + std::to_string(run.image_size));
  log::info(log::strf("eval.judge: %s (step %lld, %s encoder) scores identity fidelity", path.c_str(),
                      (long long)judge.step, judge.spec.name.c_str()));
  judge.encoder->to(device);
  return judge.encoder;
}

}  // namespace

FidelityEvaluation::FidelityEvaluation(Diffusion& diffusion, const DenoiseOptions& o, const EvaluationContext& c)
    : diffusion_(diffusion), batch_size_(c.batch_size) {
  judge_ = load_judge(o.judge, diffusion.spec(), c.device);
  set_ = build_fidelity_set(c.dataset, c.heldout, c.dataset.eval_identities(), o.fidelity_identities,
                            o.fidelity_content, o.content_bank_identities, c.device, c.seed);
  sampler_.steps = o.fidelity_steps;
  sampler_.guidance = o.fidelity_guidance;
  sampler_.id_scale = o.id_scale;
  sampler_.seed = c.seed;
}

EvaluationResult FidelityEvaluation::run(Encoder& encoder, int64_t step) {
  const auto t = std::chrono::steady_clock::now();
  const FidelityReport f = evaluate_fidelity(encoder, diffusion_, *judge_, set_, sampler_, batch_size_);
  last_ = f;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  EvaluationResult r;
  r.line = log::strf("eval step %lld: %s | in %.1fs", (long long)step, describe_fidelity(f, "held-out").c_str(), secs);
  r.values = {{"fidelity_top1", f.generated.top1},
              {"fidelity_top1_floor", f.floor.top1},
              {"fidelity_top1_real", f.ceiling.top1},
              {"fidelity_cosine", f.generated.cosine},
              {"fidelity_cosine_floor", f.floor.cosine},
              {"fidelity_cosine_real", f.ceiling.cosine},
              {"fidelity_chance", f.chance},
              {"fidelity_identities", static_cast<double>(f.identities)}};
  if (f.generated.content >= 0) {
    r.values.emplace_back("fidelity_content", f.generated.content);
    r.values.emplace_back("fidelity_content_floor", f.floor.content);
    r.values.emplace_back("fidelity_content_real", f.ceiling.content);
  }
  // What was scored, to look at: 4 references, their samples, and the same without identity beneath.
  const SampleGrid grid = fidelity_grid(set_, f, 4);
  r.images.push_back({"fidelity/samples", grid.width(), grid.height(), grid.rgb()});
  return r;
}

}  // namespace imprint
