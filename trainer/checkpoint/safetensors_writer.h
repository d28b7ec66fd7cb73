// Writes the safetensors format (huggingface/safetensors, "format" in its README) exactly: u64 little-endian
// header size N, N bytes of JSON header — {"__metadata__": {string: string}, NAME: {"dtype", "shape",
// "data_offsets": [begin, end]}} — padded with spaces to a multiple of 8, then the tensors' bytes, C order,
// little-endian, back to back with no holes. No C++ implementation is packaged in Debian; the format is a
// few lines, and tests/interop/check_export.py reads every file back with the `safetensors` package.
#pragma once
#include <ATen/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace imprint {

// Tensors are written in name order (float32, float64, int64, int32, uint8, bfloat16, float16).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

// NumPy's .npy format, version 1.0 (numpy.lib.format): float32 or int64, C order.
void write_npy(const std::string& path, const at::Tensor& tensor);

}  // namespace imprint
