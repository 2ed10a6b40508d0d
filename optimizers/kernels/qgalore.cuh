// Q-GaLore's weight write-back in one pass: W' = W + α·U (then W' + δ·W' for the decoupled decay), re-quantized per
// group with min/max scales and zero points, rounding stochastic (counter-based draws) or to nearest. One block per
// group; the group's W' waits in shared memory between the min/max reduction and the coding, so nothing beyond the
// group leaves the chip. Restates, op by op, Quantization/TiledRequantizer.cs + GroupQuantizer.cs +
// CounterUniform.cs + LowRank/LowRankAdam.cs Apply (the tensor-ops reference of the batched path).
#pragma once
#include "common.cuh"

namespace {

constexpr int kRequantThreads = 256;
constexpr int kRequantMaxGroup = 4096;  // elements of one group held in shared memory

struct RequantArgs {
  int64_t numel;
  int group_size;
  float max_int;           // 2^bits − 1
  void* dense;             // the weight of dtype T [numel], or null when it is stored as codes
  uint8_t* codes;          // stored: codes [numel], scales and zero points [groups]; null for a dense weight
  float* scales;
  uint8_t* zeros;
  const void* update;      // U of dtype T [numel]
  float alpha;             // W + alpha·U (torch's add_ with alpha: one fma)
  float decay_alpha;       // then W' + decay_alpha·W' (−lr·wd), skipped when 0
  int stochastic;          // 1: stochastic rounding with the counter stream (mul, add); 0: to nearest
  uint32_t mul, add;
};

// CounterUniform: lane i of a stream gives h = lowbias32(mul·i + add mod 2^32); element 2i takes h's low 16 bits,
// element 2i+1 its high 16 bits, as a float in [0, 1) with 16 bits.
__device__ __forceinline__ uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
__device__ __forceinline__ float counter_uniform(uint32_t mul, uint32_t add, int64_t element) {
  const uint32_t h = lowbias32(static_cast<uint32_t>(element >> 1) * mul + add);
  return static_cast<float>((element & 1) != 0 ? h >> 16 : h & 0xffffu) * (1.0f / 65536.0f);
}

template <typename T>
__global__ void __launch_bounds__(kRequantThreads) requant_kernel(RequantArgs a) {
  __shared__ float xs[kRequantMaxGroup];
  const int64_t group = blockIdx.x;
  const int64_t first = group * a.group_size;
  const int len = static_cast<int>(a.numel - first < a.group_size ? a.numel - first : a.group_size);
  const T* update = static_cast<const T*>(a.update);
  float old_scale = 0.0f, old_zero = 0.0f;
  if (a.codes != nullptr) { old_scale = a.scales[group]; old_zero = static_cast<float>(a.zeros[group]); }
  float hi = -INFINITY, neg_lo = -INFINITY;
  int changed = 0;
  for (int j = threadIdx.x; j < len; j += kRequantThreads) {
    const int64_t e = first + j;
    // W: the stored codes dequantized (s·(q − z) in float32, cast to the carrier's dtype) or the dense weight.
    const float w = a.codes != nullptr ? R<T>(__fmul_rn(old_scale, __fsub_rn(static_cast<float>(a.codes[e]), old_zero)))
                                       : Num<T>::load(static_cast<const T*>(a.dense), e);
    float x = R<T>(fmaf(a.alpha, Num<T>::load(update, e), w));
    if (a.decay_alpha != 0.0f) x = R<T>(fmaf(a.decay_alpha, x, x));
    changed |= x != w;
    xs[j] = x;
    hi = fmaxf(hi, x);
    neg_lo = fmaxf(neg_lo, -x);
  }
  block_reduce2<false, kRequantThreads / 32>(hi, neg_lo, 0);
  // A group whose W' equals W keeps its codes (or values), as the reference keeps an exactly unchanged group.
  if (__syncthreads_count(changed) == 0) return;
  const float lo = -neg_lo;
  const float scale = __fdiv_rn(fmaxf(__fsub_rn(hi, lo), 1e-5f), a.max_int);
  const float zero = fminf(fmaxf(-rintf(__fdiv_rn(lo, scale)), 0.0f), a.max_int);
  for (int j = threadIdx.x; j < len; j += kRequantThreads) {
    const int64_t e = first + j;
    const float y = __fdiv_rn(xs[j], scale);
    float r;
    if (a.stochastic != 0) {
      const float down = floorf(y);
      r = counter_uniform(a.mul, a.add, e) < __fsub_rn(y, down) ? ceilf(y) : down;
    } else {
      r = rintf(y);
    }
    const float q = fminf(fmaxf(__fadd_rn(r, zero), 0.0f), a.max_int);
    if (a.codes != nullptr) a.codes[e] = static_cast<uint8_t>(q);
    else Num<T>::store(static_cast<T*>(a.dense), e, __fmul_rn(__fsub_rn(q, zero), scale));
  }
  if (a.codes != nullptr && threadIdx.x == 0) {
    a.scales[group] = scale;
    a.zeros[group] = static_cast<uint8_t>(zero);
  }
}

}  // namespace
