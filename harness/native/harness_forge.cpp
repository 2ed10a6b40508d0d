// Harness FORGE linear: a native libtorch autograd function for step_mode: fused_backward (FORGE, Kukreja
// et al., arXiv 2606.22932, reference code dk4248/FORGE), called through P/Invoke from
// Harness.Core.Running.NativeForge.
//
// y = x·Wᵀ whose backward returns the input gradient and NO weight gradient: after dX = dY·W (with the
// pre-update weight), it hands the saved input and the output gradient to a C callback, in which the
// harness computes the weight gradient a slab of output rows at a time and steps the optimizer on each
// slab (or accumulates it, or sums its squares for two-pass clipping). Unlike a TorchSharp custom
// function, this node keeps nothing per output beyond what libtorch's own nodes keep (TorchSharp's
// managed functions hold an empty_like "output cache" per output until the graph is freed, plus managed
// wrappers per gradient), which is what FORGE's memory saving needs.
//
// Built on the GPU host, on first CUDA use, against the host PyTorch's headers and libraries:
//   nvcc -O3 -shared -Xcompiler -fPIC -std=c++17 -arch=native -D_GLIBCXX_USE_CXX11_ABI=1 \
//        -I$T/include -I$T/include/torch/csrc/api/include -L$T/lib -ltorch -ltorch_cpu -lc10
// where $T is the torch package folder (c++20 when the headers demand it). No CUDA code: the matmuls go
// through ATen, on whatever device the tensors live.
//
// Ownership across the C boundary: tensor handles are at::Tensor* (TorchSharp's tensor handle type).
// Every handle this library returns or passes to the callback is a new at::Tensor the caller owns and
// frees (TorchSharp's Tensor.Dispose deletes it). No C++ exception crosses the boundary.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <exception>
#include <string>

namespace {

// int callback(void* user, int64_t layer_id, void* input_handle, void* grad_output_handle):
// nonzero when the managed side failed (it keeps the exception and rethrows after backward()).
using BackwardCallback = int (*)(void*, int64_t, void*, void*);

std::string& last_error() {
  thread_local std::string message;
  return message;
}

struct ForgeLinear : public torch::autograd::Function<ForgeLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            int64_t layer_id, int64_t callback, int64_t user) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["layer_id"] = layer_id;
    ctx->saved_data["callback"] = callback;
    ctx->saved_data["user"] = user;
    return at::linear(x, w);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    // One gradient per forward argument: x, w, layer_id, callback, user (the last four never have one).
    torch::autograd::variable_list result(5);
    const at::Tensor dy = grad_outputs[0];
    if (!dy.defined()) return result;
    auto saved = ctx->get_saved_variables();
    const at::Tensor x = saved[0];
    const at::Tensor w = saved[1];
    // The chain rule needs the pre-update weight: the input gradient first, the weight update after.
    result[0] = dy.matmul(w);
    const auto layer_id = ctx->saved_data["layer_id"].toInt();
    const auto callback = reinterpret_cast<BackwardCallback>(static_cast<intptr_t>(ctx->saved_data["callback"].toInt()));
    auto* user = reinterpret_cast<void*>(static_cast<intptr_t>(ctx->saved_data["user"].toInt()));
    if (callback != nullptr) {
      // Ownership of both handles passes to the managed side, which frees them before returning. 1: the
      // managed side failed and keeps the exception for after backward(); 2: it could not reach its layer,
      // so nothing was kept and the backward fails here (libtorch's engine reports it to the caller).
      const int rc = callback(user, layer_id, new at::Tensor(x), new at::Tensor(dy));
      TORCH_CHECK(rc != 2, "FORGE backward of layer ", layer_id, ": the managed callback could not reach its layer");
    }
    return result;
  }
};

}  // namespace

extern "C" {

// Version of this ABI; bumped when a signature changes so a stale cached build is refused.
int hf_abi_version() { return 1; }

// The message of the last failure on this thread ("" when none).
const char* hf_last_error() { return last_error().c_str(); }

// y = linear(x, w) through the FORGE function; a new at::Tensor* the caller owns, or nullptr (see
// hf_last_error). x: [..., in], w: [out, in]. callback and user are kept for the backward.
void* hf_linear(void* x_handle, void* w_handle, int64_t layer_id, void* callback, void* user) {
  try {
    if (x_handle == nullptr || w_handle == nullptr) {
      last_error() = "hf_linear: null tensor handle";
      return nullptr;
    }
    const at::Tensor& x = *static_cast<at::Tensor*>(x_handle);
    const at::Tensor& w = *static_cast<at::Tensor*>(w_handle);
    at::Tensor y = ForgeLinear::apply(x, w, layer_id, static_cast<int64_t>(reinterpret_cast<intptr_t>(callback)),
                                      static_cast<int64_t>(reinterpret_cast<intptr_t>(user)));
    last_error().clear();
    return new at::Tensor(std::move(y));
  } catch (const c10::Error& e) {
    last_error() = e.what_without_backtrace();
  } catch (const std::exception& e) {
    last_error() = e.what();
  } catch (...) {
    last_error() = "hf_linear: unknown exception";
  }
  return nullptr;
}

}  // extern "C"
