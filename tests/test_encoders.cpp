#include <gtest/gtest.h>

#include <cmath>

#include "models/encoder.h"
#include "models/encoder_spec.h"
#include "models/log_mel.h"

using namespace imprint;

namespace {

// Every registered encoder, "image"/"audio" (model.name: auto) and one with a deep resampler: the test list
// comes from the registry, so an encoder added there runs every test here.
std::vector<std::string> encoder_params() {
  std::vector<std::string> names{"image", "audio"};
  for (const auto& e : encoder_registry()) names.push_back(e.name);
  names.push_back("image_cnn+resampler");
  return names;
}

std::string base_name(const std::string& param) { return param.substr(0, param.find('+')); }

Modality modality_of(const std::string& param) {
  const std::string name = base_name(param);
  if (name == "image" || name == "audio") return parse_modality(name);
  for (const auto& e : encoder_registry())
    if (e.name == name) return e.modality;
  throw std::invalid_argument("no encoder " + name);
}

const Schema& encoder_schema() {
  static const Schema schema = [] {
    Schema s(encoder_input_section().keys());
    s.add(encoder_keys());
    return s;
  }();
  return schema;
}

// "NAME+resampler": NAME with a 3-block, 2-head token resampler.
ConfigValues values_for(const std::string& param) {
  ConfigValues v(encoder_schema());
  const std::string name = base_name(param);
  v.set("model.name", name == "image" || name == "audio" ? "auto" : name, "test");
  v.set("data.modality", modality_name(modality_of(param)), "test");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"model.embed_dim", "24"},
                                                                                   {"model.tokens", "3"},
                                                                                   {"model.width", "8"},
                                                                                   {"data.image_size", "20"},
                                                                                   {"data.sample_rate", "8000"},
                                                                                   {"model.audio.n_mels", "20"},
                                                                                   {"model.audio.n_fft", "128"},
                                                                                   {"model.audio.hop", "64"}})
    v.set(key, value, "test");
  if (param.find("+resampler") != std::string::npos) {
    v.set("model.resampler_depth", "3", "test");
    v.set("model.resampler_heads", "2", "test");
  }
  return v;
}

std::shared_ptr<Encoder> encoder_for(const std::string& param) {
  const ConfigValues v = values_for(param);
  return make_encoder(read_encoder_spec(v), v);
}

torch::Tensor input_for(const std::string& param, int64_t batch) {
  return modality_of(param) == Modality::Image ? torch::randn({batch, 3, 20, 20}) : torch::randn({batch, 1600}) * 0.1;
}
}  // namespace

class EncoderBothModalities : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderBothModalities, OutputShapes) {
  torch::manual_seed(0);
  auto enc = encoder_for(GetParam());
  for (int64_t b : {1, 5}) {
    const Conditioning c = enc->encode(input_for(GetParam(), b));
    EXPECT_EQ(c.tokens.sizes(), (std::vector<int64_t>{b, 3, 24}));
    EXPECT_EQ(c.pooled.sizes(), (std::vector<int64_t>{b, 24}));
    EXPECT_TRUE(torch::isfinite(c.tokens).all().item<bool>());
  }
}

TEST_P(EncoderBothModalities, SamplesAreEncodedIndependently) {
  // GroupNorm, not BatchNorm: a sample's embedding must not depend on what else is in the batch (or on
  // how the global batch is split over ranks).
  torch::manual_seed(0);
  auto enc = encoder_for(GetParam());
  auto x = input_for(GetParam(), 4);
  auto all = enc->encode(x).pooled;
  auto first = enc->encode(x.slice(0, 0, 1)).pooled;
  EXPECT_TRUE(torch::allclose(all.slice(0, 0, 1), first, 1e-5, 1e-5));
}

TEST_P(EncoderBothModalities, GradientsMatchFiniteDifferences) {
  // The gradient path through trunk, resampler and pooling, in float64.
  torch::manual_seed(0);
  auto enc = encoder_for(GetParam());
  enc->to(torch::kDouble);
  auto x = input_for(GetParam(), 2).to(torch::kDouble);
  auto probe = torch::randn({2, 24}, torch::kDouble);
  auto loss_of = [&] { return (enc->encode(x).pooled * probe).sum(); };
  torch::Tensor param;  // the first layer's weight (trunk.0 / stem.0): the longest gradient path
  for (auto& kv : enc->named_parameters().pairs())
    if (!param.defined() && kv.second.dim() >= 2) param = kv.second;
  ASSERT_TRUE(param.defined());
  loss_of().backward();
  const auto analytic = param.grad().reshape({-1}).clone();
  torch::NoGradGuard no_grad;
  auto flat = param.view({-1});
  for (int64_t i = 0; i < 4; ++i) {
    const double h = 1e-6;
    const double orig = flat[i].item<double>();
    flat[i].fill_(orig + h);
    const double up = loss_of().item<double>();
    flat[i].fill_(orig - h);
    const double down = loss_of().item<double>();
    flat[i].fill_(orig);
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(analytic[i].item<double>(), numeric, 1e-5 + 1e-4 * std::abs(numeric)) << "element " << i;
  }
}

TEST_P(EncoderBothModalities, Float32GradientsMatchFloat64) {
  // The libtorch 1.13 GroupNorm bug (models/conv_block.h) shows only in float32 (inf gradients in the trunk),
  // so the float64 finite-difference check above cannot see it: compare float32 autograd with float64.
  torch::manual_seed(0);
  auto enc = encoder_for(GetParam());
  auto x = input_for(GetParam(), 3);
  auto probe = torch::randn({3, 24});
  auto grads = [&] {
    enc->zero_grad();
    const auto dtype = enc->parameters()[0].scalar_type();
    (enc->encode(x.to(dtype)).pooled * probe.to(dtype)).sum().backward();
    std::vector<torch::Tensor> g;
    for (auto& p : enc->parameters()) g.push_back(p.grad().to(torch::kDouble).clone());
    return g;
  };
  const auto g32 = grads();
  enc->to(torch::kDouble);
  const auto g64 = grads();
  const auto names = enc->named_parameters().keys();
  for (size_t i = 0; i < g64.size(); ++i) {
    const double ref = g64[i].norm().item<double>();
    if (ref < 1e-6) continue;  // nothing to compare against rounding
    EXPECT_LT((g32[i] - g64[i]).norm().item<double>() / ref, 1e-3) << names[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Modalities, EncoderBothModalities, ::testing::ValuesIn(encoder_params()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           for (char& ch : n) ch = ch == '+' ? '_' : ch;
                           return n;
                         });

TEST(LogMel, ToneLandsInItsMelBand) {
  const int64_t sr = 8000, n_fft = 256;
  const auto fb = mel_filterbank(40, n_fft, sr);
  EXPECT_EQ(fb.sizes(), (std::vector<int64_t>{40, n_fft / 2 + 1}));
  EXPECT_TRUE((fb.sum(1) > 0).all().item<bool>()) << "every mel band must cover at least one FFT bin";
  LogMel mel(sr, n_fft, 80, 40);
  auto t = torch::arange(4000, torch::kFloat) / sr;
  for (double hz : {300.0, 1000.0, 3000.0}) {
    auto spec = mel(torch::sin(2 * M_PI * hz * t).unsqueeze(0));  // [1, 40, frames]
    EXPECT_EQ(spec.size(2), 4000 / 80 + 1);
    const int64_t band = spec[0].mean(1).argmax().item<int64_t>();
    const int64_t bin = static_cast<int64_t>(std::lround(hz * n_fft / sr));
    EXPECT_GT(fb[band][bin].item<float>(), 0.3f) << hz << " Hz peaked in band " << band;
  }
}
