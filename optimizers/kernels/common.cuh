// Shared by every kernel of harness_optim_kernels.cu (one translation unit, one nvcc call): the CUDA or emulated
// headers, the launch macro, error reporting, element types and their roundings, the code-search tables, the
// hoisted exact division and the warp and block reductions.
#pragma once
#ifdef HK_EMULATED
#include "hk_emulation.h"
#else
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#endif
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#ifdef HK_EMULATED
#define HK_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  ((void)(stream), hk_emu::launch(static_cast<unsigned>(grid), static_cast<unsigned>(block), [&] { kernel(__VA_ARGS__); }))
#else
#define HK_LAUNCH(kernel, grid, block, shmem, stream, ...) kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#endif
// A comma inside HK_LAUNCH's kernel argument (a template argument list).
#define HK_COMMA ,

namespace {

thread_local char g_error[512] = "";

int fail(const char* message) {
  std::snprintf(g_error, sizeof(g_error), "%s", message);
  return -1;
}

int check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return 0;
  std::snprintf(g_error, sizeof(g_error), "%s: %s", what, cudaGetErrorString(err));
  return static_cast<int>(err);
}

cudaStream_t current_stream(int device) {
#ifdef HK_EMULATED
  (void)device;
  return nullptr;
#else
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
#endif
}

// ---- element types ------------------------------------------------------------------------------------
// dtype codes shared with the managed side: 0 = float32, 1 = bfloat16.
using bf16 = __nv_bfloat16;

template <typename T> struct Num;
template <> struct Num<float> {
  static __device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
  static __device__ __forceinline__ void store(float* p, int64_t i, float x) { p[i] = x; }
  static __device__ __forceinline__ float round(float x) { return x; }
};
template <> struct Num<bf16> {
  static __device__ __forceinline__ float load(const bf16* p, int64_t i) { return __bfloat162float(p[i]); }
  static __device__ __forceinline__ void store(bf16* p, int64_t i, float x) { p[i] = __float2bfloat16_rn(x); }
  static __device__ __forceinline__ float round(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
};

// Rounds an fp32 intermediate to T, as a tensor op with a T output does.
template <typename T> __device__ __forceinline__ float R(float x) { return Num<T>::round(x); }

// The rounding of a T × S product in torch's type promotion: bf16 only when both operands are bf16.
template <typename T, typename S> struct Promoted { static __device__ __forceinline__ float round(float x) { return x; } };
template <> struct Promoted<bf16, bf16> { static __device__ __forceinline__ float round(float x) { return Num<bf16>::round(x); } };

// Four consecutive elements as one aligned load/store (16 B for fp32, 8 B for bf16).
template <typename T> struct Vec4;
template <> struct Vec4<float> {
  static __device__ __forceinline__ void load(const float* p, float out[4]) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    out[0] = x.x; out[1] = x.y; out[2] = x.z; out[3] = x.w;
  }
  static __device__ __forceinline__ void store(float* p, const float in[4]) {
    float4 x; x.x = in[0]; x.y = in[1]; x.z = in[2]; x.w = in[3];
    *reinterpret_cast<float4*>(p) = x;
  }
};
template <> struct Vec4<bf16> {
  static __device__ __forceinline__ void load(const bf16* p, float out[4]) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    bf16 h[4];
    memcpy(h, &raw, sizeof(raw));
    for (int k = 0; k < 4; ++k) out[k] = __bfloat162float(h[k]);
  }
  static __device__ __forceinline__ void store(bf16* p, const float in[4]) {
    bf16 h[4];
    for (int k = 0; k < 4; ++k) h[k] = __float2bfloat16_rn(in[k]);
    uint2 raw;
    memcpy(&raw, h, sizeof(raw));
    *reinterpret_cast<uint2*>(p) = raw;
  }
};
// Rank of x among 255 sorted keys (the number of keys < x, the lower bound's index), through a table indexed by
// the bits of x: a bucket is a sign, an exponent in [2^-32, 2) and the top kRankMant mantissa bits (|x| < 2^-32
// and |x| >= 2 are one bucket each per sign). table[bucket] holds the rank of the bucket's smallest value; the
// keys inside the bucket are then stepped over (at most one for the 8-bit maps: a bucket is 1/128 of an octave
// wide): a byte load and one or two key compares instead of an 8-level dependent search; the same result for
// every x (the step makes it exact whatever the keys are), NaN gives 0.
constexpr int kRankMant = 7;
constexpr uint32_t kRankLow = 95u << 23;   // bits of 2^-32
constexpr uint32_t kRankHigh = 128u << 23; // bits of 2.0
constexpr int kRankPerSign = static_cast<int>((kRankHigh - kRankLow) >> (23 - kRankMant)) + 2;
constexpr int kRankTable = 2 * kRankPerSign;  // entries (bytes) of one table

__device__ __forceinline__ int rank_bucket(uint32_t bits) {
  // (|x| bits >> 17) − (2^-32 bits >> 17) + 1, clamped to [0, kRankPerSign − 1]: below 2^-32 → 0, from 2 up → the top.
  int b = static_cast<int>((bits & 0x7fffffffu) >> (23 - kRankMant)) - static_cast<int>(kRankLow >> (23 - kRankMant)) + 1;
  b = b < 0 ? 0 : b > kRankPerSign - 1 ? kRankPerSign - 1 : b;
  return (bits >> 31) != 0 ? kRankPerSign + b : b;
}
// The smallest float of table entry e (positive buckets: the lower magnitude bound; negative ones: minus the
// largest magnitude inside the bucket).
__device__ __forceinline__ float rank_bucket_min(int e) {
  const bool negative = e >= kRankPerSign;
  const int b = negative ? e - kRankPerSign : e;
  if (!negative) {
    if (b == 0) return 0.0f;
    return __uint_as_float(b == kRankPerSign - 1 ? kRankHigh : kRankLow + (static_cast<uint32_t>(b - 1) << (23 - kRankMant)));
  }
  if (b == kRankPerSign - 1) return __uint_as_float(0xff800000u);  // −∞
  const uint32_t upper = kRankLow + (static_cast<uint32_t>(b) << (23 - kRankMant));  // exclusive magnitude bound
  return __uint_as_float(0x80000000u | (upper - 1));
}
// Fills table[0..kRankTable) from keys[0..254] (ascending, in shared memory; block-cooperative, caller
// synchronises): a fixed 8-step lower bound per entry, kIlp entries interleaved per thread so the dependent
// shared loads overlap (small blocks fill the table once per persistent block, so its latency matters).
__device__ __forceinline__ void rank_fill(uint8_t* table, const float* keys) {
  constexpr int kIlp = 8;
  for (int e0 = threadIdx.x; e0 < kRankTable; e0 += kIlp * blockDim.x) {
    float x[kIlp];
    int pos[kIlp];
#pragma unroll
    for (int u = 0; u < kIlp; ++u) {
      const int e = e0 + u * static_cast<int>(blockDim.x);
      x[u] = rank_bucket_min(e < kRankTable ? e : kRankTable - 1);
      pos[u] = 0;
    }
#pragma unroll
    for (int step = 128; step > 0; step >>= 1)
#pragma unroll
      for (int u = 0; u < kIlp; ++u)
        if (pos[u] + step <= 255 && keys[pos[u] + step - 1] < x[u]) pos[u] += step;
#pragma unroll
    for (int u = 0; u < kIlp; ++u) {
      const int e = e0 + u * static_cast<int>(blockDim.x);
      if (e < kRankTable) table[e] = static_cast<uint8_t>(pos[u]);
    }
  }
}
// The rank of x; keys[255] must be +∞ (the sentinel that ends the step over the bucket's keys). on_key: x equals
// keys[rank], the first key ≥ x (for a caller's tie rule). kSparse: the table passed rank_sparse, so a bucket holds
// at most one key and one compare decides (no second load, no loop).
template <bool kSparse = false>
__device__ __forceinline__ int table_rank(const uint8_t* table, const float* keys, float x, bool& on_key) {
  int r = table[rank_bucket(__float_as_uint(x))];
  float k = keys[r];
  if constexpr (kSparse) {
    // keys[r] < x: the next key lies in a later bucket, past x, so x is on no key.
    on_key = k == x;
    r += k < x ? 1 : 0;
  } else {
    r += k < x ? 1 : 0;  // the common case, without a branch
    k = keys[r];
    while (k < x) k = keys[++r];  // crowded buckets only
    on_key = k == x;
  }
  return x != x ? 0 : r;
}

// Block-wide (every thread calls it, after the table is filled and synchronised): true when table_rank<true> gives
// table_rank's answer for every x, i.e. no bucket holds two keys. The bucket after e in value order: the next
// positive one, the next smaller magnitude for negative ones; the smallest negative bucket (−2^-32, −0] is
// checked together with [+0, 2^-32) (zero lies in both), the top positive one [2, +∞] against the 255 keys.
__device__ __forceinline__ bool rank_sparse(const uint8_t* table) {
  bool ok = true;
  for (int e = static_cast<int>(threadIdx.x); e < kRankTable; e += static_cast<int>(blockDim.x)) {
    const int after = e == kRankPerSign - 1 ? 255
                      : e < kRankPerSign    ? table[e + 1]
                      : e == kRankPerSign   ? table[1]
                                            : table[e - 1];
    ok = ok && after - static_cast<int>(table[e]) <= 1;
  }
  return __syncthreads_and(ok ? 1 : 0) != 0;
}

// a / b correctly rounded, for many a over one b whose reciprocal rc = RN(1/b) (an IEEE division) is
// formed once: q0 = RN(a·rc), the exact remainder a − b·q0 (an FMA), one correction RN(q0 + rem·rc). With rc the
// rounded reciprocal and q0 faithful this gives RN(a/b) (Markstein's correction; checked against IEEE division on
// 4.8e8 pairs on the CPU while developing, incl. every significand of a against all-ones and power-of-two b, and
// bit for bit by the test suite's Division_by_a_hoisted_reciprocal_is_ieee_division),
// as long as the quotient is a normal float: b_ok (b in [2^-60, 2^60], uniform per block) and |a| in [2^-64,
// 2^64] (so |a/b| in [2^-124, 2^124]) or a zero (whose sign the rem == 0 select keeps); anything else takes
// __fdiv_rn (an overflowing quotient would give NaN, a subnormal one can round wrong). Three ops instead of the
// division's ~10 and its slow-path branch. kZeroSign false: for a result that only feeds the code search, which
// ranks −0 and +0 alike (both compare equal to every key), a zero quotient may carry the other sign than IEEE
// division's, and the remainder's zero test goes.
template <bool kZeroSign = true>
__device__ __forceinline__ float div_hoisted(float a, float b, float rc, bool b_ok) {
  const float q0 = __fmul_rn(a, rc);
  const float rem = fmaf(-b, q0, a);
  const float q1 = kZeroSign && rem == 0.0f ? q0 : fmaf(rem, rc, q0);
  const float m = fabsf(a);
  if (b_ok && ((m >= 0x1p-64f && m <= 0x1p64f) || a == 0.0f)) return q1;
  return __fdiv_rn(a, b);
}
__device__ __forceinline__ bool div_hoistable(float b) { return b >= 0x1p-60f && b <= 0x1p60f; }

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x = __fadd_rn(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Block-wide reduction of two values (blockDim a multiple of 32): a by max, b by max (kSum false) or by sum;
// every thread gets both, folding the warps' partials in warp order, so all threads hold the same bits (kWarps: the
// block's warps when known at compile time, else blockDim.x / 32).
// `parity` alternates between consecutive calls of a persistent loop: with two slot sets no second barrier
// is needed to guard the slots' reuse.
template <bool kSum, int kWarps = 0>
__device__ __forceinline__ void block_reduce2(float& a, float& b, int parity) {
  __shared__ float s_a[2][32], s_b[2][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = kWarps > 0 ? kWarps : blockDim.x >> 5;
  a = warp_max(a);
  b = kSum ? warp_sum(b) : warp_max(b);
  if (lane == 0) { s_a[parity][warp] = a; s_b[parity][warp] = b; }
  __syncthreads();
  a = s_a[parity][0];
  b = s_b[parity][0];
  for (int w = 1; w < warps; ++w) {
    a = fmaxf(a, s_a[parity][w]);
    b = kSum ? __fadd_rn(b, s_b[parity][w]) : fmaxf(b, s_b[parity][w]);
  }
}

}  // namespace
