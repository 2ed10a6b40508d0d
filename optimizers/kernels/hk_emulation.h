// Host stand-ins for the CUDA names the kernels (harness_optim_kernels.cu and its headers) use, so the same source builds with g++
// (-DHK_EMULATED) into an *emulated* library: every CUDA block runs on the host, one std::thread per
// CUDA thread, with barriers for __syncthreads and warp shuffles, and "device pointers" are host pointers.
// The test suite builds it (tests/Harness.Tests/Kernels) and checks the kernels' logic (indexing,
// multi-tensor tables, reductions, quantization, tails) against the tensor-ops optimizers on CPU, where no
// GPU exists. It says nothing about speed, and float rounding follows the host (built with
// -ffp-contract=off, so a*b+c is never fused unless the source says fmaf).
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <math.h>
#include <memory>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
// One block runs at a time, so a function-local static is the block's shared memory.
#define __shared__ static
using std::isfinite;
using std::signbit;
struct hk_dim3 { unsigned x = 0, y = 1, z = 1; };
inline thread_local hk_dim3 threadIdx, blockIdx;
inline hk_dim3 blockDim, gridDim;

namespace hk_emu {
struct BlockSync {
  std::unique_ptr<std::barrier<>> block;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<float> lanes;  // one slot per thread for shuffles
  std::atomic<int> votes{0};  // __syncthreads_count's tally
};
inline BlockSync* g_sync = nullptr;

// Runs body once per CUDA thread of every block, block after block.
inline void launch(unsigned grid, unsigned block, const std::function<void()>& body) {
  blockDim.x = block;
  gridDim.x = grid;
  for (unsigned b = 0; b < grid; ++b) {
    BlockSync sync;
    sync.block = std::make_unique<std::barrier<>>(block);
    const unsigned warps = (block + 31) / 32;
    for (unsigned w = 0; w < warps; ++w) {
      const unsigned size = (w + 1) * 32 <= block ? 32 : block - w * 32;
      sync.warps.push_back(std::make_unique<std::barrier<>>(size));
    }
    sync.lanes.assign(block, 0.0f);
    g_sync = &sync;
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned t = 0; t < block; ++t)
      threads.emplace_back([&, b, t] {
        blockIdx.x = b;
        threadIdx.x = t;
        body();
      });
    for (auto& th : threads) th.join();
    g_sync = nullptr;
  }
}
}  // namespace hk_emu

inline void __syncthreads() { hk_emu::g_sync->block->arrive_and_wait(); }
// The block's count of non-zero predicates, returned to every thread (three barriers: the tally is reset only after
// every thread has read it, and counted only after the previous call's reset).
inline int __syncthreads_count(int predicate) {
  auto& s = *hk_emu::g_sync;
  s.block->arrive_and_wait();
  if (predicate != 0) s.votes.fetch_add(1);
  s.block->arrive_and_wait();
  const int count = s.votes.load();
  s.block->arrive_and_wait();
  if (threadIdx.x == 0) s.votes.store(0);
  return count;
}
inline int __syncthreads_and(int predicate) { return __syncthreads_count(predicate == 0 ? 1 : 0) == 0 ? 1 : 0; }
inline float __shfl_xor_sync(unsigned, float x, int offset) {
  auto& s = *hk_emu::g_sync;
  const unsigned t = threadIdx.x, warp = t / 32;
  s.lanes[t] = x;
  s.warps[warp]->arrive_and_wait();
  const float y = s.lanes[warp * 32 + ((t % 32) ^ static_cast<unsigned>(offset))];
  s.warps[warp]->arrive_and_wait();
  return y;
}
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned u) { float x; std::memcpy(&x, &u, 4); return x; }
struct float4 { float x, y, z, w; };
struct uint2 { unsigned x, y; };
struct __nv_bfloat16 { unsigned short bits; };
inline float __bfloat162float(__nv_bfloat16 h) { unsigned u = unsigned(h.bits) << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return __nv_bfloat16{static_cast<unsigned short>((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return __nv_bfloat16{static_cast<unsigned short>(u >> 16)};
}
using cudaStream_t = void*;
using cudaEvent_t = void*;
enum cudaError_t { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyDeviceToDevice = 3 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated"; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) { *p = std::malloc(n); return cudaSuccess; }
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memcpy(d, s, n); return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = nullptr; return cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) { *ms = 1.0f; return cudaSuccess; }
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
// The emulation runs blocks one after another: a small "device" of 2 multiprocessors, 2 blocks each,
// so persistent kernels walk several items per block.
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) { *value = 2; return cudaSuccess; }
template <typename K>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, K, int, size_t) { *blocks = 2; return cudaSuccess; }
