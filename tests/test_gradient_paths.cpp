// trainer/gradient_paths.h: which trained weights each objective's loss reaches, measured on the step's graph.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "collectives/communicator.h"
#include "tests/tiny_run.h"
#include "trainer/gradient_paths.h"
#include "trainer/model_parts.h"

using namespace imprint;
using imprint::testing::tiny_config;

namespace {

// One InfoNCE step's terms on the real parts of a tiny run.
std::vector<std::pair<std::string, at::Tensor>> infonce_terms(ModelParts& parts) {
  const auto views = at::randn({4, 2, 3, 16, 16});
  const TrainBatch batch{views, at::arange(4), at::Tensor(), 0, 0};
  std::vector<at::Tensor> tokens, pooled;
  for (int64_t k = 0; k < 2; ++k) {
    const Conditioning c = parts.encoder->encode(views.select(1, k).contiguous());
    tokens.push_back(c.tokens), pooled.push_back(c.pooled);
  }
  auto comm = make_local_communicator();
  return parts.objective->compute(batch, {at::stack(tokens, 1), at::stack(pooled, 1)}, *comm).terms;
}

double value_of(const std::vector<std::pair<std::string, at::Tensor>>& values, const std::string& key) {
  for (const auto& [k, v] : values)
    if (k == key) return v.item<double>();
  ADD_FAILURE() << key << " was not measured";
  return -1;
}

}  // namespace

TEST(GradientPaths, MeasuresWhatEachTermReachesAndLeavesNoGradientBehind) {
  torch::manual_seed(0);
  auto parts = build_model_parts(tiny_config("image"), at::Device(at::kCPU));
  ASSERT_EQ(parts.encoder_readers, std::vector<std::string>{"infonce"});
  GradientPaths paths(parts);
  const auto terms = infonce_terms(parts);
  ASSERT_EQ(terms.size(), 1u);
  const auto values = paths.measure(terms);
  EXPECT_GT(value_of(values, "grad_infonce_to_encoder"), 0);
  EXPECT_GT(value_of(values, "grad_infonce_to_infonce"), 0);  // its learned temperature
  EXPECT_TRUE(paths.broken(values).empty());
  for (const auto& [name, p] : parts.named) EXPECT_FALSE(p.grad().defined()) << name << " got a gradient";
  // The graph is kept for the step's own backward.
  terms.front().second.backward();
  for (const auto& [name, p] : parts.named) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(GradientPaths, ATermCutFromTheEncoderIsNamed) {
  torch::manual_seed(0);
  auto parts = build_model_parts(tiny_config("image"), at::Device(at::kCPU));
  GradientPaths paths(parts);
  auto terms = infonce_terms(parts);
  terms.front().second = terms.front().second.detach();  // as if computed under no_grad
  const auto warnings = paths.broken(paths.measure(terms));
  ASSERT_EQ(warnings.size(), 2u);  // the encoder and its own temperature
  EXPECT_NE(warnings[0].find("objective 'infonce' reads the encoder's outputs, but its loss gives the encoder no "
                             "gradient"),
            std::string::npos)
      << warnings[0];
}

// Connected but zero is not cut: the UNet's zero-initialised output layer gives every weight before it exactly
// zero at the first step of a joint run, and the warning must not cry wolf there (only a graph that does not
// reach the weights is a cut path).
TEST(GradientPaths, AZeroGradientThroughAConnectedPathIsNotACut) {
  torch::manual_seed(0);
  auto parts = build_model_parts(tiny_config("image"), at::Device(at::kCPU));
  GradientPaths paths(parts);
  auto terms = infonce_terms(parts);
  terms.front().second = terms.front().second * 0.0;  // as behind a zero-initialised layer
  const auto values = paths.measure(terms);
  EXPECT_EQ(value_of(values, "grad_infonce_to_encoder"), 0);
  const auto warnings = paths.broken(values);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}
