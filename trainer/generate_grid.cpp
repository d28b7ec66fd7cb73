#include "trainer/generate_grid.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <sstream>

#include "data/media_decode.h"
#include "data/png_write.h"
#include "data/shard_dataset.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/config_schema.h"
#include "trainer/module_state.h"
#include "trainer/weight_average.h"

namespace imprint {

namespace {

std::string need(const std::map<std::string, std::string>& sig, const std::string& key, const std::string& path) {
  const auto it = sig.find(key);
  if (it == sig.end()) throw CheckpointError(path + ": its model signature has no " + key);
  return it->second;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// [C, H, W] normalised sample -> HWC bytes (the inverse of ShardDataset::read's scaling).
std::vector<uint8_t> to_bytes(const at::Tensor& chw) {
  const auto hwc = ((chw / 4.0f + 0.5f).clamp(0, 1) * 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  return std::vector<uint8_t>(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
}

}  // namespace

TrainedGenerator load_trained_generator(const std::string& checkpoint) {
  TrainedGenerator g;
  torch::serialize::InputArchive ar;
  g.encoder = load_trained_encoder(checkpoint, ar);
  const auto& sig = g.encoder.signature;
  if (need(sig, "objectives", checkpoint).find("denoise") == std::string::npos)
    throw CheckpointError(checkpoint + ": trained without the denoise objective, so it holds no generator (train "
                          "one with objective.denoise.weight > 0)");
  // The generator's options as training derived them: from the config keys the signature holds (the
  // shaping ones; the rest, such as dropout rates, do not matter for sampling and take their defaults).
  std::vector<std::string> sets;
  for (const auto& [key, value] : sig)
    if (find_key(key)) sets.push_back(key + "=" + value);
  DenoiseOptions o;
  try {
    o = denoise_options(Config::parse("", checkpoint + " (model signature)", sets));
  } catch (const ConfigError& e) {
    throw CheckpointError(checkpoint + ": its model signature does not make a valid config: " + first_line(e.what()));
  }
  if (o.train == "generator")
    throw CheckpointError(checkpoint + ": a generator-pretraining checkpoint (objective.denoise.train: generator): "
                          "its identity branch never trained; generate from a run with train: adapter or all");
  try {
    g.denoise = std::make_shared<DenoiseObjective>(o);
  } catch (const ConfigError& e) {
    throw CheckpointError(checkpoint + ": " + e.what());
  }
  const auto recorded = sig.find("objective.denoise.generator_fnv1a64");
  const auto loaded = g.denoise->signature();
  const std::string frozen = o.generator_script.empty() ? o.generator_from : o.generator_script;
  if (!frozen.empty() &&
      (recorded == sig.end() || loaded.at("objective.denoise.generator_fnv1a64") != recorded->second))
    throw CheckpointError(checkpoint + ": trained against the generator in " + frozen + " with hash " +
                          (recorded == sig.end() ? "(absent)" : recorded->second) + ", but that file now hashes to " +
                          loaded.at("objective.denoise.generator_fnv1a64"));
  torch::serialize::InputArchive objective;
  ar.read("objective", objective);
  std::vector<std::pair<std::string, at::Tensor>> wanted;
  for (auto& kv : g.denoise->named_parameters().pairs())
    if (kv.second.requires_grad()) wanted.emplace_back("denoise." + kv.first, kv.second);
  read_named_tensors(objective, wanted, checkpoint + ": objective");
  load_average_into(ar, *g.denoise, "objective.denoise.", checkpoint);
  g.denoise->eval();
  return g;
}

GenerateReport generate_grid(const GenerateOptions& o) {
  if (o.reference.empty() == o.data.empty())
    throw ConfigError("generate: give either --reference FILE or --data DATASET");
  TrainedGenerator g = load_trained_generator(o.checkpoint);
  const auto& spec = g.encoder.spec;
  if (spec.modality != "image") throw ConfigError("generate: the checkpoint's encoder reads audio; generate draws images");
  const int64_t size = spec.image_size, classes = g.denoise->options().generator.content_classes;

  // References: [R, 3, size, size] and their names.
  std::vector<at::Tensor> refs;
  std::vector<std::string> ref_names;
  std::vector<std::string> vocabulary;
  if (!o.reference.empty()) {
    std::vector<uint8_t> rgb;
    std::string error;
    if (!is_media_file(o.reference, Modality::Image) || !decode_image(o.reference, static_cast<int>(size), rgb, error))
      throw ConfigError("--reference: " + o.reference + ": not a readable PNG/JPEG image" +
                        (error.empty() ? "" : " (" + error + ")"));
    refs.push_back(image_input(rgb.data(), size).clone());
    ref_names.push_back(o.reference);
  } else {
    ShardDataset ds(o.data, 1);
    if (ds.modality() != Modality::Image || ds.manifest().image_size != size)
      throw ConfigError("--data: " + o.data + " holds " + modality_name(ds.modality()) + " samples" +
                        (ds.modality() == Modality::Image ? " of " + std::to_string(ds.manifest().image_size) + " pixels"
                                                          : std::string()) +
                        "; the checkpoint's encoder reads " + std::to_string(size) + "-pixel images");
    vocabulary = ds.content_labels();
    if (ds.eval_identities().empty()) throw ConfigError("--data: " + o.data + " has no held-out identities");
    for (int64_t id : ds.eval_identities()) {
      if (static_cast<int64_t>(refs.size()) >= o.max_references) break;
      at::Tensor x = at::empty({3, size, size});
      ds.read(id, 0, 0, x.data_ptr<float>());
      refs.push_back(x);
      ref_names.push_back(ds.manifest().identities[id]);
    }
  }

  // Columns: content labels.
  std::vector<int64_t> columns;
  std::vector<std::string> column_names;
  if (o.content.empty() || o.content == "all") {
    const int64_t shown = o.content.empty() ? std::min<int64_t>(classes, 16) : classes;
    for (int64_t c = 0; c < std::max<int64_t>(1, shown); ++c) {
      columns.push_back(classes > 0 ? c : 0);
      column_names.push_back(classes == 0 ? "(none)" : c < static_cast<int64_t>(vocabulary.size()) ? vocabulary[c]
                                                                                                  : std::to_string(c));
    }
  } else {
    if (classes == 0) throw ConfigError("--content: this generator was trained without content labels");
    for (const auto& item : split_commas(o.content)) {
      int64_t c = -1;
      const auto it = std::find(vocabulary.begin(), vocabulary.end(), item);
      if (it != vocabulary.end()) {
        c = it - vocabulary.begin();
      } else if (!item.empty() && item.find_first_not_of("0123456789") == std::string::npos) {
        c = std::stoll(item);
      }
      if (c < 0 || c >= classes)
        throw ConfigError("--content: unknown content label '" + item + "' (the generator knows " +
                          std::to_string(classes) + " labels" +
                          (vocabulary.empty() ? ", give indices 0.." + std::to_string(classes - 1) + " or --data"
                                              : ", e.g. " + vocabulary.front()) + ")");
      columns.push_back(c);
      column_names.push_back(item);
    }
  }

  // Rows of the grid: per reference, N samples with its tokens and N with the tokens dropped.
  const int64_t R = static_cast<int64_t>(refs.size()), N = static_cast<int64_t>(columns.size());
  const int64_t cell = size * o.zoom, gap = 2;
  const int64_t width = (N + 1) * cell + N * gap, height = 2 * R * cell + (2 * R - 1) * gap;
  std::vector<uint8_t> canvas(static_cast<size_t>(width * height * 3), 255);
  auto paste = [&](const at::Tensor& chw, int64_t row, int64_t col) {
    const auto px = to_bytes(chw);
    const int64_t y0 = row * (cell + gap), x0 = col * (cell + gap);
    for (int64_t y = 0; y < cell; ++y)
      for (int64_t x = 0; x < cell; ++x)
        for (int c = 0; c < 3; ++c)
          canvas[static_cast<size_t>(((y0 + y) * width + x0 + x) * 3 + c)] =
              px[static_cast<size_t>(((y / o.zoom) * size + x / o.zoom) * 3 + c)];
  };
  const auto content = at::tensor(columns, at::kLong);
  for (int64_t r = 0; r < R; ++r) {
    at::Tensor tokens;
    {
      torch::NoGradGuard no_grad;
      tokens = g.encoder.encoder->encode(refs[r].unsqueeze(0)).tokens;  // [1, K, D]
    }
    const auto with_id = tokens.expand({N, tokens.size(1), tokens.size(2)});
    SamplerOptions sampler = o.sampler;  // the samples without the identity start from the same noise
    for (int half = 0; half < 2; ++half)
      for (int64_t n = 0; n < N; ++n) sampler.noise_rows.push_back(n);
    const auto both = sample_ddim(g.denoise->generator(), g.denoise->schedule(), g.denoise->options().prediction,
                                  classes, at::cat({content, content}), at::cat({with_id, at::zeros_like(with_id)}),
                                  {3, size, size}, sampler);
    paste(refs[r], 2 * r, 0);
    for (int64_t n = 0; n < N; ++n) {
      paste(both[n], 2 * r, n + 1);
      paste(both[N + n], 2 * r + 1, n + 1);
    }
    if (o.progress) o.progress(r + 1, R);
  }
  write_png_rgb(o.out, static_cast<int>(width), static_cast<int>(height), canvas);
  GenerateReport report;
  report.references = R;
  report.samples = 2 * R * N;
  report.content = column_names;
  report.out = o.out;
  return report;
}

}  // namespace imprint
