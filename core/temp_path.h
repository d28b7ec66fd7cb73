// A temp-file name beside a file, unique to this process on this host: two processes writing the same file
// (two runs in one folder, ranks of several hosts on a shared filesystem) never write one temp file.
#pragma once
#include <unistd.h>

#include <string>

namespace imprint {

inline std::string temp_path_for(const std::string& path) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return path + ".tmp." + host + "." + std::to_string(::getpid());
}

}  // namespace imprint
