#include "trainer/inference/generate_grid.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "config/config_error.h"
#include "core/log.h"
#include "core/pixels.h"
#include "data/media_decode.h"
#include "data/shard_dataset.h"
#include "data/wav_write.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/evaluation/sample_grid.h"
#include "trainer/inference/encoder_export.h"

namespace imprint {

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct References {
  std::vector<at::Tensor> images;  // [3, size, size] each, in the model range
  std::vector<std::string> names;
  std::vector<std::string> vocabulary;  // the dataset's content labels (--data), else empty
};

// What a reference is: an image of `size` pixels, or an audio clip of `clip` samples at `rate` Hz.
struct ReferenceShape {
  Modality modality = Modality::Image;
  int64_t size = 0, clip = 0, rate = 0;
  std::vector<int64_t> sample() const {
    return modality == Modality::Image ? std::vector<int64_t>{3, size, size} : std::vector<int64_t>{clip};
  }
  std::string describe() const {
    return modality == Modality::Image ? std::to_string(size) + "-pixel images"
                                       : "audio at " + std::to_string(rate) + " Hz";
  }
};

at::Tensor reference_file(const std::string& path, const ReferenceShape& shape) {
  std::string error;
  if (shape.modality == Modality::Image) {
    std::vector<uint8_t> rgb;
    if (!is_media_file(path, Modality::Image) || !decode_image(path, static_cast<int>(shape.size), rgb, error))
      throw ConfigError("--reference: " + path + ": not a readable PNG/JPEG image" +
                        (error.empty() ? "" : " (" + error + ")") +
                        (is_media_file(path, Modality::Audio) ? "; the checkpoint's encoder reads images" : ""));
    return image_input(rgb.data(), shape.size).clone();
  }
  std::vector<int16_t> pcm;
  if (!is_media_file(path, Modality::Audio) || !decode_audio(path, static_cast<int>(shape.rate), pcm, error))
    throw ConfigError("--reference: " + path + ": not a readable WAV/FLAC file" +
                      (error.empty() ? "" : " (" + error + ")") +
                      (is_media_file(path, Modality::Image) ? "; the checkpoint's encoder reads audio" : ""));
  // The first clip's worth, zero-padded: how evaluation and training (unaugmented) read a clip.
  at::Tensor x = at::zeros({shape.clip});
  for (int64_t i = 0; i < shape.clip && i < static_cast<int64_t>(pcm.size()); ++i)
    x[i] = static_cast<float>(pcm[static_cast<size_t>(i)]) / 32768.0f;
  return x;
}

References load_references(const GenerateOptions& o, const ReferenceShape& shape) {
  References r;
  if (!o.reference.empty() && !o.data.empty()) {  // the file is the reference, the dataset names the labels
    ShardDataset ds(o.data, 1);
    r.vocabulary = ds.content_labels();
    GenerateOptions file_only = o;
    file_only.data.clear();
    References from_file = load_references(file_only, shape);
    from_file.vocabulary = r.vocabulary;
    return from_file;
  }
  if (!o.reference.empty()) {
    r.images.push_back(reference_file(o.reference, shape));
    r.names.push_back(o.reference);
    return r;
  }
  ShardDataset ds(o.data, std::max<int64_t>(1, shape.clip));
  const bool same =
      ds.modality() == shape.modality && (shape.modality == Modality::Image ? ds.manifest().image_size == shape.size
                                                                            : ds.manifest().sample_rate == shape.rate);
  if (!same)
    throw ConfigError("--data: " + o.data + " holds " + modality_name(ds.modality()) + " samples" +
                      (ds.modality() == Modality::Image ? " of " + std::to_string(ds.manifest().image_size) + " pixels"
                                                        : " at " + std::to_string(ds.manifest().sample_rate) + " Hz") +
                      "; the checkpoint's encoder reads " + shape.describe());
  r.vocabulary = ds.content_labels();
  std::vector<int64_t> ids = ds.eval_identities();
  if (ids.empty()) {  // a dataset of the training identities only: their sample 0, said so
    ids = ds.train_identities();
    log::warn("--data: " + o.data +
              " holds out no identities: the references are sample 0 of identities it "
              "trains on");
  }
  for (int64_t id : ids) {
    if (static_cast<int64_t>(r.images.size()) >= o.max_references) break;
    at::Tensor x = at::empty(shape.sample());
    ds.read(id, 0, 0, x.data_ptr<float>());
    r.images.push_back(x);
    r.names.push_back(ds.manifest().identities[static_cast<size_t>(id)]);
  }
  return r;
}

// The grid's columns: content labels by name (from the dataset's vocabulary) or index.
std::vector<int64_t> choose_columns(const std::string& content, int64_t classes,
                                    const std::vector<std::string>& vocabulary, std::vector<std::string>& names) {
  std::vector<int64_t> columns;
  if (content.empty() || content == "all") {
    const int64_t shown = content.empty() ? std::min<int64_t>(classes, 16) : classes;
    for (int64_t c = 0; c < std::max<int64_t>(1, shown); ++c) {
      columns.push_back(classes > 0 ? c : 0);
      names.push_back(classes == 0                                  ? "(none)"
                      : c < static_cast<int64_t>(vocabulary.size()) ? vocabulary[c]
                                                                    : std::to_string(c));
    }
    return columns;
  }
  if (classes == 0) throw ConfigError("--content: this generator was trained without content labels");
  for (const auto& item : split_commas(content)) {
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
                                            : ", e.g. " + vocabulary.front()) +
                        ")");
    columns.push_back(c);
    names.push_back(item);
  }
  return columns;
}

// Audio: the WAVs go into a folder beside the PNG, named after it (generated.png -> generated-wav/).
std::string audio_folder(const std::string& png) {
  const std::filesystem::path p(png);
  return (p.parent_path() / (p.stem().string() + "-wav")).string();
}

// A reference's name (a dataset identity, or a file path) as a file name part.
std::string file_safe(const std::string& name) {
  std::string out = std::filesystem::path(name).stem().string();
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return out.empty() ? "reference" : out;
}

void write_clip(const std::string& path, const at::Tensor& clip, int64_t rate) {
  const auto x = clip.detach().to(at::kFloat).cpu().contiguous();
  try {
    write_wav_mono(path, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel()),
                   static_cast<int>(rate));
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string("--out: ") + e.what());
  }
}

// Before any sampling: a grid that cannot be written, or would be written under a name saying another format.
void check_output_file(const std::string& out) {
  std::string ext = std::filesystem::path(out).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".png") throw ConfigError("--out: " + out + ": generate writes a PNG file; name it *.png");
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec)) throw ConfigError("--out: " + out + " is a directory");
  const std::string folder = std::filesystem::path(out).parent_path().string();
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec))
    throw ConfigError("--out: " + out + ": the folder " + folder + " does not exist");
  if (::access(folder.empty() ? "." : folder.c_str(), W_OK) != 0)
    throw ConfigError("--out: " + out + ": cannot write in " + (folder.empty() ? "." : folder) + ": " +
                      std::strerror(errno));
}

}  // namespace

GenerateReport generate_grid(const GenerateOptions& o) {
  if (o.reference.empty() && o.data.empty())
    throw ConfigError(
        "generate: give --reference FILE, --data DATASET, or both (the file as the reference, the "
        "dataset's content labels by name)");
  check_output_file(o.out);
  TrainedGenerator g = load_trained_generator(o.checkpoint);
  if (o.sampler.steps > g.diffusion->spec().timesteps)
    throw ConfigError("--steps " + std::to_string(o.sampler.steps) + ": this generator has " +
                      std::to_string(g.diffusion->spec().timesteps) + " timesteps; give at most that many");
  const EncoderSpec& spec = g.encoder.spec;
  Diffusion& diffusion = *g.diffusion;
  ReferenceShape shape;
  shape.modality = spec.modality;
  shape.size = spec.image_size;
  shape.rate = spec.sample_rate;
  shape.clip = diffusion.spec().mel.clip_samples;
  const References refs = load_references(o, shape);
  GenerateReport report;
  const std::vector<int64_t> columns =
      choose_columns(o.content, g.diffusion->spec().content_classes, refs.vocabulary, report.content);
  // Per reference: N samples with its tokens and, in the row below, the same N from the same noise without.
  const auto R = static_cast<int64_t>(refs.images.size()), N = static_cast<int64_t>(columns.size());
  const bool audio = diffusion.audio();
  const int64_t zoom = audio ? std::max<int64_t>(1, o.zoom / 2) : o.zoom;  // a log-mel is 40 x 100, not 32 x 32
  const std::vector<int64_t> cell = diffusion.pictures(refs.images.front().unsqueeze(0)).sizes().vec();
  SampleGrid canvas(2 * R, N + 1, cell[2], cell[3], zoom);
  const std::string wav_folder = audio ? audio_folder(o.out) : "";
  if (audio) std::filesystem::create_directories(wav_folder);
  const auto content = at::tensor(columns, at::kLong);
  std::vector<int64_t> streams(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) streams[static_cast<size_t>(n)] = n;
  for (int64_t r = 0; r < R; ++r) {
    at::Tensor tokens;
    {
      torch::NoGradGuard no_grad;
      tokens = g.encoder.encoder->encode(refs.images[static_cast<size_t>(r)].unsqueeze(0)).tokens;  // [1, K, D]
    }
    const auto paired = g.diffusion->sample_with_and_without_identity(
        content, tokens.expand({N, tokens.size(1), tokens.size(2)}), streams, o.sampler);
    const auto& reference = refs.images[static_cast<size_t>(r)];
    canvas.paste(diffusion.pictures(reference.unsqueeze(0))[0], 2 * r, 0);
    const auto with_id = diffusion.pictures(paired.with_identity);
    const auto without_id = diffusion.pictures(paired.without_identity);
    for (int64_t n = 0; n < N; ++n) {
      canvas.paste(with_id[n], 2 * r, n + 1);
      canvas.paste(without_id[n], 2 * r + 1, n + 1);
    }
    if (audio) {
      // Per reference: the reference clip, then each label with and without the identity tokens.
      const std::string stem =
          wav_folder + "/" + log::strf("%02lld-", (long long)r) + file_safe(refs.names[static_cast<size_t>(r)]);
      write_clip(stem + "-reference.wav", reference, shape.rate);
      for (int64_t n = 0; n < N; ++n) {
        const std::string label = file_safe(report.content[static_cast<size_t>(n)]);
        write_clip(stem + "-" + label + ".wav", paired.with_identity[n], shape.rate);
        write_clip(stem + "-" + label + "-no-identity.wav", paired.without_identity[n], shape.rate);
      }
      report.wav_files += 1 + 2 * N;
    }
    if (o.progress) o.progress(r + 1, R);
  }
  canvas.write_png(o.out);
  report.references = R;
  report.samples = 2 * R * N;
  report.out = o.out;
  report.wav_folder = wav_folder;
  return report;
}

}  // namespace imprint
