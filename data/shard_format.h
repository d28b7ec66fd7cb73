// The on-disk dataset format (docs/dataset-format.md is the specification; keep the two in step).
//
// A dataset is a directory holding manifest.json and shard files shard-NNNNN.h5. In a shard:
//   image:  /images  uint8 [N, H, W, 3]  (chunks of 1 sample, uncompressed)
//   audio:  /audio   int16 [total]  PCM, all samples of the shard back to back (chunks of 65536, uncompressed)
//           /offsets int64 [N + 1]  sample i is audio[offsets[i] : offsets[i+1]]
//   both:   /identity int32 [N]     global identity index of each sample; an identity's samples are contiguous
//           /content  int32 [N]     (version 2, only when the manifest lists content_labels) each sample's
//                                   content label, an index into content_labels
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/identity_dataset.h"

namespace imprint {

// A dataset that cannot be used: names the file and what is wrong.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ShardInfo {
  std::string file;  // relative to the dataset directory
  int64_t samples = 0;
  int64_t identity_begin = 0, identity_end = 0;  // [begin, end) global identity indices
  int64_t bytes = 0;                             // file size
  std::string fnv1a64;                           // checksum of the whole file, 16 lowercase hex digits
};

struct Manifest {
  static constexpr const char* kFormat = "imprint-identity-dataset";
  static constexpr int kVersion = 2;  // written; versions 1 (no content labels) and 2 are read
  int version = kVersion;
  Modality modality = Modality::Image;
  int64_t image_size = 0;                   // image datasets: H = W
  int64_t sample_rate = 0;                  // audio datasets
  std::vector<std::string> identities;      // index = global identity id
  std::vector<int64_t> holdout;             // held-out identity ids (never trained on)
  std::vector<std::string> content_labels;  // index = content label; empty: the shards have no /content
  std::vector<ShardInfo> shards;

  // Reads and validates DIR/manifest.json; throws DatasetError naming the file and key.
  static Manifest read(const std::string& dir);
  void write(const std::string& dir) const;
};

// Checksum of a whole shard file in the manifest's notation (core/checksum.h); DatasetError if unreadable.
std::string shard_fnv1a64(const std::string& path);

}  // namespace imprint
