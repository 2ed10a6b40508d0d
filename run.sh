#!/usr/bin/env bash
# Harness entry point. Builds once (incrementally afterwards), then runs the CLI.
#   ./run.sh                 the default experiment (configs/quickstart.yaml) and its report
#   ./run.sh test            the whole test suite (what CI runs)
#   ./run.sh run CONFIG [--set key.path=value]... [--device auto|cpu|cuda|cuda:N] [--gpus N] [--out DIR]
#   ./run.sh reproduce PAPER|PATH [--scale smoke|reduced|paper] [--out DIR] [--set ...]   a paper's claims vs measured
#   ./run.sh validate CONFIG | memory CONFIG [--csv FILE] | list | report DIR | trace-check MANIFEST (--optimizer KEY | --all) | env
#   ./run.sh bench [BenchmarkDotNet args]   CPU step micro-benchmarks; on CUDA also the step-vs-floor benchmark
#   ./run.sh bundle          dist/harness-linux-x64/: a self-contained folder for GPU hosts without .NET
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
CONFIGURATION=Release
CLI="$ROOT/harness/Harness.Cli/bin/$CONFIGURATION/net10.0/harness.dll"
STAMP="$ROOT/harness/Harness.Cli/bin/.build-stamp"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "run.sh: $*" >&2; exit 2; }

check_dotnet() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK 10 is required (dotnet not found on PATH)"
  local major
  major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 10 ]] || die "the .NET SDK 10 or newer is required (found '$(dotnet --version 2>/dev/null)')"
}

# TorchSharp 0.107's native shim was linked by GCC 13 and asks for GLIBCXX_3.4.32 for a marker symbol it
# never calls; older hosts (Debian 12) lack that version. tools/relax_glibcxx.py marks it weak, in the
# NuGet cache copy, so every build output and test run gets a loadable library (see the script's notes).
relax_native() {
  local packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
  local lib="$packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so"
  [[ -f "$lib" ]] || return 0
  local host
  # awk reads to the end (no early exit): an early exit can SIGPIPE ldconfig, which pipefail turns into exit 141.
  host="$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found=1}' || true)"
  [[ -n "$host" ]] || host=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
  [[ -f "$host" ]] || return 0
  if ! grep -q GLIBCXX_3.4.32 "$host"; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed once to adapt TorchSharp's native library to this libstdc++"
    python3 "$ROOT/tools/relax_glibcxx.py" "$lib" "$host" >&2
  fi
}

needs_build() {
  [[ -f "$STAMP" && -f "$CLI" ]] || return 0
  [[ -n "$(find "$ROOT" \( -path "$ROOT/.git" -o -path "$ROOT/runs" -o -path "$ROOT/dist" -o -name bin -o -name obj \) -prune -o \
      \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.gz' -o -name '*.sln' \) \
      -newer "$STAMP" -print -quit)" ]]
}

build() {
  check_dotnet
  if needs_build; then
    echo "run.sh: building ($CONFIGURATION)..." >&2
    dotnet restore Harness.sln --nologo -v q >&2
    relax_native
    dotnet build Harness.sln -c "$CONFIGURATION" --no-restore --nologo -v q -clp:ErrorsOnly >&2
    mkdir -p "$(dirname "$STAMP")" && touch "$STAMP"
  fi
}

cli() { dotnet "$CLI" "$@"; }

run_tests() {
  local log rc
  log="$(mktemp)"
  set +e
  dotnet test tests/Harness.Tests/Harness.Tests.csproj -c "$CONFIGURATION" --no-build --nologo "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  # One plain closing line that any CI reader understands.
  local line passed failed skipped
  line="$(grep -E '(Passed|Failed)! +- Failed: ' "$log" | tail -n 1 || true)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line")"
    passed="$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")"
    skipped="$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")"
    echo "Tests: $passed passed, $failed failed, $skipped skipped"
  fi
  rm -f "$log"
  return "$rc"
}

verb="${1:-}"
case "$verb" in
  "")
    build
    cli run configs/quickstart.yaml
    cli report runs/quickstart
    ;;
  test)
    shift
    build
    run_tests "$@"
    ;;
  build)
    build
    ;;
  bench)
    # CPU micro-benchmarks of every optimizer's step (BenchmarkDotNet), then, where CUDA is present, the
    # optimizer-step benchmark against its memory and matmul floors (harness bench-step). Extra arguments go to
    # BenchmarkDotNet (e.g. --filter '*adamw*'); results land in BenchmarkDotNet.Artifacts/ and runs/step-bench/.
    shift
    build
    dotnet run -c "$CONFIGURATION" --no-build --project optimizers/Harness.Optimizers.Benchmarks -- "$@"
    cli bench-step --if-cuda
    ;;
  bundle)
    # A self-contained, trimmed linux-x64 folder that runs without .NET on a GPU host (README: Running on a GPU server).
    # The kernel sources are compiled as CUDA only there: type-check them here first (clang, CUDA mode), so that a
    # mistake costs seconds, not device time. Without clang the bundle is built unchecked, with a warning.
    set +e; "$ROOT/tools/gpu/cuda-syntax-check.sh" >&2; rc=$?; set -e
    [[ $rc == 1 ]] && die "the kernel sources fail the CUDA check above; no bundle"
    [[ $rc == 2 ]] && echo "run.sh: warning: the kernel sources were not checked as CUDA (no clang++)" >&2
    build
    out="$ROOT/dist/harness-linux-x64"
    rm -rf "$out"
    echo "run.sh: publishing the GPU bundle into $out..." >&2
    dotnet publish harness/Harness.Cli/Harness.Cli.csproj -c "$CONFIGURATION" -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true -p:HarnessBundle=true \
      -p:DebugType=none -p:InvariantGlobalization=true -p:JsonSerializerIsReflectionEnabledByDefault=true --nologo -v q -o "$out/bin" >&2
    # Debugger support libraries are not needed to run and would crowd the size a GPU host can be sent.
    rm -f "$out/bin/libmscordaccore.so" "$out/bin/libmscordbi.so" "$out/bin/createdump"
    cli bundle-assemble "$out" --repo "$ROOT"
    # The GPU host has no checkout: record the commit (and whether the tree had changes) for the manifests.
    { git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown; [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null || true)" ]] && echo dirty || echo clean; } > "$out/COMMIT"
    ;;
  *)
    build
    cli "$@"
    ;;
esac
