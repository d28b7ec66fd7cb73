// RAII for HDF5 identifiers, and the one mutex every HDF5 call in imprint takes: Debian's libhdf5 is the
// serial build, not thread-safe, so loader threads serialise their reads (and decode outside the lock).
#pragma once
#include <hdf5.h>

#include <mutex>
#include <string>

#include "data/shard_format.h"

namespace imprint {

std::mutex& hdf5_mutex();

class H5Handle {
 public:
  H5Handle() = default;
  H5Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id < 0) throw DatasetError(what);
  }
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// Silences HDF5's own error stack printing: imprint reports errors itself, naming the file.
void quiet_hdf5_errors();

}  // namespace imprint
