// Rules that tie several keys together; single-key types and ranges live in the schema.
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "models/encoder.h"
#include "trainer/config.h"

namespace imprint {

void check_config_rules(const Config& c, const std::string& source) {
  auto fail = [&](const std::string& key, const std::string& what) { throw ConfigError(source + ": " + key + ": " + what); };
  const int64_t batch = c.get_int("train.batch_size"), ids = c.get_int("data.train_identities");
  if (batch > ids)
    fail("train.batch_size", std::to_string(batch) + " identities per step need as many distinct training identities, but "
                             "data.train_identities is " + std::to_string(ids));
  const int64_t gallery = c.get_int("eval.gallery_per_identity"), per_id = c.get_int("data.samples_per_identity");
  if (gallery >= per_id)
    fail("eval.gallery_per_identity", "must be below data.samples_per_identity (" + std::to_string(per_id) +
                                          "): one sample of each held-out identity is the reference");
  if (c.get_int("train.stop_at") > c.get_int("train.steps"))
    fail("train.stop_at", "is after the last step (train.steps = " + std::to_string(c.get_int("train.steps")) + ")");
  if (c.get_string("data.source") == "shards") {
    const std::string& path = c.get_string("data.path");
    if (path.empty()) fail("data.path", "is required when data.source is shards");
    if (!c.get_bool("data.create_if_missing") && !std::ifstream(path + "/manifest.json"))
      fail("data.path", "'" + path + "' holds no manifest.json (make a dataset with `imprint synth`, or set "
                        "data.create_if_missing: true)");
  }
  EncoderSpec spec;
  spec.name = c.get_string("model.name");
  spec.modality = c.get_string("data.modality");
  try {
    resolve_encoder_name(spec);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(source + ": " + e.what());
  }
  if (c.get_string("checkpoint.keep_best") == "eer_asnorm" && c.get_int("eval.asnorm_cohort") == 0)
    fail("checkpoint.keep_best", "eer_asnorm needs an AS-norm cohort (eval.asnorm_cohort > 0)");
  if (c.get_int("model.embed_dim") % c.get_int("model.resampler_heads") != 0 && c.given("model.resampler_heads"))
    fail("model.resampler_heads", std::to_string(c.get_int("model.resampler_heads")) + " does not divide model.embed_dim (" +
                                      std::to_string(c.get_int("model.embed_dim")) + ")");
  if (c.get_string("model.name") == "image_vit") {
    if (c.get_int("data.image_size") % c.get_int("model.patch") != 0)
      fail("model.patch", std::to_string(c.get_int("model.patch")) + " does not divide data.image_size (" +
                              std::to_string(c.get_int("data.image_size")) + ")");
    if (4 * c.get_int("model.width") % c.get_int("model.heads") != 0)
      fail("model.heads", std::to_string(c.get_int("model.heads")) + " does not divide the ViT's width, 4 x model.width = " +
                              std::to_string(4 * c.get_int("model.width")));
  }
  if (c.get_float("augment.noise_snr_min") > c.get_float("augment.noise_snr_max"))
    fail("augment.noise_snr_min", "is above augment.noise_snr_max");
  if (c.get_string("optimizer.name") == "lamb") {
    if (!c.get_bool("optimizer.fused"))
      fail("optimizer.fused", "must be true for optimizer.name: lamb (torch::optim has no LAMB)");
    if (c.get_bool("optimizer.amsgrad")) fail("optimizer.amsgrad", "applies to adamw only, not lamb");
  }
  if (c.get_int("data.content_classes") > 0 && c.get_string("data.modality") != "image")
    fail("data.content_classes", "synthetic content labels exist for images only");
  if (c.get_float("objective.denoise.weight") > 0) {
    if (c.get_string("data.modality") != "image")
      fail("objective.denoise.weight", "the denoise objective's generator draws images; data.modality is audio");
    if (c.get_int("data.image_size") % 4 != 0)
      fail("data.image_size", "must be a multiple of 4 for the denoise objective's generator (two 2x downsamplings)");
    const double drops = c.get_float("objective.denoise.drop_identity") + c.get_float("objective.denoise.drop_content") +
                         c.get_float("objective.denoise.drop_both");
    if (drops > 1) fail("objective.denoise.drop_both", "the three dropout rates add up to more than 1");
    const std::string train = c.get_string("objective.denoise.train");
    const std::string& from = c.get_string("objective.denoise.generator_from");
    const std::string& script = c.get_string("objective.denoise.generator_script");
    if (train == "adapter" && from.empty() && script.empty())
      fail("objective.denoise.generator_from", "is required with objective.denoise.train: adapter (the checkpoint of "
                                               "a run with objective.denoise.train: generator), or a TorchScript "
                                               "generator in objective.denoise.generator_script");
    if (!from.empty() && !script.empty())
      fail("objective.denoise.generator_script", "set together with objective.denoise.generator_from; a generator "
                                                 "comes from one of them");
    if (!from.empty() && !std::ifstream(from))
      fail("objective.denoise.generator_from", "'" + from + "' cannot be opened");
    if (!script.empty() && !std::ifstream(script))
      fail("objective.denoise.generator_script", "'" + script + "' cannot be opened");
    if (train == "generator")
      for (const char* other : {"infonce", "aam", "supcon", "ge2e"})
        if (c.get_float(std::string("objective.") + other + ".weight") > 0)
          fail(std::string("objective.") + other + ".weight",
               "generator pretraining (objective.denoise.train: generator) does not train the encoder; set it to 0");
  }
  if (!c.get_string("eval.judge").empty()) {
    if (c.get_float("objective.denoise.weight") <= 0 || c.get_string("objective.denoise.train") == "generator")
      fail("eval.judge", "scores samples generated from a reference's identity tokens: it needs the denoise objective "
                         "with objective.denoise.train adapter or all");
    if (!std::ifstream(c.get_string("eval.judge")))
      fail("eval.judge", "'" + c.get_string("eval.judge") + "' cannot be opened");
    if (c.get_int("eval.gallery_per_identity") < 2)
      fail("eval.gallery_per_identity", "must be at least 2 with eval.judge (real samples are scored leave-one-out)");
  }
  if (c.get_string("data.modality") == "audio") {
    const int64_t n_fft = c.get_int("model.audio.n_fft");
    const auto clip = static_cast<int64_t>(std::lround(c.get_float("data.clip_seconds") * c.get_int("data.sample_rate")));
    if (clip <= n_fft)
      fail("data.clip_seconds", "clip of " + std::to_string(clip) + " samples must be longer than model.audio.n_fft (" +
                                    std::to_string(n_fft) + ")");
    if (c.get_int("model.audio.n_mels") > n_fft / 2 + 1)
      fail("model.audio.n_mels", "must be at most n_fft / 2 + 1 = " + std::to_string(n_fft / 2 + 1));
  }
}

}  // namespace imprint
