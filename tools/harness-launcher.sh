#!/usr/bin/env bash
# Launcher of the Harness GPU bundle (built by ./run.sh bundle): runs on a machine without .NET.
# It finds a host libtorch -- HARNESS_LIBTORCH=/path/to/torch/lib, else the torch/lib of the PyTorch that
# `python3 -c 'import torch'` finds -- and puts it on the loader path, then runs the self-contained
# harness binary. The native CUDA probe is built by the harness itself on first CUDA use, with the host's
# nvcc, into $HARNESS_CACHE (default ~/.cache/harness). `harness env` shows what was found.
set -euo pipefail
HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"

find_torch_lib() {
  local py dir
  for py in "${HARNESS_PYTHON:-python3}" python; do
    command -v "$py" >/dev/null 2>&1 || continue
    dir="$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)" || continue
    if [[ -f "$dir/libtorch.so" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

if [[ -z "${HARNESS_LIBTORCH:-}" ]]; then
  if ! HARNESS_LIBTORCH="$(find_torch_lib)"; then
    echo "harness: no libtorch found. Install PyTorch 2.10 or 2.11 (python3 -c 'import torch' must work) or set HARNESS_LIBTORCH=/path/to/torch/lib" >&2
    exit 2
  fi
fi
if [[ ! -f "$HARNESS_LIBTORCH/libtorch.so" ]]; then
  echo "harness: HARNESS_LIBTORCH=$HARNESS_LIBTORCH has no libtorch.so (it must name a PyTorch install's torch/lib folder)" >&2
  exit 2
fi
export HARNESS_LIBTORCH
export LD_LIBRARY_PATH="$HARNESS_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "${HARNESS_WORKDIR:-$PWD}"
exec "$HERE/bin/harness" "$@"
