// The run directory as a thing one run owns: made with a message that says why it cannot be, locked so a
// second train/resume in it is refused, and written through files that either take a whole record or stop
// the run (exit 3) saying what was not written — never a log that silently ends at a full disk.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace imprint {

// A run directory that cannot be made, locked or written: exit 3 (core/exit_codes.h), as a checkpoint that
// cannot be written.
class RunDirectoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Creates `dir` (and its parents) if missing and checks it is a writable directory. Returns whether it made
// it. Throws RunDirectoryError "DIR: cannot be a run directory: WHY" (read-only filesystem, permission,
// a file in the way) instead of the standard library's text.
bool make_run_directory(const std::string& dir);

// Writes `bytes` to `path` through a temp file unique to this process, then renames it over `path`: a
// reader sees the old file or the whole new one. Throws RunDirectoryError naming the file and the cause.
void write_file_atomically(const std::string& path, const std::string& bytes);

// A file records are appended to whole: each append() is written completely or the file is cut back to where
// it was (no torn record), and a failure throws RunDirectoryError "PATH: cannot append WHAT: CAUSE; ..."
// saying that it and nothing after it was written.
class AppendOnlyFile {
 public:
  AppendOnlyFile(std::string path, std::string what);  // opens (creates) for appending; throws as above
  ~AppendOnlyFile();
  AppendOnlyFile(const AppendOnlyFile&) = delete;
  AppendOnlyFile& operator=(const AppendOnlyFile&) = delete;
  void append(const std::string& record, const std::string& which);  // `which`: "the record of step 13"
  const std::string& path() const { return path_; }

 private:
  std::string path_, what_;
  int fd_ = -1;
};

// The lock of a run directory: DIR/imprint.lock, made with open(O_CREAT | O_EXCL) and holding the owner's
// host, pid, process start time and Slurm job id. O_EXCL creation is atomic on local filesystems and on the
// shared ones clusters use (NFSv3+, Lustre, GPFS, BeeGFS), where flock()/fcntl() locks depend on mount
// options (Lustre's default refuses flock) or a lock daemon, and vanish or linger with a client. The owner
// refreshes the file's mtime every 15 s. A lock is stale — taken over, with a warning — when its owner is on
// this host and that process is gone (or the pid now belongs to another process), when it was left by an
// earlier run of the same Slurm job (a requeue), or when another host's owner has not refreshed it for
// kStaleAfterSeconds. Released (deleted) when the owner ends, normally or by an exception.
class RunDirectoryLock {
 public:
  static constexpr int kRefreshSeconds = 15;
  static constexpr int kStaleAfterSeconds = 120;

  // Takes the lock of `dir` or throws RunDirectoryError naming the process that holds it (or why the lock
  // cannot be written). `remove_if_empty`: the directory was made for this run, so it goes again if the run
  // leaves nothing in it, or cannot take the lock.
  static std::unique_ptr<RunDirectoryLock> acquire(const std::string& dir, bool remove_if_empty = false);
  ~RunDirectoryLock();
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  RunDirectoryLock(std::string dir, std::string path, std::string content, bool remove_if_empty);
  static std::unique_ptr<RunDirectoryLock> take(const std::string& dir, bool remove_if_empty);
  void refresh_until_released();
  std::string dir_, path_, content_;
  bool remove_if_empty_;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::thread refresher_;
};

}  // namespace imprint
