// What an identity's samples are: images or audio. Shared by data (how samples are stored and decoded),
// models (which encoders read them) and generation.
#pragma once
#include <stdexcept>
#include <string>

namespace imprint {

enum class Modality { Image, Audio };

inline const char* modality_name(Modality m) { return m == Modality::Image ? "image" : "audio"; }
// "image" | "audio"; throws std::invalid_argument otherwise.
inline Modality parse_modality(const std::string& name) {
  if (name == "image") return Modality::Image;
  if (name == "audio") return Modality::Audio;
  throw std::invalid_argument("unknown modality '" + name + "' (expected image or audio)");
}

}  // namespace imprint
