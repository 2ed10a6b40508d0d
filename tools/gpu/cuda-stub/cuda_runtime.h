// Declarations-only stand-in for the CUDA runtime headers, for tools/gpu/cuda-syntax-check.sh: enough of the runtime
// API, the device intrinsics and the vector types that optimizers/kernels uses for clang to parse and type-check both
// compilation passes (host and device) without a CUDA installation. Nothing here is ever linked or run. Add a
// declaration when a kernel starts using something new; its signature follows the CUDA documentation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#define __align__(n) __attribute__((aligned(n)))
#include <__clang_cuda_builtin_vars.h>
#include <cmath>

// Device versions of the C library functions the kernels call (the SDK's math_functions.h provides them), as
// target overloads of the host ones: clang resolves a call by the caller's side.
#define HK_STUB_DEVICE static __device__ __inline__
HK_STUB_DEVICE float fmaf(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
HK_STUB_DEVICE double fma(double a, double b, double c) { return __builtin_fma(a, b, c); }
HK_STUB_DEVICE float sqrtf(float a) { return __builtin_sqrtf(a); }
HK_STUB_DEVICE float fabsf(float a) { return __builtin_fabsf(a); }
HK_STUB_DEVICE float fmaxf(float a, float b) { return __builtin_fmaxf(a, b); }
HK_STUB_DEVICE float fminf(float a, float b) { return __builtin_fminf(a, b); }
HK_STUB_DEVICE float floorf(float a) { return __builtin_floorf(a); }
HK_STUB_DEVICE float ceilf(float a) { return __builtin_ceilf(a); }
HK_STUB_DEVICE float rintf(float a) { return __builtin_rintf(a); }
HK_STUB_DEVICE bool isfinite(float a) { return __builtin_isfinite(a); }
HK_STUB_DEVICE bool isfinite(double a) { return __builtin_isfinite(a); }
HK_STUB_DEVICE bool signbit(float a) { return __builtin_signbit(a); }
HK_STUB_DEVICE void* memcpy(void* d, const void* s, size_t n) { return __builtin_memcpy(d, s, n); }
HK_STUB_DEVICE void* memset(void* d, int c, size_t n) { return __builtin_memset(d, c, n); }

enum cudaError { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
typedef enum cudaError cudaError_t;
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaDeviceAttr { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMultiProcessorCount = 16 };
struct dim3 {
  unsigned x, y, z;
  __host__ __device__ dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

extern "C" {
__host__ cudaError_t cudaGetLastError();
__host__ const char* cudaGetErrorString(cudaError_t);
__host__ cudaError_t cudaMemcpyAsync(void*, const void*, size_t, cudaMemcpyKind, cudaStream_t = 0);
__host__ cudaError_t cudaMemsetAsync(void*, int, size_t, cudaStream_t = 0);
__host__ cudaError_t cudaMalloc(void**, size_t);
__host__ cudaError_t cudaMallocAsync(void**, size_t, cudaStream_t);
__host__ cudaError_t cudaFree(void*);
__host__ cudaError_t cudaFreeAsync(void*, cudaStream_t);
__host__ cudaError_t cudaSetDevice(int);
__host__ cudaError_t cudaGetDevice(int*);
__host__ cudaError_t cudaDeviceGetAttribute(int*, cudaDeviceAttr, int);
__host__ cudaError_t cudaEventCreate(cudaEvent_t*);
__host__ cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t = 0);
__host__ cudaError_t cudaEventSynchronize(cudaEvent_t);
__host__ cudaError_t cudaEventElapsedTime(float*, cudaEvent_t, cudaEvent_t);
__host__ cudaError_t cudaEventDestroy(cudaEvent_t);
// What clang's <<<...>>> lowers to (either name, by the CUDA version it assumes).
__host__ unsigned __cudaPushCallConfiguration(dim3, dim3, size_t = 0, void* = 0);
__host__ cudaError_t cudaConfigureCall(dim3, dim3, size_t = 0, cudaStream_t = 0);
}
// A template in the SDK (defined there, so it may take kernels of internal linkage).
template <class T>
inline __host__ cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, T, int, size_t) {
  *blocks = 1;
  return cudaSuccess;
}

struct __align__(8) uint2 { unsigned x, y; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(8) float2 { float x, y; };
__host__ __device__ uint2 make_uint2(unsigned, unsigned);
__host__ __device__ int2 make_int2(int, int);
__host__ __device__ float4 make_float4(float, float, float, float);
__host__ __device__ float2 make_float2(float, float);

__device__ float __fadd_rn(float, float);
__device__ float __fsub_rn(float, float);
__device__ float __fmul_rn(float, float);
__device__ float __fdiv_rn(float, float);
__device__ float __fsqrt_rn(float);
__device__ float __frcp_rn(float);
__device__ float __fmaf_rn(float, float, float);
__device__ unsigned __float_as_uint(float);
__device__ float __uint_as_float(unsigned);
__device__ int __float_as_int(float);
__device__ float __int_as_float(int);
__device__ int __float2int_rd(float);
__device__ int __float2int_rn(float);
__device__ void __syncthreads();
__device__ int __syncthreads_count(int);
__device__ int __syncthreads_and(int);
__device__ int __syncthreads_or(int);
__device__ void __syncwarp(unsigned = 0xffffffffu);
__device__ void __threadfence();
__device__ void __threadfence_block();
__device__ int __popc(unsigned);
__device__ int __clz(int);
__device__ int __ffs(int);
__device__ size_t __cvta_generic_to_shared(const void*);
template <class T> __device__ T __shfl_xor_sync(unsigned, T, int, int = 32);
template <class T> __device__ T __shfl_sync(unsigned, T, int, int = 32);
template <class T> __device__ T __shfl_down_sync(unsigned, T, unsigned, int = 32);
template <class T> __device__ T __ldcg(const T*);
__device__ int atomicAdd(int*, int);
__device__ unsigned atomicAdd(unsigned*, unsigned);
__device__ unsigned long long atomicAdd(unsigned long long*, unsigned long long);
__device__ float atomicAdd(float*, float);
__device__ int atomicMax(int*, int);
__device__ unsigned atomicMax(unsigned*, unsigned);
__device__ int atomicExch(int*, int);
__device__ unsigned atomicExch(unsigned*, unsigned);
__device__ int atomicCAS(int*, int, int);
__device__ unsigned atomicCAS(unsigned*, unsigned, unsigned);
