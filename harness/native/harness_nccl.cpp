// Harness NCCL collectives: NCCL's C API behind a small extern "C" surface, for data-parallel training
// (called through P/Invoke from Harness.Core.Distributed.NcclCollective). One communicator per rank process.
//
// Built on the GPU host, on first data-parallel use, by NativeLibraryBuilder with nvcc against the host PyTorch
// (for the current stream) and the host's NCCL (pip's nvidia/nccl next to torch, $NCCL_HOME, or /usr):
//   nvcc -O3 -shared -Xcompiler -fPIC -std=c++17 ... -I$NCCL/include -L$NCCL/lib -l:libnccl.so.2 -lc10_cuda -lc10 -lcudart
//
// Collectives are enqueued on the device's current PyTorch stream (where TorchSharp's ops run), so they are
// ordered with the backward and the optimizer without a host wait. Timeouts: the communicator is non-blocking
// and a watchdog thread (PyTorch's ProcessGroupNCCL does the same) aborts it when a collective has not finished
// within the timeout or NCCL reports an asynchronous error (a peer died); the aborted kernels return, the
// rank's next call fails with the reason, and the launcher ends the other ranks. Every function returns 0 on
// success, otherwise a non-zero code with the message in hn_error.
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  cudaEvent_t done;
  Clock::time_point enqueued;
};

struct Comm {
  ncclComm_t comm = nullptr;
  int device = 0;
  std::chrono::milliseconds timeout{0};
  std::mutex mutex;  // guards pending and error
  std::deque<Pending> pending;
  std::string error;
  std::atomic<bool> aborted{false};
  std::atomic<bool> stop{false};
  std::thread watchdog;
};

int fail(Comm* c, const std::string& message) {
  std::lock_guard<std::mutex> lock(c->mutex);
  if (c->error.empty()) c->error = message;
  return 1;
}

void abort_comm(Comm* c, const std::string& reason) {
  fail(c, reason);
  bool expected = false;
  if (c->aborted.compare_exchange_strong(expected, true)) ncclCommAbort(c->comm);
}

// Polls the non-blocking communicator until its last call left ncclInProgress (or the deadline passes).
int settle(Comm* c, ncclResult_t r, const char* what) {
  const auto deadline = Clock::now() + c->timeout;
  while (r == ncclInProgress) {
    if (Clock::now() > deadline) {
      abort_comm(c, std::string(what) + ": not complete within the timeout (a peer rank failed or hung)");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ncclCommGetAsyncError(c->comm, &r);
  }
  if (r != ncclSuccess) {
    abort_comm(c, std::string(what) + ": " + ncclGetErrorString(r) + " (" + ncclGetLastError(c->comm) + ")");
    return 1;
  }
  return 0;
}

void watch(Comm* c) {
  cudaSetDevice(c->device);
  while (!c->stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (c->aborted.load()) continue;
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(c->comm, &async);
    if (async != ncclSuccess && async != ncclInProgress) {
      abort_comm(c, std::string("NCCL asynchronous error: ") + ncclGetErrorString(async));
      continue;
    }
    std::unique_lock<std::mutex> lock(c->mutex);
    while (!c->pending.empty() && cudaEventQuery(c->pending.front().done) == cudaSuccess) {
      cudaEventDestroy(c->pending.front().done);
      c->pending.pop_front();
    }
    const bool late = !c->pending.empty() && Clock::now() - c->pending.front().enqueued > c->timeout;
    lock.unlock();
    if (late) abort_comm(c, "a collective did not finish within the timeout (a peer rank failed or hung)");
  }
}

cudaStream_t current_stream(const Comm* c) {
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(c->device)).stream();
}

// After enqueueing: remember when, so the watchdog can tell a stuck collective.
int track(Comm* c, ncclResult_t r, const char* what, cudaStream_t stream) {
  if (c->aborted.load()) return fail(c, std::string(what) + ": the communicator was aborted");
  if (settle(c, r, what) != 0) return 1;
  cudaEvent_t e = nullptr;
  if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess || cudaEventRecord(e, stream) != cudaSuccess)
    return fail(c, std::string(what) + ": cannot record a CUDA event");
  std::lock_guard<std::mutex> lock(c->mutex);
  c->pending.push_back({e, Clock::now()});
  return 0;
}

}  // namespace

extern "C" {

int hn_unique_id_bytes() { return NCCL_UNIQUE_ID_BYTES; }

// Rank 0 makes the id and publishes it through the rendezvous; the others read it.
int hn_get_unique_id(unsigned char* out) {
  ncclUniqueId id;
  const ncclResult_t r = ncclGetUniqueId(&id);
  if (r != ncclSuccess) return static_cast<int>(r);
  std::memcpy(out, id.internal, NCCL_UNIQUE_ID_BYTES);
  return 0;
}

// Joins the communicator of world_size ranks as `rank` on CUDA device `device`; fails after timeout_ms.
int hn_init(const unsigned char* unique_id, int world_size, int rank, int device, int timeout_ms, void** out,
            char* error, int error_len) {
  auto* c = new Comm();
  c->device = device;
  c->timeout = std::chrono::milliseconds(timeout_ms);
  cudaSetDevice(device);
  ncclUniqueId id;
  std::memcpy(id.internal, unique_id, NCCL_UNIQUE_ID_BYTES);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r = ncclCommInitRankConfig(&c->comm, world_size, id, rank, &config);
  if (r == ncclInProgress || r == ncclSuccess) {
    if (settle(c, r, "ncclCommInitRank") == 0) {
      c->watchdog = std::thread(watch, c);
      *out = c;
      return 0;
    }
  } else {
    c->error = std::string("ncclCommInitRank: ") + ncclGetErrorString(r);
  }
  std::snprintf(error, static_cast<size_t>(error_len), "%s", c->error.c_str());
  if (c->comm != nullptr && !c->aborted.load()) ncclCommAbort(c->comm);
  delete c;
  return 1;
}

// op: 0 sum, 1 average (ncclAvg, NCCL >= 2.10). In place.
int hn_all_reduce(void* comm, void* buffer, size_t count, int dtype, int op) {
  auto* c = static_cast<Comm*>(comm);
  const cudaStream_t s = current_stream(c);
  const ncclResult_t r = ncclAllReduce(buffer, buffer, count, static_cast<ncclDataType_t>(dtype), op == 1 ? ncclAvg : ncclSum, c->comm, s);
  return track(c, r, "ncclAllReduce", s);
}

// output holds world_size * count elements, rank 0's first.
int hn_all_gather(void* comm, const void* input, void* output, size_t count, int dtype) {
  auto* c = static_cast<Comm*>(comm);
  const cudaStream_t s = current_stream(c);
  const ncclResult_t r = ncclAllGather(input, output, count, static_cast<ncclDataType_t>(dtype), c->comm, s);
  return track(c, r, "ncclAllGather", s);
}

int hn_broadcast(void* comm, void* buffer, size_t count, int dtype, int root) {
  auto* c = static_cast<Comm*>(comm);
  const cudaStream_t s = current_stream(c);
  const ncclResult_t r = ncclBroadcast(buffer, buffer, count, static_cast<ncclDataType_t>(dtype), root, c->comm, s);
  return track(c, r, "ncclBroadcast", s);
}

// Waits (host) until everything enqueued on the current stream is done, or the watchdog aborted the communicator.
int hn_synchronize(void* comm) {
  auto* c = static_cast<Comm*>(comm);
  const cudaStream_t s = current_stream(c);
  while (true) {
    if (c->aborted.load()) return fail(c, "the communicator was aborted");
    const cudaError_t q = cudaStreamQuery(s);
    if (q == cudaSuccess) return 0;
    if (q != cudaErrorNotReady) return fail(c, std::string("cudaStreamQuery: ") + cudaGetErrorString(q));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void hn_abort(void* comm, const char* reason) { abort_comm(static_cast<Comm*>(comm), reason); }

// The first error of this communicator (empty when none).
int hn_error(void* comm, char* out, int out_len) {
  auto* c = static_cast<Comm*>(comm);
  std::lock_guard<std::mutex> lock(c->mutex);
  std::snprintf(out, static_cast<size_t>(out_len), "%s", c->error.c_str());
  return static_cast<int>(c->error.size());
}

void hn_destroy(void* comm) {
  auto* c = static_cast<Comm*>(comm);
  c->stop.store(true);
  if (c->watchdog.joinable()) c->watchdog.join();
  if (c->aborted.load()) {
    // ncclCommAbort already released it.
  } else {
    ncclCommDestroy(c->comm);
  }
  for (auto& p : c->pending) cudaEventDestroy(p.done);
  delete c;
}

}  // extern "C"
