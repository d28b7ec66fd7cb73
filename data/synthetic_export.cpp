#include "data/synthetic_export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/pixels.h"
#include "data/shard_writer.h"

namespace imprint {

std::string synthetic_identity_name(int64_t identity) {
  char name[32];
  std::snprintf(name, sizeof(name), "synthetic-%06lld", static_cast<long long>(identity));
  return name;
}

Manifest export_synthetic(const SyntheticSpec& spec, const std::string& dir, int64_t shard_bytes,
                          const std::function<void(int64_t, int64_t)>& progress, std::vector<int64_t> holdout) {
  const SyntheticDataset source(spec);
  const bool image = spec.modality == Modality::Image;
  DatasetWriter writer(dir, spec.modality, image ? spec.image_size : spec.sample_rate, shard_bytes);
  writer.set_content_labels(source.content_labels());
  const int64_t total = spec.train_identities + spec.eval_identities;
  std::vector<float> sample(static_cast<size_t>(source.sample_numel()));
  for (int64_t id = 0; id < total; ++id) {
    const std::string name = synthetic_identity_name(id);
    if (image) {
      const int64_t plane = static_cast<int64_t>(spec.image_size) * spec.image_size;
      std::vector<std::vector<uint8_t>> images;
      std::vector<int32_t> content;
      for (int64_t i = 0; i < spec.samples_per_identity; ++i) {
        source.read(id, i, 0, sample.data());
        if (spec.content_classes > 0) content.push_back(static_cast<int32_t>(source.content_label(id, i)));
        std::vector<uint8_t> hwc(static_cast<size_t>(plane * 3));
        for (int64_t p = 0; p < plane; ++p)
          for (int c = 0; c < 3; ++c)  // back to [0, 1], then 8 bits
            hwc[p * 3 + c] =
                static_cast<uint8_t>(std::lround(std::clamp(to_unit_range(sample[c * plane + p]), 0.0f, 1.0f) * 255));
        images.push_back(std::move(hwc));
      }
      writer.add_image_identity(name, images, content);
    } else {
      std::vector<std::vector<int16_t>> clips;
      for (int64_t i = 0; i < spec.samples_per_identity; ++i) {
        source.read(id, i, 0, sample.data());
        std::vector<int16_t> pcm(sample.size());
        for (size_t k = 0; k < sample.size(); ++k)
          pcm[k] = static_cast<int16_t>(std::lround(std::clamp(sample[k], -1.0f, 32767.0f / 32768.0f) * 32768.0f));
        clips.push_back(std::move(pcm));
      }
      writer.add_audio_identity(name, clips);
    }
    if (progress) progress(id + 1, total);
  }
  if (holdout.empty())
    for (int64_t id = spec.train_identities; id < total; ++id) holdout.push_back(id);
  return writer.finish(holdout);
}

}  // namespace imprint
