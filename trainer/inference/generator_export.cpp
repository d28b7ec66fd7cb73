#include "trainer/inference/generator_export.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <vector>

#include "generation/scripted_generator.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/safetensors_writer.h"
#include "trainer/inference/output_folder.h"
#include "trainer/inference/traced_module.h"

namespace imprint {

void save_generator_torchscript(ConditionalUnet& generator, const std::string& path) {
  const GeneratorSpec& s = generator.spec();
  const bool tokens = s.context_dim > 0;
  const std::vector<at::Tensor> example = {
      at::randn({2, s.channels, s.image_size, s.image_size}), at::tensor({3, 700}, at::kLong),
      tokens ? at::randn({2, s.context_length, s.context_dim}) : at::tensor({int64_t{0}, s.content_classes}, at::kLong),
      at::randn({2, s.id_tokens, s.id_dim}), at::ones({})};
  torch::NoGradGuard no_grad;
  const bool was_training = generator.is_training();
  generator.eval();
  auto fn = [&generator](torch::jit::Stack in) -> torch::jit::Stack {
    return {generator.predict_scaled(in.at(0).toTensor(), in.at(1).toTensor(), in.at(2).toTensor(), in.at(3).toTensor(),
                                     in.at(4).toTensor())};
  };

  auto module = traced_module("generator", generator, example, fn, "predict");
  generator.train(was_training);
  define_or_explain(module, R"(
def forward(self, x_t, t, content, id_tokens, id_scale: float):
    return self.predict(x_t, t, content, id_tokens, torch.full([], id_scale, dtype=x_t.dtype, device=x_t.device))
)",
                    "generator's forward");
  module.save(path);
}

ExportedGenerator export_generator(const std::string& checkpoint, const std::string& out_dir) {
  CheckpointReader reader(checkpoint);
  const TrainedGenerator trained = reader.generator();  // refuses a checkpoint without a trained generator
  Generator& generator = trained.diffusion->generator();
  make_output_folder(out_dir);
  ExportedGenerator files{out_dir + "/generator.safetensors", out_dir + "/generator.torchscript.pt",
                          out_dir + "/generator.json"};
  const DiffusionSpec& d = trained.diffusion->spec();
  const ConfigValues run = reader.settings(model_schema());
  std::map<std::string, std::string> meta = {
      {"format", "imprint-generator"},
      {"imprint_version", IMPRINT_VERSION},
      {"checkpoint", checkpoint},
      {"step", std::to_string(reader.step())},
      {"sample_shape", c10::str(at::IntArrayRef(trained.diffusion->sample_shape()))},
      {"latent", d.latent() ? "yes: samples are the frozen autoencoder's latents (" +
                                  (d.autoencoder_from.empty() ? d.autoencoder_script : d.autoencoder_from) + ")"
                            : "no: samples are images in [-1, 1]"},
      {"content", d.content_tokens.empty() ? "int64 labels [B], " + std::to_string(d.content_classes) + " = dropped"
                                           : "tokens [B, L, Dc] from " + d.content_tokens + ", zeros = dropped"},
      {"id_tokens", "[B, " + std::to_string(d.id_tokens) + ", " + std::to_string(d.id_dim) + "], zeros = dropped"},
      // As the run's config wrote them (the names its keys take, not a second table of them).
      {"schedule", run.text("objective.denoise.schedule")},
      {"timesteps", run.text("objective.denoise.timesteps")},
      {"prediction", run.text("objective.denoise.prediction")},
      {"signature", "forward(x_t, t, content, id_tokens, id_scale: float) -> prediction shaped like x_t"}};
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : generator.named_parameters()) tensors.emplace_back(p.key(), p.value().detach().to(at::kCPU));
  for (const auto& b : generator.named_buffers()) tensors.emplace_back(b.key(), b.value().detach().to(at::kCPU));
  write_safetensors(files.safetensors, tensors, meta);
  if (auto* scripted = dynamic_cast<ScriptedGenerator*>(&generator)) {
    scripted->save(files.torchscript);  // the user's module, its trained adapter in it
  } else if (auto* unet = dynamic_cast<ConditionalUnet*>(&generator)) {
    save_generator_torchscript(*unet, files.torchscript);
  } else {
    throw CheckpointError(checkpoint + ": a generator of a kind export does not know");
  }
  nlohmann::ordered_json j(meta);
  std::ofstream(files.metadata) << j.dump(1) << "\n";
  return files;
}

}  // namespace imprint
