#pragma once
#include "multi_tensor.cuh"

namespace {

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
