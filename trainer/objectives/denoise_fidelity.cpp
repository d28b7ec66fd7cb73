#include "trainer/objectives/denoise_fidelity.h"

#include <chrono>

#include "config/config_error.h"
#include "core/log.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/evaluation/sample_grid.h"

namespace imprint {

namespace {

std::shared_ptr<Encoder> load_judge(const std::string& path, const DiffusionSpec& run, const at::Device& device,
                                    const std::string& key = "eval.judge") {
  TrainedEncoder judge;
  try {
    judge = load_trained_encoder(path);
    check_judge_reads(judge, path, run);
  } catch (const CheckpointError& e) {
    throw ConfigError(key + ": " + e.what());
  }
  log::info(log::strf("%s: %s (step %lld, %s encoder) %s", key.c_str(), path.c_str(), (long long)judge.step,
                      judge.spec.name.c_str(),
                      key == "eval.judge" ? "scores identity fidelity" : "reads the content of the samples"));
  judge.encoder->to(device);
  return judge.encoder;
}

}  // namespace

FidelityEvaluation::FidelityEvaluation(Diffusion& diffusion, const DenoiseOptions& o, const EvaluationContext& c)
    : diffusion_(diffusion), batch_size_(c.batch_size) {
  judge_ = load_judge(o.judge, diffusion.spec(), c.device);
  if (!o.content_judge.empty())
    content_judge_ = load_judge(o.content_judge, diffusion.spec(), c.device, "eval.content_judge");
  set_ = build_fidelity_set(c.dataset, c.heldout, c.dataset.eval_identities(), o.fidelity_identities,
                            o.fidelity_content, o.content_bank_identities, c.device, c.seed);
  sampler_.steps = o.fidelity_steps;
  sampler_.guidance = o.fidelity_guidance;
  sampler_.guidance_identity = o.fidelity_guidance_identity;
  sampler_.id_scale = o.id_scale;
  sampler_.seed = c.seed;
}

EvaluationResult FidelityEvaluation::run(Encoder& encoder, int64_t step) {
  const auto t = std::chrono::steady_clock::now();
  const FidelityReport f =
      evaluate_fidelity(encoder, diffusion_, *judge_, set_, sampler_, batch_size_, content_judge_.get());
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
  const SampleGrid grid = fidelity_grid(diffusion_, set_, f, 4);
  r.images.push_back({"fidelity/samples", grid.width(), grid.height(), grid.rgb()});
  if (diffusion_.audio()) {
    // To listen to: for the first 2 references, the reference and its first word with and without identity.
    const int64_t n = set_.columns.size(0);
    const auto clip = [&](const std::string& tag, const at::Tensor& x) {
      const auto c = x.detach().to(at::kFloat).cpu().contiguous();
      r.audio.push_back({tag, static_cast<int>(diffusion_.spec().mel.sample_rate),
                         std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())});
    };
    for (int64_t i = 0; i < std::min<int64_t>(2, set_.references.size(0)); ++i) {
      const std::string prefix = "fidelity/voice" + std::to_string(i);
      clip(prefix + "/reference", set_.references[i]);
      clip(prefix + "/generated", f.with_identity[i * n]);
      clip(prefix + "/identity_dropped", f.without_identity[i * n]);
    }
  }
  return r;
}

}  // namespace imprint
