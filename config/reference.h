// The key table of docs/configuration.md, generated from a schema so the two cannot drift apart
// (`imprint config-reference` prints it; tests/test_config.cpp checks the doc holds it).
#pragma once
#include <string>

#include "config/schema.h"

namespace imprint {

std::string reference_markdown(const Schema& schema);

}  // namespace imprint
