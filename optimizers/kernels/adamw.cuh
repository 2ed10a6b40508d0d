// AdamW: its scalars, the element rule and the multi-tensor kernel.
#pragma once
#include "multi_tensor.cuh"

namespace {

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

// AdamW's scalars in hk_adamw's order: decay, w1, beta2, w2, 1/bc2sqrt, eps, neg_step, apply_decay (0/1).
AdamWScalars adamw_scalars(const float* f) {
  AdamWScalars s;
  s.decay = f[0]; s.w1 = f[1]; s.beta2 = f[2]; s.w2 = f[3];
  s.inv_bc2sqrt = f[4]; s.eps = f[5]; s.neg_step = f[6]; s.apply_decay = f[7] != 0.0f;
  return s;
}

}  // namespace
