# Which libtorch imprint builds against.
#
# IMPRINT_TORCH_CPU_FROM=<site-packages>/torch (launch/build.sh passes the project venv's, .venv/, when it has
# one): the libtorch inside PyPI's torch wheel, used for a CPU build. That wheel is a CUDA build: its CMake
# config (Caffe2Config) stops when no CUDA toolkit is installed, and its libtorch.so pulls in libtorch_cuda
# and with it cuDNN, cuBLAS and NCCL at every start. A CPU build needs only libtorch_cpu and libc10, so those
# two are imported here directly (their own RPATH finds the CUDA runtime libraries pip installed beside
# them). The compile definitions and flags are the ones the wheel's Caffe2Targets/TorchConfig set on torch_cpu.
#
# Otherwise: find_package(Torch) — Debian's libtorch-dev (1.13, CPU) or any libtorch on CMAKE_PREFIX_PATH,
# CUDA builds included (.ci/check-cuda-torch.sh, launch/smoke-gpu.sh).
set(IMPRINT_TORCH_CPU_FROM "" CACHE PATH "A PyPI torch package directory whose libtorch_cpu to build against (CPU build)")
if(IMPRINT_TORCH_CPU_FROM)
  set(_torch_root "${IMPRINT_TORCH_CPU_FROM}")
  if(NOT EXISTS "${_torch_root}/include/torch/script.h")
    message(FATAL_ERROR "IMPRINT_TORCH_CPU_FROM=${_torch_root} is not a torch package directory "
                        "(no include/torch/script.h); expected <venv>/lib/python3.X/site-packages/torch")
  endif()
  find_library(IMPRINT_LIBTORCH_CPU torch_cpu PATHS "${_torch_root}/lib" NO_DEFAULT_PATH REQUIRED)
  find_library(IMPRINT_LIBC10 c10 PATHS "${_torch_root}/lib" NO_DEFAULT_PATH REQUIRED)
  add_library(torch INTERFACE IMPORTED)
  set_target_properties(torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_torch_root}/include;${_torch_root}/include/torch/csrc/api/include"
    INTERFACE_COMPILE_DEFINITIONS "USE_DISTRIBUTED;USE_C10D_GLOO;USE_RPC;USE_TENSORPIPE;_GLIBCXX_USE_CXX11_ABI=1"
    INTERFACE_LINK_LIBRARIES "${IMPRINT_LIBTORCH_CPU};${IMPRINT_LIBC10}")
  # Newer torch headers need C++20 (ATen.h stops otherwise); the wheel's own TorchConfig asks for it the same way.
  file(STRINGS "${_torch_root}/include/ATen/ATen.h" _needs_cxx20 REGEX "C\\+\\+20 or later")
  if(_needs_cxx20)
    target_compile_features(torch INTERFACE cxx_std_20)
  endif()
  file(STRINGS "${_torch_root}/version.py" _torch_version REGEX "^__version__")
  string(REGEX REPLACE ".*'(.*)'.*" "\\1" IMPRINT_TORCH_VERSION "${_torch_version}")
  set(IMPRINT_TORCH_SOURCE "PyPI wheel ${IMPRINT_TORCH_VERSION} (libtorch_cpu, ${_torch_root})")
else()
  find_package(Torch REQUIRED)
  set(IMPRINT_TORCH_VERSION "${Torch_VERSION}")
  set(IMPRINT_TORCH_SOURCE "find_package(Torch) ${Torch_VERSION} (${Torch_DIR})")
endif()
if(NOT IMPRINT_TORCH_VERSION MATCHES "^[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "imprint: could not read the libtorch version (${IMPRINT_TORCH_SOURCE})")
endif()
message(STATUS "imprint: libtorch ${IMPRINT_TORCH_SOURCE}")
