#!/usr/bin/env bash
# Parses and type-checks the fused-kernel CUDA sources (optimizers/kernels) with clang in CUDA mode, on a machine
# without CUDA: both translation units (the default build and the tensor-core one, HK_FORGE_TC), each in its host and
# its device pass, against the declarations-only headers in tools/gpu/cuda-stub. It catches what the test suite's
# g++-emulated build cannot see, because the emulation turns __device__ and __global__ into nothing: a device function
# calling a host one, a kernel launch or intrinsic with the wrong types, code under #ifndef HK_EMULATED. It does not
# generate code, so PTX inline assembly, register use and nvcc-only diagnostics are still seen first on the GPU host.
#
#   tools/gpu/cuda-syntax-check.sh [KERNELS_DIR]     (default: optimizers/kernels; clang++ from HARNESS_CLANG, PATH or
#                                                     /usr/lib/llvm-*/bin)
# Exit 0: clean (no error, no -Wall warning); 1: a pass failed (its diagnostics printed); 2: no clang++.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$here/../../optimizers/kernels}
clang=${HARNESS_CLANG:-$(command -v clang++ || ls -d /usr/lib/llvm-*/bin/clang++ 2>/dev/null | sort -V | tail -1)}
if [ -z "$clang" ] || [ ! -x "$clang" ]; then
  echo "cuda-syntax-check: no clang++ (install Debian's clang, or set HARNESS_CLANG)" >&2
  exit 2
fi
rc=0
for src in harness_optim_kernels.cu harness_optim_kernels_tc.cu; do
  for pass in host device; do
    # sm_80: the newest architecture clang 14 knows that has every instruction the kernels use (cp.async, bf16 mma).
    if ! out=$("$clang" -x cuda "--cuda-$pass-only" --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -std=c++17 -fsyntax-only \
        -Wall -Werror -I "$here/cuda-stub" "$dir/$src" 2>&1); then
      echo "cuda-syntax-check: $src, $pass pass:"
      echo "$out"
      rc=1
    fi
  done
done
[ "$rc" = 0 ] && echo "cuda-syntax-check: 2 sources x 2 passes clean ($("$clang" --version | head -1))"
exit "$rc"
