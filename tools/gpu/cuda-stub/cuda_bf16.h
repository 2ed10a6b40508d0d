// Declarations-only stand-in for <cuda_bf16.h> (see cuda_runtime.h in this folder).
#pragma once
#include "cuda_runtime.h"
struct __align__(2) __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
};
struct __align__(4) __nv_bfloat162 { __nv_bfloat16 x, y; };
__host__ __device__ float __bfloat162float(__nv_bfloat16);
__host__ __device__ __nv_bfloat16 __float2bfloat16_rn(float);
__host__ __device__ __nv_bfloat16 __float2bfloat16(float);
