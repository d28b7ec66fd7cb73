#include "trainer/encoder_export.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/serialize/archive.h>

#include <filesystem>
#include <fstream>

#include "trainer/checkpoint_store.h"
#include "trainer/safetensors_writer.h"
#include "trainer/weight_average.h"

namespace imprint {
namespace {

int64_t signature_int(const std::map<std::string, std::string>& sig, const std::string& key, const std::string& path) {
  const auto it = sig.find(key);
  if (it == sig.end())
    throw CheckpointError(path + ": its model signature has no " + key + " (not an encoder checkpoint of this imprint)");
  return std::stoll(it->second);
}

// TorchScript attribute names cannot hold dots: "resampler.to_k.weight" -> "resampler_to_k_weight".
std::string attribute_name(std::string name) {
  for (auto& c : name)
    if (c == '.') c = '_';
  return name;
}

}  // namespace

TrainedEncoder load_trained_encoder(const std::string& checkpoint) {
  torch::serialize::InputArchive ar;
  return load_trained_encoder(checkpoint, ar);
}

TrainedEncoder load_trained_encoder(const std::string& checkpoint, torch::serialize::InputArchive& ar) {
  TrainedEncoder t;
  t.checkpoint = checkpoint;
  t.step = read_checkpoint(checkpoint, ar);
  c10::IValue sig;
  if (!ar.try_read("signature", sig) || !sig.isString())
    throw CheckpointError(checkpoint + ": holds no model signature (not an imprint training checkpoint)");
  t.signature = parse_signature(sig.toStringRef());
  const auto& s = t.signature;
  const auto modality = s.find("data.modality");
  if (modality == s.end()) throw CheckpointError(checkpoint + ": its model signature names no data.modality");
  t.spec.modality = modality->second;
  if (s.count("model.name")) t.spec.name = s.at("model.name");
  t.spec.embed_dim = signature_int(s, "model.embed_dim", checkpoint);
  t.spec.tokens = signature_int(s, "model.tokens", checkpoint);
  t.spec.width = signature_int(s, "model.width", checkpoint);
  // Keys only some encoders have (EncoderInfo::shaping_keys): in the signature exactly when they shape it.
  if (s.count("model.depth")) t.spec.depth = signature_int(s, "model.depth", checkpoint);
  if (s.count("model.heads")) t.spec.heads = signature_int(s, "model.heads", checkpoint);
  if (s.count("model.patch")) t.spec.patch = signature_int(s, "model.patch", checkpoint);
  if (s.count("model.resampler_depth")) t.spec.resampler_depth = signature_int(s, "model.resampler_depth", checkpoint);
  if (s.count("model.resampler_heads")) t.spec.resampler_heads = signature_int(s, "model.resampler_heads", checkpoint);
  if (t.spec.modality == "image") {
    t.spec.image_size = signature_int(s, "data.image_size", checkpoint);
  } else {
    t.spec.sample_rate = signature_int(s, "data.sample_rate", checkpoint);
    t.spec.n_mels = signature_int(s, "model.audio.n_mels", checkpoint);
    t.spec.n_fft = signature_int(s, "model.audio.n_fft", checkpoint);
    t.spec.hop = signature_int(s, "model.audio.hop", checkpoint);
  }
  t.encoder = make_encoder(t.spec);
  try {
    torch::serialize::InputArchive model;
    ar.read("model", model);
    t.encoder->load(model);
    t.averaged_weights = load_average_into(ar, *t.encoder, "", checkpoint) > 0;  // a run with ema.decay
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(checkpoint + ": cannot restore the encoder: " + first_line(e.what()));
  }
  t.encoder->eval();
  return t;
}

at::Tensor image_input(const uint8_t* hwc, int64_t size) {
  const at::Tensor pixels = at::from_blob(const_cast<uint8_t*>(hwc), {size, size, 3}, at::kByte);
  return (pixels.permute({2, 0, 1}).to(at::kFloat) / 255.0f - 0.5f) * 4.0f;  // as ShardDataset::read
}

at::Tensor audio_input(const int16_t* pcm, int64_t samples) {
  return at::from_blob(const_cast<int16_t*>(pcm), {samples}, at::kShort).to(at::kFloat) / 32768.0f;
}

ExportedFiles export_encoder(const TrainedEncoder& trained, const std::string& out_dir) {
  std::filesystem::create_directories(out_dir);
  ExportedFiles files{out_dir + "/model.safetensors", out_dir + "/encoder.torchscript.pt", out_dir + "/export.json"};
  const EncoderSpec& spec = trained.spec;
  std::map<std::string, std::string> meta = {
      {"format", "imprint-encoder"},
      {"imprint_version", IMPRINT_VERSION},
      {"modality", spec.modality},
      {"embed_dim", std::to_string(spec.embed_dim)},
      {"tokens", std::to_string(spec.tokens)},
      {"step", std::to_string(trained.step)},
      {"weights", trained.averaged_weights ? "ema (moving average, ema.decay)" : "last step"},
      {"checkpoint", trained.checkpoint},
      {"signature", signature_text(trained.signature)},
      {"input", spec.modality == "image"
                    ? "image [B, 3, " + std::to_string(spec.image_size) + ", " + std::to_string(spec.image_size) +
                          "] float32 RGB in [0, 1]"
                    : "audio [B, T] float32 mono in [-1, 1] at " + std::to_string(spec.sample_rate) + " Hz"},
      {"output", "(tokens [B, K, D], pooled [B, D])"}};
  if (spec.modality == "image") meta["image_size"] = std::to_string(spec.image_size);
  if (spec.modality == "audio") meta["sample_rate"] = std::to_string(spec.sample_rate);

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : trained.encoder->named_parameters()) tensors.emplace_back("encoder." + p.key(), p.value());
  for (const auto& b : trained.encoder->named_buffers()) tensors.emplace_back("encoder." + b.key(), b.value());
  write_safetensors(files.safetensors, tensors, meta);

  // TorchScript by tracing the C++ module: its parameters become attributes of a jit::Module, so the trace
  // reads them through `self` instead of baking them in as constants.
  torch::jit::Module module(c10::QualifiedName("__torch__.imprint." + spec.modality + "_encoder"));
  for (const auto& p : trained.encoder->named_parameters())
    module.register_parameter(attribute_name(p.key()), p.value(), /*is_buffer=*/false);
  for (const auto& b : trained.encoder->named_buffers()) module.register_buffer(attribute_name(b.key()), b.value());
  const bool image = spec.modality == "image";
  const at::Tensor example = image ? at::rand({2, 3, spec.image_size, spec.image_size})
                                   : at::randn({2, std::max<int64_t>(spec.sample_rate / 4, spec.n_fft * 2)}) * 0.1;
  torch::NoGradGuard no_grad;
  auto encoder = trained.encoder;
  auto fn = [encoder, image](torch::jit::Stack inputs) -> torch::jit::Stack {
    at::Tensor x = inputs.at(0).toTensor();
    if (image) x = (x - 0.5) * 4.0;  // [0, 1] -> the training normalisation
    const Conditioning c = encoder->encode(x);
    return {c10::ivalue::Tuple::create({c.tokens, c.pooled})};
  };
  auto traced = torch::jit::tracer::trace({example}, fn, [](const torch::autograd::Variable&) { return std::string(); },
                                          /*strict=*/false, /*force_outplace=*/false, &module);
  auto* forward = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), traced.first->graph);
  module.type()->addMethod(forward);
  module.save(files.torchscript);

  nlohmann::ordered_json j(meta);
  std::ofstream(files.metadata) << j.dump(1) << "\n";
  return files;
}

}  // namespace imprint
