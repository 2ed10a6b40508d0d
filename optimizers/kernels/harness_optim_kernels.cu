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
//   Q-GaLore  weight write-back: Quantization/TiledRequantizer.cs + GroupQuantizer.cs + CounterUniform.cs
//
// Every entry point returns 0 on success, a CUDA error code (> 0) or -1 for a bad argument; hk_last_error()
// then says what went wrong.
//
// The kernels live in headers, one translation unit (one nvcc call): common.cuh (element types, code search,
// division, reductions), multi_tensor.cuh (tensor tables, chunking, persistent grids), one header per optimizer
// family (adamw.cuh, adam8bit.cuh, gefen.cuh), forge_tile.cuh (FORGE's tile-fused linear step) and testing.cuh
// (the kernels of the test-only entry points). This file keeps the extern "C" surface.
#include "common.cuh"
#include "multi_tensor.cuh"
#include "adamw.cuh"
#include "forge_tile.cuh"
// The tensor-core tile kernel is built by the emulated build (CPU tests) and by harness_optim_kernels_tc.cu
// (HARNESS_FORGE_TENSOR_CORES=1): it has not yet been compiled and checked on a GPU, so the default CUDA build leaves
// it out and a failure in it cannot take the other fused kernels down.
#if defined(HK_EMULATED) || defined(HK_FORGE_TC)
#include "forge_tc.cuh"
#endif
#include "adam8bit.cuh"
#include "gefen.cuh"
#include "qgalore.cuh"
#include "testing.cuh"

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

#if defined(HK_EMULATED) || defined(HK_FORGE_TC)
// FORGE's tile step on tensor cores (forge_tc_kernel): G = dyᵀ·x from bf16 x [tokens, cols] and dy [tokens, rows]
// (16-byte aligned; rows and cols multiples of 8), plus pending (fp32 [rows, cols] or null), times clip (device fp32
// scalar or null), consumed by the update of p [rows, cols] of dtype (0 float32: master weights, 1 bfloat16):
//   kind 0: AdamW, m and v of dtype; scalars as hk_adamw;
//   kind 1: AdamW, m and v bfloat16 stored by stochastic rounding (and p too where it is bfloat16) from the stream
//           `seed`; scalars as hk_adamw;
//   kind 2: 8-bit Adam, m and v uint8 codes with absmax a1, a2 per block of ints[0] elements (a power of two in
//           [128, 4096]; cols a multiple of 128); scalars and ints as hk_adam8bit, maps = {code1, code2, mid1, mid2}
//           (device arrays as there). Two GEMM passes: the blocks' new absmax, then the codes.
// splits: token splits per tile (split-K, summed in split order), 0 to choose (more splits while the tiles leave
// multiprocessors idle). Scratch (split partials, the new absmax) comes from cudaMallocAsync on the stream.
int hk_forge_tc(int device, int dtype, int kind, int64_t rows, int64_t cols, int64_t tokens, int splits, const void* x,
                const void* dy, const float* pending, const float* clip, void* p, void* m, void* v, float* a1, float* a2,
                const float* scalars, const int* ints, const float* const* maps, uint64_t seed) {
  if (dtype != 0 && dtype != 1) return fail("hk_forge_tc: dtype must be 0 (float32) or 1 (bfloat16)");
  if (kind < 0 || kind > 2) return fail("hk_forge_tc: kind must be 0 (AdamW), 1 (AdamW, bf16 state) or 2 (8-bit Adam)");
  if (rows < 1 || cols < 1 || tokens < 0) return fail("hk_forge_tc: rows and cols must be >= 1, tokens >= 0");
  if (rows % 8 != 0 || cols % 8 != 0) return fail("hk_forge_tc: rows and cols must be multiples of 8");
  if (splits < 0 || splits > kTcMaxSplits) return fail("hk_forge_tc: splits must be in [0, 16]");
  if (p == nullptr || m == nullptr || v == nullptr || scalars == nullptr || (tokens > 0 && (x == nullptr || dy == nullptr)))
    return fail("hk_forge_tc: null pointer");
  auto misaligned = [](const void* q, uintptr_t align) { return reinterpret_cast<uintptr_t>(q) % align != 0; };
  if (misaligned(x, 16) || misaligned(dy, 16) || misaligned(p, 8) || misaligned(m, 4) || misaligned(v, 4) || misaligned(pending, 8))
    return fail("hk_forge_tc: x and dy must be 16-byte aligned, p 8-byte, m and v 4-byte");
  const int64_t row_tiles = (rows + kTcBM - 1) / kTcBM, col_tiles = (cols + kTcBN - 1) / kTcBN;
  if (row_tiles * col_tiles > (int64_t{1} << 26)) return fail("hk_forge_tc: too many tiles for one launch");
  AdamWScalars s{};
  Adam8Scalars s8{};
  if (kind == 2) {
    if (ints == nullptr || maps == nullptr || a1 == nullptr || a2 == nullptr) return fail("hk_forge_tc: 8-bit Adam needs ints, maps, a1 and a2");
    s8.code1 = maps[0]; s8.code2 = maps[1]; s8.mid1 = maps[2]; s8.mid2 = maps[3];
    s8.beta1 = scalars[0]; s8.beta2 = scalars[1]; s8.w1 = scalars[2]; s8.w2 = scalars[3]; s8.c2eps = scalars[4];
    s8.step_size = scalars[5]; s8.decay = scalars[6]; s8.pad_code = scalars[7]; s8.apply_decay = scalars[8] != 0.0f;
    s8.block_size = ints[0]; s8.zero1 = ints[1]; s8.zero2 = ints[2];
    if (s8.block_size < 128 || s8.block_size > 4096 || (s8.block_size & (s8.block_size - 1)) != 0)
      return fail("hk_forge_tc: 8-bit block_size must be a power of two in [128, 4096]");
    if (cols % 128 != 0) return fail("hk_forge_tc: 8-bit Adam needs cols a multiple of 128 (a tile row in one block)");
  } else {
    s = adamw_scalars(scalars);
  }
  const cudaStream_t stream = current_stream(device);
  ForgeTcArgs a{};
  a.rows = rows; a.cols = cols; a.tokens = tokens;
  a.col_tiles = static_cast<int>(col_tiles);
  a.tiles = static_cast<int>(row_tiles * col_tiles);
  a.x = static_cast<const bf16*>(x); a.dy = static_cast<const bf16*>(dy);
  a.pending = pending; a.clip = clip; a.p = p; a.m = m; a.v = v; a.a1 = a1; a.a2 = a2; a.seed = seed;
  const int64_t chunks = (tokens + kTcBK - 1) / kTcBK;
  if (splits == 0) {
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) sms = 1;
    splits = 1;
    // Double while the grid leaves multiprocessors idle and every split keeps at least 4 token chunks.
    while (splits < kTcMaxSplits && static_cast<int64_t>(a.tiles) * splits < sms && chunks >= static_cast<int64_t>(splits) * 8) splits *= 2;
  }
  const int64_t per = chunks == 0 ? 1 : (chunks + splits - 1) / splits;  // chunks per split
  a.chunk = per * kTcBK;
  a.splits = chunks == 0 ? 1 : static_cast<int>((chunks + per - 1) / per);  // no split without tokens
  const int64_t blocks = kind == 2 ? (rows * cols + s8.block_size - 1) / s8.block_size : 0;
  const size_t work_bytes = a.splits > 1 ? static_cast<size_t>(a.splits) * a.tiles * kTcBM * kTcBN * sizeof(float) : 0;
  const size_t counter_bytes = a.splits > 1 ? static_cast<size_t>(a.tiles) * sizeof(int) : 0;
  const size_t absmax_bytes = static_cast<size_t>(2 * blocks) * sizeof(float);
  void* scratch = nullptr;
  const size_t scratch_bytes = work_bytes + counter_bytes + absmax_bytes;
  if (scratch_bytes > 0) {
    cudaError_t err = cudaMallocAsync(&scratch, scratch_bytes, stream);
    if (err == cudaSuccess && counter_bytes + absmax_bytes > 0)
      err = cudaMemsetAsync(static_cast<char*>(scratch) + work_bytes, 0, counter_bytes + absmax_bytes, stream);
    if (err != cudaSuccess) {
      std::snprintf(g_error, sizeof(g_error), "hk_forge_tc: scratch of %zu bytes: %s", scratch_bytes, cudaGetErrorString(err));
      return static_cast<int>(err);
    }
    a.workspace = work_bytes > 0 ? static_cast<float*>(scratch) : nullptr;
    a.counters = counter_bytes > 0 ? reinterpret_cast<int*>(static_cast<char*>(scratch) + work_bytes) : nullptr;
    if (blocks > 0) {
      a.n1 = reinterpret_cast<float*>(static_cast<char*>(scratch) + work_bytes + counter_bytes);
      a.n2 = a.n1 + blocks;
    }
  }
  int rc = dtype == 0 ? run_forge_tc<float>(kind, a, stream, s, s8) : run_forge_tc<bf16>(kind, a, stream, s, s8);
  if (rc == 0 && blocks > 0) {
    cudaError_t err = cudaMemcpyAsync(a1, a.n1, static_cast<size_t>(blocks) * sizeof(float), cudaMemcpyDeviceToDevice, stream);
    if (err == cudaSuccess) err = cudaMemcpyAsync(a2, a.n2, static_cast<size_t>(blocks) * sizeof(float), cudaMemcpyDeviceToDevice, stream);
    if (err != cudaSuccess) rc = fail("hk_forge_tc: copying the new absmax failed");
  }
  if (scratch != nullptr) cudaFreeAsync(scratch, stream);
  return rc;
}
#endif  // HK_EMULATED || HK_FORGE_TC

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

// Q-GaLore's weight write-back (requant_kernel), one launch per matrix: W' = W + alpha·U (+ decay_alpha·W'), then per
// group of group_size (<= 4096) elements min/max scale and zero point, codes of `bits` (2..8) bits rounded stochastically
// (stochastic = 1, counter stream mul/add) or to nearest. dense: the weight of dtype [numel] (codes null), or codes [numel]
// with scales [groups] (fp32) and zeros [groups] (uint8) of a stored weight (dense null); update [numel] of dtype. A group
// whose W' equals W is left as it is.
int hk_qgalore_requant(int device, int dtype, int64_t numel, int group_size, int bits, void* dense, void* codes, void* scales,
                       void* zeros, const void* update, float alpha, float decay_alpha, int stochastic, uint32_t mul, uint32_t add) {
  if (dtype != 0 && dtype != 1) return fail("hk_qgalore_requant: dtype must be 0 (float32) or 1 (bfloat16)");
  if (numel < 0 || group_size < 1 || group_size > kRequantMaxGroup) return fail("hk_qgalore_requant: group_size must be in [1, 4096]");
  if (bits < 2 || bits > 8) return fail("hk_qgalore_requant: bits must be in [2, 8]");
  if (update == nullptr || (dense == nullptr) == (codes == nullptr) || (codes != nullptr && (scales == nullptr || zeros == nullptr)))
    return fail("hk_qgalore_requant: give the update and either a dense weight or codes, scales and zeros");
  const int64_t groups = (numel + group_size - 1) / group_size;
  if (groups == 0) return 0;
  if (groups > 0x7fffffff) return fail("hk_qgalore_requant: too many groups for one launch");
  RequantArgs a;
  a.numel = numel; a.group_size = group_size; a.max_int = static_cast<float>((1 << bits) - 1);
  a.dense = dense; a.codes = static_cast<uint8_t*>(codes); a.scales = static_cast<float*>(scales); a.zeros = static_cast<uint8_t*>(zeros);
  a.update = update; a.alpha = alpha; a.decay_alpha = decay_alpha; a.stochastic = stochastic; a.mul = mul; a.add = add;
  const cudaStream_t stream = current_stream(device);
  const unsigned blocks = static_cast<unsigned>(groups);
  if (dtype == 0) HK_LAUNCH(requant_kernel<float>, blocks, kRequantThreads, 0, stream, a);
  else HK_LAUNCH(requant_kernel<bf16>, blocks, kRequantThreads, 0, stream, a);
  return check_launch("requant_kernel");
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
