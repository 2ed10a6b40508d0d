#pragma once
#include <type_traits>
#include "adamw.cuh"
#include "adam8bit.cuh"

namespace {

// =======================================================================================================
// FORGE tile on tensor cores: G = dYᵀ·x from bf16 operands into fp32 accumulators, consumed in the epilogue
// =======================================================================================================
// FORGE (Kukreja et al., arXiv 2606.22932; reference dk4248/FORGE kernel.py _fused_grad_adamw_kernel and its
// int8-state kernel) for one weight W [rows, cols] with bf16 input x [tokens, cols] and bf16 output gradient
// dY [tokens, rows], row-major, and a parameter of PT (fp32 master weights under dtype: mixed, bf16 under bfloat16).
// Each CTA (8 warps) owns one kTcBM × kTcBN tile of G and a range of tokens (split-K): it streams its tokens through
// shared memory kTcBK at a time with cp.async (two stages: the next chunk's copies in flight while the current one
// is multiplied), multiplies with mma.sync m16n8k16 (bf16 in, fp32 accumulate; operands read from shared memory by
// ldmatrix.trans, since both are stored token-major), and then, when it is the tile's last split to finish, sums
// the splits' fp32 partials in split order (deterministic) and runs the epilogue on each element:
//   g = R<bf16>(Σ_t dY[t,r]·x[t,c])   the slab path's bf16 GEMM output (its .to(weight dtype) is exact)
//   g = R<PT>(pending + g); g = R<PT>(g · clip)   as forge_adamw_kernel
// and then, by kKind:
//   kTcParamState  AdamW with m, v of PT (adamw_rule<PT>: fp32 state under mixed), as the slab path;
//   kTcBf16Sr      AdamW in fp32 registers with m, v stored as bf16 by stochastic rounding (FORGE §2.3: a
//                  splitmix64 hash of (seed, element) gives 16 random bits, added below the bf16 mantissa and
//                  truncated: unbiased), the parameter too where PT is bf16 (exact fp32 store under mixed);
//   kTcInt8        8-bit Adam (bitsandbytes blockwise, adam8bit.cuh's element rule and code search). A quantization
//                  block (block_size consecutive elements, 2048 by default) spans up to 16 column tiles (or several
//                  rows), so its new absmax is known only once every tile of it has formed its moments: pass 1 forms
//                  G, the new moments and each (row, tile) maximum and folds it into the block's new absmax with an
//                  atomic max (exact: a max is order-free); pass 2 forms the same G again (the same kernel, the same
//                  split order: the same bits), the same moments, and quantizes with the block's final absmax. The
//                  price is a second GEMM, not a gradient in memory.
// Under HK_EMULATED (the CPU test build) cp.async is a copy, and ldmatrix and mma.sync are emulated per warp with the
// same fragment layouts (each lane's registers hold exactly the elements the PTX ISA assigns it), so the indexing,
// split-K and epilogues are tested on CPU.
constexpr int kTcThreads = 256;
constexpr int kTcBM = 128, kTcBN = 128, kTcBK = 32;
constexpr int kTcPad = 8;               // bf16 of padding per shared row: ldmatrix's 8 row addresses hit 8 bank groups
constexpr int kTcRow = kTcBM + kTcPad;  // shared row length (kTcBM == kTcBN)
constexpr int kTcStageBytes = 2 * kTcBK * kTcRow * 2;  // dY and x chunks of one stage
constexpr int kTcSmem = 2 * kTcStageBytes;             // two stages
constexpr int kTcMaxSplits = 16;
static_assert(kTcBM == kTcBN, "one shared row length for both operands");

enum ForgeTcKind : int { kTcParamState = 0, kTcBf16Sr = 1, kTcInt8 = 2 };

struct ForgeTcArgs {
  int64_t rows, cols, tokens;
  int64_t chunk;        // tokens per split (a multiple of kTcBK)
  int col_tiles, tiles, splits;
  const bf16* x;        // [tokens, cols]
  const bf16* dy;       // [tokens, rows]
  const float* pending; // [rows, cols] fp32, or null
  const float* clip;    // device fp32 scalar, or null
  void* p;              // [rows, cols] of PT
  void* m;              // AdamW: [rows, cols] of PT (kTcParamState) or bf16 (kTcBf16Sr); 8-bit: uint8 codes
  void* v;
  float* workspace;     // split-K partials [splits][tiles][kTcBM·kTcBN], or null for one split
  int* counters;        // [tiles] arrivals per tile (zero before, zero again after: the last CTA resets its tile's)
  const float* a1;      // 8-bit: the old absmax per block (read by both passes)
  const float* a2;
  float* n1;            // 8-bit: the new absmax per block (pass 1 folds into it, from 0; pass 2 reads it)
  float* n2;
  uint64_t seed;        // kTcBf16Sr: the step's stream
};

// ---- the fragment primitives: PTX on the GPU, the same lane semantics emulated on the host -----------------
#ifdef HK_EMULATED
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  if (valid) std::memcpy(smem, gmem, 16);
  else std::memset(smem, 0, 16);
}
__device__ __forceinline__ void cp_async_commit() {}
template <int N> __device__ __forceinline__ void cp_async_wait() {}

// ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16: lanes 8i..8i+7 give the row addresses of matrix i (8 b16 each);
// lane (g = lane/4, t = lane%4) receives in r[i] matrix i's elements (row 2t, column g) low and (row 2t+1, column g) high.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const bf16* row) {
  const bf16* rows[32];
  hk_emu::warp_all(&row, sizeof(row), rows);
  const int lane = static_cast<int>(threadIdx.x & 31), g = lane >> 2, t = lane & 3;
  for (int i = 0; i < 4; ++i) {
    const uint32_t lo = rows[8 * i + 2 * t][g].bits, hi = rows[8 * i + 2 * t + 1][g].bits;
    r[i] = lo | (hi << 16);
  }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, D = A·B + C. Lane (g, t): a0 = A[g][2t..2t+1], a1 = A[g+8][2t..],
// a2 = A[g][2t+8..], a3 = A[g+8][2t+8..]; b0 = B[2t..2t+1][g], b1 = B[2t+8..][g] (low half: the lower k); c0, c1 =
// C[g][2t, 2t+1], c2, c3 = C[g+8][2t, 2t+1]. The products are exact in fp32; the sum runs in k order.
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  struct Frag { uint32_t a[4], b[2]; };
  Frag mine;
  for (int k = 0; k < 4; ++k) mine.a[k] = a[k];
  mine.b[0] = b[0];
  mine.b[1] = b[1];
  Frag all[32];
  hk_emu::warp_all(&mine, sizeof(mine), all);
  auto half = [](uint32_t reg, int h) { return __bfloat162float(__nv_bfloat16{static_cast<unsigned short>((reg >> (16 * h)) & 0xffffu)}); };
  float A[16][16], B[16][8];
  for (int L = 0; L < 32; ++L) {
    const int gg = L >> 2, tt = L & 3;
    for (int h = 0; h < 2; ++h) {
      A[gg][2 * tt + h] = half(all[L].a[0], h);
      A[gg + 8][2 * tt + h] = half(all[L].a[1], h);
      A[gg][2 * tt + 8 + h] = half(all[L].a[2], h);
      A[gg + 8][2 * tt + 8 + h] = half(all[L].a[3], h);
      B[2 * tt + h][gg] = half(all[L].b[0], h);
      B[2 * tt + 8 + h][gg] = half(all[L].b[1], h);
    }
  }
  const int lane = static_cast<int>(threadIdx.x & 31), g = lane >> 2, t = lane & 3;
  for (int q = 0; q < 4; ++q) {
    const int r = g + (q >= 2 ? 8 : 0), n = 2 * t + (q & 1);
    float acc = c[q];
    for (int k = 0; k < 16; ++k) acc = fmaf(A[r][k], B[k][n], acc);
    c[q] = acc;
  }
}
#else
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const bf16* row) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s)
               : "memory");
}

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

// ---- pairs of consecutive elements (the accumulator layout gives each lane two adjacent columns) -----------
template <typename T> struct Pair;
template <> struct Pair<float> {
  static __device__ __forceinline__ void load(const float* p, float& a, float& b) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    a = __uint_as_float(raw.x);
    b = __uint_as_float(raw.y);
  }
  static __device__ __forceinline__ void store(float* p, float a, float b) {
    uint2 raw;
    raw.x = __float_as_uint(a);
    raw.y = __float_as_uint(b);
    *reinterpret_cast<uint2*>(p) = raw;
  }
};
template <> struct Pair<bf16> {
  static __device__ __forceinline__ void load(const bf16* p, float& a, float& b) {
    const uint32_t raw = *reinterpret_cast<const uint32_t*>(p);
    a = __uint_as_float(raw << 16);
    b = __uint_as_float(raw & 0xffff0000u);
  }
  // Values already representable in bf16 (rounded by the caller): the top halves are the bf16 bits.
  static __device__ __forceinline__ void store_exact(bf16* p, float a, float b) {
    *reinterpret_cast<uint32_t*>(p) = (__float_as_uint(a) >> 16) | (__float_as_uint(b) & 0xffff0000u);
  }
  static __device__ __forceinline__ void store(bf16* p, float a, float b) { store_exact(p, Num<bf16>::round(a), Num<bf16>::round(b)); }
};

// ---- stochastic rounding to bf16 --------------------------------------------------------------------------
// splitmix64's finalizer over seed + index·golden: 64 well-mixed bits per element, three 16-bit draws (m, v, p).
__device__ __forceinline__ uint64_t sr_hash(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// x rounded to one of its two bf16 neighbours, up (in magnitude) with probability equal to the dropped fraction:
// the 16 dropped bits plus a uniform 16-bit r carry into the kept bits exactly that often. Non-finite x and a carry
// into infinity round to nearest. The result is representable in bf16.
__device__ __forceinline__ float sr_bf16(float x, uint32_t r16) {
  const float y = __uint_as_float((__float_as_uint(x) + (r16 & 0xffffu)) & 0xffff0000u);
  return isfinite(x) && isfinite(y) ? y : Num<bf16>::round(x);
}

// AdamW in fp32 registers (the tensor ops' order, no intermediate rounding), for the stochastic-rounding store.
__device__ __forceinline__ void adamw_fp32(float& p, float g, float& m, float& v, const AdamWScalars& s) {
  if (s.apply_decay) p = __fmul_rn(p, s.decay);
  m = fmaf(s.w1, __fsub_rn(g, m), m);
  v = fmaf(s.w2, __fmul_rn(g, g), __fmul_rn(v, s.beta2));
  const float denom = __fadd_rn(__fmul_rn(sqrtf(v), s.inv_bc2sqrt), s.eps);
  p = fmaf(s.neg_step, __fdiv_rn(m, denom), p);
}

template <typename PT, int kKind, int kPass>
__global__ void __launch_bounds__(kTcThreads) forge_tc_kernel(ForgeTcArgs a, AdamWScalars s, Adam8Scalars s8) {
  __shared__ __align__(16) unsigned char s_raw[kTcSmem];  // staging; the 8-bit code books after the GEMM
  __shared__ int s_last;
  const int tile = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.tiles));
  const int split = static_cast<int>(blockIdx.x / static_cast<unsigned>(a.tiles));
  const int64_t row0 = static_cast<int64_t>(tile / a.col_tiles) * kTcBM;
  const int64_t col0 = static_cast<int64_t>(tile % a.col_tiles) * kTcBN;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;  // 2 × 4 warps: 64 rows × 32 columns each
  const int g = lane >> 2, t = lane & 3;

  bf16* const stage_base = reinterpret_cast<bf16*>(s_raw);
  // Element (k, e) of operand o (0 = dY, 1 = x) in stage st: rows of kTcRow bf16, token-major.
  auto sm = [&](int st, int o, int k, int e) { return stage_base + ((st * 2 + o) * kTcBK + k) * kTcRow + e; };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

  const int64_t t_begin = static_cast<int64_t>(split) * a.chunk;
  const int64_t t_end = t_begin + a.chunk < a.tokens ? t_begin + a.chunk : a.tokens;
  // One stage: kTcBK tokens × 128 features of each operand, 16 B (8 bf16) per copy, 2 copies per thread per operand.
  // Rows and columns are multiples of 8 (checked by the host), so a copy is wholly in range or wholly out (zero-filled).
  auto load_stage = [&](int st, int64_t t0) {
#pragma unroll
    for (int l = 0; l < 2; ++l) {
      const int vi = tid + l * kTcThreads;
      const int k = vi >> 4, e = (vi & 15) * 8;
      const int64_t tok = t0 + k;
      const bool tin = tok < t_end;
      const bool rin = tin && row0 + e < a.rows, cin = tin && col0 + e < a.cols;
      cp_async16(sm(st, 0, k, e), rin ? a.dy + tok * a.rows + row0 + e : a.dy, rin);
      cp_async16(sm(st, 1, k, e), cin ? a.x + tok * a.cols + col0 + e : a.x, cin);
    }
    cp_async_commit();
  };
  auto compute_stage = [&](int st) {
#pragma unroll
    for (int kk = 0; kk < kTcBK; kk += 16) {
      uint32_t af[4][4], bfr[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        // A[m][k] = dY[k][m]: matrices (k0, m0), (k0, m0+8), (k0+8, m0), (k0+8, m0+8) → a0..a3.
        const int k = kk + (lane & 7) + ((lane >> 4) << 3), e = wm * 64 + i * 16 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4_trans(af[i], sm(st, 0, k, e));
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        // B[k][n] = x[k][n]: matrices (k0, n0), (k0+8, n0), (k0, n0+8), (k0+8, n0+8) → b0, b1 of n0, then of n0+8.
        const int k = kk + (lane & 7) + ((lane >> 3) & 1) * 8, e = wn * 32 + j * 16 + (lane >> 4) * 8;
        uint32_t r[4];
        ldmatrix_x4_trans(r, sm(st, 1, k, e));
        bfr[2 * j][0] = r[0];
        bfr[2 * j][1] = r[1];
        bfr[2 * j + 1][0] = r[2];
        bfr[2 * j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_bf16(acc[i][j], af[i], bfr[j]);
    }
  };

  int st = 0;
  if (t_begin < t_end) load_stage(0, t_begin);
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kTcBK) {
    if (t0 + kTcBK < t_end) {
      load_stage(st ^ 1, t0 + kTcBK);  // its buffer was last read before the previous iteration's closing barrier
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    compute_stage(st);
    __syncthreads();
    st ^= 1;
  }

  // Split-K: every split writes its partial tile; the last to arrive sums all of them in split order.
  if (a.splits > 1) {
    constexpr int kPer = 4 * 4 * 4;
    float* mine = a.workspace + (static_cast<int64_t>(split) * a.tiles + tile) * (kTcBM * kTcBN);
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int q = 0; q < 4; ++q) mine[((i * 4 + j) * 4 + q) * kTcThreads + tid] = acc[i][j][q];
    __threadfence();
    __syncthreads();
    if (tid == 0) s_last = atomicAdd(a.counters + tile, 1) == a.splits - 1 ? 1 : 0;
    __syncthreads();
    if (s_last == 0) return;  // uniform over the CTA
    __threadfence();
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      float sum = 0.0f;
      for (int sp = 0; sp < a.splits; ++sp) {
        const float part = __ldcg(a.workspace + (static_cast<int64_t>(sp) * a.tiles + tile) * (kTcBM * kTcBN) + e * kTcThreads + tid);
        sum = sp == 0 ? part : __fadd_rn(sum, part);
      }
      acc[e / 16][(e / 4) % 4][e % 4] = sum;
    }
    if (tid == 0) a.counters[tile] = 0;  // ready for the next launch
  }

  const float* __restrict__ pending = a.pending;
  const float c = a.clip != nullptr ? *a.clip : 1.0f;
  auto gradient = [&](float sum, int64_t at) {
    float gr = Num<bf16>::round(sum);
    if (pending != nullptr) gr = R<PT>(__fadd_rn(pending[at], gr));
    if (a.clip != nullptr) gr = R<PT>(__fmul_rn(gr, c));
    return gr;
  };
  PT* __restrict__ p = static_cast<PT*>(a.p);
  // This thread's accumulator pairs that lie inside the matrix: f(i, h, j, at) for acc[i][j][2h] and acc[i][j][2h + 1],
  // the elements at and at + 1 of the row-major weight.
  auto for_each_pair = [&](auto&& f) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t r = row0 + wm * 64 + i * 16 + h * 8 + g;
        if (r >= a.rows) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int64_t col = col0 + wn * 32 + j * 8 + 2 * t;
          if (col < a.cols) f(i, h, j, r * a.cols + col);
        }
      }
  };

  if constexpr (kKind == kTcInt8) {
    uint8_t* __restrict__ c1 = static_cast<uint8_t*>(a.m);
    uint8_t* __restrict__ c2 = static_cast<uint8_t*>(a.v);
    const int64_t bs = s8.block_size;
    static_assert(sizeof(Adam8Maps) <= kTcSmem, "the code books fit in the staging memory");
    Adam8Maps* maps = reinterpret_cast<Adam8Maps*>(s_raw);
    if constexpr (kPass == 2) {
      // The code books and their search tables, in the staging memory the GEMM no longer needs.
      __syncthreads();
      for (int i = tid; i < 256; i += kTcThreads) {
        maps->code1[i] = s8.code1[i];
        maps->code2[i] = s8.code2[i];
        maps->mid1[i] = i < 255 ? s8.mid1[i] : INFINITY;
        maps->mid2[i] = i < 255 ? s8.mid2[i] : INFINITY;
      }
      __syncthreads();
      rank_fill(maps->rank1, maps->mid1);
      rank_fill(maps->rank2, maps->mid2);
      __syncthreads();
    }
    float mx1[4][2] = {}, mx2[4][2] = {};
    for_each_pair([&](int i, int h, int j, int64_t at) {
      const int64_t b = at / bs;  // both columns: at is even, bs a power of two ≥ 128
      const float gr[2] = {gradient(acc[i][j][2 * h], at), gradient(acc[i][j][2 * h + 1], at + 1)};
      const uint16_t q1raw = *reinterpret_cast<const uint16_t*>(c1 + at), q2raw = *reinterpret_cast<const uint16_t*>(c2 + at);
      const float old1 = a.a1[b], old2 = a.a2[b];
      float mm[2], vv[2];
#pragma unroll
      for (int u = 0; u < 2; ++u)
        adam8_moments(gr[u], (q1raw >> (8 * u)) & 0xff, (q2raw >> (8 * u)) & 0xff, old1, old2, kPass == 2 ? maps->code1 : s8.code1,
                      kPass == 2 ? maps->code2 : s8.code2, s8, mm[u], vv[u]);
      if constexpr (kPass == 1) {
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          mx1[i][h] = fmaxf(mx1[i][h], fabsf(mm[u]));
          mx2[i][h] = fmaxf(mx2[i][h], vv[u]);
        }
      } else {
        const Adam8Max mx = adam8_max(a.n1[b], a.n2[b]);
        float pp[2];
        Pair<PT>::load(p + at, pp[0], pp[1]);
        uint16_t q1out = 0, q2out = 0;
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          if (isfinite(gr[u])) pp[u] = adam8_param<PT>(pp[u], mm[u], vv[u], s8);
          int q1, q2;
          adam8_codes<false, false>(mm[u], vv[u], mx, *maps, 0, s8, q1, q2);
          q1out |= static_cast<uint16_t>(q1 << (8 * u));
          q2out |= static_cast<uint16_t>(q2 << (8 * u));
        }
        Pair<PT>::store(p + at, pp[0], pp[1]);
        *reinterpret_cast<uint16_t*>(c1 + at) = q1out;
        *reinterpret_cast<uint16_t*>(c2 + at) = q2out;
      }
    });
    if constexpr (kPass == 1) {
      // Each (row, tile) lies in one block (cols and block_size multiples of 128, checked by the host): the four
      // lanes of a row, then the four column warps, then one atomic max per row and moment (non-negative floats
      // order as their bits).
      __shared__ float s_red[2][kTcBM][4];  // per row and column warp, the two maxima
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float x1 = mx1[i][h], x2 = mx2[i][h];
          x1 = fmaxf(x1, __shfl_xor_sync(0xffffffffu, x1, 1));
          x1 = fmaxf(x1, __shfl_xor_sync(0xffffffffu, x1, 2));
          x2 = fmaxf(x2, __shfl_xor_sync(0xffffffffu, x2, 1));
          x2 = fmaxf(x2, __shfl_xor_sync(0xffffffffu, x2, 2));
          if (t == 0) {
            s_red[0][wm * 64 + i * 16 + h * 8 + g][wn] = x1;
            s_red[1][wm * 64 + i * 16 + h * 8 + g][wn] = x2;
          }
        }
      __syncthreads();
      if (tid < kTcBM && row0 + tid < a.rows) {
        const int64_t r = row0 + tid;
        const int64_t b = (r * a.cols + col0) / bs;
        float x1 = fmaxf(fmaxf(s_red[0][tid][0], s_red[0][tid][1]), fmaxf(s_red[0][tid][2], s_red[0][tid][3]));
        const float x2 = fmaxf(fmaxf(s_red[1][tid][0], s_red[1][tid][1]), fmaxf(s_red[1][tid][2], s_red[1][tid][3]));
        // A partial last block: the 8-bit kernel's padded lanes (code 128, g = 0) join its first maximum.
        const int64_t numel = a.rows * a.cols;
        if (numel % bs != 0 && b == numel / bs) x1 = fmaxf(x1, fabsf(__fmul_rn(__fmul_rn(a.a1[b], s8.pad_code), s8.beta1)));
        atomicMax(reinterpret_cast<int*>(a.n1 + b), static_cast<int>(__float_as_uint(x1)));
        atomicMax(reinterpret_cast<int*>(a.n2 + b), static_cast<int>(__float_as_uint(x2)));
      }
    }
  } else {
    using ST = typename std::conditional<kKind == kTcBf16Sr, bf16, PT>::type;  // m and v
    ST* __restrict__ m = static_cast<ST*>(a.m);
    ST* __restrict__ v = static_cast<ST*>(a.v);
    for_each_pair([&](int i, int h, int j, int64_t at) {
      float pp[2], mm[2], vv[2];
      Pair<PT>::load(p + at, pp[0], pp[1]);
      Pair<ST>::load(m + at, mm[0], mm[1]);
      Pair<ST>::load(v + at, vv[0], vv[1]);
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const float gr = gradient(acc[i][j][2 * h + u], at + u);
        if constexpr (kKind == kTcParamState) {
          adamw_rule<PT>(pp[u], gr, mm[u], vv[u], s);
        } else {
          adamw_fp32(pp[u], gr, mm[u], vv[u], s);
          const uint64_t bits = sr_hash(a.seed, static_cast<uint64_t>(at + u));
          mm[u] = sr_bf16(mm[u], static_cast<uint32_t>(bits));
          vv[u] = sr_bf16(vv[u], static_cast<uint32_t>(bits >> 16));
          if constexpr (std::is_same<PT, bf16>::value) pp[u] = sr_bf16(pp[u], static_cast<uint32_t>(bits >> 32));
        }
      }
      if constexpr (kKind == kTcBf16Sr) {
        Pair<bf16>::store_exact(m + at, mm[0], mm[1]);
        Pair<bf16>::store_exact(v + at, vv[0], vv[1]);
        if constexpr (std::is_same<PT, bf16>::value) Pair<bf16>::store_exact(reinterpret_cast<bf16*>(p + at), pp[0], pp[1]);
        else Pair<PT>::store(p + at, pp[0], pp[1]);
      } else {
        Pair<PT>::store(p + at, pp[0], pp[1]);
        Pair<ST>::store(m + at, mm[0], mm[1]);
        Pair<ST>::store(v + at, vv[0], vv[1]);
      }
    });
  }
}

template <typename PT, int kKind, int kPass>
void launch_forge_tc(const ForgeTcArgs& a, cudaStream_t stream, const AdamWScalars& s, const Adam8Scalars& s8) {
  HK_LAUNCH(forge_tc_kernel<PT HK_COMMA kKind HK_COMMA kPass>, a.tiles * a.splits, kTcThreads, 0, stream, a, s, s8);
}

template <typename PT>
int run_forge_tc(int kind, const ForgeTcArgs& a, cudaStream_t stream, const AdamWScalars& s, const Adam8Scalars& s8) {
  if (kind == kTcParamState) launch_forge_tc<PT, kTcParamState, 0>(a, stream, s, s8);
  else if (kind == kTcBf16Sr) launch_forge_tc<PT, kTcBf16Sr, 0>(a, stream, s, s8);
  else {
    launch_forge_tc<PT, kTcInt8, 1>(a, stream, s, s8);
    if (const int rc = check_launch("forge_tc_kernel (8-bit pass 1)")) return rc;
    launch_forge_tc<PT, kTcInt8, 2>(a, stream, s, s8);
  }
  return check_launch("forge_tc_kernel");
}

}  // namespace
