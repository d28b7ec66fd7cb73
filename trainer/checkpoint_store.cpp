#include "trainer/checkpoint_store.h"

#include "data/checksum.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

namespace imprint {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[17] = "IMPRINT-CKPT-v1\n";
constexpr size_t kHeader = 16 + 8 + 8;

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw CheckpointError(path + ": write failed: " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

uint64_t fnv1a64(const char* data, size_t size) { return fnv1a64_bytes(data, size); }

CheckpointStore::CheckpointStore(std::string dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw CheckpointError(dir_ + ": cannot create checkpoint folder: " + ec.message());
}

std::string CheckpointStore::path_for(int64_t step) const {
  std::ostringstream s;
  s << dir_ << "/step-" << std::setw(8) << std::setfill('0') << step << ".ckpt";
  return s.str();
}

std::string CheckpointStore::save(int64_t step, torch::serialize::OutputArchive& archive) const {
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();
  std::string bytes(kMagic, 16);
  put_u64(bytes, payload.size());
  put_u64(bytes, fnv1a64(payload.data(), payload.size()));
  bytes += payload;

  const std::string path = path_for(step);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw CheckpointError(tmp + ": cannot create: " + std::strerror(errno));
  try {
    write_all(fd, bytes, tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw CheckpointError(tmp + ": fsync/close failed: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw CheckpointError(path + ": rename from temp file failed: " + std::strerror(errno));
  fsync_dir(dir_);

  auto all = list();
  for (size_t i = 0; i + static_cast<size_t>(keep_) < all.size(); ++i) fs::remove(all[i].second);
  return path;
}

std::vector<std::pair<int64_t, std::string>> CheckpointStore::list() const {
  static const std::regex name(R"(step-(\d+)\.ckpt)");
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::smatch m;
    const std::string f = e.path().filename().string();
    if (std::regex_match(f, m, name)) out.emplace_back(std::stoll(m[1]), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> CheckpointStore::latest() const {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

void read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot open checkpoint");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kHeader || bytes.compare(0, 16, kMagic, 16) != 0)
    throw CheckpointError(path + ": not an imprint checkpoint (bad header; expected " +
                          std::to_string(kHeader) + "-byte 'IMPRINT-CKPT-v1' header)");
  const uint64_t size = get_u64(bytes.data() + 16), hash = get_u64(bytes.data() + 24);
  if (bytes.size() - kHeader != size)
    throw CheckpointError(path + ": truncated or padded checkpoint: header says " + std::to_string(size) +
                          " payload bytes, file has " + std::to_string(bytes.size() - kHeader));
  if (fnv1a64(bytes.data() + kHeader, size) != hash)
    throw CheckpointError(path + ": checksum mismatch: the checkpoint is corrupt");
  std::istringstream payload(bytes.substr(kHeader));
  try {
    archive.load_from(payload);
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot decode checkpoint payload: " + std::string(e.what()).substr(0, 300));
  }
}

}  // namespace imprint
