// Range checks of command-line options, from one table: an option that stands for a config key takes that
// key's type and range from the schema (so `eval --batch-size 0` is refused as `eval.batch_size: 0` is), and an
// option of its own declares its range where it is added. Either way a mistake is a usage error (exit 2) naming
// the option, what it expects and what it got — NaN and infinities included, which CLI11's Range lets through.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "config/key_spec.h"

namespace imprint {

// The option checked as the config key `key` (job_schema()) is; a key missing from the schema is a
// programming error, reported at start-up.
CLI::Option* like_key(CLI::Option* option, const std::string& key);

// The option checked as an integer / a finite real in `range`.
CLI::Option* integer_in(CLI::Option* option, const Range& range);
CLI::Option* real_in(CLI::Option* option, const Range& range);

// A folder option written without its trailing slashes ("exported/" names files "exported/model.safetensors").
CLI::Option* folder(CLI::Option* option);

}  // namespace imprint
