// TensorBoard event files, written directly: no TensorFlow or protobuf library is packaged for C++ in
// Debian, and the few messages needed are small. The file is a sequence of TFRecords — u64 length, u32
// masked CRC32C of the length, the bytes, u32 masked CRC32C of the bytes (little-endian) — each holding one
// serialized tensorflow.Event protocol buffer (tensorflow/core/util/event.proto, summary.proto):
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//             SessionLog session_log = 7; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; Image image = 4;
//                                                    Audio audio = 6; }
//   Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
//           (colorspace 3 = RGB; the bytes a PNG file)
//   Audio   { float sample_rate = 1; int64 num_channels = 2; int64 length_frames = 3;
//             bytes encoded_audio_string = 4; string content_type = 5; }   (a WAV file, "audio/wav")
//   SessionLog { SessionStatus status = 1; }   (START = 1: readers drop the events of later steps, which a
//                                                resumed run is about to repeat)
// tests/interop/check_tensorboard.py reads the files with TensorBoard's own EventAccumulator.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "trainer/run_directory.h"

namespace imprint {

class TensorBoardWriter {
 public:
  // Creates DIR/events.out.tfevents.<unix seconds>.<host>.<pid> and writes the file-version event, or
  // appends to the newest such file already in DIR (a resumed run).
  explicit TensorBoardWriter(const std::string& dir);
  void scalar(const std::string& tag, double value, int64_t step);
  // An RGB image (PNG bytes, data/png_encode.h) under `tag`, shown in TensorBoard's Images tab.
  void image(const std::string& tag, const std::string& png, int height, int width, int64_t step);
  // A mono clip (WAV bytes, data/wav_write.h) under `tag`, played in TensorBoard's Audio tab.
  void audio(const std::string& tag, const std::string& wav, int sample_rate, int64_t frames, int64_t step);
  // Marks a (re)start at `step`: TensorBoard discards previously written events of steps >= step.
  void session_start(int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event_body, const std::string& which);
  std::string path_;
  std::unique_ptr<AppendOnlyFile> out_;
};

// CRC-32C (Castagnoli), and TFRecord's masking of it.
uint32_t crc32c(const char* data, size_t size);
uint32_t masked_crc32c(const char* data, size_t size);

}  // namespace imprint
