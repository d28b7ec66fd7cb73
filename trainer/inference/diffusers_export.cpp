#include "trainer/inference/diffusers_export.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "config/config_error.h"
#include "generation/scripted_generator.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/safetensors_writer.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/inference/output_folder.h"

namespace imprint {

namespace {

void refuse_existing(const std::string& dir, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!overwrite && fs::is_directory(dir, ec) && !fs::is_empty(dir, ec))
    throw ConfigError("--out: " + dir + " exists and is not empty (pass --overwrite to write into it)");
}

std::string readme(const std::string& checkpoint, int64_t step, int64_t tokens, int64_t dim) {
  return "# An identity adapter for diffusers, trained by imprint\n\n"
         "From " +
         checkpoint + " (step " + std::to_string(step) +
         ").\n\n"
         "```python\n"
         "import torch\n"
         "from diffusers import StableDiffusionPipeline\n\n"
         "pipe = StableDiffusionPipeline.from_pretrained(MODEL_DIR)  # the model the adapter was trained against\n"
         "pipe.load_ip_adapter(THIS_DIR, subfolder=\"\", weight_name=\"ip_adapter.safetensors\", "
         "image_encoder_folder=None)\n"
         "encoder = torch.jit.load(THIS_DIR + \"/image_encoder/encoder.torchscript.pt\")\n"
         "embeds = encoder.ip_adapter_image_embeds(reference)  # reference: [1, 3, H, W] RGB in [0, 1], any size\n"
         "image = pipe(prompt, ip_adapter_image_embeds=[torch.cat([torch.zeros_like(embeds), embeds])]).images[0]\n"
         "```\n\n"
         "- `ip_adapter_image_embeds` is [B, 1, " +
         std::to_string(tokens * dim) + "]: imprint's " + std::to_string(tokens) + " identity tokens of width " +
         std::to_string(dim) +
         ", flattened. With classifier-free guidance diffusers wants the negative half first: zeros are the "
         "identity-dropped condition the adapter was trained with.\n"
         "- `pipe.set_ip_adapter_scale(s)` is imprint's id_scale (0: the identity is ignored).\n"
         "- `generator.pt` is the trained generator as TorchScript: forward(x_t, t, text_hidden_states, id_tokens "
         "[B, K, D], id_scale: float), the same prediction as the UNet with this adapter.\n";
}

}  // namespace

DiffusersExport export_diffusers(const std::string& checkpoint, const std::string& out_dir, bool overwrite) {
  refuse_existing(out_dir, overwrite);
  CheckpointReader reader(checkpoint);
  if (!reader.trained("denoise"))
    throw CheckpointError(checkpoint +
                          ": holds no adapter (its run trained no denoise objective): --format diffusers exports an "
                          "identity adapter trained against a UNet imported by launch/diffusers_import.py");
  const TrainedGenerator trained = reader.generator();
  auto* scripted = dynamic_cast<ScriptedGenerator*>(&trained.diffusion->generator());
  const std::string layout_text = scripted ? scripted->ip_adapter_layout() : "";
  if (layout_text.empty())
    throw CheckpointError(
        checkpoint + ": its generator is " +
        (scripted ? "a TorchScript file without an IP-Adapter layout" : std::string("imprint's own UNet")) +
        ", not a diffusers UNet imported by launch/diffusers_import.py: there is no diffusers "
        "IP-Adapter to export (`imprint export` without --format writes its encoder)");
  if (trained.encoder.spec.modality != Modality::Image)
    throw CheckpointError(checkpoint + ": an audio encoder; diffusers' IP-Adapter takes images");

  const auto layout = nlohmann::json::parse(layout_text);
  const auto weights = scripted->file_parameters();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::set<int64_t> layers;
  for (const auto& [file_name, key] : layout.items()) {
    const auto it = weights.find(file_name);
    if (it == weights.end())
      throw CheckpointError(checkpoint + ": the generator's IP-Adapter layout names " + file_name +
                            ", which the generator does not have");
    const std::string k = key.get<std::string>();
    tensors.emplace_back(k, it->second.detach().to(at::kCPU, at::kFloat).contiguous());
    if (k.rfind("ip_adapter.", 0) == 0) layers.insert(std::stoll(k.substr(11)));
  }

  // Written into OUT.partial and renamed at the end: a failure leaves no half-written OUT (nor one a rerun
  // would then refuse as not empty).
  namespace fs = std::filesystem;
  const std::string stage = out_dir + ".partial";
  std::error_code ec;
  fs::remove_all(stage, ec);
  make_output_folder(stage);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      if (!dir.empty()) fs::remove_all(dir, ignored);
    }
  } cleanup{stage};
  DiffusersExport out{stage + "/ip_adapter.safetensors", stage + "/image_encoder", stage + "/generator.pt",
                      stage + "/README.md"};
  write_safetensors(
      out.adapter, tensors,
      {{"format", "pt"},
       {"imprint_version", IMPRINT_VERSION},
       {"checkpoint", checkpoint},
       {"step", std::to_string(reader.step())},
       {"image_embeds", "[B, 1, " + std::to_string(trained.encoder.spec.tokens * trained.encoder.spec.embed_dim) +
                            "] from image_encoder/encoder.torchscript.pt's ip_adapter_image_embeds"}});
  export_encoder(trained.encoder, out.encoder_dir, /*ip_adapter_embeds=*/true);
  scripted->save(out.generator);
  std::ofstream(out.readme) << readme(checkpoint, reader.step(), trained.encoder.spec.tokens,
                                      trained.encoder.spec.embed_dim);
  out.adapter_tensors = static_cast<int64_t>(tensors.size());
  out.cross_attention_layers = static_cast<int64_t>(layers.size());
  make_output_folder(out_dir);  // the usual message where it cannot be made
  fs::remove_all(out_dir, ec);  // empty, or --overwrite
  fs::rename(stage, out_dir, ec);
  if (ec) throw ConfigError("--out: cannot move " + stage + " to " + out_dir + ": " + ec.message());
  cleanup.dir.clear();
  for (std::string* path : {&out.adapter, &out.encoder_dir, &out.generator, &out.readme})
    path->replace(0, stage.size(), out_dir);
  return out;
}

}  // namespace imprint
