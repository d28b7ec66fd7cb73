#include "trainer/checkpoint/safetensors_writer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace imprint {
namespace {

std::string safetensors_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "F32";
    case at::kDouble:
      return "F64";
    case at::kLong:
      return "I64";
    case at::kInt:
      return "I32";
    case at::kByte:
      return "U8";
    case at::kBFloat16:
      return "BF16";
    case at::kHalf:
      return "F16";
    default:
      throw std::invalid_argument(std::string("safetensors: unsupported dtype ") + at::toString(t));
  }
}

void write_or_throw(std::ofstream& out, const char* data, size_t size, const std::string& path) {
  out.write(data, static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error(path + ": write failed");
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  for (const auto& [name, t] : tensors) sorted.emplace_back(name, t.detach().cpu().contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot create");
  const uint64_t n = text.size();
  char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  write_or_throw(out, size_bytes, 8, path);
  write_or_throw(out, text.data(), text.size(), path);
  for (const auto& [name, t] : sorted)
    write_or_throw(out, static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size(),
                   path);
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().cpu().contiguous();
  std::string descr;
  if (t.scalar_type() == at::kFloat) {
    descr = "<f4";
  } else if (t.scalar_type() == at::kLong) {
    descr = "<i8";
  } else {
    throw std::invalid_argument("write_npy: float32 or int64 only");
  }
  std::string shape = "(";
  for (int64_t d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);
  if (t.dim() == 1) shape.resize(shape.size() - 1);  // "(n,)"
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot create");
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  write_or_throw(out, magic, 8, path);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  write_or_throw(out, len, 2, path);
  write_or_throw(out, header.data(), header.size(), path);
  write_or_throw(out, static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size(), path);
}

}  // namespace imprint
