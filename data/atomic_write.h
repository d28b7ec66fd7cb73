// Writes a file's bytes whole or not at all: into a temp file beside it, unique to this process
// (core/temp_path.h), then renamed into place. The PNGs and WAVs `imprint generate` writes go through it.
#pragma once
#include <string>

namespace imprint {

// Throws std::runtime_error naming the path when it cannot be written; no temp file is left behind.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace imprint
