// Conv -> GroupNorm -> GELU, the unit both encoder trunks are built from. GroupNorm rather than BatchNorm:
// no running statistics to synchronise across ranks, and the result does not depend on the local batch size.
// The conv has no bias: the norm right after it removes any per-channel constant, so a bias would get a
// zero gradient (rounding noise that Adam amplifies into random drift; caught by the multi-rank parity test).
#pragma once
#include <torch/nn/modules/container/sequential.h>

namespace imprint {

// Returns `trunk_output` with a backward hook that makes its incoming gradient contiguous. libtorch 1.13's
// CPU GroupNorm backward returns wrong gradients (norms of 1e4 to inf instead of about 1) when the
// gradient reaching it is strided, as it is after the transpose from [B, C, N] to [B, N, C] that feeds the
// token resampler; only float32 is affected. tests/test_encoders.cpp (Float32GradientsMatchFloat64) fails
// without this hook.
torch::Tensor with_contiguous_grad(const torch::Tensor& trunk_output);

void append_conv2d_block(torch::nn::Sequential& trunk, int64_t in, int64_t out, int64_t stride);
void append_conv1d_block(torch::nn::Sequential& trunk, int64_t in, int64_t out, int64_t kernel, int64_t stride);

}  // namespace imprint
