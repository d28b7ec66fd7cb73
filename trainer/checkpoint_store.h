// Checkpoint files in a run directory: written atomically (temp file, fsync, rename, fsync of the folder, so
// a crash mid-write never damages the last good checkpoint), verified on read (length and checksum, so a
// truncated or altered file is refused with its name), and pruned to the newest `keep`.
//
// File layout: 16-byte magic "IMPRINT-CKPT-v1\n", u64 payload length, u64 FNV-1a-64 of the payload (both
// little-endian), then the payload: a torch::serialize archive.
#pragma once
#include <torch/serialize/archive.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace imprint {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CheckpointStore {
 public:
  CheckpointStore(std::string dir, int64_t keep);
  const std::string& dir() const { return dir_; }
  std::string path_for(int64_t step) const;
  // Returns the path written.
  std::string save(int64_t step, torch::serialize::OutputArchive& archive) const;
  // (step, path) of every checkpoint file present, oldest first.
  std::vector<std::pair<int64_t, std::string>> list() const;
  std::optional<std::string> latest() const;

 private:
  std::string dir_;
  int64_t keep_;
};

// Reads and verifies `path` into `archive`; throws CheckpointError naming the file and what is wrong.
void read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive);

uint64_t fnv1a64(const char* data, size_t size);

}  // namespace imprint
