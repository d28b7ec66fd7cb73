// `imprint embed`: embeddings of image or audio files with a trained encoder, decoded exactly as
// `imprint pack` decodes them (so a file embeds as it would have trained). Audio is cut as `imprint eval`
// cuts it (clip_seconds from the start, zero-padded: the same audio both ways), or taken whole with
// clip_seconds 0 (the encoder takes any length; one file at a time then). Unreadable files are reported and
// skipped, never embedded as zeros.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace imprint {

struct EmbedOptions {
  std::string checkpoint;
  std::string input;           // a file, or a folder searched recursively
  std::string out;             // folder to write into
  std::string format = "npy";  // npy | safetensors
  bool tokens = false;         // also write the K conditioning tokens of each file
  int64_t batch_size = 64;     // images (or clips of one length) per forward pass
  double clip_seconds = 0;     // audio: the first this many seconds, zero-padded; 0 = the whole file
  std::function<void(int64_t done, int64_t total)> progress;
};

struct EmbedReport {
  int64_t embedded = 0;
  std::vector<std::string> skipped;  // "path: why"
  std::vector<std::string> written;  // files written
};

// Throws ConfigError for unusable options or input (nothing to embed, wrong modality), CheckpointError for
// a checkpoint that is not an imprint encoder's.
EmbedReport embed_files(const EmbedOptions& options);

}  // namespace imprint
