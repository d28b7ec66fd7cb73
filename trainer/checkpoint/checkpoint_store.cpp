#include "trainer/checkpoint/checkpoint_store.h"

#include "core/checksum.h"
#include "core/temp_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace imprint {
namespace fs = std::filesystem;

namespace {

constexpr char kMagicV1[17] = "IMPRINT-CKPT-v1\n";
constexpr char kMagicV2[17] = "IMPRINT-CKPT-v2\n";
constexpr size_t kHeaderV1 = 16 + 8 + 8;
constexpr size_t kHeaderV2 = 16 + 8 + 8 + 8;

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

std::string read_file(const std::string& path, size_t limit = std::string::npos) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot open checkpoint");
  std::string bytes;
  if (limit == std::string::npos) {
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  } else {
    bytes.resize(limit);
    in.read(bytes.data(), static_cast<std::streamsize>(limit));
    bytes.resize(static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw CheckpointError(path + ": cannot read checkpoint: " + std::strerror(errno));
  return bytes;
}

// Checks the header and checksum of `bytes`; returns (step or -1 for v1, offset of the payload).
std::pair<int64_t, size_t> verify(const std::string& path, const std::string& bytes) {
  const bool v2 = bytes.size() >= kHeaderV2 && bytes.compare(0, 16, kMagicV2, 16) == 0;
  const bool v1 = !v2 && bytes.size() >= kHeaderV1 && bytes.compare(0, 16, kMagicV1, 16) == 0;
  if (!v1 && !v2)
    throw CheckpointError(path + ": not an imprint checkpoint (expected the 'IMPRINT-CKPT-v2' or -v1 header)");
  const size_t header = v2 ? kHeaderV2 : kHeaderV1;
  const char* h = bytes.data() + 16;
  const int64_t step = v2 ? static_cast<int64_t>(get_u64(h)) : -1;
  const uint64_t size = get_u64(v2 ? h + 8 : h), hash = get_u64(v2 ? h + 16 : h + 8);
  if (bytes.size() - header != size)
    throw CheckpointError(path + ": truncated or padded checkpoint: header says " + std::to_string(size) +
                          " payload bytes, file has " + std::to_string(bytes.size() - header));
  const uint64_t actual =
      v2 ? fnv1a64_bytes(bytes.data() + header, size, fnv1a64_bytes(h, 8)) : fnv1a64_bytes(bytes.data() + header, size);
  if (actual != hash) throw CheckpointError(path + ": checksum mismatch: the checkpoint is corrupt");
  return {step, header};
}

void decode(const std::string& path, const std::string& bytes, size_t offset, torch::serialize::InputArchive& ar) {
  std::istringstream payload(bytes.substr(offset));
  try {
    ar.load_from(payload);
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot decode checkpoint payload: " + first_line(e.what()));
  }
}

// The step a file claims: its v2 header, or for v1 files the step stored in the payload.
CheckpointFile probe(const std::string& path) {
  CheckpointFile f{path, -1, ""};
  try {
    const std::string head = read_file(path, kHeaderV2);
    if (head.size() >= kHeaderV2 && head.compare(0, 16, kMagicV2, 16) == 0) {
      f.step = static_cast<int64_t>(get_u64(head.data() + 16));
    } else if (head.size() >= 16 && head.compare(0, 16, kMagicV1, 16) == 0) {
      torch::serialize::InputArchive ar;
      f.step = read_checkpoint(path, ar);
    } else {
      f.problem = "not an imprint checkpoint";
    }
  } catch (const std::exception& e) {
    f.problem = first_line(e.what());
  }
  return f;
}

}  // namespace

CheckpointStore::CheckpointStore(std::string dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {}

std::string CheckpointStore::path_for(int64_t step) const {
  std::ostringstream s;
  s << dir_ << "/step-" << std::setw(8) << std::setfill('0') << step << ".ckpt";
  return s.str();
}

std::string CheckpointStore::save(int64_t step, torch::serialize::OutputArchive& archive) const {
  const std::string path = save_as(path_for(step), step, archive);
  prune(step);
  return path;
}

std::string CheckpointStore::save_as(const std::string& path, int64_t step,
                                     torch::serialize::OutputArchive& archive) const {
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();
  std::string bytes(kMagicV2, 16);
  put_u64(bytes, static_cast<uint64_t>(step));
  put_u64(bytes, payload.size());
  put_u64(bytes, fnv1a64_bytes(payload.data(), payload.size(), fnv1a64_bytes(bytes.data() + 16, 8)));
  bytes += payload;

  const std::string folder = fs::path(path).parent_path().string();
  std::error_code ec;
  if (!folder.empty()) fs::create_directories(folder, ec);
  if (ec) throw CheckpointError(folder + ": cannot create checkpoint folder: " + ec.message());
  const std::string tmp = temp_path_for(path);
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
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    throw CheckpointError(path + ": cannot put the checkpoint in place (rename from " + tmp +
                          "): " + std::strerror(error) +
                          (fs::is_directory(path, ec) ? " (a directory of that name is in the way)" : ""));
  }
  fsync_dir(std::filesystem::path(path).parent_path().string());
  return path;
}

void CheckpointStore::prune(int64_t step) const {
  int64_t kept = 1;  // the one just written
  for (const auto& f : list()) {
    // Only files under the names this store writes: a user's copy (best.ckpt, step-...-backup.ckpt) stays.
    if (f.step < 0 || f.step >= step || fs::path(f.path).filename() != fs::path(path_for(f.step)).filename()) continue;
    if (kept < keep_) {
      ++kept;
    } else {
      std::error_code ec;
      fs::remove(f.path, ec);
    }
  }
}

std::vector<std::string> CheckpointStore::remove_unfinished_writes() const {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".ckpt.tmp") == std::string::npos) continue;  // temp_path_for: NAME.ckpt.tmp.HOST.PID
    std::error_code remove_ec;
    if (fs::remove(e.path(), remove_ec)) removed.push_back(e.path().string());
  }
  return removed;
}

std::vector<CheckpointFile> CheckpointStore::list(std::vector<std::string>* ignored) const {
  std::vector<CheckpointFile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".ckpt") continue;
    std::error_code type_ec;
    if (!e.is_regular_file(type_ec)) {
      if (ignored) ignored->push_back(e.path().string() + ": not a regular file");
      continue;
    }
    out.push_back(probe(e.path().string()));
  }
  std::sort(out.begin(), out.end(), [](const CheckpointFile& a, const CheckpointFile& b) {
    return a.step != b.step ? a.step > b.step : a.path > b.path;
  });
  return out;
}

int64_t read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw CheckpointError(path + ": is a directory, not a checkpoint file");
  const std::string bytes = read_file(path);
  const auto [header_step, offset] = verify(path, bytes);
  decode(path, bytes, offset, archive);
  if (header_step >= 0) return header_step;
  c10::IValue step;  // v1: the step lives in the payload only
  if (!archive.try_read("step", step) || !step.isInt())
    throw CheckpointError(path + ": checkpoint payload holds no step");
  return step.toInt();
}

namespace {

// Folds every entry of `ar` (sub-archives recursively, keys in sorted order) into `h`.
void digest_archive(torch::serialize::InputArchive& ar, const std::string& prefix, uint64_t& h, int64_t& tensors) {
  auto keys = ar.keys();
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    const std::string name = prefix + key;
    if (name == "restarts" || name == "first_loss" || name == "settings") continue;  // bookkeeping, not state
    h = fnv1a64_bytes(name.data(), name.size(), h);
    at::Tensor t;
    torch::serialize::InputArchive sub;
    c10::IValue v;
    if (ar.try_read(key, t) || ar.try_read(key, t, /*is_buffer=*/true)) {
      const at::Tensor c = t.contiguous().cpu();
      const std::string meta = std::string(c10::toString(c.scalar_type())) + c10::str(c.sizes());
      h = fnv1a64_bytes(meta.data(), meta.size(), h);
      h = fnv1a64_bytes(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size(), h);
      ++tensors;
    } else if (ar.try_read(key, sub)) {
      digest_archive(sub, name + "/", h, tensors);
    } else if (ar.try_read(key, v)) {
      std::ostringstream text;
      text << v;
      const std::string s = text.str();
      h = fnv1a64_bytes(s.data(), s.size(), h);
    }
  }
}

}  // namespace

std::string describe_checkpoint(const std::string& path) {
  torch::serialize::InputArchive ar;
  const int64_t step = read_checkpoint(path, ar);
  uint64_t h = 0xcbf29ce484222325ULL;
  int64_t tensors = 0;
  digest_archive(ar, "", h, tensors);
  c10::IValue restarts, first_loss, signature;
  std::ostringstream o;
  o << path << ": imprint checkpoint, step " << step << ", " << std::filesystem::file_size(path) << " bytes\n";
  o << "  state digest: " << std::hex << std::setw(16) << std::setfill('0') << h << std::dec << " (" << tensors
    << " tensors: model, objective, optimizer, RNG)\n";
  if (ar.try_read("restarts", restarts)) o << "  restarts:     " << restarts.toInt() << "\n";
  if (ar.try_read("first_loss", first_loss)) o << "  first loss:   " << first_loss.toDouble() << "\n";
  if (ar.try_read("signature", signature)) {
    o << "  trained with:";
    std::istringstream lines(signature.toStringRef());
    for (std::string line; std::getline(lines, line);) o << " " << line;
  }
  return o.str();
}

std::optional<CheckpointFile> load_newest_valid(const CheckpointStore& store, torch::serialize::InputArchive& archive,
                                                std::vector<std::string>* skipped) {
  std::vector<std::string> ignored;
  const auto files = store.list(&ignored);
  if (skipped) skipped->insert(skipped->end(), ignored.begin(), ignored.end());
  for (const auto& f : files) {
    if (f.step < 0) {
      if (skipped) skipped->push_back(f.path + ": " + f.problem);
      continue;
    }
    try {
      torch::serialize::InputArchive candidate;
      const int64_t step = read_checkpoint(f.path, candidate);
      archive = std::move(candidate);
      return CheckpointFile{f.path, step, ""};
    } catch (const CheckpointError& e) {
      if (skipped) skipped->push_back(first_line(e.what()));
    }
  }
  return std::nullopt;
}

}  // namespace imprint
