#!/usr/bin/env bash
# Runs phases of configs/gpu/README.md's measurement plan on a GPU host, each under its own time limit, writing logs and
# result folders under $OUT (the device tool returns at most 8 files: one log per call and one tarball per phase).
#
#   tools/gpu/plan.sh BUNDLE.tar.xz SECONDS PHASE [PHASE ...]
#
# BUNDLE.tar.xz: `tar -C dist -cJf .gpu/bundle.tar.xz harness-linux-x64` after `./run.sh bundle` (~18 MB, carried with the
# tree). SECONDS: the call's budget; a phase gets what is left (minus 15 s for packing), or its own cap if smaller.
# Phases: check (gpu-check), throughput (throughput-60m), bench1b (bench-step at 1B and 1.5B + PyTorch's AdamW), tc (the
# tensor-core FORGE kernel's build and checks), forge8b, fast (fast-options-60m), ddp (2-GPU host only).
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BUNDLE.tar.xz SECONDS PHASE [PHASE ...]" >&2; exit 2; }
BUNDLE=$1 BUDGET=$2; shift 2
OUT=${OUT:?OUT must name the folder whose files come back}
T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) - 15 )); }
log() { echo "[$(( $(date +%s) - T0 )) s] $*" >> "$OUT/plan.log"; }
mkdir -p /tmp/plan && tar -C /tmp/plan -xJf "$BUNDLE" || { echo "cannot unpack $BUNDLE" >&2; exit 2; }
H=/tmp/plan/harness-linux-x64/harness
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; cat /tmp/plan/harness-linux-x64/COMMIT 2>/dev/null
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>/dev/null; nvcc --version 2>/dev/null | tail -1; } > "$OUT/env.txt" 2>&1

# phase NAME CAP COMMAND...: runs COMMAND with min(CAP, what is left) seconds, logging its exit code and time.
phase() {
  local name=$1 cap=$2; shift 2
  local t; t=$(left); [ "$cap" -lt "$t" ] && t=$cap
  if [ "$t" -lt 20 ]; then log "$name: skipped, $t s left"; return; fi
  log "$name: start (limit $t s)"
  timeout "$t" "$@" > "/tmp/plan/$name.log" 2>&1; log "$name: rc=$? "
}
pack() { tar -C /tmp/plan -czf "$OUT/$1.tgz" "${@:2}" 2>/dev/null; }

for p in "$@"; do
  case $p in
    check) phase check 300 "$H" gpu-check; cp /tmp/plan/check.log "$OUT/gpu-check.txt" ;;
    throughput) phase throughput 330 "$H" run configs/gpu/throughput-60m.yaml --out /tmp/plan/runs; pack throughput runs throughput.log ;;
    bench1b) phase bench1b 400 "$H" bench-step --sets llama-1b,llama-1.5b --out /tmp/plan/step-bench
             phase pytorch1b 120 python3 tests/gpu/pytorch_step_bench.py --sets llama-1.5b --out /tmp/plan/step-bench/pytorch.csv
             pack bench1b step-bench bench1b.log pytorch1b.log ;;
    tc) phase tc 420 env HARNESS_FORGE_TENSOR_CORES=1 "$H" gpu-check --only "tensor-core,MLP weight"; cp /tmp/plan/tc.log "$OUT/gpu-check-tc.txt" ;;
    forge8b) phase forge8b 420 "$H" run configs/gpu/forge-8b.yaml --out /tmp/plan/runs; pack forge8b runs forge8b.log ;;
    fast) phase fast 330 "$H" run configs/gpu/fast-options-60m.yaml --out /tmp/plan/runs; pack fast runs fast.log ;;
    ddp) phase ddp 300 env NCCL_NVLS_ENABLE=0 "$H" run configs/gpu/ddp-tiny.yaml --out /tmp/plan/runs-ddp
         phase ddp1 120 env NCCL_NVLS_ENABLE=0 "$H" run configs/gpu/ddp-tiny.yaml --gpus 1 --out /tmp/plan/runs-ddp
         pack ddp runs-ddp ddp.log ddp1.log ;;
    *) log "unknown phase '$p'" ;;
  esac
done
log "done"
