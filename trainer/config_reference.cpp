// docs/configuration.md's key table, generated from the schema so the two cannot drift apart.
#include <sstream>

#include "trainer/config_schema.h"

namespace imprint {

std::string config_reference_markdown() {
  std::ostringstream md;
  md << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : config_schema()) {
    const char* type = k.type == KeyType::Int ? "int" : k.type == KeyType::Float ? "float"
                       : k.type == KeyType::Bool ? "bool" : k.type == KeyType::String ? "string" : "choice";
    std::string allowed = describe_expected(k);
    for (const char* lead : {"an integer in ", "a number in "})
      if (allowed.rfind(lead, 0) == 0) allowed = allowed.substr(std::string(lead).size());
    md << "| `" << k.path << "` | " << type << " | `" << k.default_value << "` | " << allowed << " | " << k.doc
       << " |\n";
  }
  return md.str();
}

}  // namespace imprint
