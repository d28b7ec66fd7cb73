#include "trainer/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace imprint {
namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol-buffer wire format: varints, tags, fixed-width little-endian numbers, length-delimited fields.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void tag(std::string& out, int field, int wire_type) { varint(out, static_cast<uint64_t>(field) << 3 | wire_type); }
template <typename T>
void fixed(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // x86-64 and aarch64 are little-endian, as the format is
  out.append(bytes, sizeof(T));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  tag(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_header(int64_t step) {
  std::string e;
  tag(e, 1, 1);  // wall_time, 64-bit
  fixed<double>(e, now_seconds());
  tag(e, 2, 0);  // step, varint
  varint(e, static_cast<uint64_t>(step));
  return e;
}

}  // namespace

uint32_t crc32c(const char* data, size_t size) {
  const auto& t = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = t[(c ^ static_cast<unsigned char>(data[i])) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const char* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw RunDirectoryError(dir + ": cannot create the TensorBoard folder: " + ec.message());
  // A resumed run appends to the file it wrote before, so readers see its events in the order written (files
  // are read in name order, and two files made in the same second would sort by process id).
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0 && e.path().string() > path_)
      path_ = e.path().string();
  const bool fresh = path_.empty();
  if (fresh) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) + "." + host + "." +
            std::to_string(getpid());
  }
  out_ = std::make_unique<AppendOnlyFile>(path_, "TensorBoard event file");
  if (fresh) {
    std::string e = event_header(0);
    bytes_field(e, 3, "brain.Event:2");  // file_version
    write_event(e, "the file-version event");
  }
}

void TensorBoardWriter::scalar(const std::string& name, double value, int64_t step) {
  std::string v;
  bytes_field(v, 1, name);  // tag
  tag(v, 2, 5);             // simple_value, 32-bit
  fixed<float>(v, static_cast<float>(value));
  std::string summary;
  bytes_field(summary, 1, v);
  std::string e = event_header(step);
  bytes_field(e, 5, summary);
  write_event(e, "the '" + name + "' value of step " + std::to_string(step));
}

void TensorBoardWriter::image(const std::string& name, const std::string& png, int height, int width, int64_t step) {
  std::string image;
  tag(image, 1, 0);  // height
  varint(image, static_cast<uint64_t>(height));
  tag(image, 2, 0);  // width
  varint(image, static_cast<uint64_t>(width));
  tag(image, 3, 0);  // colorspace: RGB
  varint(image, 3);
  bytes_field(image, 4, png);  // encoded_image_string
  std::string v;
  bytes_field(v, 1, name);
  bytes_field(v, 4, image);
  std::string summary;
  bytes_field(summary, 1, v);
  std::string e = event_header(step);
  bytes_field(e, 5, summary);
  write_event(e, "the '" + name + "' image of step " + std::to_string(step));
}

void TensorBoardWriter::audio(const std::string& name, const std::string& wav, int sample_rate, int64_t frames,
                              int64_t step) {
  std::string audio;
  tag(audio, 1, 5);  // sample_rate: float, fixed32
  fixed<float>(audio, static_cast<float>(sample_rate));
  tag(audio, 2, 0);  // num_channels
  varint(audio, 1);
  tag(audio, 3, 0);  // length_frames
  varint(audio, static_cast<uint64_t>(frames));
  bytes_field(audio, 4, wav);  // encoded_audio_string
  bytes_field(audio, 5, "audio/wav");
  std::string v;
  bytes_field(v, 1, name);
  bytes_field(v, 6, audio);
  std::string summary;
  bytes_field(summary, 1, v);
  std::string e = event_header(step);
  bytes_field(e, 5, summary);
  write_event(e, "the '" + name + "' audio of step " + std::to_string(step));
}

void TensorBoardWriter::session_start(int64_t step) {
  std::string log;
  tag(log, 1, 0);  // status = START
  varint(log, 1);
  std::string e = event_header(step);
  bytes_field(e, 7, log);  // session_log (6 is the deprecated log_message)
  write_event(e, "the restart marker of step " + std::to_string(step));
}

void TensorBoardWriter::write_event(const std::string& data, const std::string& which) {
  std::string record;
  fixed<uint64_t>(record, data.size());
  fixed<uint32_t>(record, masked_crc32c(record.data(), 8));
  record += data;
  fixed<uint32_t>(record, masked_crc32c(data.data(), data.size()));
  out_->append(record, which);  // whole or not at all: a crashed run keeps what it logged, as metrics.jsonl does
}

}  // namespace imprint
