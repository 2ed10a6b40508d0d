// Harness CUDA probe: exact caching-allocator statistics, CUDA events and the current stream, for the
// harness's meters (called through P/Invoke from Harness.Core.Devices.CudaProbe).
//
// Built on the GPU host, on first CUDA use, against the host PyTorch's headers and libraries:
//   nvcc -O2 -shared -Xcompiler -fPIC -std=c++17 -arch=native -D_GLIBCXX_USE_CXX11_ABI=1 \
//        -I$T/include -I$T/include/torch/csrc/api/include -L$T/lib -lc10_cuda -lc10 -lcudart
// where $T is the torch package folder. Every function returns 0 on success and a CUDA error code
// otherwise, so the managed side can say what failed instead of reading garbage.
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <cstdint>

namespace alloc = c10::cuda::CUDACachingAllocator;

extern "C" {

// Version of this ABI; bumped when a signature changes so a stale cached build is rebuilt.
int hp_abi_version() { return 2; }

// allocated = bytes in live tensors, peak = max of allocated since the last reset, reserved = bytes
// the caching allocator holds from the driver (segments), all for one device, aggregated over pools.
int hp_memory_stats(int device, int64_t* allocated, int64_t* peak, int64_t* reserved) {
  try {
    const auto stats = alloc::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    const auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    *allocated = stats.allocated_bytes[aggregate].current;
    *peak = stats.allocated_bytes[aggregate].peak;
    *reserved = stats.reserved_bytes[aggregate].current;
    return 0;
  } catch (...) {
    return -1;
  }
}

int hp_reset_peak(int device) {
  try {
    alloc::resetPeakStats(static_cast<c10::DeviceIndex>(device));
    return 0;
  } catch (...) {
    return -1;
  }
}

// Returns cached, unused blocks to the driver, so one run's cache does not inflate the next run's
// reserved bytes (runs of a sweep share the process and so the caching allocator).
int hp_empty_cache() {
  try {
    alloc::emptyCache();
    return 0;
  } catch (...) {
    return -1;
  }
}

// Device-level usage (includes the CUDA context and other processes), for cross-checks.
int hp_mem_get_info(int device, int64_t* free_bytes, int64_t* total_bytes) {
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device);
  size_t f = 0, t = 0;
  const cudaError_t err = cudaMemGetInfo(&f, &t);
  cudaSetDevice(previous);
  *free_bytes = static_cast<int64_t>(f);
  *total_bytes = static_cast<int64_t>(t);
  return static_cast<int>(err);
}

// Creates an event and records it on the device's current PyTorch stream (where TorchSharp's ops run).
int hp_event_record(int device, void** event) {
  cudaEvent_t e = nullptr;
  cudaError_t err = cudaEventCreate(&e);
  if (err != cudaSuccess) return static_cast<int>(err);
  const auto stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
  err = cudaEventRecord(e, stream);
  *event = e;
  return static_cast<int>(err);
}

// Milliseconds between two recorded events; waits for the later one to complete.
int hp_event_elapsed_ms(void* start, void* end, float* ms) {
  cudaError_t err = cudaEventSynchronize(static_cast<cudaEvent_t>(end));
  if (err != cudaSuccess) return static_cast<int>(err);
  return static_cast<int>(cudaEventElapsedTime(ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
}

int hp_event_destroy(void* event) { return static_cast<int>(cudaEventDestroy(static_cast<cudaEvent_t>(event))); }

// Waits for all work queued on the device's current stream.
int hp_stream_synchronize(int device) {
  const auto stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
  return static_cast<int>(cudaStreamSynchronize(stream));
}

// The current stream handle (for native kernels that must launch where TorchSharp's ops run).
int hp_current_stream(int device, void** stream) {
  *stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
  return 0;
}

}  // extern "C"
