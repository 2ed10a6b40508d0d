// Kernels behind the test-only entry points (hk_code_rank, hk_quotient): they run the kernels' code search and
// division on given values, so the test suite can compare them with a binary search and IEEE division.
#pragma once
#include "common.cuh"

namespace {

// div_hoisted over pairs (for the tests: it must equal IEEE division for every pair).
__global__ void quotient_kernel(const float* a, const float* b, int n, float* out) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = div_hoisted(a[i], b[i], __fdiv_rn(1.0f, b[i]), div_hoistable(b[i]));
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

}  // namespace
