// Checkpoint files in a run directory: written atomically (temp file, fsync, rename, fsync of the folder, so
// a crash mid-write never damages the last good checkpoint), verified on read (length and checksum, so a
// truncated or altered file is refused with its name), and chosen by the step stored INSIDE them, never by
// their names: a renamed or copied file cannot masquerade as a newer one.
//
// File layout (v2): 16-byte magic "IMPRINT-CKPT-v2\n", then little-endian u64 step, u64 payload length,
// u64 FNV-1a-64 of (the 8 step bytes followed by the payload), then the payload: a torch::serialize archive.
// v1 files (magic "IMPRINT-CKPT-v1\n", no step field, hash of the payload alone) are still read.
#pragma once
#include <torch/serialize/archive.h>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/text.h"  // first_line, which callers of this header use on exception texts

namespace imprint {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointFile {
  std::string path;
  int64_t step = -1;    // from the file's header (v1: its payload); -1 when unreadable
  std::string problem;  // why step is -1
};

class CheckpointStore {
 public:
  CheckpointStore(std::string dir, int64_t keep);
  const std::string& dir() const { return dir_; }
  std::string path_for(int64_t step) const;
  // Writes the checkpoint of `step`, then prunes: of the checkpoints older than `step`, the newest keep - 1
  // stay. Only files named as this store names them (step-NNNNNNNN.ckpt holding that step) are ever deleted:
  // not files it cannot read, not files claiming a later step (left behind by a run that was resumed from
  // an earlier checkpoint), not a user's copies under other names. The folder is made on the first write. Returns the
  // path written.
  std::string save(int64_t step, torch::serialize::OutputArchive& archive) const;
  // Writes a checkpoint of `step` to `path` (same format, atomic), without pruning: the best-so-far copy.
  std::string save_as(const std::string& path, int64_t step, torch::serialize::OutputArchive& archive) const;
  // Every *.ckpt regular file, newest step first (unreadable ones last). Entries that are not regular files
  // (a directory named like a checkpoint) are listed in `ignored`.
  std::vector<CheckpointFile> list(std::vector<std::string>* ignored = nullptr) const;
  // Removes the temp files of writes that never finished (a process killed mid-write); returns their names.
  // Only for the holder of the run directory's lock: nobody else can be writing one.
  std::vector<std::string> remove_unfinished_writes() const;

 private:
  void prune(int64_t step) const;
  std::string dir_;
  int64_t keep_;
};

// Reads and verifies `path` into `archive`; throws CheckpointError naming the file and what is wrong.
// Returns the step in its header.
int64_t read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive);

// The newest checkpoint of `store` that reads back intact, loaded into `archive`. Newer ones that do not
// (truncated, corrupt) are passed over, each reported in `skipped` ("path: why"). nullopt when none is
// readable (or there are none).
std::optional<CheckpointFile> load_newest_valid(const CheckpointStore& store, torch::serialize::InputArchive& archive,
                                                std::vector<std::string>* skipped);

// `imprint inspect CHECKPOINT`: header, step, bookkeeping and a digest of the training state (every tensor
// and value of the archive except the restart bookkeeping). Two checkpoints with equal digests hold the
// same training state, bit for bit: how a preempted-and-requeued run is compared with an uninterrupted one.
std::string describe_checkpoint(const std::string& path);

}  // namespace imprint
