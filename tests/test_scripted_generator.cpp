// Bring your own generator (generation/scripted_generator.h): a TorchScript module made here with
// torch::jit::Module::define stands for a user's file. Adapter training trains exactly the parameters its
// pattern names, keeps the rest as the file has them and out of checkpoints, and generate/resume refuse a
// changed file; files that cannot serve get one message naming them.
#include <gtest/gtest.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <filesystem>
#include <fstream>

#include "generation/conditional_unet.h"
#include "generation/scripted_generator.h"
#include "tests/tiny_run.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/inference/generate_grid.h"
#include "trainer/inference/generator_export.h"
#include "trainer/model_parts.h"
#include "trainer/trainer.h"

using namespace imprint;
using imprint::testing::fresh_dir;
using imprint::testing::tiny_config;

namespace {

constexpr int64_t kClasses = 3, kIdDim = 32;  // tiny_config's model.embed_dim

// A small conditional predictor: conv over x_t, plus per-row content and identity terms. The identity
// term's weights live in the submodule "adapter" (file name "adapter.w").
std::string write_script(const std::string& dir, double scale, const std::string& forward_args = "") {
  std::filesystem::create_directories(dir);
  torch::manual_seed(3);
  torch::jit::Module m("UserGenerator");
  m.register_parameter("base_w", torch::randn({3, 3, 3, 3}) * 0.1 * scale, false);
  m.register_parameter("content_table", torch::randn({kClasses + 1, 3}) * 0.1, false);
  torch::jit::Module adapter("UserAdapter");
  adapter.register_parameter("w", torch::randn({kIdDim, 3}) * 0.1, false);
  m.register_module("adapter", adapter);
  const std::string args = forward_args.empty()
                               ? "x_t: Tensor, t: Tensor, content: Tensor, id_tokens: Tensor, id_scale: float"
                               : forward_args;
  m.define("def forward(self, " + args + R"() -> Tensor:
    h = torch.conv2d(x_t, self.base_w, None, [1, 1], [1, 1])
    c = torch.embedding(self.content_table, content)
    a = torch.matmul(id_tokens.mean(1), self.adapter.w)
    s = c + id_scale * a + 0.001 * t.to(x_t.dtype).unsqueeze(1)
    return h + s.unsqueeze(-1).unsqueeze(-1)
)");
  const std::string path = dir + "/generator.pt";
  m.save(path);
  return path;
}

std::vector<std::string> scripted(const std::string& script, const std::string& train,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"data.content_classes=3",
                                   "objective.infonce.weight=0",
                                   "objective.denoise.weight=1",
                                   "objective.denoise.train=" + train,
                                   "objective.denoise.content_classes=3",
                                   "objective.denoise.timesteps=100",
                                   "objective.denoise.generator_script=" + script,
                                   "train.steps=6",
                                   "checkpoint.every=3"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ScriptedGenerator, AdapterTrainingTrainsOnlyThePatternsWeights) {
  const std::string dir = fresh_dir("script-gen");
  const std::string script = write_script(dir, 1.0);
  const auto run = build_model_parts(tiny_config("image", scripted(script, "adapter")), at::Device(at::kCPU));
  std::vector<std::string> generator_weights;
  for (const auto& [name, p] : run.named)
    if (name.rfind("objective.", 0) == 0) generator_weights.push_back(name);
  EXPECT_EQ(generator_weights, std::vector<std::string>{"objective.denoise.generator.adapter__w"});
  EXPECT_EQ(run.signature.at("objective.denoise.generator_script"), script);
  // Denoise alone reads the tokens, never the pooled vector: the pooled head does not train (under data
  // parallelism it would be refused for getting no gradient). With InfoNCE beside it, it trains.
  const auto trains = [](const ModelParts& parts, const std::string& prefix) {
    int64_t n = 0;
    for (const auto& [name, p] : parts.named) n += name.rfind(prefix, 0) == 0;
    return n;
  };
  EXPECT_EQ(trains(run, "head.pool_"), 0);
  EXPECT_GT(trains(run, "head.resampler"), 0);
  auto with_infonce = scripted(script, "adapter");
  with_infonce.push_back("objective.infonce.weight=0.1");
  EXPECT_EQ(trains(build_model_parts(tiny_config("image", with_infonce), at::Device(at::kCPU)), "head.pool_"), 4);

  const std::string out = dir + "/run";
  train(tiny_config("image", scripted(script, "adapter")), {out, false, nullptr});
  const std::string ckpt = out + "/checkpoints/step-00000006.ckpt";
  const TrainedGenerator g = load_trained_generator(ckpt);  // rebuilt from the signature: the file again
  const torch::jit::Module original = torch::jit::load(script);
  at::Tensor base_file, adapter_file;
  for (const auto& p : original.named_parameters()) {
    if (p.name == "base_w") base_file = p.value;
    if (p.name == "adapter.w") adapter_file = p.value;
  }
  at::Tensor base, adapter;
  for (auto& kv : g.diffusion->generator().named_parameters().pairs()) {
    if (kv.first == "base_w") base = kv.second;
    if (kv.first == "adapter__w") adapter = kv.second;
  }
  ASSERT_TRUE(base.defined() && adapter.defined());
  EXPECT_TRUE(torch::equal(base, base_file)) << "a frozen weight moved";
  EXPECT_FALSE(torch::equal(adapter, adapter_file)) << "the adapter weight did not train (or was not restored)";
  torch::serialize::InputArchive ar, obj, denoise, generator;
  read_checkpoint(ckpt, ar);
  ar.read("objective", obj);
  obj.read("denoise", denoise);
  denoise.read("generator", generator);
  at::Tensor stored;
  EXPECT_FALSE(generator.try_read("base_w", stored)) << "frozen weights were checkpointed";
  EXPECT_TRUE(generator.try_read("adapter__w", stored));

  // The file changes: generate and resume refuse the checkpoint, naming the file.
  write_script(dir, 2.0);
  EXPECT_NE(error_of([&] { load_trained_generator(ckpt); }).find("trained against the generator in " + script),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              train(tiny_config("image", scripted(script, "adapter", {"train.steps=9"})), {out, true, nullptr});
            }).find("objective.denoise.generator_fnv1a64"),
            std::string::npos);
}

TEST(ScriptedGenerator, FilesThatCannotServeAreNamed) {
  const std::string dir = fresh_dir("script-bad");
  const std::string good = write_script(dir + "/good", 1.0);
  EXPECT_NE(error_of([&] {
              build_model_parts(
                  tiny_config("image", scripted(good, "adapter", {"objective.denoise.adapter_pattern=^lora"})),
                  at::Device(at::kCPU));
            }).find("objective.denoise.adapter_pattern: '^lora' matches none of the parameters of " + good),
            std::string::npos);
  // id_scale declared a Tensor: the float imprint passes does not fit.
  const std::string tensor_scale = write_script(
      dir + "/tensor-scale", 1.0, "x_t: Tensor, t: Tensor, content: Tensor, id_tokens: Tensor, id_scale: Tensor");
  const std::string msg = error_of(
      [&] { build_model_parts(tiny_config("image", scripted(tensor_scale, "adapter")), at::Device(at::kCPU)); });
  EXPECT_NE(msg.find("objective.denoise.generator_script: " + tensor_scale + ": forward(x_t [1, 3, 16, 16]"),
            std::string::npos)
      << msg;
  std::ofstream(dir + "/junk.pt") << "not a zip";
  EXPECT_NE(error_of([&] {
              build_model_parts(tiny_config("image", scripted(dir + "/junk.pt", "adapter")), at::Device(at::kCPU));
            }).find("junk.pt: not a TorchScript file"),
            std::string::npos);
  EXPECT_THROW(tiny_config("image", scripted(good, "adapter", {"objective.denoise.generator_from=" + good})),
               ConfigError);
}

// `imprint export --format generator` writes imprint's UNet as a TorchScript generator_script: loaded back as
// one, it predicts what the C++ module predicts at every identity scale and at another batch size than the
// trace's, for content labels and for content tokens; its identity branch is what adapter_pattern picks.
TEST(GeneratorExport, TheTorchScriptPredictsAsTheUnet) {
  const std::string dir = fresh_dir("generator-export");
  std::filesystem::create_directories(dir);
  for (const bool tokens : {false, true}) {
    GeneratorSpec spec;
    spec.channels = 4;
    spec.image_size = 8;
    spec.width = 8;
    spec.heads = 2;
    spec.content_classes = 3;
    spec.id_dim = 16;
    spec.id_tokens = 2;
    if (tokens) spec.context_length = 5, spec.context_dim = 12;
    torch::manual_seed(5);
    ConditionalUnet unet(spec);
    // A trained-looking identity branch and output layer (zero-initialised ones would hide a wrong scale).
    torch::NoGradGuard no_grad;
    for (auto& p : unet.named_parameters())
      if (p.key().find("adapter") != std::string::npos || p.value().abs().max().item<double>() == 0)
        p.value().add_(torch::randn_like(p.value()) * 0.2);
    const std::string path = dir + (tokens ? "/tokens.pt" : "/labels.pt");
    save_generator_torchscript(unet, path);
    ScriptedGenerator loaded(path, "adapter", spec);
    // Traced on the CPU, it must not name the CPU as a device: it would then not run on a GPU.
    const std::string graph = torch::jit::load(path).get_method("predict").graph()->toString();
    EXPECT_EQ(graph.find("\"cpu\""), std::string::npos) << "the trace fixes the CPU as a device:\n" << graph;
    const auto x = torch::randn({3, 4, 8, 8});
    const auto t = torch::tensor({1, 500, 999}, torch::kLong);
    const auto content = tokens ? torch::randn({3, 5, 12}) : torch::tensor({0, 2, 3}, torch::kLong);
    const auto ids = torch::randn({3, 2, 16});
    for (const double scale : {0.0, 0.5, 1.0}) {
      const auto want = unet.predict(x, t, content, ids, scale), got = loaded.predict(x, t, content, ids, scale);
      ASSERT_GT(want.abs().max().item<double>(), 0);
      EXPECT_LE((got - want).abs().max().item<double>(), 1e-5 * want.abs().max().item<double>())
          << (tokens ? "tokens" : "labels") << " scale " << scale;
    }
    EXPECT_GT(
        (unet.predict(x, t, content, ids, 1.0) - unet.predict(x, t, content, ids, 0.0)).abs().max().item<double>(),
        1e-3);
    int64_t adapter = 0;
    for (const auto& p : unet.named_parameters()) adapter += unet.is_adapter_parameter(p.key());
    EXPECT_EQ(static_cast<int64_t>(loaded.adapter_names().size()), adapter);
  }
}
