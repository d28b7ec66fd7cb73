// The folder `export` and `embed` write into (--out): made if missing, or one clear usage error (exit 2) when it
// is a file, cannot be made or cannot be written, before any work — not the standard library's text after it.
#pragma once
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "config/config_error.h"

namespace imprint {

inline void make_output_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw ConfigError("--out: " + dir + " exists and is not a folder");
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError("--out: cannot create " + dir + ": " + ec.message());
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw ConfigError("--out: cannot write in " + dir + ": " + std::strerror(errno));
}

}  // namespace imprint
