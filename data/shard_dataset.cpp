#include "data/shard_dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/pixels.h"
#include "core/rng.h"
#include "data/audio_augment.h"
#include "data/image_augment.h"

namespace imprint {
namespace fs = std::filesystem;

struct ShardDataset::Shard {
  std::string path;
  H5Handle file, samples;        // samples: /images or /audio
  std::vector<int64_t> offsets;  // audio
  std::vector<int32_t> content;  // by row, when the dataset has content labels
};

namespace {

std::vector<hsize_t> dims_of(hid_t ds) {
  H5Handle space(H5Dget_space(ds), H5Sclose, "cannot read a dataspace");
  std::vector<hsize_t> d(static_cast<size_t>(std::max(0, H5Sget_simple_extent_ndims(space.get()))));
  H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return d;
}

template <typename T>
std::vector<T> read_all(hid_t file, const char* name, hid_t type, const std::string& path) {
  H5Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose, path + ": dataset /" + std::string(name) + " is missing");
  const auto d = dims_of(ds.get());
  if (d.size() != 1) throw DatasetError(path + ": /" + std::string(name) + " must be 1-D");
  std::vector<T> v(d[0]);
  if (!v.empty() && H5Dread(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw DatasetError(path + ": cannot read /" + std::string(name) + " (truncated or corrupt?)");
  return v;
}

// Reads rows [start, start+count) of dimension 0 of `ds` into `out`.
void read_rows(hid_t ds, hid_t type, const std::vector<hsize_t>& dims, hsize_t start, hsize_t count, void* out,
               const std::string& what) {
  H5Handle file_space(H5Dget_space(ds), H5Sclose, what);
  std::vector<hsize_t> offset(dims.size(), 0), size = dims;
  offset[0] = start;
  size[0] = count;
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset.data(), nullptr, size.data(), nullptr);
  H5Handle mem_space(H5Screate_simple(static_cast<int>(size.size()), size.data(), nullptr), H5Sclose, what);
  if (H5Dread(ds, type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    throw DatasetError(what + ": read failed (truncated or corrupt shard?)");
}

}  // namespace

namespace {
void verify_shard(const std::string& path, const ShardInfo& s) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw DatasetError(path + ": missing (listed in the manifest)");
  if (static_cast<int64_t>(size) != s.bytes)
    throw DatasetError(path + ": " + std::to_string(size) + " bytes, the manifest says " + std::to_string(s.bytes) +
                       " (truncated or replaced?)");
  const std::string sum = shard_fnv1a64(path);
  if (sum != s.fnv1a64)
    throw DatasetError(path + ": checksum " + sum + ", the manifest says " + s.fnv1a64 + " (corrupt?)");
}
}  // namespace

ShardDataset::ShardDataset(const std::string& dir, int64_t clip_samples, bool verify_checksums)
    : dir_(dir), manifest_(Manifest::read(dir)), clip_samples_(clip_samples) {
  if (verify_checksums)
    for (const auto& s : manifest_.shards) verify_shard(dir + "/" + s.file, s);
  quiet_hdf5_errors();
  where_.resize(manifest_.identities.size());
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  for (size_t s = 0; s < manifest_.shards.size(); ++s) {
    const ShardInfo& info = manifest_.shards[s];
    auto shard = std::make_unique<Shard>();
    shard->path = dir + "/" + info.file;
    std::error_code ec;
    const auto size = fs::file_size(shard->path, ec);
    if (ec) throw DatasetError(shard->path + ": missing (listed in " + dir + "/manifest.json)");
    if (static_cast<int64_t>(size) != info.bytes)
      throw DatasetError(shard->path + ": " + std::to_string(size) + " bytes, the manifest says " +
                         std::to_string(info.bytes) + " (truncated or replaced?)");
    shard->file = H5Handle(H5Fopen(shard->path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
                           shard->path + ": not a readable HDF5 file");
    const char* name = manifest_.modality == Modality::Image ? "images" : "audio";
    shard->samples = H5Handle(H5Dopen2(shard->file.get(), name, H5P_DEFAULT), H5Dclose,
                              shard->path + ": dataset /" + std::string(name) + " is missing");
    const auto ids = read_all<int32_t>(shard->file.get(), "identity", H5T_NATIVE_INT32, shard->path);
    if (static_cast<int64_t>(ids.size()) != info.samples)
      throw DatasetError(shard->path + ": /identity has " + std::to_string(ids.size()) +
                         " samples, the manifest says " + std::to_string(info.samples));
    if (!manifest_.content_labels.empty()) {
      shard->content = read_all<int32_t>(shard->file.get(), "content", H5T_NATIVE_INT32, shard->path);
      if (shard->content.size() != ids.size())
        throw DatasetError(shard->path + ": /content has " + std::to_string(shard->content.size()) + " labels for " +
                           std::to_string(ids.size()) + " samples");
      for (size_t row = 0; row < ids.size(); ++row)
        if (shard->content[row] < 0 || shard->content[row] >= static_cast<int32_t>(manifest_.content_labels.size()))
          throw DatasetError(shard->path + ": /content of sample " + std::to_string(row) + " is " +
                             std::to_string(shard->content[row]) + ", the manifest names " +
                             std::to_string(manifest_.content_labels.size()) + " content labels");
    }
    const auto d = dims_of(shard->samples.get());
    if (manifest_.modality == Modality::Image) {
      const auto side = static_cast<hsize_t>(manifest_.image_size);
      if (d.size() != 4 || d[0] != ids.size() || d[1] != side || d[2] != side || d[3] != 3)
        throw DatasetError(shard->path + ": /images must be uint8 [" + std::to_string(ids.size()) + ", " +
                           std::to_string(side) + ", " + std::to_string(side) + ", 3]");
    } else {
      shard->offsets = read_all<int64_t>(shard->file.get(), "offsets", H5T_NATIVE_INT64, shard->path);
      if (shard->offsets.size() != ids.size() + 1 || shard->offsets.front() != 0 ||
          shard->offsets.back() != static_cast<int64_t>(d.at(0)) ||
          !std::is_sorted(shard->offsets.begin(), shard->offsets.end()))
        throw DatasetError(shard->path + ": /offsets must be " + std::to_string(ids.size() + 1) +
                           " non-decreasing values from 0 to the length of /audio");
    }
    for (size_t row = 0; row < ids.size(); ++row) {
      const int64_t id = ids[row];
      if (id < info.identity_begin || id >= info.identity_end)
        throw DatasetError(shard->path + ": sample " + std::to_string(row) + " has identity " + std::to_string(id) +
                           ", outside the shard's range [" + std::to_string(info.identity_begin) + ", " +
                           std::to_string(info.identity_end) + ")");
      Where& w = where_[id];
      if (w.count == 0) {
        w.shard = static_cast<int32_t>(s);
        w.first_row = static_cast<int64_t>(row);
      } else if (w.shard != static_cast<int32_t>(s) || w.first_row + w.count != static_cast<int64_t>(row)) {
        throw DatasetError(shard->path + ": the samples of identity " + std::to_string(id) + " are not contiguous");
      }
      ++w.count;
    }
    shards_.push_back(std::move(shard));
  }
  std::vector<char> held(manifest_.identities.size(), 0);
  for (int64_t h : manifest_.holdout) held[h] = 1;
  for (size_t id = 0; id < where_.size(); ++id) {
    if (held[id]) {
      eval_.push_back(static_cast<int64_t>(id));
    } else if (where_[id].count >= 2) {
      train_.push_back(static_cast<int64_t>(id));
    }
  }
}

ShardDataset::~ShardDataset() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  shards_.clear();
}

void ShardDataset::set_augmentation(const AugmentOptions& options, std::shared_ptr<const NoiseBank> noise) {
  augment_ = options;
  noise_ = std::move(noise);
}

int64_t ShardDataset::num_samples(int64_t identity) const { return where_.at(identity).count; }

int64_t ShardDataset::content_label(int64_t identity, int64_t index) const {
  if (manifest_.content_labels.empty()) return -1;
  const Where& w = where_.at(identity);
  return shards_[w.shard]->content.at(static_cast<size_t>(w.first_row + index));
}

int64_t ShardDataset::stored_length(int64_t identity, int64_t index) const {
  if (manifest_.modality != Modality::Audio) return 0;
  const Where& w = where_.at(identity);
  const auto row = static_cast<size_t>(w.first_row + index);
  const auto& offsets = shards_[w.shard]->offsets;
  return offsets.at(row + 1) - offsets.at(row);
}

std::vector<int64_t> ShardDataset::sample_shape() const {
  if (manifest_.modality == Modality::Image) return {3, manifest_.image_size, manifest_.image_size};
  return {clip_samples_};
}

void ShardDataset::read(int64_t identity, int64_t index, uint64_t augment_seed, float* out) const {
  const Where& w = where_.at(identity);
  if (index < 0 || index >= w.count)
    throw DatasetError(dir_ + ": identity " + std::to_string(identity) + " has no sample " + std::to_string(index));
  const Shard& shard = *shards_[w.shard];
  const int64_t row = w.first_row + index;
  if (manifest_.modality == Modality::Image) {
    const int64_t s = manifest_.image_size, plane = s * s;
    std::vector<uint8_t> hwc(static_cast<size_t>(plane * 3));
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      read_rows(shard.samples.get(), H5T_NATIVE_UINT8, {1, (hsize_t)s, (hsize_t)s, 3}, static_cast<hsize_t>(row), 1,
                hwc.data(), shard.path);
    }
    for (int64_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) out[c * plane + p] = hwc[p * 3 + c] / 255.0f;
    if (augment_seed != 0) augment_image(out, static_cast<int>(s), augment_.image, augment_seed);
    for (int64_t i = 0; i < 3 * plane; ++i) out[i] = to_model_range(out[i]);  // as the synthetic images
    return;
  }
  // Speed perturbation reads speed x clip samples (one more for the resampler's last output) and plays them
  // at the clip's length; with no speed change this is the plain random crop.
  CounterRng aug(augment_seed);
  const double speed = augment_seed != 0 ? draw_speed(augment_seed, augment_.audio) : 1.0;
  const int64_t want = speed == 1.0 ? clip_samples_ : static_cast<int64_t>(std::ceil(clip_samples_ * speed)) + 1;
  const int64_t begin = shard.offsets[row], length = shard.offsets[row + 1] - begin;
  const int64_t take = std::min(length, want);
  const int64_t start = augment_seed != 0 && length > want ? begin + aug.below(length - want + 1) : begin;
  std::vector<int16_t> pcm(static_cast<size_t>(take));
  if (take > 0) {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    read_rows(shard.samples.get(), H5T_NATIVE_INT16, {static_cast<hsize_t>(shard.offsets.back())},
              static_cast<hsize_t>(start), static_cast<hsize_t>(take), pcm.data(), shard.path);
  }
  const float gain = augment_seed != 0 ? static_cast<float>(aug.log_uniform(0.5, 2.0)) : 1.0f;
  std::vector<float> clip(pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) clip[i] = gain * pcm[i] / 32768.0f;
  if (speed != 1.0) clip = change_speed(clip, speed);
  const int64_t have = std::min<int64_t>(static_cast<int64_t>(clip.size()), clip_samples_);
  for (int64_t i = 0; i < clip_samples_; ++i) out[i] = i < have ? clip[i] : 0.0f;
  if (augment_seed != 0 && augment_.audio.any())
    augment_audio(out, clip_samples_, manifest_.sample_rate, augment_.audio, augment_seed, noise_.get());
}

void ShardDataset::read_back_every_sample() const {
  const int64_t s = manifest_.image_size;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    if (manifest_.modality == Modality::Image) {
      const hsize_t rows = dims_of(shard->samples.get())[0], block = 64;
      std::vector<uint8_t> buf(static_cast<size_t>(block * s * s * 3));
      for (hsize_t r = 0; r < rows; r += block) {
        const hsize_t n = std::min(block, rows - r);
        read_rows(shard->samples.get(), H5T_NATIVE_UINT8, {rows, (hsize_t)s, (hsize_t)s, 3}, r, n, buf.data(),
                  shard->path + ": images " + std::to_string(r) + ".." + std::to_string(r + n - 1));
      }
    } else {
      const hsize_t total = static_cast<hsize_t>(shard->offsets.back()), block = 1 << 20;
      std::vector<int16_t> buf(static_cast<size_t>(std::min(block, std::max<hsize_t>(total, 1))));
      for (hsize_t r = 0; r < total; r += block) {
        const hsize_t n = std::min(block, total - r);
        read_rows(shard->samples.get(), H5T_NATIVE_INT16, {total}, r, n, buf.data(),
                  shard->path + ": audio samples " + std::to_string(r) + ".." + std::to_string(r + n - 1));
      }
    }
  }
}

InspectReport inspect_dataset(const std::string& dir) {
  const Manifest m = Manifest::read(dir);
  const ShardDataset ds(dir, 1, /*verify_checksums=*/true);  // checksums, structure, counts, identity ranges
  ds.read_back_every_sample();
  InspectReport r;
  r.identities = static_cast<int64_t>(m.identities.size());
  r.holdout = static_cast<int64_t>(m.holdout.size());
  r.min_per_identity = INT64_MAX;
  for (int64_t id = 0; id < r.identities; ++id) {
    const int64_t n = ds.num_samples(id);
    r.samples += n;
    r.min_per_identity = std::min(r.min_per_identity, n);
    r.max_per_identity = std::max(r.max_per_identity, n);
    if (n < 2) ++r.unusable_identities;
  }
  for (const auto& s : m.shards) r.bytes += s.bytes;
  r.content_labels = static_cast<int64_t>(m.content_labels.size());
  std::vector<int64_t> per_label(m.content_labels.size(), 0);
  for (int64_t id = 0; id < r.identities && r.content_labels > 0; ++id)
    for (int64_t i = 0; i < ds.num_samples(id); ++i) ++per_label[ds.content_label(id, i)];
  int64_t least = INT64_MAX, most = 0;
  for (int64_t n : per_label) {
    least = std::min(least, n), most = std::max(most, n);
    if (n == 0) ++r.unused_content_labels;
  }
  std::ostringstream o;
  o << dir << ": imprint dataset v" << m.version << ", " << modality_name(m.modality);
  if (m.modality == Modality::Image) {
    o << " " << m.image_size << "x" << m.image_size << " RGB\n";
  } else {
    o << " " << m.sample_rate << " Hz mono\n";
  }
  o << "  identities: " << r.identities << " (" << ds.train_identities().size() << " train, " << r.holdout
    << " held out" << (r.unusable_identities ? ", " + std::to_string(r.unusable_identities) + " with < 2 samples" : "")
    << ")\n";
  o << "  samples:    " << r.samples << " (" << r.min_per_identity << " to " << r.max_per_identity
    << " per identity)\n";
  if (r.content_labels > 0) {
    o << "  content:    " << r.content_labels << " labels (";
    for (size_t c = 0; c < m.content_labels.size() && c < 8; ++c) o << (c ? ", " : "") << m.content_labels[c];
    o << (m.content_labels.size() > 8 ? ", ..." : "") << "), " << least << " to " << most << " samples per label";
    if (r.unused_content_labels) o << ", " << r.unused_content_labels << " on no sample";
    o << "\n";
  } else {
    o << "  content:    no content labels\n";
  }
  o << "  shards:     " << m.shards.size() << ", " << r.bytes << " bytes, all checksums match, every sample reads back";
  r.summary = o.str();
  return r;
}

}  // namespace imprint
