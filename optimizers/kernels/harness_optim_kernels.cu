// Harness fused optimizer steps: AdamW, 8-bit Adam (bitsandbytes 0.43.1 block-wise semantics) and Gefen,
// multi-tensor (one launch per group of up to kMaxTensors tensors: 192, or 48 before CUDA 12.1), fp32 or bf16 parameters, launched on
// PyTorch's current CUDA stream (where TorchSharp's ops run). Called through P/Invoke from
// Harness.Optimizers.Kernels.FusedKernels with raw device pointers.
//
// Built on the GPU host, on first CUDA use, like the native probe (harness/native):
//   nvcc -O3 -shared -Xcompiler -fPIC -std=c++17 -arch=native -D_GLIBCXX_USE_CXX11_ABI=1
//     (cont.) -I$T/include -I$T/include/torch/csrc/api/include -L$T/lib -lc10_cuda -lc10 -lcudart
// No fast-math: the element rules below are written op by op, with explicit rounding (__f*_rn) and
// explicit fmaf where the tensor-ops reference's CUDA kernels contract, so that fp32 results can match the
// tensor-ops implementation bit for bit where that is possible. For bf16, every op of the reference that
// rounds its output to bf16 is rounded here too (R<T>), so the fused step tracks the tensor-ops one closely.
//
// Each rule is the tensor-ops implementation in optimizers/Harness.Optimizers (the reference), restated:
//   AdamW     AdamW/AdamW.cs
//   8-bit     Quantization/Adam8bitMoments.cs + Adam8bit/Adam8bit.cs + Quantization/BlockwiseQuantization.cs
//   Gefen     Gefen/Gefen.cs (the reference's non-fused path) + Gefen/CodebookDp.cs (nearest codeword)
//
// Every entry point returns 0 on success, a CUDA error code (> 0) or -1 for a bad argument; hk_last_error()
// then says what went wrong.
#ifdef HK_EMULATED
#include "hk_syntax_shim.h"
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

// The tensor of a flat work item: the last t with start[t] <= item (start[0] = 0, ascending).
__device__ __forceinline__ int find_tensor(const int64_t* start, int count, int64_t item) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (start[mid] <= item) lo = mid; else hi = mid - 1;
  }
  return lo;
}

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

// =======================================================================================================
// AdamW
// =======================================================================================================
// Tensors per launch, passed by value as kernel parameters. CUDA 12.1+ takes up to 32 KiB of parameters (Volta and
// later), so one launch covers a whole model's worth of tensors (GPT-2 has ~150): fewer, fuller launches (at GPT-2
// 124M, three 48-tensor launches of 8-bit Adam's small tensors took 14 µs each). Older toolkits keep the 4 KiB
// limit; the emulated build keeps 48 so the tests exercise the multi-launch path.
#if defined(CUDART_VERSION) && CUDART_VERSION >= 12010 && !defined(HK_EMULATED)
constexpr int kMaxTensors = 192;
#else
constexpr int kMaxTensors = 48;
#endif
constexpr int kAdamWThreads = 256;
constexpr int64_t kAdamWChunk = 8192;  // elements per CUDA block

struct AdamWTable {
  void* p[kMaxTensors];
  const void* g[kMaxTensors];
  void* m[kMaxTensors];
  void* v[kMaxTensors];
  int64_t numel[kMaxTensors];
  int64_t start[kMaxTensors + 1];  // prefix sum of chunks
  int count;
};

// Scalars formed on the managed side exactly as the tensor-ops AdamW passes them (double → float).
struct AdamWScalars {
  float decay;      // 1 − lr·wd
  float w1;         // 1 − β1 (the lerp weight)
  float beta2;
  float w2;         // 1 − β2
  float inv_bc2sqrt;  // 1/√(1 − β2^t): torch divides by a CPU scalar as a multiply by its reciprocal (taken in double, rounded to float)
  float eps;
  float neg_step;   // −lr / (1 − β1^t)
  int apply_decay;  // wd != 0
};

// The tensor, first element and length of CUDA block `chunk` of a multi-tensor element-wise launch (kAdamWChunk
// elements a block).
struct ElementChunk {
  int t;
  int64_t base;
  int n;
};
__device__ __forceinline__ ElementChunk element_chunk(const AdamWTable& tab, int64_t chunk) {
  const int t = find_tensor(tab.start, tab.count, chunk);
  const int64_t base = (chunk - tab.start[t]) * kAdamWChunk;
  const int64_t rest = tab.numel[t] - base;
  return ElementChunk{t, base, static_cast<int>(rest < kAdamWChunk ? rest : kAdamWChunk)};
}

// p ← p·(1 − ηλ); m ← lerp(m, g, 1 − β1); v ← v·β2 + (1 − β2)·g·g; p ← p − (η/bc1)·m/(√v·(1/√bc2) + ε)
// Each line is one tensor op of AdamW.cs (R<T> = that op's output rounding).
template <typename T>
__device__ __forceinline__ void adamw_rule(float& p, float g, float& m, float& v, const AdamWScalars& s) {
  if (s.apply_decay) p = R<T>(__fmul_rn(p, s.decay));
  m = R<T>(fmaf(s.w1, __fsub_rn(g, m), m));                        // torch lerp, weight < 0.5
  v = R<T>(fmaf(s.w2, __fmul_rn(g, g), R<T>(__fmul_rn(v, s.beta2)))); // mul_, then addcmul_: fma(value, g·g, v)
  const float denom = R<T>(__fadd_rn(R<T>(__fmul_rn(R<T>(sqrtf(v)), s.inv_bc2sqrt)), s.eps));
  p = R<T>(fmaf(s.neg_step, __fdiv_rn(m, denom), p));              // addcdiv_
}

template <typename T>
__global__ void __launch_bounds__(kAdamWThreads) adamw_kernel(AdamWTable tab, AdamWScalars s) {
  const auto [t, base, n] = element_chunk(tab, blockIdx.x);
  T* __restrict__ p = static_cast<T*>(tab.p[t]) + base;
  const T* __restrict__ g = static_cast<const T*>(tab.g[t]) + base;
  T* __restrict__ m = static_cast<T*>(tab.m[t]) + base;
  T* __restrict__ v = static_cast<T*>(tab.v[t]) + base;
  const uintptr_t align = reinterpret_cast<uintptr_t>(p) | reinterpret_cast<uintptr_t>(g) |
                          reinterpret_cast<uintptr_t>(m) | reinterpret_cast<uintptr_t>(v);
  int done = 0;
  if (align % (4 * sizeof(T)) == 0) {
    const int vec = n & ~3;
#pragma unroll 2
    for (int i = threadIdx.x * 4; i < vec; i += kAdamWThreads * 4) {
      float pp[4], gg[4], mm[4], vv[4];
      Vec4<T>::load(p + i, pp);
      Vec4<T>::load(g + i, gg);
      Vec4<T>::load(m + i, mm);
      Vec4<T>::load(v + i, vv);
#pragma unroll
      for (int k = 0; k < 4; ++k) adamw_rule<T>(pp[k], gg[k], mm[k], vv[k], s);
      Vec4<T>::store(p + i, pp);
      Vec4<T>::store(m + i, mm);
      Vec4<T>::store(v + i, vv);
    }
    done = vec;
  }
  for (int i = done + threadIdx.x; i < n; i += kAdamWThreads) {
    float pp = Num<T>::load(p, i), mm = Num<T>::load(m, i), vv = Num<T>::load(v, i);
    adamw_rule<T>(pp, Num<T>::load(g, i), mm, vv, s);
    Num<T>::store(p, i, pp);
    Num<T>::store(m, i, mm);
    Num<T>::store(v, i, vv);
  }
}

// =======================================================================================================
// FORGE tile: a linear layer's weight gradient G = dYᵀ·x and its AdamW update in one kernel
// =======================================================================================================
// FORGE (Kukreja et al., arXiv 2606.22932; reference dk4248/FORGE kernel.py _fused_grad_adamw_kernel) for one
// weight W [rows, cols] with input x [tokens, cols] and output gradient dY [tokens, rows], all row-major. Each
// block owns one kTile × kTile tile of G: it streams the tokens through shared memory kForgeK at a time (the next
// chunk's global loads in flight while the current one is multiplied), accumulates its part of the tile in fp32
// registers (a 16 × 16 grid of threads, each a (kTile/16)² patch: 16 accumulators at kTile 64), and in the
// epilogue applies to each element exactly what FORGE's slab path (FusedLinearLayer.Slabs, then AdamW's fused
// slab step) applies to the same element:
//   g = R<T>(Σ_t dY[t,r]·x[t,c])   the mm output in the weight's dtype
//   g = R<T>(pending + g)          gradient accumulation: the fp32 pending buffer plus this micro-batch, cast to T
//   g = R<T>(g · c)                two-pass clipping: the in-place mul_ by the clip coefficient
//   adamw_rule<T>(p, g, m, v)      AdamW with hk_adamw's scalars
// The token sum is accumulated in order with fmaf, where cuBLAS/MKL use their own order: that is the only
// difference from the slab path. No gradient tensor exists; per element only p, m, v (and pending) move.
constexpr int kForgeThreads = 256;
constexpr int kForgeK = 32;  // tokens per shared-memory chunk

struct ForgeTileArgs {
  int64_t rows, cols, tokens;
  int64_t col_tiles;      // tiles along the columns (block b owns tile (b / col_tiles, b % col_tiles))
  const void* x;          // [tokens, cols] of T
  const void* dy;         // [tokens, rows] of T
  const float* pending;   // [rows, cols] fp32, or null
  const float* clip;      // a device fp32 scalar, or null
  void* p;                // [rows, cols] of T, as m and v
  void* m;
  void* v;
};

// AdamW's scalars in hk_adamw's order: decay, w1, beta2, w2, 1/bc2sqrt, eps, neg_step, apply_decay (0/1).
AdamWScalars adamw_scalars(const float* f) {
  AdamWScalars s;
  s.decay = f[0]; s.w1 = f[1]; s.beta2 = f[2]; s.w2 = f[3];
  s.inv_bc2sqrt = f[4]; s.eps = f[5]; s.neg_step = f[6]; s.apply_decay = f[7] != 0.0f;
  return s;
}

// N consecutive floats of shared memory (16 B aligned when N is a multiple of 4).
template <int N>
__device__ __forceinline__ void load_shared(const float* s, float out[N]) {
  if constexpr (N % 4 == 0) {
#pragma unroll
    for (int q = 0; q < N; q += 4) Vec4<float>::load(s + q, out + q);
  } else {
#pragma unroll
    for (int q = 0; q < N; ++q) out[q] = s[q];
  }
}

template <typename T, int kTile>
__global__ void __launch_bounds__(kForgeThreads) forge_adamw_kernel(ForgeTileArgs a, AdamWScalars s) {
  constexpr int kPer = kTile / 16;                         // rows and columns of the tile per thread
  constexpr int kStage = kForgeK * kTile / kForgeThreads;  // elements of each operand a thread stages per chunk
  static_assert(kTile % 16 == 0 && kForgeThreads % kTile == 0 && kForgeK % (kForgeThreads / kTile) == 0, "tile shape");
  __shared__ float s_dy[kForgeK][kTile];
  __shared__ float s_x[kForgeK][kTile];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x / a.col_tiles) * kTile;
  const int64_t col0 = static_cast<int64_t>(blockIdx.x % a.col_tiles) * kTile;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;  // the emulation has only threadIdx.x: 2-D by hand
  const T* __restrict__ x = static_cast<const T*>(a.x);
  const T* __restrict__ dy = static_cast<const T*>(a.dy);

  float acc[kPer][kPer];
#pragma unroll
  for (int i = 0; i < kPer; ++i)
#pragma unroll
    for (int j = 0; j < kPer; ++j) acc[i][j] = 0.0f;

  // Staging: thread i stages column i % kTile of the tile for tokens i / kTile + l·kPass (l < kStage), so a warp
  // reads 32 consecutive features of one token (coalesced). Out of range (tokens, rows, cols) reads as 0, which adds
  // exact zeros to the sums.
  constexpr int kPass = kForgeThreads / kTile;  // tokens the block stages per pass
  const int sc = threadIdx.x % kTile, sk = threadIdx.x / kTile;
  const bool dy_in = row0 + sc < a.rows, x_in = col0 + sc < a.cols;
  const T* __restrict__ dy_col = dy + row0 + sc;  // + token·rows
  const T* __restrict__ x_col = x + col0 + sc;    // + token·cols
  float stage_dy[kStage], stage_x[kStage];
  auto fetch = [&](int64_t t0) {
#pragma unroll
    for (int l = 0; l < kStage; ++l) {
      const int64_t t = t0 + sk + l * kPass;
      const bool token = t < a.tokens;
      stage_dy[l] = token && dy_in ? Num<T>::load(dy_col, t * a.rows) : 0.0f;
      stage_x[l] = token && x_in ? Num<T>::load(x_col, t * a.cols) : 0.0f;
    }
  };
  fetch(0);
  for (int64_t t0 = 0; t0 < a.tokens; t0 += kForgeK) {
    __syncthreads();  // every thread is done with the previous chunk
#pragma unroll
    for (int l = 0; l < kStage; ++l) {
      s_dy[sk + l * kPass][sc] = stage_dy[l];
      s_x[sk + l * kPass][sc] = stage_x[l];
    }
    __syncthreads();
    if (t0 + kForgeK < a.tokens) fetch(t0 + kForgeK);
#pragma unroll
    for (int k = 0; k < kForgeK; ++k) {
      float dyk[kPer], xk[kPer];
      load_shared<kPer>(&s_dy[k][ty * kPer], dyk);
      load_shared<kPer>(&s_x[k][tx * kPer], xk);
#pragma unroll
      for (int i = 0; i < kPer; ++i)
#pragma unroll
        for (int j = 0; j < kPer; ++j) acc[i][j] = fmaf(dyk[i], xk[j], acc[i][j]);
    }
  }

  // Epilogue: the slab path's gradient of each element, then AdamW, straight from the accumulators.
  T* __restrict__ p = static_cast<T*>(a.p);
  T* __restrict__ m = static_cast<T*>(a.m);
  T* __restrict__ v = static_cast<T*>(a.v);
  const float* __restrict__ pending = a.pending;
  const float c = a.clip != nullptr ? *a.clip : 1.0f;
  auto gradient = [&](float sum, float pend) {
    float g = R<T>(sum);
    if (pending != nullptr) g = R<T>(__fadd_rn(pend, g));
    if (a.clip != nullptr) g = R<T>(__fmul_rn(g, c));
    return g;
  };
  // Four columns at once where every row starts on a 4-element boundary and the tensors are aligned for it.
  const uintptr_t align = reinterpret_cast<uintptr_t>(p) | reinterpret_cast<uintptr_t>(m) | reinterpret_cast<uintptr_t>(v);
  const bool vec = kPer % 4 == 0 && a.cols % 4 == 0 && align % (4 * sizeof(T)) == 0 &&
                   reinterpret_cast<uintptr_t>(pending) % (4 * sizeof(float)) == 0;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t r = row0 + ty * kPer + i;
    if (r >= a.rows) break;
    const int64_t first = col0 + tx * kPer;
#pragma unroll
    for (int j = 0; j < kPer; j += 4) {
      const int64_t col = first + j;
      if (vec && j + 4 <= kPer && col + 4 <= a.cols) {
        const int64_t at = r * a.cols + col;
        float pp[4], mm[4], vv[4], pend[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        Vec4<T>::load(p + at, pp);
        Vec4<T>::load(m + at, mm);
        Vec4<T>::load(v + at, vv);
        if (pending != nullptr) Vec4<float>::load(pending + at, pend);
#pragma unroll
        for (int q = 0; q < 4; ++q) adamw_rule<T>(pp[q], gradient(acc[i][j + q], pend[q]), mm[q], vv[q], s);
        Vec4<T>::store(p + at, pp);
        Vec4<T>::store(m + at, mm);
        Vec4<T>::store(v + at, vv);
        continue;
      }
      for (int q = j; q < j + 4 && q < kPer; ++q) {
        if (first + q >= a.cols) break;
        const int64_t at = r * a.cols + first + q;
        float pp = Num<T>::load(p, at), mm = Num<T>::load(m, at), vv = Num<T>::load(v, at);
        adamw_rule<T>(pp, gradient(acc[i][q], pending != nullptr ? pending[at] : 0.0f), mm, vv, s);
        Num<T>::store(p, at, pp);
        Num<T>::store(m, at, mm);
        Num<T>::store(v, at, vv);
      }
    }
  }
}

#ifndef HK_COMMA
// div_hoisted over pairs (for the tests: it must equal IEEE division for every pair).
__global__ void quotient_kernel(const float* a, const float* b, int n, float* out) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = div_hoisted(a[i], b[i], __fdiv_rn(1.0f, b[i]), div_hoistable(b[i]));
}

#define HK_COMMA ,  // a comma inside HK_LAUNCH's kernel argument (defined identically again below)
#endif
template <typename T, int kTile>
void launch_forge_adamw(ForgeTileArgs a, cudaStream_t stream, const AdamWScalars& s) {
  a.col_tiles = (a.cols + kTile - 1) / kTile;
  const unsigned blocks = static_cast<unsigned>((a.rows + kTile - 1) / kTile * a.col_tiles);
  HK_LAUNCH(forge_adamw_kernel<T HK_COMMA kTile>, blocks, kForgeThreads, 0, stream, a, s);
}

// =======================================================================================================
// 8-bit Adam (bitsandbytes 0.43.1 kOptimizerStatic8bit2StateBlockwise, as Adam8bitMoments.cs restates it)
// =======================================================================================================
constexpr int kAdam8Threads = 256;
constexpr int kAdam8MaxPerThread = 16;  // block sizes up to 4096
constexpr int kAdam8Vec = 8;            // the contiguous fast path: 8 elements a thread (block size 2048)

struct Adam8Table {
  void* p[kMaxTensors];
  const void* g[kMaxTensors];
  uint8_t* c1[kMaxTensors];
  uint8_t* c2[kMaxTensors];
  float* a1[kMaxTensors];
  float* a2[kMaxTensors];
  int64_t numel[kMaxTensors];
  int64_t first[kMaxTensors];      // the tensor's first quantization block in this launch
  int64_t start[kMaxTensors + 1];  // prefix sum of quantization blocks
  int count;
};

struct Adam8Scalars {
  const float* code1;  // signed map [256] (device)
  const float* code2;  // unsigned map [256]
  const float* mid1;   // float32 midpoints (c[k] + c[k+1])·0.5 [255]
  const float* mid2;
  float beta1, beta2, w1, w2;  // w = 1 − β
  float c2eps;                 // √(1 − β2^t)·ε
  float step_size;             // −lr·√(1 − β2^t)/(1 − β1^t)
  float decay;                 // 1 − lr·wd
  float pad_code;              // code1[128], what the kernel's padded lanes load
  int apply_decay;             // wd > 0
  int block_size;
  int zero1, zero2;            // index of the code closest to 0 in each map
};

// The kernel's nearest code: the first midpoint ≥ x (bucketize, right = false); a value exactly on a
// midpoint goes to the even index of the pair; NaN ends at 0.
template <bool kSparse>
__device__ __forceinline__ int nearest_8bit(const uint8_t* table, const float* mid, float x) {
  bool on_key;
  const int lo = table_rank<kSparse>(table, mid, x, on_key);  // mid[255] = +∞
  return on_key && lo < 255 ? lo + (lo & 1) : lo;
}

// nearest_8bit on a sparse table for an x that is not +∞ (so never on the sentinel): one key compare decides
// both the step past the key and the tie (x on the key at an odd index goes to the even one above).
__device__ __forceinline__ int nearest_8bit_in_range(const uint8_t* table, const float* mid, float x) {
  const int r = table[rank_bucket(__float_as_uint(x))];
  const float k = mid[r];
  const bool up = k < x || (k == x && (r & 1) != 0);
  return x != x ? 0 : r + (up ? 1 : 0);
}

// Dequantize and update one element's moments (a non-finite gradient resets both; its parameter is kept).
__device__ __forceinline__ void adam8_moments(float gg, int q1, int q2, float absmax1, float absmax2, const float* code1,
                                              const float* code2, const Adam8Scalars& s, float& m, float& v) {
  const bool finite = isfinite(gg);
  const float g0 = finite ? gg : 0.0f;
  m = __fmul_rn(code1[q1], absmax1);
  v = __fmul_rn(code2[q2], absmax2);
  v = __fadd_rn(__fmul_rn(v, s.beta2), __fmul_rn(__fmul_rn(g0, s.w2), g0));
  m = __fadd_rn(__fmul_rn(m, s.beta1), __fmul_rn(g0, s.w1));
  if (!finite) { m = 0.0f; v = 0.0f; }
}

// Parameter: T(p + step_size·m/(√v + c2·ε)); then ·(1 − lr·wd) when wd > 0 (stored rounded to T).
template <typename T>
__device__ __forceinline__ float adam8_param(float p, float m, float v, const Adam8Scalars& s) {
  const float delta = __fmul_rn(__fdiv_rn(m, __fadd_rn(sqrtf(v), s.c2eps)), s.step_size);
  float pp = R<T>(__fadd_rn(p, delta));
  if (s.apply_decay) pp = __fmul_rn(pp, s.decay);
  return pp;
}

// The block's new absmax values with their reciprocals, for the exact divisions (div_hoisted).
struct Adam8Max {
  float max1, max2, rc1, rc2;
  bool ok1, ok2;
};
__device__ __forceinline__ Adam8Max adam8_max(float a, float b) {
  return Adam8Max{a, b, __fdiv_rn(1.0f, a), __fdiv_rn(1.0f, b), div_hoistable(a), div_hoistable(b)};
}

// A persistent block's shared tables: the code books, their midpoints (mid[255] = +∞, the search's sentinel) and
// the midpoints' search tables.
struct Adam8Maps {
  float code1[256], code2[256], mid1[256], mid2[256];
  uint8_t rank1[kRankTable], rank2[kRankTable];
};

// Requantize with the new absmax (exact division); the first moment with the sign fix.
// kRegular: both search tables sparse, the signed map's codes "negatives first" (its first negative1 codes have
// the sign bit set, the others not) and the unsigned map's codes ≥ 0, as the bitsandbytes maps are: the one-compare
// search, and a code's sign from its index instead of a shared load.
// kInRange (with kRegular): both maxima in [2^-60, 2^60] (block-uniform): no zero-block select, no range check of
// the divisor, and no tie at the sentinel (|m| ≤ max1 and, the codes being ≥ 0, |v| ≤ max2, so no quotient is +∞).
// The result is the same on every path; the flags only skip work that cannot change it.
template <bool kRegular, bool kInRange>
__device__ __forceinline__ void adam8_codes(float m, float v, const Adam8Max& mx, const Adam8Maps& sh, int negative1,
                                            const Adam8Scalars& s, int& q1, int& q2) {
  static_assert(kRegular || !kInRange, "kInRange needs kRegular");
  if constexpr (kInRange) {
    q1 = nearest_8bit_in_range(sh.rank1, sh.mid1, div_hoisted<false>(m, mx.max1, mx.rc1, true));
    q2 = nearest_8bit_in_range(sh.rank2, sh.mid2, div_hoisted<false>(v, mx.max2, mx.rc2, true));
  } else {
    q1 = mx.max1 == 0.0f ? s.zero1 : nearest_8bit<kRegular>(sh.rank1, sh.mid1, div_hoisted(m, mx.max1, mx.rc1, mx.ok1));
    q2 = mx.max2 == 0.0f ? s.zero2 : nearest_8bit<kRegular>(sh.rank2, sh.mid2, div_hoisted(v, mx.max2, mx.rc2, mx.ok2));
  }
  const bool code_negative = kRegular ? q1 < negative1 : signbit(sh.code1[q1]) != 0;
  if (code_negative != (signbit(m) != 0)) q1 = (q1 + (m > 0.0f ? 1 : -1) + 256) & 255;
}

// Eight consecutive elements of T as float (two 16 B loads for fp32, one for bf16).
template <typename T> __device__ __forceinline__ void load8(const T* p, float out[8]) {
  Vec4<T>::load(p, out);
  Vec4<T>::load(p + 4, out + 4);
}
template <typename T> __device__ __forceinline__ void store8(T* p, const float in[8]) {
  Vec4<T>::store(p, in);
  Vec4<T>::store(p + 4, in + 4);
}

// The second pass over a thread's 8 contiguous elements: parameters (where the gradient was finite) and codes.
template <typename T, bool kRegular, bool kInRange>
__device__ __forceinline__ void adam8_update8(float pr[kAdam8Vec], const float mr[kAdam8Vec], const float vr[kAdam8Vec], unsigned finite,
                                              uint8_t q1b[kAdam8Vec], uint8_t q2b[kAdam8Vec], const Adam8Max& mx, const Adam8Maps& sh,
                                              int negative1, const Adam8Scalars& s) {
#pragma unroll
  for (int k = 0; k < kAdam8Vec; ++k) {
    // A select, not a branch: every lane computes the update (a reset lane's m = v = 0 gives 0 or NaN, dropped).
    const float updated = adam8_param<T>(pr[k], mr[k], vr[k], s);
    pr[k] = (finite >> k) & 1u ? updated : pr[k];
    int a, c;
    adam8_codes<kRegular, kInRange>(mr[k], vr[k], mx, sh, negative1, s, a, c);
    q1b[k] = static_cast<uint8_t>(a);
    q2b[k] = static_cast<uint8_t>(c);
  }
}

// The quantization blocks of one persistent CUDA block, grid-stride (see adam8bit_kernel).
template <typename T, bool kFull, bool kRegular>
__device__ __forceinline__ void adam8bit_blocks(const Adam8Table& tab, const Adam8Scalars& s, const Adam8Maps& sh, int negative1) {
  const int64_t total = tab.start[tab.count];
  int parity = 0;
  int t = 0;
  for (int64_t item = blockIdx.x; item < total; item += gridDim.x) {
    while (tab.start[t + 1] <= item) ++t;  // a block's items ascend: its tensor only moves forward
    const int64_t b = tab.first[t] + (item - tab.start[t]);
    const int64_t base = b * s.block_size;
    const int64_t rest = tab.numel[t] - base;
    const int n = static_cast<int>(rest < s.block_size ? rest : s.block_size);
    T* __restrict__ p = static_cast<T*>(tab.p[t]) + base;
    const T* __restrict__ g = static_cast<const T*>(tab.g[t]) + base;
    uint8_t* __restrict__ c1 = tab.c1[t] + base;
    uint8_t* __restrict__ c2 = tab.c2[t] + base;
    const float absmax1_old = tab.a1[t][b];
    const float absmax2_old = tab.a2[t][b];
    if constexpr (kFull) {
      const int j0 = threadIdx.x * kAdam8Vec;
      float gr[kAdam8Vec], mr[kAdam8Vec], vr[kAdam8Vec], pr[kAdam8Vec];
      load8<T>(g + j0, gr);
      load8<T>(p + j0, pr);  // issued with the other loads: the update after the reduction waits on nothing
      uint8_t q1b[kAdam8Vec], q2b[kAdam8Vec];
      const uint2 raw1 = *reinterpret_cast<const uint2*>(c1 + j0);
      const uint2 raw2 = *reinterpret_cast<const uint2*>(c2 + j0);
      memcpy(q1b, &raw1, 8);
      memcpy(q2b, &raw2, 8);
      float max1 = 0.0f, max2 = 0.0f;
      unsigned finite = 0;  // bit k: gradient k is finite (its parameter is updated)
#pragma unroll
      for (int k = 0; k < kAdam8Vec; ++k) {
        finite |= isfinite(gr[k]) ? 1u << k : 0u;
        adam8_moments(gr[k], q1b[k], q2b[k], absmax1_old, absmax2_old, sh.code1, sh.code2, s, mr[k], vr[k]);
        max1 = fmaxf(max1, fabsf(mr[k]));
        max2 = fmaxf(max2, vr[k]);
      }
      block_reduce2<false, kAdam8Threads / 32>(max1, max2, parity);
      parity ^= 1;
      if (threadIdx.x == 0) {
        tab.a1[t][b] = max1;
        tab.a2[t][b] = max2;
      }
      const Adam8Max mx = adam8_max(max1, max2);
      if (kRegular && mx.ok1 && mx.ok2) adam8_update8<T, kRegular, kRegular>(pr, mr, vr, finite, q1b, q2b, mx, sh, negative1, s);
      else adam8_update8<T, kRegular, false>(pr, mr, vr, finite, q1b, q2b, mx, sh, negative1, s);
      store8<T>(p + j0, pr);
      uint2 out1, out2;
      memcpy(&out1, q1b, 8);
      memcpy(&out2, q2b, 8);
      *reinterpret_cast<uint2*>(c1 + j0) = out1;
      *reinterpret_cast<uint2*>(c2 + j0) = out2;
    } else {
      float mr[kAdam8MaxPerThread], vr[kAdam8MaxPerThread], gr[kAdam8MaxPerThread];
      float max1 = 0.0f, max2 = 0.0f;
#pragma unroll
      for (int k = 0; k < kAdam8MaxPerThread; ++k) {
        const int j = k * kAdam8Threads + threadIdx.x;
        if (j < n) {
          gr[k] = Num<T>::load(g, j);
          adam8_moments(gr[k], c1[j], c2[j], absmax1_old, absmax2_old, sh.code1, sh.code2, s, mr[k], vr[k]);
          max1 = fmaxf(max1, fabsf(mr[k]));
          max2 = fmaxf(max2, vr[k]);
        }
      }
      block_reduce2<false, kAdam8Threads / 32>(max1, max2, parity);
      parity ^= 1;
      if (n < s.block_size) {
        // Lanes past n load code 128 and g = 0; their β1·code1[128]·absmax_old joins the max.
        max1 = fmaxf(max1, fabsf(__fmul_rn(__fmul_rn(absmax1_old, s.pad_code), s.beta1)));
      }
      if (threadIdx.x == 0) {
        tab.a1[t][b] = max1;
        tab.a2[t][b] = max2;
      }
      const Adam8Max mx = adam8_max(max1, max2);
#pragma unroll
      for (int k = 0; k < kAdam8MaxPerThread; ++k) {
        const int j = k * kAdam8Threads + threadIdx.x;
        if (j < n) {
          if (isfinite(gr[k])) Num<T>::store(p, j, adam8_param<T>(Num<T>::load(p, j), mr[k], vr[k], s));
          int a, c;
          adam8_codes<kRegular, false>(mr[k], vr[k], mx, sh, negative1, s, a, c);
          c1[j] = static_cast<uint8_t>(a);
          c2[j] = static_cast<uint8_t>(c);
        }
      }
    }
  }
}

// Persistent: each CUDA block loads the code books once, builds their search tables and checks whether the maps
// are regular (adam8_codes), then walks quantization blocks grid-stride.
// kFull: full 2048-element blocks of 16 B-aligned tensors, the contiguous path (8 elements a thread, vector
// loads, few registers); otherwise partial blocks and other block sizes, the strided path. The host sends
// each block to one of the two launches; both apply the same element rule.
template <typename T, bool kFull, int kMinBlocks>
__global__ void __launch_bounds__(kAdam8Threads, kMinBlocks) adam8bit_kernel(Adam8Table tab, Adam8Scalars s) {
  static_assert(kAdam8Threads == 256, "one thread per code of a map");
  __shared__ Adam8Maps sh;
  const int i = threadIdx.x;
  sh.code1[i] = s.code1[i];
  sh.code2[i] = s.code2[i];
  sh.mid1[i] = i < 255 ? s.mid1[i] : INFINITY;  // the search's sentinel
  sh.mid2[i] = i < 255 ? s.mid2[i] : INFINITY;
  __syncthreads();
  rank_fill(sh.rank1, sh.mid1);
  rank_fill(sh.rank2, sh.mid2);
  __syncthreads();
  const bool sparse1 = rank_sparse(sh.rank1);
  const bool sparse2 = rank_sparse(sh.rank2);
  const bool negative = signbit(sh.code1[i]) != 0;
  const int negative1 = __syncthreads_count(negative ? 1 : 0);
  const bool ordered = __syncthreads_and(negative == (i < negative1) && sh.code2[i] >= 0.0f ? 1 : 0) != 0;
  if (sparse1 && sparse2 && ordered) adam8bit_blocks<T, kFull, true>(tab, s, sh, negative1);
  else adam8bit_blocks<T, kFull, false>(tab, s, sh, negative1);
}

// bitsandbytes' 32-bit path for tensors under min_8bit_size (fp32 m, v; no non-finite handling), as the
// non-quantized branch of Adam8bitMoments.Step: v ← v·β2 + (g·(1−β2))·g; m ← m·β1 + g·(1−β1).
template <typename T>
__global__ void __launch_bounds__(kAdamWThreads) adam8bit_fp32_kernel(AdamWTable tab, Adam8Scalars s) {
  const auto [t, base, n] = element_chunk(tab, blockIdx.x);
  T* __restrict__ p = static_cast<T*>(tab.p[t]) + base;
  const T* __restrict__ g = static_cast<const T*>(tab.g[t]) + base;
  float* __restrict__ m = static_cast<float*>(tab.m[t]) + base;
  float* __restrict__ v = static_cast<float*>(tab.v[t]) + base;
  for (int j = threadIdx.x; j < n; j += kAdamWThreads) {
    const float gg = Num<T>::load(g, j);
    const float vv = __fadd_rn(__fmul_rn(v[j], s.beta2), __fmul_rn(__fmul_rn(gg, s.w2), gg));
    const float mm = __fadd_rn(__fmul_rn(m[j], s.beta1), __fmul_rn(gg, s.w1));
    v[j] = vv;
    m[j] = mm;
    Num<T>::store(p, j, adam8_param<T>(Num<T>::load(p, j), mm, vv, s));
  }
}

// Persistent grid: as many CUDA blocks as the device holds at once (occupancy of `kernel` at `threads`
// threads a block), at most `items`.
template <typename K>
unsigned persistent_grid(K kernel, int threads, int device, int64_t items) {
  int sms = 0, per_sm = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) sms = 1;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0) != cudaSuccess || per_sm <= 0) per_sm = 1;
  const int64_t want = static_cast<int64_t>(sms) * per_sm;
  return static_cast<unsigned>(items < want ? items : want);
}

// Packs the next run of up to kMaxTensors tensors of a multi-tensor element-wise launch (AdamW and the
// 32-bit path of 8-bit Adam) into `tab`, from index `i` on (empty tensors skipped); returns the new index.
int fill_elementwise_table(AdamWTable& tab, int i, int count, void* const* p, void* const* g, void* const* m,
                           void* const* v, const int64_t* numel, const void* const* only_where_null = nullptr) {
  tab.count = 0;
  tab.start[0] = 0;
  for (; i < count && tab.count < kMaxTensors; ++i) {
    if (numel[i] <= 0 || (only_where_null != nullptr && only_where_null[i] != nullptr)) continue;
    const int k = tab.count++;
    tab.p[k] = p[i]; tab.g[k] = g[i]; tab.m[k] = m[i]; tab.v[k] = v[i]; tab.numel[k] = numel[i];
    tab.start[k + 1] = tab.start[k] + (numel[i] + kAdamWChunk - 1) / kAdamWChunk;
  }
  return i;
}

// =======================================================================================================
// Gefen (the reference's non-fused rule, Gefen.cs), one CUDA block per segment at a time (persistent blocks walk
// the segments grid-stride): a block of P elements
// (P > 1) or a run of D elements sharing one momentum scale (P = 1, per-element v).
// =======================================================================================================
constexpr int kGefenCache = 16;       // elements per thread kept in registers between the two passes
constexpr int kGefenWarpBlock = 256;  // threads of a block in the one-warp-per-segment launch

struct GefenTable {
  void* p[kMaxTensors];
  const void* g[kMaxTensors];
  uint8_t* codes[kMaxTensors];
  void* mag[kMaxTensors];    // [n / run] momentum scales (state dtype)
  void* vmean[kMaxTensors];  // [n / P] (P > 1) or [n] (P = 1) second moments (state dtype)
  int64_t start[kMaxTensors + 1];  // prefix sum of segments
  int32_t length[kMaxTensors];     // segment length: P, or D when P = 1
  int8_t per_element_v[kMaxTensors];
  int8_t vec[kMaxTensors];         // 4-element vector path (P > 1, P % 4 == 0, P <= 16 × 1024, aligned storage)
  int count;
};

struct GefenScalars {
  const float* codebook;  // [256] ascending, device
  float beta2, w2;        // w2 = 1 − β2
  float w1;               // 1 − β1 (the lerp weight)
  float decay;            // 1 − lr·wd
  float inv_bc2sqrt;      // 1/√(1 − β2^t) (torch's scalar division: a multiply by the reciprocal, taken in double)
  float eps;
  float inv_bc1;          // 1/(1 − β1^t)
  float lr;
  int apply_decay;        // wd > 0
};

// CodebookDp.Nearest: i = first index with C[i] ≥ x; the lower neighbour wins ties.
// key: c[0..254] and the sentinel +∞.
__device__ __forceinline__ int nearest_gefen(const uint8_t* table, const float* key, const float* c, float x) {
  bool on_key;
  int lo = table_rank(table, key, x, on_key);
  if (lo == 255 && c[255] < x) lo = 256;
  const int r = lo > 255 ? 255 : lo;
  const int l = lo - 1 < 0 ? 0 : lo - 1;
  return fabsf(__fsub_rn(x, c[l])) <= fabsf(__fsub_rn(x, c[r])) ? l : r;
}

// Step size of one v (read back in the state dtype): (1/bc1)/(√v/√bc2 + ε), op by op as Gefen.cs on CUDA.
__device__ __forceinline__ float gefen_step(float v, const GefenScalars& s) {
  const float h = __fadd_rn(__fmul_rn(sqrtf(v), s.inv_bc2sqrt), s.eps);
  return __fmul_rn(__fdiv_rn(1.0f, h), s.inv_bc1);
}

// Each segment: pass 1 loads g, the codes and (early, to overlap) the parameters, forms m and the segment's
// max |m| and Σ g²; one block barrier exchanges the warps' partials (double-buffered by segment parity, so no
// second barrier guards their reuse), after which every thread derives the new scale and step itself (no
// broadcast barrier; the first thread stores them); pass 2 requantizes and updates. Tensors with P > 1, P % 4 == 0,
// P <= 16 × 1024 (all in registers) and aligned storage take 4 contiguous elements a thread per access (16 B / 8 B
// vector loads, one 4-byte code word); the others one element at a time (segments past the register cache
// recompute m in pass 2).
// kWarp: one warp per segment (segments of at most 32 × kGefenCache elements, several warps a block): the
// reduction is a warp shuffle and no block barrier is needed at all, and short segments no longer leave most of
// a 32-thread block's multiprocessor slot idle.
template <typename T, typename S, bool kWarp>
__global__ void __launch_bounds__(kWarp ? kGefenWarpBlock : 1024, kWarp ? 3 : 1) gefen_kernel(GefenTable tab, GefenScalars s) {
  __shared__ float code[256], key[256];
  __shared__ uint8_t rank[kRankTable];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) {
    code[i] = s.codebook[i];
    key[i] = i < 255 ? code[i] : INFINITY;
  }
  __syncthreads();
  rank_fill(rank, key);
  __syncthreads();
  const int stride = kWarp ? 32 : static_cast<int>(blockDim.x);
  const int tid = kWarp ? static_cast<int>(threadIdx.x & 31) : static_cast<int>(threadIdx.x);
  const int64_t first = kWarp ? static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5) : blockIdx.x;
  const int64_t step_items = kWarp ? static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5) : gridDim.x;
  int parity = 0;
  const int64_t total = tab.start[tab.count];
  for (int64_t item = first; item < total; item += step_items) {
    const int t = find_tensor(tab.start, tab.count, item);
    const int64_t seg = item - tab.start[t];
    const int L = tab.length[t];
    const bool per_element_v = tab.per_element_v[t] != 0;
    const bool vec = tab.vec[t] != 0;
    const int64_t base = seg * L;
    T* __restrict__ p = static_cast<T*>(tab.p[t]) + base;
    const T* __restrict__ g = static_cast<const T*>(tab.g[t]) + base;
    uint8_t* __restrict__ q = tab.codes[t] + base;
    S* mag = static_cast<S*>(tab.mag[t]) + seg;
    S* vmean = static_cast<S*>(tab.vmean[t]) + (per_element_v ? base : seg);
    const float scale_old = Num<S>::load(mag, 0);
    const float v_old = per_element_v ? 0.0f : Num<S>::load(vmean, 0);  // read by all before the first thread rewrites it

    // m = lerp(C[q]·μ_old, g, 1 − β1)
    auto momentum = [&](float gg, int qj) {
      const float old = __fmul_rn(R<T>(code[qj]), scale_old);
      return fmaf(s.w1, __fsub_rn(gg, old), old);
    };
    // Pass 1: m, the segment's max |m| and Σ g² (P > 1) or each v (P = 1).
    float cache[kGefenCache], pcache[kGefenCache];  // m, and p loaded early
    float amax = 0.0f, sumsq = 0.0f;
    if (vec) {
      #pragma unroll
      for (int k = 0; k < kGefenCache / 4; ++k) {
        const int j = 4 * (k * stride + tid);
        if (j < L) {
          float gv[4];
          Vec4<T>::load(g + j, gv);
          Vec4<T>::load(p + j, pcache + 4 * k);
          const uint32_t word = *reinterpret_cast<const uint32_t*>(q + j);
          #pragma unroll
          for (int e = 0; e < 4; ++e) {
            const float m = momentum(gv[e], static_cast<int>((word >> (8 * e)) & 255u));
            cache[4 * k + e] = m;
            amax = fmaxf(amax, fabsf(m));
            sumsq = __fadd_rn(sumsq, __fmul_rn(gv[e], gv[e]));
          }
        }
      }
    } else {
      #pragma unroll
      for (int k = 0; k < kGefenCache; ++k) {
        const int j = k * stride + tid;
        if (j < L) {
          const float gg = Num<T>::load(g, j);
          pcache[k] = Num<T>::load(p, j);
          const float m = momentum(gg, q[j]);
          cache[k] = m;
          amax = fmaxf(amax, fabsf(m));
          if (per_element_v) {
            const float v = fmaf(s.w2, __fmul_rn(gg, gg), __fmul_rn(Num<S>::load(vmean, j), s.beta2));
            Num<S>::store(vmean, j, v);
          } else {
            sumsq = __fadd_rn(sumsq, __fmul_rn(gg, gg));
          }
        }
      }
      for (int j = kGefenCache * stride + tid; j < L; j += stride) {
        const float gg = Num<T>::load(g, j);
        amax = fmaxf(amax, fabsf(momentum(gg, q[j])));
        if (per_element_v) {
          const float v = fmaf(s.w2, __fmul_rn(gg, gg), __fmul_rn(Num<S>::load(vmean, j), s.beta2));
          Num<S>::store(vmean, j, v);
        } else {
          sumsq = __fadd_rn(sumsq, __fmul_rn(gg, gg));
        }
      }
    }
    if (kWarp) {
      amax = warp_max(amax);  // xor butterflies: every lane ends with the same bits
      sumsq = warp_sum(sumsq);
    } else {
      block_reduce2<true>(amax, sumsq, parity);
      parity ^= 1;
    }
    const float scale = Num<S>::round(amax);  // Gefen.cs reads μ back in the state dtype
    float block_step = 0.0f;
    if (!per_element_v) {
      const float mean = __fmul_rn(sumsq, 1.0f / static_cast<float>(L));  // torch's mean: sum × (1/L)
      const float v = Num<S>::round(fmaf(s.w2, mean, __fmul_rn(v_old, s.beta2)));
      block_step = gefen_step(v, s);
      if (tid == 0) Num<S>::store(vmean, 0, v);
    }
    if (tid == 0) Num<S>::store(mag, 0, amax);

    // Pass 2: requantize against the new scale and update the parameter with the quantized momentum.
    const float rc = __fdiv_rn(1.0f, scale);
    const bool rc_ok = div_hoistable(scale);
    auto finish = [&](float m, float pp, float step, int& qi) {
      float x = div_hoisted(m, scale, rc, rc_ok);
      if (!(scale > 0.0f)) x = 0.0f;
      qi = nearest_gefen(rank, key, code, x);
      const float shared_m = Promoted<T, S>::round(__fmul_rn(R<T>(code[qi]), scale));
      if (s.apply_decay) pp = R<T>(__fmul_rn(pp, s.decay));
      return __fsub_rn(pp, __fmul_rn(__fmul_rn(shared_m, step), s.lr));
    };
    if (vec) {
      #pragma unroll
      for (int k = 0; k < kGefenCache / 4; ++k) {
        const int j = 4 * (k * stride + tid);
        if (j < L) {
          float out[4];
          uint32_t word = 0;
          #pragma unroll
          for (int e = 0; e < 4; ++e) {
            int qi;
            out[e] = finish(cache[4 * k + e], pcache[4 * k + e], block_step, qi);
            word |= static_cast<uint32_t>(qi) << (8 * e);
          }
          Vec4<T>::store(p + j, out);
          *reinterpret_cast<uint32_t*>(q + j) = word;
        }
      }
    } else {
      auto step_of = [&](int j) { return per_element_v ? gefen_step(Num<S>::load(vmean, j), s) : block_step; };
      #pragma unroll
      for (int k = 0; k < kGefenCache; ++k) {
        const int j = k * stride + tid;
        if (j < L) {
          int qi;
          Num<T>::store(p, j, finish(cache[k], pcache[k], step_of(j), qi));
          q[j] = static_cast<uint8_t>(qi);
        }
      }
      for (int j = kGefenCache * stride + tid; j < L; j += stride) {
        int qi;
        const float pp = finish(momentum(Num<T>::load(g, j), q[j]), Num<T>::load(p, j), step_of(j), qi);
        Num<T>::store(p, j, pp);
        q[j] = static_cast<uint8_t>(qi);
      }
    }
  }
}

// One block: the table rank of each of n values against 255 ascending keys, and whether the value is on the key
// at that rank (for the tests: the rank must equal a binary search's lower bound for every x). sparse[0]: whether
// the table passed rank_sparse; the ranks then come from table_rank<true>, the search the 8-bit kernel takes.
__global__ void code_rank_kernel(const float* keys, const float* xs, int n, int* out, int* on_key, int* sparse) {
  __shared__ float k[256];
  __shared__ uint8_t table[kRankTable];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) k[i] = i < 255 ? keys[i] : INFINITY;
  __syncthreads();
  rank_fill(table, k);
  __syncthreads();
  const bool fast = rank_sparse(table);
  if (threadIdx.x == 0) sparse[0] = fast ? 1 : 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    bool on = false;
    out[i] = fast ? table_rank<true>(table, k, xs[i], on) : table_rank<false>(table, k, xs[i], on);
    on_key[i] = on ? 1 : 0;
  }
}

#define HK_COMMA ,
template <typename T, bool kFull>
void launch_adam8bit(int device, int64_t items, cudaStream_t stream, const Adam8Table& tab, const Adam8Scalars& s) {
  // The full-block kernel is bound to 4 blocks a multiprocessor (50 % occupancy; 64 registers, no spills with
  // nvcc 13.0). H100, one call, LLaMA 1.5B / GPT-2 124M: 8.75 / 0.815 ms at 4 blocks, 10.23 / 0.923
  // at 5, 11.35 / 1.004 at 6 (40 registers and ~160 B of spills a thread). Before the one-compare search and the
  // in-range path the kernel was issue-bound and 6 was best (11.58 ms; 4 gave 13.55). The strided kernel keeps its
  // registers (its 16-element arrays would spill).
  constexpr int kMinBlocks = kFull ? 4 : 1;
  const unsigned grid = persistent_grid(adam8bit_kernel<T, kFull, kMinBlocks>, kAdam8Threads, device, items);
  HK_LAUNCH(adam8bit_kernel<T HK_COMMA kFull HK_COMMA kMinBlocks>, grid, kAdam8Threads, 0, stream, tab, s);
}
template <typename T, typename S>
void launch_gefen(int device, int64_t items, int threads, cudaStream_t stream, const GefenTable& tab, const GefenScalars& s) {
  // One launch bound for every block size: at 1024 the compiler keeps a thread to 64 registers (a few spills),
  // so small blocks still fit 16+ to a multiprocessor. A bound of 256 let it take ~200 registers: 2 blocks of
  // 128 threads a multiprocessor (12.5 % occupancy, measured with Nsight Compute on an H100) and a 2.3× slower step.
  if (threads == 32) {
    // Segments of at most 512 elements: a warp each, kGefenWarpBlock / 32 of them a block.
    const int64_t blocks = (items + kGefenWarpBlock / 32 - 1) / (kGefenWarpBlock / 32);
    const unsigned grid = persistent_grid(gefen_kernel<T, S, true>, kGefenWarpBlock, device, blocks);
    HK_LAUNCH(gefen_kernel<T HK_COMMA S HK_COMMA true>, grid, kGefenWarpBlock, 0, stream, tab, s);
    return;
  }
  const unsigned grid = persistent_grid(gefen_kernel<T, S, false>, threads, device, items);
  HK_LAUNCH(gefen_kernel<T HK_COMMA S HK_COMMA false>, grid, threads, 0, stream, tab, s);
}

}  // namespace

extern "C" {

// Version of this ABI; bumped when a signature changes so a stale cached build is rebuilt.
int hk_abi_version() { return 2; }

// 1 for the host-emulated build (HK_EMULATED: pointers are host memory), 0 for the CUDA build.
int hk_is_emulated() {
#ifdef HK_EMULATED
  return 1;
#else
  return 0;
#endif
}

const char* hk_last_error() { return g_error; }

// p, g, m, v: count device pointers each (contiguous tensors of numel[i] elements of one dtype).
// scalars: decay, w1, beta2, w2, 1/bc2sqrt, eps, neg_step, apply_decay (as a float 0/1).
int hk_adamw(int device, int dtype, int count, void* const* p, void* const* g, void* const* m, void* const* v,
             const int64_t* numel, const float* scalars) {
  if (dtype != 0 && dtype != 1) return fail("hk_adamw: dtype must be 0 (float32) or 1 (bfloat16)");
  const AdamWScalars s = adamw_scalars(scalars);
  const cudaStream_t stream = current_stream(device);
  for (int i = 0; i < count;) {
    AdamWTable tab;
    i = fill_elementwise_table(tab, i, count, p, g, m, v, numel);
    if (tab.count == 0) break;
    const unsigned blocks = static_cast<unsigned>(tab.start[tab.count]);
    if (dtype == 0) HK_LAUNCH(adamw_kernel<float>, blocks, kAdamWThreads, 0, stream, tab, s);
    else HK_LAUNCH(adamw_kernel<bf16>, blocks, kAdamWThreads, 0, stream, tab, s);
    if (const int rc = check_launch("adamw_kernel")) return rc;
  }
  return 0;
}

// FORGE's tile-fused linear step (forge_adamw_kernel): G = dyᵀ·x (+ pending) (· *clip) formed tile by tile and
// consumed by AdamW on p, m, v, without a gradient tensor. x [tokens, cols] and dy [tokens, rows] of dtype,
// pending [rows, cols] fp32 or null, clip a device fp32 scalar or null, p/m/v [rows, cols] of dtype, all
// contiguous; scalars as hk_adamw. tile: the output tile's edge, 64 or 32, or 0 to choose (64 unless that
// gives fewer tiles than the device has multiprocessors: small weights then use more, smaller blocks).
int hk_forge_adamw(int device, int dtype, int64_t rows, int64_t cols, int64_t tokens, int tile, const void* x, const void* dy,
                   const float* pending, const float* clip, void* p, void* m, void* v, const float* scalars) {
  if (dtype != 0 && dtype != 1) return fail("hk_forge_adamw: dtype must be 0 (float32) or 1 (bfloat16)");
  if (rows < 1 || cols < 1 || tokens < 0) return fail("hk_forge_adamw: rows and cols must be >= 1, tokens >= 0");
  if (tile != 0 && tile != 32 && tile != 64) return fail("hk_forge_adamw: tile must be 0 (choose), 32 or 64");
  if (p == nullptr || m == nullptr || v == nullptr || (tokens > 0 && (x == nullptr || dy == nullptr)))
    return fail("hk_forge_adamw: null tensor pointer");
  if ((rows + 31) / 32 * ((cols + 31) / 32) > 0x7fffffff) return fail("hk_forge_adamw: too many tiles for one launch");
  if (tile == 0) {
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) sms = 1;
    tile = (rows + 63) / 64 * ((cols + 63) / 64) < sms ? 32 : 64;
  }
  ForgeTileArgs a;
  a.rows = rows; a.cols = cols; a.tokens = tokens; a.col_tiles = 0;
  a.x = x; a.dy = dy; a.pending = pending; a.clip = clip; a.p = p; a.m = m; a.v = v;
  const AdamWScalars s = adamw_scalars(scalars);
  const cudaStream_t stream = current_stream(device);
  if (dtype == 0 && tile == 64) launch_forge_adamw<float, 64>(a, stream, s);
  else if (dtype == 0) launch_forge_adamw<float, 32>(a, stream, s);
  else if (tile == 64) launch_forge_adamw<bf16, 64>(a, stream, s);
  else launch_forge_adamw<bf16, 32>(a, stream, s);
  return check_launch("forge_adamw_kernel");
}

// code1/code2/mid1/mid2: device float arrays (256, 256, 255, 255). scalars: beta1, beta2, w1, w2, c2eps,
// step_size, decay, pad_code, apply_decay (0/1). ints: block_size, zero1, zero2. A tensor whose a1 is null
// has fp32 moments (the 32-bit path of tensors under min_8bit_size): c1 and c2 then point at m and v.
int hk_adam8bit(int device, int dtype, int count, void* const* p, void* const* g, void* const* c1, void* const* c2,
                void* const* a1, void* const* a2, const int64_t* numel, const float* code1, const float* code2,
                const float* mid1, const float* mid2, const float* scalars, const int* ints) {
  if (dtype != 0 && dtype != 1) return fail("hk_adam8bit: dtype must be 0 (float32) or 1 (bfloat16)");
  Adam8Scalars s;
  s.code1 = code1; s.code2 = code2; s.mid1 = mid1; s.mid2 = mid2;
  s.beta1 = scalars[0]; s.beta2 = scalars[1]; s.w1 = scalars[2]; s.w2 = scalars[3]; s.c2eps = scalars[4];
  s.step_size = scalars[5]; s.decay = scalars[6]; s.pad_code = scalars[7]; s.apply_decay = scalars[8] != 0.0f;
  s.block_size = ints[0]; s.zero1 = ints[1]; s.zero2 = ints[2];
  if (s.block_size < 64 || s.block_size > kAdam8Threads * kAdam8MaxPerThread || (s.block_size & (s.block_size - 1)) != 0)
    return fail("hk_adam8bit: block_size must be a power of two in [64, 4096]");
  for (int i = 0; i < count; ++i)
    if ((a1[i] == nullptr) != (a2[i] == nullptr)) return fail("hk_adam8bit: a tensor has one absmax pointer but not the other");
  const cudaStream_t stream = current_stream(device);
  for (int i = 0; i < count;) {
    AdamWTable tab;
    i = fill_elementwise_table(tab, i, count, p, g, c1, c2, numel, a1);
    if (tab.count == 0) break;
    const unsigned blocks = static_cast<unsigned>(tab.start[tab.count]);
    if (dtype == 0) HK_LAUNCH(adam8bit_fp32_kernel<float>, blocks, kAdamWThreads, 0, stream, tab, s);
    else HK_LAUNCH(adam8bit_fp32_kernel<bf16>, blocks, kAdamWThreads, 0, stream, tab, s);
    if (const int rc = check_launch("adam8bit_fp32_kernel")) return rc;
  }
  // Full blocks of aligned tensors go to the contiguous launch, the rest (tails, unaligned tensors, other block
  // sizes) to the strided one.
  auto aligned = [](const void* x, uintptr_t a) { return reinterpret_cast<uintptr_t>(x) % a == 0; };
  for (int pass = 0; pass < 2; ++pass) {
    const bool full = pass == 0;
    for (int i = 0; i < count;) {
      Adam8Table tab;
      tab.count = 0;
      tab.start[0] = 0;
      for (; i < count && tab.count < kMaxTensors; ++i) {
        if (numel[i] <= 0 || a1[i] == nullptr) continue;
        const bool vec = s.block_size == kAdam8Vec * kAdam8Threads && aligned(p[i], 16) && aligned(g[i], 16) &&
                         aligned(c1[i], 8) && aligned(c2[i], 8);
        const int64_t whole = numel[i] / s.block_size, blocks = (numel[i] + s.block_size - 1) / s.block_size;
        const int64_t first = full ? 0 : (vec ? whole : 0);
        const int64_t items = full ? (vec ? whole : 0) : blocks - first;
        if (items == 0) continue;
        const int k = tab.count++;
        tab.p[k] = p[i]; tab.g[k] = g[i];
        tab.c1[k] = static_cast<uint8_t*>(c1[i]); tab.c2[k] = static_cast<uint8_t*>(c2[i]);
        tab.a1[k] = static_cast<float*>(a1[i]); tab.a2[k] = static_cast<float*>(a2[i]);
        tab.numel[k] = numel[i];
        tab.first[k] = first;
        tab.start[k + 1] = tab.start[k] + items;
      }
      if (tab.count == 0) break;
      const int64_t items = tab.start[tab.count];
      if (dtype == 0 && full) launch_adam8bit<float, true>(device, items, stream, tab, s);
      else if (dtype == 0) launch_adam8bit<float, false>(device, items, stream, tab, s);
      else if (full) launch_adam8bit<bf16, true>(device, items, stream, tab, s);
      else launch_adam8bit<bf16, false>(device, items, stream, tab, s);
      if (const int rc = check_launch("adam8bit_kernel")) return rc;
    }
  }
  return 0;
}

// Per tensor: p, g, codes [n], mag [n/run], vmean [n/P]; period P and run (= P for P > 1, D for P = 1).
// dtype: the parameter/gradient dtype; state_dtype: vmean and mag. scalars: beta2, w2, w1, decay,
// 1/bc2sqrt, eps, inv_bc1, lr, apply_decay (0/1).
int hk_gefen(int device, int dtype, int state_dtype, int count, void* const* p, void* const* g, void* const* codes,
             void* const* mag, void* const* vmean, const int64_t* numel, const int64_t* period, const int64_t* run,
             const float* codebook, const float* scalars) {
  if (dtype != 0 && dtype != 1) return fail("hk_gefen: dtype must be 0 (float32) or 1 (bfloat16)");
  if (state_dtype != 0 && state_dtype != 1) return fail("hk_gefen: state dtype must be 0 (float32) or 1 (bfloat16)");
  GefenScalars s;
  s.codebook = codebook;
  s.beta2 = scalars[0]; s.w2 = scalars[1]; s.w1 = scalars[2]; s.decay = scalars[3]; s.inv_bc2sqrt = scalars[4];
  s.eps = scalars[5]; s.inv_bc1 = scalars[6]; s.lr = scalars[7]; s.apply_decay = scalars[8] != 0.0f;
  const cudaStream_t stream = current_stream(device);
  // Group tensors by the block size their segment length asks for: the next power of two of
  // ceil(L / kGefenCache), in [32, 1024] (longer segments run the uncached loop for their tail).
  struct Item { int index; int threads; };
  std::vector<Item> items;
  for (int i = 0; i < count; ++i) {
    if (numel[i] <= 0) continue;
    if (period[i] < 1 || run[i] < 1 || numel[i] % period[i] != 0 || numel[i] % run[i] != 0)
      return fail("hk_gefen: a period or scale run does not divide its tensor");
    if (period[i] > 1 && run[i] != period[i]) return fail("hk_gefen: with P > 1 the scale run must equal P");
    if (run[i] > (int64_t{1} << 30)) return fail("hk_gefen: segment too long");
    const int64_t want = (run[i] + kGefenCache - 1) / kGefenCache;
    int threads = 32;
    while (threads < want && threads < 1024) threads <<= 1;
    items.push_back({i, threads});
  }
  for (int threads = 32; threads <= 1024; threads <<= 1) {
    size_t k = 0;
    while (true) {
      GefenTable tab;
      tab.count = 0;
      tab.start[0] = 0;
      for (; k < items.size() && tab.count < kMaxTensors; ++k) {
        if (items[k].threads != threads) continue;
        const int i = items[k].index;
        const int c = tab.count++;
        tab.p[c] = p[i]; tab.g[c] = g[i]; tab.codes[c] = static_cast<uint8_t*>(codes[i]);
        tab.mag[c] = mag[i]; tab.vmean[c] = vmean[i];
        tab.length[c] = static_cast<int32_t>(run[i]);
        tab.per_element_v[c] = period[i] == 1 ? 1 : 0;
        const uintptr_t vec_align = (dtype == 0 ? 16 : 8);
        tab.vec[c] = period[i] > 1 && run[i] % 4 == 0 && run[i] <= kGefenCache * 1024 && reinterpret_cast<uintptr_t>(p[i]) % vec_align == 0 &&
                     reinterpret_cast<uintptr_t>(g[i]) % vec_align == 0 && reinterpret_cast<uintptr_t>(codes[i]) % 4 == 0 ? 1 : 0;
        tab.start[c + 1] = tab.start[c] + numel[i] / run[i];
      }
      if (tab.count == 0) break;
      const int64_t items = tab.start[tab.count];
      if (dtype == 0 && state_dtype == 0) launch_gefen<float, float>(device, items, threads, stream, tab, s);
      else if (dtype == 1 && state_dtype == 1) launch_gefen<bf16, bf16>(device, items, threads, stream, tab, s);
      else if (dtype == 1 && state_dtype == 0) launch_gefen<bf16, float>(device, items, threads, stream, tab, s);
      else launch_gefen<float, bf16>(device, items, threads, stream, tab, s);
      if (const int rc = check_launch("gefen_kernel")) return rc;
    }
  }
  return 0;
}

// keys [255] ascending, xs [n], out [n], on_key [n], sparse [1]: device arrays (host arrays in the emulated build).
// out: the number of keys < xs[i] as the kernels' code search finds it (NaN: 0); on_key: 1 where xs[i] equals the
// key at that rank; sparse: 1 where the table took the one-compare search.
int hk_code_rank(int device, const float* keys, const float* xs, int n, int* out, int* on_key, int* sparse) {
  if (n < 0) return fail("hk_code_rank: n must be >= 0");
  HK_LAUNCH(code_rank_kernel, 1, 256, 0, current_stream(device), keys, xs, n, out, on_key, sparse);
  return check_launch("code_rank_kernel");
}

// a, b, out [n]: device arrays (host arrays in the emulated build). a / b as the kernels divide many values by
// one block-wide value (div_hoisted).
int hk_quotient(int device, const float* a, const float* b, int n, float* out) {
  if (n < 0) return fail("hk_quotient: n must be >= 0");
  HK_LAUNCH(quotient_kernel, 1, 256, 0, current_stream(device), a, b, n, out);
  return check_launch("quotient_kernel");
}

// Device-to-device copy bandwidth (bytes read + written per second) over `bytes`-sized buffers, the
// median of `reps` timed copies after one untimed one, on the current stream. Allocates with cudaMalloc
// (outside the caching allocator) and frees before returning: call it outside a memory measurement.
int hk_copy_bandwidth(int device, int64_t bytes, int reps, double* bytes_per_second) {
  if (bytes <= 0 || reps <= 0) return fail("hk_copy_bandwidth: bytes and reps must be positive");
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device);
  void* a = nullptr;
  void* b = nullptr;
  cudaError_t err = cudaMalloc(&a, static_cast<size_t>(bytes));
  if (err == cudaSuccess) err = cudaMalloc(&b, static_cast<size_t>(bytes));
  std::vector<float> times;
  if (err == cudaSuccess) {
    const cudaStream_t stream = current_stream(device);
    cudaEvent_t start = nullptr, end = nullptr;
    cudaEventCreate(&start);
    cudaEventCreate(&end);
    cudaMemsetAsync(a, 1, static_cast<size_t>(bytes), stream);
    cudaMemcpyAsync(b, a, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream);
    for (int r = 0; r < reps && err == cudaSuccess; ++r) {
      cudaEventRecord(start, stream);
      cudaMemcpyAsync(b, a, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream);
      cudaEventRecord(end, stream);
      err = cudaEventSynchronize(end);
      float ms = 0.0f;
      if (err == cudaSuccess) err = cudaEventElapsedTime(&ms, start, end);
      times.push_back(ms);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(end);
  }
  if (a != nullptr) cudaFree(a);
  if (b != nullptr) cudaFree(b);
  cudaSetDevice(previous);
  if (err != cudaSuccess) {
    std::snprintf(g_error, sizeof(g_error), "hk_copy_bandwidth: %s", cudaGetErrorString(err));
    return static_cast<int>(err);
  }
  for (size_t x = 1; x < times.size(); ++x)  // insertion sort: reps is small
    for (size_t y = x; y > 0 && times[y - 1] > times[y]; --y) { const float tmp = times[y]; times[y] = times[y - 1]; times[y - 1] = tmp; }
  const double ms = times[times.size() / 2];
  *bytes_per_second = ms > 0.0 ? 2.0 * static_cast<double>(bytes) / (ms * 1e-3) : 0.0;
  return 0;
}

}  // extern "C"
