// `imprint export --format diffusers`: an identity adapter trained against a diffusers UNet (imported by
// launch/diffusers_import.py) handed back in diffusers' IP-Adapter layout, which
// pipe.load_ip_adapter(OUT, subfolder="", weight_name="ip_adapter.safetensors", image_encoder_folder=None) reads:
//
//   OUT/ip_adapter.safetensors   "image_proj.{proj,norm}.{weight,bias}" (diffusers' ImageProjection: the trained
//                                projection of imprint's identity tokens to 4 image tokens) and
//                                "ip_adapter.{k}.to_{k,v}_ip.weight" (k = 1, 3, 5, ...: the index of each
//                                cross-attention processor among ALL the UNet's attention processors);
//   OUT/image_encoder/           imprint's encoder (encoder_export.h) with ip_adapter_image_embeds(image):
//                                what diffusers takes as ip_adapter_image_embeds (non-CLIP: not an image_encoder
//                                diffusers could load);
//   OUT/generator.pt             the trained generator itself (the frozen UNet with the trained adapter) as
//                                TorchScript, forward(x_t, t, text_hidden_states, id_tokens, id_scale);
//   OUT/README.md                the lines of diffusers code that use them.
//
// Why ImageProjection and not IP-Adapter-Plus's Resampler: imprint's token resampler (models/token_resampler.h)
// is not the Resampler's exact structure, and an export that only approximates it would not be the model that
// was trained. The import puts diffusers' own ImageProjection inside the generator instead, trained with the
// to_k_ip/to_v_ip weights: the exported file is then exactly what trained, and diffusers runs the same modules.
#pragma once
#include <string>

namespace imprint {

struct DiffusersExport {
  std::string adapter, encoder_dir, generator, readme;
  int64_t adapter_tensors = 0, cross_attention_layers = 0;
};

// Throws ConfigError (exit 2) for an output folder that exists and is not empty without `overwrite`,
// CheckpointError (exit 3) for a checkpoint without an adapter trained against an imported diffusers UNet.
DiffusersExport export_diffusers(const std::string& checkpoint, const std::string& out_dir, bool overwrite);

}  // namespace imprint
