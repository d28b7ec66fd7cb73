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

// The largest image decoded: a header that declares more is refused BEFORE any pixel buffer is allocated (a
// 69-byte PNG may claim 100000 x 100000), so one bad file cannot exhaust a node's memory. 50 megapixels
// (a 150 MB RGB buffer) is above any camera photo a reference would come from. A PNG must also be large
// enough to hold what it declares (deflate compresses at most 1032:1): a 68-byte file declaring 7000 x 7000,
// within the limit, is refused before its 196 MB buffer exists.
constexpr uint32_t kMaxDecodedSide = 32768;
constexpr uint64_t kMaxDecodedPixels = 50'000'000;

// Any PNG (grey, RGB, palette, with alpha — composited on white; 16-bit scaled to 8 bits as stored, as other
// readers show it) or JPEG (grey or colour) within the limit above, centre-cropped to a
// square and resized (area average when shrinking, bilinear when growing) to size x size RGB, HWC.
bool decode_image(const std::string& path, int size, std::vector<uint8_t>& rgb, std::string& error);

// Any file libsndfile reads, mixed down to mono, resampled with libsoxr (high quality) to `sample_rate`,
// as int16 PCM. A float file holding NaN or infinite samples is refused; one whose samples pass full scale
// (clipped to int16) is decoded with a `warning` saying how much was clipped.
bool decode_audio(const std::string& path, int sample_rate, std::vector<int16_t>& pcm, std::string& error,
                  std::string* warning = nullptr);

// Resizes an RGB HWC image (exposed for tests).
std::vector<uint8_t> square_resize(const std::vector<uint8_t>& rgb, int width, int height, int size);

// square_resize() fed one row at a time, as a decoder reads them: what it holds is one row of sums per output
// row in progress (or, when growing, the crop, smaller than the output), never the whole image, so a file's
// cost does not grow with its declared size. Gives exactly square_resize()'s bytes.
class SquareResizer {
 public:
  SquareResizer(int width, int height, int size);
  void add_row(int y, const uint8_t* rgb);  // row y (0..height-1, in order) of width * 3 bytes
  std::vector<uint8_t> result();            // after the last row
 private:
  int size_, side_, x0_, y0_;
  double scale_ = 1;
  int next_ = 0;                           // the first output row not done
  std::vector<int> first_, end_;           // the crop rows (or columns) output row (column) i averages
  std::vector<std::vector<double>> sums_;  // per output row in progress
  std::vector<uint8_t> crop_, out_;
};

}  // namespace imprint
