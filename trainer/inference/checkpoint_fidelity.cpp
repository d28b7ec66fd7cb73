#include "trainer/inference/checkpoint_fidelity.h"

#include <algorithm>
#include <optional>
#include <random>

#include "core/log.h"
#include "data/shard_dataset.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/evaluation/retrieval_eval.h"

namespace imprint {

FidelityReport evaluate_checkpoint_fidelity(const CheckpointFidelityOptions& o) {
  TrainedGenerator g = load_trained_generator(o.checkpoint);
  TrainedEncoder judge = load_trained_encoder(o.judge);
  const EncoderSpec& spec = g.encoder.spec;
  const DiffusionSpec& run = g.diffusion->spec();
  check_judge_reads(judge, o.judge, run);
  std::optional<TrainedEncoder> content_judge;
  if (!o.content_judge.empty()) {
    content_judge = load_trained_encoder(o.content_judge);
    check_judge_reads(*content_judge, o.content_judge, run);
  }
  // Audio clips as the run cut them (its data.clip_seconds): the generator's log-mels have that many frames.
  ShardDataset ds(o.data, run.modality == Modality::Audio ? run.mel.clip_samples : 0);
  const bool same = ds.modality() == spec.modality &&
                    (spec.modality == Modality::Image ? ds.manifest().image_size == spec.image_size
                                                      : ds.manifest().sample_rate == spec.sample_rate);
  if (!same)
    throw DatasetError(o.data + ": holds " + modality_name(ds.modality()) + " samples" +
                       (ds.modality() == Modality::Image ? " of " + std::to_string(ds.manifest().image_size) + " pixels"
                                                         : " at " + std::to_string(ds.manifest().sample_rate) + " Hz") +
                       "; " + o.checkpoint + " generates " +
                       (spec.modality == Modality::Image ? std::to_string(spec.image_size) + "-pixel images"
                                                         : "audio at " + std::to_string(spec.sample_rate) + " Hz"));
  const auto classes = static_cast<int64_t>(ds.content_labels().size());
  if (classes != g.diffusion->spec().content_classes)
    throw DatasetError(o.data + ": has " + std::to_string(classes) + " content labels; the generator knows " +
                       std::to_string(g.diffusion->spec().content_classes));
  if (classes > 0 && ds.train_identities().empty())
    throw DatasetError(o.data +
                       ": content accuracy reads a sample's label from the dataset's training "
                       "identities, and it has none (a set packed with --eval-only); give one that has");
  // The identities scored: a seeded draw, so another seed scores others and the same seed the same ones.
  std::vector<int64_t> ids = ds.eval_identities();
  if (o.all_identities) {
    ids = ds.train_identities();
    ids.insert(ids.end(), ds.eval_identities().begin(), ds.eval_identities().end());
    std::sort(ids.begin(), ids.end());
  }
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(o.draw_seed));
  ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(o.identities)));
  if (ids.size() < 2)
    throw DatasetError(o.data + ": " + std::to_string(ids.size()) + " identities to score; needs 2 or more" +
                       (o.all_identities ? "" : " (pass --all to draw from every identity)"));
  log::info(
      log::strf("fidelity: %zu identities of %s, %lld samples each with and without the identity tokens, "
                "%lld DDIM steps, guidance %.2g; judge %s (step %lld)",
                ids.size(), o.data.c_str(), static_cast<long long>(o.content), static_cast<long long>(o.sampler.steps),
                o.sampler.guidance, o.judge.c_str(), static_cast<long long>(judge.step)));
  const EvalSet eval = build_eval_set(ds, ids, o.gallery_per_identity);
  const at::Device cpu(at::kCPU);
  const FidelitySet set =
      build_fidelity_set(ds, eval, ids, static_cast<int64_t>(ids.size()), o.content, o.bank_identities, cpu);
  return evaluate_fidelity(*g.encoder.encoder, *g.diffusion, *judge.encoder, set, o.sampler, o.batch_size,
                           content_judge ? content_judge->encoder.get() : nullptr);
}

}  // namespace imprint
