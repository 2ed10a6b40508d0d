// Declarations-only stand-in for libtorch's <c10/cuda/CUDAStream.h> (see ../../cuda_runtime.h).
#pragma once
#include <cstdint>
#include "../../cuda_runtime.h"
namespace c10 {
using DeviceIndex = int8_t;
namespace cuda {
class CUDAStream {
 public:
  cudaStream_t stream() const;
};
CUDAStream getCurrentCUDAStream(DeviceIndex device_index = -1);
}  // namespace cuda
}  // namespace c10
