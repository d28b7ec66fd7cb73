// Every CUDA runtime call is checked: a failure throws with the call, file:line, the rank and CUDA's own
// name and text for the error, so a GPU fault on rank 5 of 64 says where it happened. Header-only: include
// it only from files that see cuda_runtime_api.h (CUDA builds).
#pragma once
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#include "core/log.h"

namespace imprint {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string cuda_error_text(cudaError_t e, const char* call, const char* file, int line) {
  return log::strf("rank %d: %s:%d: %s failed: %s (%s)", log::rank(), file, line, call, cudaGetErrorName(e),
                   cudaGetErrorString(e));
}

inline void cuda_check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw CudaError(cuda_error_text(e, call, file, line));
}

}  // namespace imprint

#define IMPRINT_CUDA_CHECK(call) ::imprint::cuda_check((call), #call, __FILE__, __LINE__)
