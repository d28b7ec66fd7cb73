// Writes a dataset in the shard format (data/shard_format.h): identities are added one at a time with all
// their samples, shards are cut at identity boundaries once they reach the target size, and the manifest is
// written last. Output is byte-identical for identical input (no timestamps in the HDF5 objects).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/shard_format.h"

namespace imprint {

class DatasetWriter {
 public:
  // image_size for images, sample_rate for audio.
  DatasetWriter(std::string dir, Modality modality, int64_t image_size_or_sample_rate, int64_t shard_bytes);
  // Names the content labels (index = label); call before adding identities. Then every identity passes one
  // label per sample in `content`; without it, `content` stays empty.
  void set_content_labels(std::vector<std::string> names);
  // images: each H*W*3 bytes (HWC, RGB).
  void add_image_identity(const std::string& name, const std::vector<std::vector<uint8_t>>& images,
                          const std::vector<int32_t>& content = {});
  // audio: mono int16 PCM clips of any length >= 1.
  void add_audio_identity(const std::string& name, const std::vector<std::vector<int16_t>>& clips,
                          const std::vector<int32_t>& content = {});
  // Writes the last shard and the manifest. `holdout`: identity ids never to train on.
  Manifest finish(const std::vector<int64_t>& holdout);
  // Removes what this writer wrote (its shards, a temp file left by a failed write, the manifest) and the
  // folder itself if the writer made it and it is now empty: a pack that fails leaves nothing behind.
  void discard() noexcept;

 private:
  void flush();
  void add_content(const std::string& name, size_t samples, const std::vector<int32_t>& content);

  std::string dir_;
  bool made_dir_ = false;
  std::vector<std::string> written_;  // every file this writer created, temp files included
  Manifest manifest_;
  int64_t shard_bytes_;
  int64_t buffered_bytes_ = 0;
  int64_t shard_first_identity_ = 0;
  std::vector<uint8_t> images_;
  std::vector<int16_t> audio_;
  std::vector<int64_t> offsets_{0};
  std::vector<int32_t> identity_;
  std::vector<int32_t> content_;
};

}  // namespace imprint
