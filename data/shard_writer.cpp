#include "data/shard_writer.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "core/temp_path.h"
#include "data/h5_handle.h"

namespace imprint {
namespace fs = std::filesystem;

std::mutex& hdf5_mutex() {
  static std::mutex mu;
  return mu;
}

void quiet_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {

// A 1-D or N-D dataset written in one call, chunked, without timestamps.
void write_dataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                   const std::vector<hsize_t>& chunk, const void* data, const std::string& path) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
                 path + ": cannot create dataspace for " + name);
  H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path + ": cannot create property list");
  H5Pset_obj_track_times(dcpl.get(), 0);
  bool chunked = true;
  for (size_t i = 0; i < dims.size(); ++i) chunked = chunked && dims[i] > 0;
  if (chunked) H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  H5Handle ds(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose,
              path + ": cannot create dataset " + name);
  if (H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw DatasetError(path + ": cannot write dataset " + name);
}

}  // namespace

DatasetWriter::DatasetWriter(std::string dir, Modality modality, int64_t size_or_rate, int64_t shard_bytes)
    : dir_(std::move(dir)), shard_bytes_(shard_bytes) {
  manifest_.modality = modality;
  if (modality == Modality::Image) {
    manifest_.image_size = size_or_rate;
  } else {
    manifest_.sample_rate = size_or_rate;
  }
  std::error_code ec;
  made_dir_ = !fs::exists(dir_, ec);
  fs::create_directories(dir_, ec);
  if (ec) throw DatasetError(dir_ + ": cannot create the output folder: " + ec.message());
  if (fs::exists(dir_ + "/manifest.json"))
    throw DatasetError(dir_ + ": already holds a dataset (manifest.json); choose another --output or remove it");
  quiet_hdf5_errors();
}

void DatasetWriter::set_content_labels(std::vector<std::string> names) {
  if (!manifest_.identities.empty())
    throw std::logic_error("DatasetWriter: content labels are named before identities");
  manifest_.content_labels = std::move(names);
}

void DatasetWriter::add_content(const std::string& name, size_t samples, const std::vector<int32_t>& content) {
  const auto labels = static_cast<int32_t>(manifest_.content_labels.size());
  if (labels == 0) {
    if (!content.empty()) throw DatasetError("identity '" + name + "': content labels given, but none were named");
    return;
  }
  if (content.size() != samples)
    throw DatasetError("identity '" + name + "': " + std::to_string(content.size()) + " content labels for " +
                       std::to_string(samples) + " samples");
  for (int32_t c : content)
    if (c < 0 || c >= labels)
      throw DatasetError("identity '" + name + "': content label " + std::to_string(c) + " outside 0.." +
                         std::to_string(labels - 1));
  content_.insert(content_.end(), content.begin(), content.end());
}

void DatasetWriter::add_image_identity(const std::string& name, const std::vector<std::vector<uint8_t>>& images,
                                       const std::vector<int32_t>& content) {
  add_content(name, images.size(), content);
  const auto id = static_cast<int32_t>(manifest_.identities.size());
  const size_t bytes = static_cast<size_t>(manifest_.image_size * manifest_.image_size * 3);
  for (const auto& img : images) {
    if (img.size() != bytes) throw DatasetError("identity '" + name + "': an image is not image_size^2 * 3 bytes");
    images_.insert(images_.end(), img.begin(), img.end());
    identity_.push_back(id);
    buffered_bytes_ += static_cast<int64_t>(bytes);
  }
  manifest_.identities.push_back(name);
  if (buffered_bytes_ >= shard_bytes_) flush();
}

void DatasetWriter::add_audio_identity(const std::string& name, const std::vector<std::vector<int16_t>>& clips,
                                       const std::vector<int32_t>& content) {
  add_content(name, clips.size(), content);
  const auto id = static_cast<int32_t>(manifest_.identities.size());
  for (const auto& c : clips) {
    if (c.empty()) throw DatasetError("identity '" + name + "': an empty audio clip");
    audio_.insert(audio_.end(), c.begin(), c.end());
    offsets_.push_back(static_cast<int64_t>(audio_.size()));
    identity_.push_back(id);
    buffered_bytes_ += static_cast<int64_t>(c.size() * 2);
  }
  manifest_.identities.push_back(name);
  if (buffered_bytes_ >= shard_bytes_) flush();
}

void DatasetWriter::flush() {
  if (identity_.empty()) return;
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%05zu.h5", manifest_.shards.size());
  const std::string path = dir_ + "/" + name, tmp = temp_path_for(path);
  written_.push_back(tmp);
  written_.push_back(path);
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    H5Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose, tmp + ": cannot create property list");
    H5Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose, tmp + ": cannot create");
    const auto n = static_cast<hsize_t>(identity_.size());
    if (manifest_.modality == Modality::Image) {
      const auto s = static_cast<hsize_t>(manifest_.image_size);
      write_dataset(file.get(), "images", H5T_NATIVE_UINT8, {n, s, s, 3}, {1, s, s, 3}, images_.data(), tmp);
    } else {
      write_dataset(file.get(), "audio", H5T_NATIVE_INT16, {audio_.size()},
                    {std::min<hsize_t>(65536, std::max<hsize_t>(1, audio_.size()))}, audio_.data(), tmp);
      write_dataset(file.get(), "offsets", H5T_NATIVE_INT64, {offsets_.size()}, {offsets_.size()}, offsets_.data(),
                    tmp);
    }
    write_dataset(file.get(), "identity", H5T_NATIVE_INT32, {n}, {n}, identity_.data(), tmp);
    if (!manifest_.content_labels.empty())
      write_dataset(file.get(), "content", H5T_NATIVE_INT32, {n}, {n}, content_.data(), tmp);
  }
  fs::rename(tmp, path);
  ShardInfo info;
  info.file = name;
  info.samples = static_cast<int64_t>(identity_.size());
  info.identity_begin = shard_first_identity_;
  info.identity_end = static_cast<int64_t>(manifest_.identities.size());
  info.bytes = static_cast<int64_t>(fs::file_size(path));
  info.fnv1a64 = shard_fnv1a64(path);
  manifest_.shards.push_back(info);
  shard_first_identity_ = info.identity_end;
  images_.clear();
  audio_.clear();
  offsets_.assign(1, 0);
  identity_.clear();
  content_.clear();
  buffered_bytes_ = 0;
}

Manifest DatasetWriter::finish(const std::vector<int64_t>& holdout) {
  flush();
  manifest_.holdout = holdout;
  written_.push_back(dir_ + "/manifest.json");
  manifest_.write(dir_);
  return Manifest::read(dir_);  // what a reader will see, validated
}

void DatasetWriter::discard() noexcept {
  std::error_code ec;
  for (const auto& f : written_) fs::remove(f, ec);
  written_.clear();
  if (made_dir_ && fs::is_empty(dir_, ec)) fs::remove(dir_, ec);
}

}  // namespace imprint
