#include "trainer/shared_run_directory.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <utility>
#include <vector>

#include "trainer/run_directory.h"

namespace imprint {
namespace {

constexpr int64_t kLockBytes = 1024;  // a lock file holds one short line (run_directory.cpp)
constexpr int64_t kHostBytes = 72;    // a Linux host name has at most 64 bytes

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

at::Tensor bytes_of(const std::string& s, int64_t n) {
  at::Tensor t = at::zeros({n}, at::kByte);
  std::memcpy(t.data_ptr(), s.data(), std::min<size_t>(s.size(), static_cast<size_t>(n)));
  return t;
}

std::string string_at(const at::Tensor& t, int64_t offset, int64_t n) {
  const char* p = reinterpret_cast<const char*>(t.data_ptr<uint8_t>()) + offset;
  return std::string(p, strnlen(p, static_cast<size_t>(n)));
}

std::string host_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "?";
  return host;
}

}  // namespace

void check_run_directory_is_shared(const std::string& dir, bool made, Communicator& comm) {
  if (comm.size() == 1) return;
  const std::string lock = dir + "/imprint.lock";
  at::Tensor expected = bytes_of(comm.rank() == 0 ? read_file(lock) : "", kLockBytes);
  comm.broadcast_(expected, 0);
  const std::string want = string_at(expected, 0, kLockBytes);
  bool sees = comm.rank() == 0;
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(3); !sees;) {
    sees = !want.empty() && read_file(lock).substr(0, kLockBytes) == want;
    if (sees || std::chrono::steady_clock::now() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const at::Tensor all_see = comm.allgather(at::full({1}, sees ? 1 : 0, at::kInt));
  const at::Tensor hosts = comm.allgather(bytes_of(host_name(), kHostBytes));
  std::vector<std::pair<std::string, std::vector<int>>> blind;  // host -> ranks that do not see the lock
  for (int r = 0; r < comm.size(); ++r) {
    if (all_see[r].item<int>()) continue;
    const std::string host = string_at(hosts, r * kHostBytes, kHostBytes);
    auto it = std::find_if(blind.begin(), blind.end(), [&](const auto& b) { return b.first == host; });
    if (it == blind.end()) it = blind.insert(blind.end(), {host, {}});
    it->second.push_back(r);
  }
  if (blind.empty()) return;
  if (comm.rank() != 0) {
    // Leave nothing behind on this node's disk, then wait for rank 0 to end the job (it never enters this).
    std::error_code ignored;
    if (made && std::filesystem::is_empty(dir, ignored)) std::filesystem::remove(dir, ignored);
    comm.barrier();
  }
  std::string who;
  for (const auto& [host, ranks] : blind) {
    who += who.empty() ? "" : ", ";
    who += "rank(s)";
    for (int r : ranks) {
      who += ' ';  // not `" " + to_string(r)`: GCC 12 in C++20 mode warns falsely on it (stringop-overflow)
      who += std::to_string(r);
    }
    who += " on host " + host;
  }
  throw RunDirectoryError(dir + ": not on a filesystem every rank sees: " + who + " do not see the lock file " + lock +
                          " that rank 0 holds on host " + string_at(hosts, 0, kHostBytes) +
                          "; the run directory must be on a filesystem shared by every node (rank 0 writes the "
                          "checkpoints, every rank reads them to resume): give --run-dir a folder every node mounts "
                          "(docs/running.md)");
}

}  // namespace imprint
