#include "config/reference.h"

#include <sstream>

namespace imprint {

std::string reference_markdown(const Schema& schema) {
  std::ostringstream md;
  md << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : schema.keys()) {
    const char* type = k.type == KeyType::Int      ? "int"
                       : k.type == KeyType::Float  ? "float"
                       : k.type == KeyType::Bool   ? "bool"
                       : k.type == KeyType::String ? "string"
                       : k.type == KeyType::Path   ? "path"
                                                   : "choice";
    std::string allowed = describe_expected(k);
    for (const char* lead : {"an integer in ", "a number in "})
      if (allowed.rfind(lead, 0) == 0) allowed = allowed.substr(std::string(lead).size());
    md << "| `" << k.path << "` | " << type << " | `" << k.default_value << "` | " << allowed << " | " << k.doc;
    if (k.shapes_model()) md << " *(shapes the model: a checkpoint loads only with the same value)*";
    if (k.role == KeyRole::Operational) md << " *(may change on resume)*";
    md << " |\n";
  }
  return md.str();
}

}  // namespace imprint
