// Host stand-ins for the CUDA names the kernels (harness_optim_kernels.cu and its headers) use, so the same source builds with g++
// (-DHK_EMULATED) into an *emulated* library: every CUDA block runs on the host, one fiber per
// CUDA thread, with barriers for __syncthreads and warp shuffles, and "device pointers" are host pointers.
// The test suite builds it (tests/Harness.Tests/Kernels) and checks the kernels' logic (indexing,
// multi-tensor tables, reductions, quantization, tails) against the tensor-ops optimizers on CPU, where no
// GPU exists. It says nothing about speed, and float rounding follows the host (built with
// -ffp-contract=off, so a*b+c is never fused unless the source says fmaf).
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <math.h>
#include <memory>
#include <ucontext.h>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One block runs at a time, so a function-local static is the block's shared memory.
#define __shared__ static
using std::isfinite;
using std::signbit;
struct hk_dim3 { unsigned x = 0, y = 1, z = 1; };
inline thread_local hk_dim3 threadIdx, blockIdx;
inline hk_dim3 blockDim, gridDim;

// The CUDA threads of a block are fibers of the launching host thread, run in turn: a thread runs until it waits at a
// barrier, then the next one runs. On x86-64 a fiber switch is a few instructions (hk_emu_switch below: the callee-saved
// registers, the stack pointer and the FP control words); elsewhere ucontext (two signal-mask system calls a switch).
// An OS thread per CUDA thread (the first version of this shim) cost a thread start per thread and a futex round per
// barrier, which made whole training runs through the emulation too slow for the test suite.
#if defined(__x86_64__) && defined(__linux__)
#define HK_EMU_FAST_SWITCH 1
// Saves the callee-saved registers and the FP control words on the current stack, stores the stack pointer in *from,
// loads `to` as the stack pointer and restores what was saved there. Weak: every includer may define it.
asm(R"(
  .text
  .weak hk_emu_switch
  .type hk_emu_switch, @function
hk_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size hk_emu_switch, .-hk_emu_switch
)");
extern "C" void hk_emu_switch(void** from, void* to);
#endif

namespace hk_emu {
struct Fiber {
#ifdef HK_EMU_FAST_SWITCH
  void* sp = nullptr;
#else
  ucontext_t context;
#endif
  std::unique_ptr<char[]> stack;
  bool done = false;
};

// A generation barrier of `expected` fibers: the last to arrive opens it and goes on; the others yield until it opens.
struct Barrier {
  unsigned expected = 0, arrived = 0;
  unsigned long generation = 0;
  void arrive_and_wait();
};

struct BlockSync {
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<float> lanes;  // one slot per thread for shuffles
  std::atomic<int> votes{0};  // __syncthreads_count's tally
  std::vector<unsigned char> exchange;  // kExchange bytes per thread for warp-collective emulations (warp_all)
};
constexpr size_t kExchange = 64;

struct Scheduler {
#ifdef HK_EMU_FAST_SWITCH
  void* main = nullptr;
#else
  ucontext_t main;
#endif
  std::vector<Fiber> fibers;
  unsigned current = 0;
  const std::function<void()>* body = nullptr;
};

inline BlockSync* g_sync = nullptr;
inline Scheduler* g_scheduler = nullptr;
// Kernels keep small arrays and a few frames on the stack; pages never touched are never committed.
constexpr size_t kFiberStack = 256 * 1024;

// From the running fiber back to the scheduler.
inline void yield() {
  auto& s = *g_scheduler;
#ifdef HK_EMU_FAST_SWITCH
  hk_emu_switch(&s.fibers[s.current].sp, s.main);
#else
  swapcontext(&s.fibers[s.current].context, &s.main);
#endif
}

inline void Barrier::arrive_and_wait() {
  const unsigned long g = generation;
  if (++arrived == expected) {
    arrived = 0;
    ++generation;
    return;
  }
  while (generation == g) yield();
}

// A fiber's first and only frame: the CUDA thread's body, then back to the scheduler for good.
inline void fiber_entry() {
  auto& s = *g_scheduler;
  (*s.body)();
  s.fibers[s.current].done = true;
#ifdef HK_EMU_FAST_SWITCH
  yield();
  __builtin_unreachable();
#endif  // ucontext: returning resumes uc_link, the scheduler
}

inline void start(Scheduler& s, Fiber& f) {
  f.done = false;
#ifdef HK_EMU_FAST_SWITCH
  // What hk_emu_switch pops: the control words (MXCSR 0x1F80, x87 0x037F: the defaults), six registers, the return
  // address (fiber_entry), above it a dummy return slot so that fiber_entry starts with the stack aligned as after a call.
  auto top = reinterpret_cast<uintptr_t>(f.stack.get() + kFiberStack) & ~uintptr_t{15};
  auto* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = 0;
  *--sp = reinterpret_cast<uint64_t>(&fiber_entry);
  for (int r = 0; r < 6; ++r) *--sp = 0;
  *--sp = 0x1F80ull | (0x037Full << 32);
  f.sp = sp;
  (void)s;
#else
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = kFiberStack;
  f.context.uc_link = &s.main;
  makecontext(&f.context, fiber_entry, 0);
#endif
}

inline void resume(Scheduler& s, Fiber& f) {
#ifdef HK_EMU_FAST_SWITCH
  hk_emu_switch(&s.main, f.sp);
#else
  swapcontext(&s.main, &f.context);
#endif
}

// Runs body once per CUDA thread of every block, block after block.
inline void launch(unsigned grid, unsigned block, const std::function<void()>& body) {
  blockDim.x = block;
  gridDim.x = grid;
  Scheduler scheduler;
  scheduler.body = &body;
  scheduler.fibers.resize(block);
  for (auto& f : scheduler.fibers) f.stack.reset(new char[kFiberStack]);
  g_scheduler = &scheduler;
  for (unsigned b = 0; b < grid; ++b) {
    BlockSync sync;
    sync.block.expected = block;
    const unsigned warps = (block + 31) / 32;
    sync.warps.resize(warps);
    for (unsigned w = 0; w < warps; ++w) sync.warps[w].expected = (w + 1) * 32 <= block ? 32 : block - w * 32;
    sync.lanes.assign(block, 0.0f);
    sync.exchange.assign(block * kExchange, 0);
    g_sync = &sync;
    for (auto& f : scheduler.fibers) start(scheduler, f);
    blockIdx.x = b;
    for (unsigned left = block; left > 0;) {
      left = 0;
      for (unsigned t = 0; t < block; ++t) {
        auto& f = scheduler.fibers[t];
        if (f.done) continue;
        scheduler.current = t;
        threadIdx.x = t;
        resume(scheduler, f);
        if (!f.done) ++left;
      }
    }
    g_sync = nullptr;
  }
  g_scheduler = nullptr;
}
// Each lane of the calling thread's (full) warp publishes `bytes` (at most kExchange) bytes at `mine`; `all`
// receives the 32 lanes' values in lane order. For emulating warp collectives (ldmatrix, mma.sync).
inline void warp_all(const void* mine, size_t bytes, void* all) {
  auto& s = *g_sync;
  const unsigned t = threadIdx.x, warp = t / 32;
  std::memcpy(s.exchange.data() + t * kExchange, mine, bytes);
  s.warps[warp].arrive_and_wait();
  for (unsigned l = 0; l < 32; ++l) std::memcpy(static_cast<char*>(all) + l * bytes, s.exchange.data() + (warp * 32 + l) * kExchange, bytes);
  s.warps[warp].arrive_and_wait();
}
}  // namespace hk_emu

inline void __syncthreads() { hk_emu::g_sync->block.arrive_and_wait(); }
// The block's count of non-zero predicates, returned to every thread (three barriers: the tally is reset only after
// every thread has read it, and counted only after the previous call's reset).
inline int __syncthreads_count(int predicate) {
  auto& s = *hk_emu::g_sync;
  s.block.arrive_and_wait();
  if (predicate != 0) s.votes.fetch_add(1);
  s.block.arrive_and_wait();
  const int count = s.votes.load();
  s.block.arrive_and_wait();
  if (threadIdx.x == 0) s.votes.store(0);
  return count;
}
inline int __syncthreads_and(int predicate) { return __syncthreads_count(predicate == 0 ? 1 : 0) == 0 ? 1 : 0; }
inline float __shfl_xor_sync(unsigned, float x, int offset) {
  auto& s = *hk_emu::g_sync;
  const unsigned t = threadIdx.x, warp = t / 32;
  s.lanes[t] = x;
  s.warps[warp].arrive_and_wait();
  const float y = s.lanes[warp * 32 + ((t % 32) ^ static_cast<unsigned>(offset))];
  s.warps[warp].arrive_and_wait();
  return y;
}
// Blocks run one after another on one host thread: atomics are plain read-modify-writes, fences are no-ops.
inline int atomicAdd(int* p, int x) { const int old = *p; *p = old + x; return old; }
inline int atomicMax(int* p, int x) { const int old = *p; *p = old > x ? old : x; return old; }
inline void __threadfence() {}
inline float __ldcg(const float* p) { return *p; }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned u) { float x; std::memcpy(&x, &u, 4); return x; }
struct float4 { float x, y, z, w; };
struct uint2 { unsigned x, y; };
struct __nv_bfloat16 { unsigned short bits; };
inline float __bfloat162float(__nv_bfloat16 h) { unsigned u = unsigned(h.bits) << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return __nv_bfloat16{static_cast<unsigned short>((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return __nv_bfloat16{static_cast<unsigned short>(u >> 16)};
}
using cudaStream_t = void*;
using cudaEvent_t = void*;
enum cudaError_t { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyDeviceToDevice = 3 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated"; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) { *p = std::malloc(n); return cudaSuccess; }
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) { *p = std::malloc(n); return cudaSuccess; }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memcpy(d, s, n); return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = nullptr; return cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) { *ms = 1.0f; return cudaSuccess; }
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
// The emulation runs blocks one after another: a small "device" of 2 multiprocessors, 2 blocks each,
// so persistent kernels walk several items per block.
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) { *value = 2; return cudaSuccess; }
template <typename K>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, K, int, size_t) { *blocks = 2; return cudaSuccess; }
