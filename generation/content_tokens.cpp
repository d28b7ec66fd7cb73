#include "generation/content_tokens.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace imprint {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::invalid_argument(path + ": " + what);
}

// The value of `key` in the header's Python dict literal, as its text ("'<f4'", "False", "(26, 4, 64)").
std::string header_value(const std::string& header, const std::string& key, const std::string& path) {
  const auto k = header.find("'" + key + "'");
  if (k == std::string::npos) fail(path, "the .npy header has no '" + key + "'");
  auto v = header.find(':', k);
  if (v == std::string::npos) fail(path, "cannot read the .npy header's '" + key + "'");
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  const char open = header[v];
  const auto end = open == '('    ? header.find(')', v) + 1
                   : open == '\'' ? header.find('\'', v + 1) + 1
                                  : header.find_first_of(",}", v);
  if (end == std::string::npos || end <= v) fail(path, "cannot read the .npy header's '" + key + "'");
  return header.substr(v, end - v);
}

}  // namespace

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot be opened");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path, "not a NumPy .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    fail(path, ".npy format version " + std::to_string(major) + " is not one this reader knows (1, 2, 3)");
  }
  if (header_len > (1u << 20)) fail(path, "its .npy header is implausibly long");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) fail(path, "truncated .npy header");
  const std::string descr = header_value(header, "descr", path);
  if (header_value(header, "fortran_order", path) != "False")
    fail(path, "Fortran-order arrays are not read; save a C-order array");
  const std::string shape_text = header_value(header, "shape", path);
  std::vector<int64_t> shape;
  for (size_t i = 1; i < shape_text.size();) {
    while (i < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i >= shape_text.size() || shape_text[i] == ')') break;
    size_t used = 0;
    shape.push_back(std::stoll(shape_text.substr(i), &used));
    i += used;
  }
  at::ScalarType type;
  if (descr == "'<f4'") {
    type = at::kFloat;
  } else if (descr == "'<f8'") {
    type = at::kDouble;
  } else if (descr == "'<i8'") {
    type = at::kLong;
  } else {
    fail(path, "holds " + descr + " values; expected little-endian float32 ('<f4'), float64 or int64");
  }
  int64_t count = 1;
  for (const auto d : shape) {
    if (d < 0 || (d > 0 && count > (int64_t{1} << 40) / d))
      fail(path, "its .npy shape " + shape_text + " is implausible");
    count *= d;
  }
  at::Tensor t = at::empty(shape, type);
  const auto bytes = static_cast<std::streamsize>(count * static_cast<int64_t>(t.element_size()));
  in.read(static_cast<char*>(t.data_ptr()), bytes);
  if (in.gcount() != bytes) fail(path, "truncated .npy data (shape " + shape_text + ")");
  return t;
}

ContentTokens ContentTokens::load(const std::string& path) {
  at::Tensor t = read_npy(path);
  if (t.dim() != 3)
    fail(path,
         "content tokens must be an array [labels, L, Dc]; this one has " + std::to_string(t.dim()) + " dimensions");
  if (!t.is_floating_point()) fail(path, "content tokens must be float32 or float64");
  if (t.size(0) < 1 || t.size(1) < 1 || t.size(2) < 1) fail(path, "content tokens: an empty dimension");
  t = t.to(at::kFloat);
  if (!at::isfinite(t).all().item<bool>()) fail(path, "content tokens hold NaN or infinite values");
  ContentTokens c;
  c.table_ = t;
  c.with_null_ = at::cat({t, at::zeros({1, t.size(1), t.size(2)})});
  return c;
}

at::Tensor ContentTokens::lookup(const at::Tensor& label) const {
  const auto idx = label.to(at::kCPU, at::kLong);
  TORCH_CHECK(idx.numel() == 0 || (idx.min().item<int64_t>() >= 0 && idx.max().item<int64_t>() <= labels()),
              "content label outside the content-token table's ", labels(), " labels");
  return with_null_.index_select(0, idx).to(label.device());
}

}  // namespace imprint
