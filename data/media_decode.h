// Decoding user media for `imprint pack`, with Debian's libraries: libpng and libjpeg-turbo for images,
// libsndfile (WAV of any bit depth, FLAC, ...) and libsoxr for audio. Failures come back as a reason string
// (the file is then skipped and reported), never as an exit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/shard_format.h"

namespace imprint {

// Whether `path` names a file `pack` (and `embed`) read for `modality`: .png/.jpg/.jpeg for images,
// .wav/.flac for audio, in any letter case.
bool is_media_file(const std::string& path, Modality modality);

// Any PNG (grey, RGB, palette, with alpha — composited on white) or JPEG (grey or colour), centre-cropped to a
// square and resized (area average when shrinking, bilinear when growing) to size x size RGB, HWC.
bool decode_image(const std::string& path, int size, std::vector<uint8_t>& rgb, std::string& error);

// Any file libsndfile reads, mixed down to mono, resampled with libsoxr (high quality) to `sample_rate`,
// as int16 PCM.
bool decode_audio(const std::string& path, int sample_rate, std::vector<int16_t>& pcm, std::string& error);

// Resizes an RGB HWC image (exposed for tests).
std::vector<uint8_t> square_resize(const std::vector<uint8_t>& rgb, int width, int height, int size);

}  // namespace imprint
