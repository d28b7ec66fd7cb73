#include "trainer/inference/embed_files.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "config/config_error.h"
#include "data/media_decode.h"
#include "trainer/checkpoint/safetensors_writer.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/inference/output_folder.h"

namespace imprint {
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> input_files(const std::string& input, Modality modality) {
  std::error_code ec;
  const bool image = modality == Modality::Image;
  const Modality mine = image ? Modality::Image : Modality::Audio, other = image ? Modality::Audio : Modality::Image;
  const char* kinds = image ? "images (.png, .jpg, .jpeg)" : "audio files (.wav, .flac)";
  if (fs::is_regular_file(input, ec)) {
    if (!is_media_file(input, mine))
      throw ConfigError("--input " + input + ": the checkpoint holds an " + modality_name(modality) +
                        " encoder, which embeds " + kinds +
                        (is_media_file(input, other) ? (image ? "; this is audio" : "; this is an image") : ""));
    return {fs::path(input)};
  }
  if (!fs::is_directory(input, ec)) throw ConfigError("--input " + input + ": no such file or folder");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec) && is_media_file(it->path().string(), mine)) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw ConfigError("--input " + input + ": no " + std::string(kinds) + " found under it");
  return files;
}

// pooled.npy / tokens.npy (or embeddings.safetensors) and index.tsv in --out.
void write_embeddings(const EmbedOptions& o, const TrainedEncoder& trained, const std::vector<std::string>& names,
                      const at::Tensor& all_pooled, const at::Tensor& all_tokens, EmbedReport& report) {
  if (o.format == "npy") {
    write_npy(o.out + "/pooled.npy", all_pooled);
    report.written.push_back(o.out + "/pooled.npy");
    if (o.tokens) {
      write_npy(o.out + "/tokens.npy", all_tokens);
      report.written.push_back(o.out + "/tokens.npy");
    }
  } else {
    std::vector<std::pair<std::string, at::Tensor>> t = {{"pooled", all_pooled}};
    if (o.tokens) t.emplace_back("tokens", all_tokens);
    write_safetensors(o.out + "/embeddings.safetensors", t,
                      {{"checkpoint", o.checkpoint},
                       {"step", std::to_string(trained.step)},
                       {"modality", modality_name(trained.spec.modality)}});
    report.written.push_back(o.out + "/embeddings.safetensors");
  }
  // The identity as `imprint pack` sees it: the first folder under --input (ROOT/<identity>/**, any nesting
  // below), or the folder holding the file when it lies in --input itself or --input is a file.
  std::error_code ec;
  const bool folder = fs::is_directory(o.input, ec);
  std::ofstream index(o.out + "/index.tsv");
  index << "row\tfile\tidentity\n";
  for (size_t r = 0; r < names.size(); ++r) {
    const fs::path file(names[r]), rel = file.lexically_relative(o.input);
    const bool nested = folder && !rel.empty() && *rel.begin() != ".." && rel.has_parent_path();
    index << r << "\t" << names[r] << "\t" << (nested ? rel.begin()->string() : file.parent_path().filename().string())
          << "\n";
  }
  report.written.push_back(o.out + "/index.tsv");
}

}  // namespace

EmbedReport embed_files(const EmbedOptions& o) {
  if (o.format != "npy" && o.format != "safetensors")
    throw ConfigError("--format " + o.format + ": expected npy or safetensors");
  if (o.batch_size < 1) throw ConfigError("--batch-size: expected at least 1");
  const TrainedEncoder trained = load_trained_encoder(o.checkpoint);
  const EncoderSpec& spec = trained.spec;
  const auto files = input_files(o.input, spec.modality);
  if (!(o.clip_seconds == 0 || (o.clip_seconds >= 0.1 && o.clip_seconds <= 30)))  // NaN fails both
    throw ConfigError("--clip-seconds: expected 0 (each whole file) or 0.1 to 30 seconds (data.clip_seconds' range)");
  const auto clip = static_cast<int64_t>(std::llround(o.clip_seconds * static_cast<double>(spec.sample_rate)));
  make_output_folder(o.out);

  torch::NoGradGuard no_grad;
  EmbedReport report;
  std::vector<at::Tensor> pooled, tokens;
  std::vector<std::string> names;
  std::vector<at::Tensor> pending;
  std::vector<std::string> pending_names;
  auto flush = [&] {
    if (pending.empty()) return;
    const Conditioning c = trained.encoder->encode(at::stack(pending));
    pooled.push_back(c.pooled);
    if (o.tokens) tokens.push_back(c.tokens);
    names.insert(names.end(), pending_names.begin(), pending_names.end());
    pending.clear();
    pending_names.clear();
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string path = files[i].string();
    std::string error;
    if (spec.modality == Modality::Image) {
      std::vector<uint8_t> rgb;
      if (decode_image(path, static_cast<int>(spec.image_size), rgb, error)) {
        pending.push_back(image_input(rgb.data(), spec.image_size));
        pending_names.push_back(path);
        if (static_cast<int64_t>(pending.size()) == o.batch_size) flush();
      } else {
        report.skipped.push_back(path + ": " + error);
      }
    } else {
      std::vector<int16_t> pcm;
      if (!decode_audio(path, static_cast<int>(spec.sample_rate), pcm, error)) {
        report.skipped.push_back(path + ": " + error);
      } else if (clip > 0) {
        std::vector<int16_t> cut(static_cast<size_t>(clip), 0);  // as ShardDataset::read: from the start, padded
        std::copy_n(pcm.begin(), std::min<int64_t>(clip, static_cast<int64_t>(pcm.size())), cut.begin());
        pending.push_back(audio_input(cut.data(), clip));
        pending_names.push_back(path);
        if (static_cast<int64_t>(pending.size()) == o.batch_size) flush();
      } else if (static_cast<int64_t>(pcm.size()) <= spec.n_fft / 2) {
        report.skipped.push_back(path + ": " + std::to_string(pcm.size()) +
                                 " samples, too short for the encoder (more than " + std::to_string(spec.n_fft / 2) +
                                 " needed)");
      } else {
        pending.push_back(audio_input(pcm.data(), static_cast<int64_t>(pcm.size())));
        pending_names.push_back(path);
        flush();  // clips differ in length: one at a time
      }
    }
    if (o.progress) o.progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(files.size()));
  }
  flush();
  report.embedded = static_cast<int64_t>(names.size());
  if (names.empty())
    throw ConfigError("--input " + o.input + ": none of its " + std::to_string(files.size()) +
                      " file(s) could be decoded (first: " + report.skipped.front() + ")");

  write_embeddings(o, trained, names, at::cat(pooled).contiguous(),
                   o.tokens ? at::cat(tokens).contiguous() : at::Tensor(), report);
  return report;
}

}  // namespace imprint
