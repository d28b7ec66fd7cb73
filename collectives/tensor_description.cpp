// The names collectives use for tensors in their messages, one spelling for every backend.
#include <ATen/Tensor.h>

#include <sstream>

#include "collectives/communicator.h"

namespace imprint {

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kByte:
      return "uint8";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      return at::toString(t);
  }
}

std::string describe_tensor(const at::Tensor& t) {
  if (!t.defined()) return "no tensor";
  std::ostringstream s;
  s << dtype_name(t.scalar_type()) << " " << t.sizes();
  return s.str();
}

}  // namespace imprint
