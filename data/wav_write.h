// Writes mono audio as a 16-bit PCM WAV file with libsndfile (the clips `imprint generate` makes from a voice),
// or encodes one in memory through libsndfile's virtual I/O (the clips TensorBoard plays).
#pragma once
#include <string>
#include <vector>

namespace imprint {

// samples in [-1, 1] (clipped beyond), `sample_rate` Hz. Written to a temporary file and renamed into place;
// throws std::runtime_error naming the path when it cannot be written.
void write_wav_mono(const std::string& path, const std::vector<float>& samples, int sample_rate);
// The same file's bytes, in memory (TensorBoard's audio summaries carry a WAV file).
std::string encode_wav_mono(const std::vector<float>& samples, int sample_rate);

}  // namespace imprint
