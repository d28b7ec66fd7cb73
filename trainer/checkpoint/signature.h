// A checkpoint's model signature: the keys that shape its parameters (and facts such as a frozen file's
// content hash), stored as "key=value" lines. A checkpoint is only loaded into a model with the same values.
#pragma once
#include <map>
#include <string>

namespace imprint {

using Signature = std::map<std::string, std::string>;

std::string signature_text(const Signature& signature);
Signature parse_signature(const std::string& text);
// "key is X there, Y here" for each key of `here` whose value in `there` differs ("(absent)" when it has none),
// joined by "; "; empty when they agree.
std::string signature_differences(const Signature& here, const Signature& there);

}  // namespace imprint
