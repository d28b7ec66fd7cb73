#include "trainer/run_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "core/temp_path.h"

namespace imprint {
namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return host;
}

// Field 22 of /proc/PID/stat (clock ticks after boot): with the pid, it names one process for the life of
// the machine, so a pid reused by another process is not mistaken for the owner. "" when unreadable.
std::string process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return "";
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  for (int i = 3; i <= 22 && fields >> f; ++i) {
  }
  return f;
}

std::string slurm_job() {
  const char* id = std::getenv("SLURM_JOB_ID");
  return id ? id : "";
}

// The lock file's fields: "host=H pid=P start=S slurm_job=J since=UNIX".
std::string field(const std::string& content, const std::string& name) {
  std::istringstream in(content);
  for (std::string token; in >> token;)
    if (token.rfind(name + "=", 0) == 0) return token.substr(name.size() + 1);
  return "";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string errno_text(int e) { return std::strerror(e); }

// Why the lock `content` (file age `age_s`) no longer protects a running process; "" when it does.
std::string stale_reason(const std::string& content, double age_s) {
  const std::string host = field(content, "host"), pid = field(content, "pid");
  if (host.empty() || pid.empty())
    return age_s > RunDirectoryLock::kRefreshSeconds ? "an unfinished lock file, not refreshed since" : "";
  if (!slurm_job().empty() && field(content, "slurm_job") == slurm_job())
    return "left by an earlier run of this Slurm job (" + slurm_job() + ", requeued)";
  if (host == host_name()) {
    const pid_t p = static_cast<pid_t>(std::atoll(pid.c_str()));
    if (p <= 0 || (::kill(p, 0) != 0 && errno == ESRCH)) return "process " + pid + " is no longer running";
    const std::string start = process_start_time(p);
    if (!start.empty() && start != field(content, "start")) return "pid " + pid + " now belongs to another process";
    return "";
  }
  if (age_s > RunDirectoryLock::kStaleAfterSeconds)
    return log::strf("not refreshed for %.0f s by host %s", age_s, host.c_str());
  return "";
}

}  // namespace

bool make_run_directory(const std::string& dir) {
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  if (existed && !fs::is_directory(dir, ec))
    throw RunDirectoryError(dir + ": cannot be a run directory: it exists and is not a directory");
  if (!existed) {
    fs::create_directories(dir, ec);
    if (ec) throw RunDirectoryError(dir + ": cannot create the run directory: " + ec.message());
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw RunDirectoryError(dir + ": cannot write in the run directory: " + errno_text(errno));
  return !existed;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw RunDirectoryError(path + ": cannot write: " + errno_text(errno));
  size_t done = 0;
  int error = 0;
  while (done < bytes.size() && !error) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      error = n < 0 ? errno : ENOSPC;
    else
      done += static_cast<size_t>(n);
  }
  if (!error && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && !error) error = errno;
  if (!error && ::rename(tmp.c_str(), path.c_str()) != 0) error = errno;
  if (error) {
    ::unlink(tmp.c_str());
    throw RunDirectoryError(path + ": cannot write: " + errno_text(error) + " (the file was not changed)");
  }
}

AppendOnlyFile::AppendOnlyFile(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw RunDirectoryError(path_ + ": cannot open the " + what_ + " for appending: " + errno_text(errno));
}

AppendOnlyFile::~AppendOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendOnlyFile::append(const std::string& record, const std::string& which) {
  struct stat st {};
  const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    const int error = n < 0 ? errno : ENOSPC;
    // Cut the part written off again, so the file ends at its last whole record.
    const bool cut = before >= 0 && ::ftruncate(fd_, before) == 0;
    throw RunDirectoryError(path_ + ": cannot append to the " + what_ + ": " + errno_text(error) + "; " + which +
                            (done == 0 ? " was not written"
                             : cut     ? " was not written (its part was removed)"
                                       : " was written only in part") +
                            ", nor anything after it: the run stops rather than go on without its records");
  }
}

namespace {

// A directory made for this run that holds nothing goes again when the run cannot start in it.
void remove_if_made_and_empty(const std::string& dir, bool made) {
  std::error_code ec;
  if (made && fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

}  // namespace

std::unique_ptr<RunDirectoryLock> RunDirectoryLock::acquire(const std::string& dir, bool remove_if_empty) {
  try {
    return take(dir, remove_if_empty);
  } catch (const RunDirectoryError&) {
    remove_if_made_and_empty(dir, remove_if_empty);  // a full disk before the start leaves no empty folder
    throw;
  }
}

std::unique_ptr<RunDirectoryLock> RunDirectoryLock::take(const std::string& dir, bool remove_if_empty) {
  const std::string path = dir + "/imprint.lock";
  const std::string content = "host=" + host_name() + " pid=" + std::to_string(::getpid()) +
                              " start=" + process_start_time(::getpid()) + " slurm_job=" + slurm_job() +
                              " since=" + std::to_string(static_cast<long long>(std::time(nullptr))) + "\n";
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const ssize_t n = ::write(fd, content.data(), content.size());
      int error = n < 0 ? errno : n != static_cast<ssize_t>(content.size()) ? ENOSPC : 0;  // short: the disk filled
      if (::close(fd) != 0 && error == 0) error = errno;
      if (error != 0) {
        ::unlink(path.c_str());
        throw RunDirectoryError(path + ": cannot write the run directory's lock: " + errno_text(error));
      }
      return std::unique_ptr<RunDirectoryLock>(new RunDirectoryLock(dir, path, content, remove_if_empty));
    }
    if (errno != EEXIST)
      throw RunDirectoryError(path + ": cannot create the run directory's lock: " + errno_text(errno));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // released meanwhile: try again
    const std::string holder = read_all(path);
    const double age = std::difftime(std::time(nullptr), st.st_mtime);
    const std::string why = stale_reason(holder, age);
    if (why.empty())
      throw RunDirectoryError(
          dir + " is in use by another imprint run: pid " + field(holder, "pid") + " on host " + field(holder, "host") +
          (field(holder, "slurm_job").empty() ? "" : " (Slurm job " + field(holder, "slurm_job") + ")") + " holds " +
          path +
          ". One run directory takes one run at a time: wait for it, stop it, or choose another "
          "--run-dir (if that process is gone and its host unreachable, delete " +
          path + ")");
    log::warn(path + ": taking over a stale lock (" + why + ")");
    ::unlink(path.c_str());
  }
  throw RunDirectoryError(path + ": cannot take the run directory's lock: other processes keep taking it");
}

RunDirectoryLock::RunDirectoryLock(std::string dir, std::string path, std::string content, bool remove_if_empty)
    : dir_(std::move(dir)), path_(std::move(path)), content_(std::move(content)), remove_if_empty_(remove_if_empty) {
  refresher_ = std::thread([this] { refresh_until_released(); });
}

void RunDirectoryLock::refresh_until_released() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!released_cv_.wait_for(lock, std::chrono::seconds(kRefreshSeconds), [this] { return released_; }))
    ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);  // now, as the file server sees it
}

RunDirectoryLock::~RunDirectoryLock() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
  }
  released_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  if (read_all(path_) == content_) ::unlink(path_.c_str());  // never another process's lock
  remove_if_made_and_empty(dir_, remove_if_empty_);
}

}  // namespace imprint
