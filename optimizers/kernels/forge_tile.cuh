#pragma once
#include "adamw.cuh"

namespace {

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

template <typename T, int kTile>
void launch_forge_adamw(ForgeTileArgs a, cudaStream_t stream, const AdamWScalars& s) {
  a.col_tiles = (a.cols + kTile - 1) / kTile;
  const unsigned blocks = static_cast<unsigned>((a.rows + kTile - 1) / kTile * a.col_tiles);
  HK_LAUNCH(forge_adamw_kernel<T HK_COMMA kTile>, blocks, kForgeThreads, 0, stream, a, s);
}

}  // namespace
