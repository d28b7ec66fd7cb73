// TorchScript modules standing for a user's files, made with torch::jit::Module::define (no Python needed):
// a latent generator conditioned on content TOKENS (objective.denoise.generator_script) and an autoencoder
// with encode/decode (objective.denoise.autoencoder_script). Shared by the unit and MPI tests.
#pragma once
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "generation/content_tokens.h"

namespace imprint::testing {

// forward(x_t [B, C, h, w], t [B], content [B, L, Dc] tokens, id_tokens [B, K, D], id_scale) -> [B, C, h, w]:
// a frozen convolution over x_t plus per-row content and identity terms; the identity term's weights are the
// submodule "adapter" (file name "adapter.w").
inline std::string write_token_generator(const std::string& dir, int64_t channels, int64_t content_dim, int64_t id_dim,
                                         double scale = 1.0) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(5);
  torch::jit::Module m("UserLatentGenerator");
  m.register_parameter("base_w", torch::randn({channels, channels, 3, 3}) * 0.1 * scale, false);
  m.register_parameter("content_w", torch::randn({content_dim, channels}) * 0.1, false);
  torch::jit::Module adapter("UserAdapter");
  adapter.register_parameter("w", torch::randn({id_dim, channels}) * 0.1, false);
  m.register_module("adapter", adapter);
  m.define(R"(
def forward(self, x_t: Tensor, t: Tensor, content: Tensor, id_tokens: Tensor, id_scale: float) -> Tensor:
    h = torch.conv2d(x_t, self.base_w, None, [1, 1], [1, 1])
    c = torch.matmul(content.mean(1), self.content_w)
    a = torch.matmul(id_tokens.mean(1), self.adapter.w)
    s = c + id_scale * a + 0.001 * t.to(x_t.dtype).unsqueeze(1)
    return h + s.unsqueeze(-1).unsqueeze(-1)
)");
  const std::string path = dir + "/generator.pt";
  m.save(path);
  return path;
}

// encode(x [B, 3, S, S] in [-1, 1]) -> [B, 4, S/4, S/4]: 4x4 average pooling and a 1x1 convolution;
// decode(z) -> [B, 3, S, S]: a 1x1 convolution and 4x nearest upsampling; latents times scale_factor 0.5.
// `methods` "encode" leaves decode out (a file that cannot serve).
inline std::string write_autoencoder(const std::string& dir, const std::string& methods = "both",
                                     int64_t decode_upsample = 4) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(6);
  torch::jit::Module m("UserAutoencoder");
  m.register_parameter("enc_w", torch::randn({4, 3, 1, 1}) * 0.5, false);
  m.register_parameter("dec_w", torch::randn({3, 4, 1, 1}) * 0.5, false);
  m.register_attribute("scale_factor", c10::FloatType::get(), 0.5);
  m.define(R"(
def encode(self, x: Tensor) -> Tensor:
    return torch.conv2d(torch.avg_pool2d(x, [4, 4]), self.enc_w)
)");
  if (methods == "both")
    m.define(R"(
def decode(self, z: Tensor) -> Tensor:
    h = torch.conv2d(z, self.dec_w)
    return h.repeat_interleave()" +
             std::to_string(decode_upsample) + ", 2).repeat_interleave(" + std::to_string(decode_upsample) + R"(, 3)
)");
  const std::string path = dir + "/autoencoder.pt";
  m.save(path);
  return path;
}

// A label -> tokens table [labels, length, width] as .npy (float32, C order), seeded values.
inline std::string write_content_tokens(const std::string& dir, int64_t labels, int64_t length, int64_t width,
                                        uint64_t seed = 7) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(seed);
  const auto table = torch::randn({labels, length, width});
  const std::string path = dir + "/content_tokens.npy";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(labels) + ", " +
                       std::to_string(length) + ", " + std::to_string(width) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  out << header;
  out.write(static_cast<const char*>(table.data_ptr()), static_cast<std::streamsize>(table.numel() * 4));
  return path;
}

}  // namespace imprint::testing
