// Multi-tensor launches: the tables of tensors one launch covers, the element-wise chunking of AdamW and of
// 8-bit Adam's 32-bit path, and the persistent grid of the block-wise kernels.
#pragma once
#include "common.cuh"

namespace {

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


// The tensor of a flat work item: the last t with start[t] <= item (start[0] = 0, ascending).
__device__ __forceinline__ int find_tensor(const int64_t* start, int count, int64_t item) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (start[mid] <= item) lo = mid; else hi = mid - 1;
  }
  return lo;
}

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

}  // namespace
