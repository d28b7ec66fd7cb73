#include "trainer/inference/encoder_export.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/serialize/archive.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/pixels.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/safetensors_writer.h"
#include "trainer/checkpoint/weight_average.h"
#include "trainer/inference/output_folder.h"
#include "trainer/inference/traced_module.h"

namespace imprint {
namespace {

// The exported module's forward for images: what `imprint pack` and `embed` do to a picture before the encoder
// sees it (data/media_decode.cpp: centre crop to a square, area average when shrinking, bilinear when growing,
// rounding to 8-bit levels), written in TorchScript so a user's image of any size gets the same numbers. The
// resize is separable: rows and columns each through a [size, s] weight matrix, in float64 on 0..255 levels
// so that halves round as lround does.
std::string image_forward_source(int64_t size) {
  return R"(
def resize_weights(self, s: int, size: int):
    scale = float(s) / float(size)
    m = torch.zeros([size, s]).double()
    for y in range(size):
        if scale >= 1.0:
            a = int(y * scale)
            b = max(a + 1, int((y + 1) * scale))
            m[y, a:b] = 1.0 / float(b - a)
        else:
            f = min(max((y + 0.5) * scale - 0.5, 0.0), float(s - 1))
            a = int(f)
            b = min(a + 1, s - 1)
            t = f - float(a)
            m[y, a] += 1.0 - t
            m[y, b] += t
    return m

def forward(self, x):
    if not x.is_floating_point():
        x = x.float() / 255.0
    if x.dim() == 3:
        x = x.unsqueeze(0)
    h = x.size(2)
    w = x.size(3)
    s = min(h, w)
    top = (h - s) // 2
    left = (w - s) // 2
    x = x[:, :, top:top + s, left:left + s]
    if s != )" +
         std::to_string(size) + R"(:
        m = self.resize_weights(s, )" +
         std::to_string(size) + R"()
        levels = torch.round(x.double() * 255.0)
        levels = torch.matmul(torch.matmul(m, levels), m.t())
        x = (torch.floor(levels.clamp(0.0, 255.0) + 0.5 + 1e-9) / 255.0).float()
    return self.encode(x)
)";
}

// The exported module's forward for audio: `forward(x, sample_rate)` resamples [B, T] audio at any rate to the
// training rate first (a Hann-windowed sinc, the kernel torchaudio.functional.resample uses: 6 zero crossings,
// rolloff 0.99), then calls `encode`. `imprint embed` resamples with libsoxr instead, so the two agree closely,
// not bit for bit (tests/interop/check_export.py measures it).
std::string audio_forward_source(int64_t rate) {
  return R"(
def resample(self, x, orig: int, new: int):
    a = orig
    b = new
    while b != 0:
        t = a % b
        a = b
        b = t
    orig = orig // a
    new = new // a
    base = float(min(orig, new)) * 0.99
    w = 6.0 * float(orig) / base
    width = int(w)
    if float(width) < w:
        width += 1
    idx = torch.arange(-width, width + orig).double().view(1, 1, -1) / float(orig)
    t = torch.arange(0, -new, -1).double().view(-1, 1, 1) / float(new) + idx
    t = (t * base).clamp(-6.0, 6.0)
    window = torch.cos(t * 3.141592653589793 / 12.0) ** 2
    t = t * 3.141592653589793
    kernels = torch.where(t == 0.0, torch.ones_like(t), torch.sin(t) / t) * window * (base / float(orig))
    length = x.size(1)
    y = torch.constant_pad_nd(x.double().unsqueeze(1), [width, width + orig], 0.0)
    y = torch.conv1d(y, kernels, None, [orig]).transpose(1, 2).reshape(x.size(0), -1)
    return y[:, :(new * length + orig - 1) // orig].float()

def forward(self, x, sample_rate: int = )" +
         std::to_string(rate) + R"():
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if sample_rate != )" +
         std::to_string(rate) + R"(:
        x = self.resample(x, sample_rate, )" +
         std::to_string(rate) + R"()
    return self.encode(x)
)";
}

}  // namespace

at::Tensor image_input(const uint8_t* hwc, int64_t size) {
  const at::Tensor pixels = at::from_blob(const_cast<uint8_t*>(hwc), {size, size, 3}, at::kByte);
  return to_model_range(pixels.permute({2, 0, 1}).to(at::kFloat) / 255.0f);  // as ShardDataset::read
}

at::Tensor audio_input(const int16_t* pcm, int64_t samples) {
  return at::from_blob(const_cast<int16_t*>(pcm), {samples}, at::kShort).to(at::kFloat) / 32768.0f;
}

ExportedFiles export_encoder(const TrainedEncoder& trained, const std::string& out_dir, bool ip_adapter_embeds) {
  make_output_folder(out_dir);
  ExportedFiles files{out_dir + "/model.safetensors", out_dir + "/encoder.torchscript.pt", out_dir + "/export.json"};
  const EncoderSpec& spec = trained.spec;
  const bool image = spec.modality == Modality::Image;
  std::map<std::string, std::string> meta = {
      {"format", "imprint-encoder"},
      {"imprint_version", IMPRINT_VERSION},
      {"modality", modality_name(spec.modality)},
      {"embed_dim", std::to_string(spec.embed_dim)},
      {"tokens", std::to_string(spec.tokens)},
      {"step", std::to_string(trained.step)},
      {"weights", trained.averaged_weights ? "ema (moving average, ema.decay)" : "last step"},
      {"checkpoint", trained.checkpoint},
      {"signature", signature_text(trained.signature)},
      {"input", image ? "image [B, 3, H, W] (or [3, H, W]) float32 RGB in [0, 1], or uint8 0..255, of any size: "
                        "centre-cropped to a square and resized to " +
                            std::to_string(spec.image_size) + " x " + std::to_string(spec.image_size) +
                            " inside the module as `imprint embed` does"
                      : "audio [B, T] (or [T]) float32 mono in [-1, 1], any T; forward(x, sample_rate) resamples "
                        "audio at another rate to " +
                            std::to_string(spec.sample_rate) +
                            " Hz inside the module (Hann-windowed sinc; imprint embed uses libsoxr)"},
      {"output", "(tokens [B, K, D], pooled [B, D])"},
      {"pooled",
       "not normalised: L2-normalise and compare by cosine similarity, as imprint's evaluation does "
       "(the objectives train cosine similarities)"},
      {"metric", "cosine"},
      {"safetensors_keys",
       "the TorchScript module's parameter names with 'encoder.' before them and '_' for '.': "
       "module.load_state_dict({k[8:].replace('.', '_'): v for k, v in load_file('model.safetensors').items()})"}};
  if (image) meta["image_size"] = std::to_string(spec.image_size);
  if (image && ip_adapter_embeds)
    meta["ip_adapter_image_embeds"] = "method ip_adapter_image_embeds(image) -> [B, 1, " +
                                      std::to_string(spec.tokens * spec.embed_dim) +
                                      "]: the tokens flattened, one IP-Adapter image per row (diffusers' "
                                      "ip_adapter_image_embeds for the adapter exported beside it)";
  if (!image) meta["sample_rate"] = std::to_string(spec.sample_rate);

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : trained.encoder->named_parameters()) tensors.emplace_back("encoder." + p.key(), p.value());
  for (const auto& b : trained.encoder->named_buffers()) tensors.emplace_back("encoder." + b.key(), b.value());
  write_safetensors(files.safetensors, tensors, meta);

  // TorchScript by tracing the C++ module (traced_module.h).
  const at::Tensor example = image ? at::rand({2, 3, spec.image_size, spec.image_size})
                                   : at::randn({2, std::max<int64_t>(spec.sample_rate / 4, spec.n_fft * 2)}) * 0.1;
  torch::NoGradGuard no_grad;
  auto encoder = trained.encoder;
  auto fn = [encoder, image](torch::jit::Stack inputs) -> torch::jit::Stack {
    at::Tensor x = inputs.at(0).toTensor();
    if (image) x = to_model_range(x);  // [0, 1] -> the training normalisation
    const Conditioning c = encoder->encode(x);
    return {c10::ivalue::Tuple::create({c.tokens, c.pooled})};
  };
  // The traced encoder is `encode` (images at the training size in [0, 1]; audio at the training rate);
  // `forward` is the preprocessing of any image size, or of audio at any rate, followed by it.
  torch::jit::Module module =
      traced_module(std::string(modality_name(spec.modality)) + "_encoder", *trained.encoder, {example}, fn, "encode");
  if (image)
    define_or_explain(module, image_forward_source(spec.image_size), "image preprocessing");
  else
    define_or_explain(module, audio_forward_source(spec.sample_rate), "audio resampling");
  if (image && ip_adapter_embeds) {
    define_or_explain(module, R"(
def ip_adapter_image_embeds(self, x):
    tokens, pooled = self.forward(x)
    return tokens.flatten(1).unsqueeze(1)
)",
                      "IP-Adapter image embeds");
  }
  module.save(files.torchscript);

  nlohmann::ordered_json j(meta);
  std::ofstream(files.metadata) << j.dump(1) << "\n";
  return files;
}

}  // namespace imprint
