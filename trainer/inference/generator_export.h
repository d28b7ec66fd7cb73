// `imprint export --format generator`: the generator a run trained (imprint's UNet with its identity branch, or
// the user's / an imported diffusers TorchScript generator with its trained adapter) as safetensors weights and
// a TorchScript module with the generator_script signature (docs/architecture.md, "Bring a generator"):
//   forward(x_t [B, C, h, w], t [B] int64, content ([B] int64 labels, or [B, L, Dc] tokens), id_tokens [B, K, D],
//           id_scale: float) -> the prediction shaped like x_t.
// So the file is itself a valid objective.denoise.generator_script (its identity branch's names hold "adapter":
// the default adapter_pattern picks them), and loads in Python with torch.jit.load.
#pragma once
#include <string>

#include "generation/conditional_unet.h"

namespace imprint {

struct ExportedGenerator {
  std::string safetensors, torchscript, metadata;
};

// Writes OUT/generator.safetensors, OUT/generator.torchscript.pt and OUT/generator.json. Throws CheckpointError
// (exit 3) for a checkpoint without a trained generator, ConfigError (exit 2) for an unusable --out.
ExportedGenerator export_generator(const std::string& checkpoint, const std::string& out_dir);

// imprint's UNet as that TorchScript module, traced in float32 on a batch of 2: the identity scale is an input
// of the trace (ConditionalUnet::predict_scaled), so every id_scale runs the same graph, for any batch size.
void save_generator_torchscript(ConditionalUnet& generator, const std::string& path);

}  // namespace imprint
