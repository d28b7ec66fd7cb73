// libsndfile's virtual I/O over a byte string: a sound file encoded or decoded in memory (TensorBoard's WAV
// summaries, the codec round trips of the channel augmentation) without touching the disk.
#pragma once
#include <sndfile.h>

#include <string>

namespace imprint {

// Open with sf_open_virtual(&memory.io, mode, &info, &memory). Writing grows `bytes`; reading starts at 0.
struct SndfileMemory {
  std::string bytes;
  sf_count_t position = 0;
  SF_VIRTUAL_IO io;
  SndfileMemory();
};

}  // namespace imprint
