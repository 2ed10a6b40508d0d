#pragma once
#include "multi_tensor.cuh"

namespace {

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

}  // namespace
