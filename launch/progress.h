// Progress of long commands (synth, pack, embed, generate) and the size option they share.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace imprint {

// On a terminal one rewritten line (a bar, rate and ETA); otherwise a plain line every 10%.
std::function<void(int64_t done, int64_t total)> progress_printer(const char* what, const char* unit);
// "256MB", "1GB", "64KB" or a byte count; ConfigError naming `option` otherwise.
int64_t parse_size(const std::string& text, const std::string& option);

}  // namespace imprint
