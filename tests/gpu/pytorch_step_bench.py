#!/usr/bin/env python3
"""PyTorch's own AdamW step on the step benchmark's parameter sets, for `harness bench-step --compare`.

Not part of the product: a comparison script run on the GPU host beside the harness, in the same call, so
that both are timed on the same GPU. Same parameter shapes (harness/Harness.Core/Bench/ParameterSets.cs),
same row-structured synthetic gradients, same protocol: untimed warm-up steps, then every step timed with
CUDA events and the median reported; the transient is the allocator peak of one extra step minus what was
allocated before it. Writes the harness's step-bench CSV columns (the bandwidth column is filled in by the
harness with its own measurement).

    python3 tests/gpu/pytorch_step_bench.py --out pytorch-step-bench.csv [--sets llama-60m,gpt2-124m,llama-1b,llama-1.5b]
"""
import argparse
import csv
import statistics

import torch


def gpt2():
    d, vocab, ctx = 768, 50257, 1024
    shapes = [(vocab, d), (ctx, d)]
    for _ in range(12):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return shapes + [(d,), (d,)]


def llama():
    d, ffn, kv, vocab = 2048, 8192, 512, 128256
    shapes = [(vocab, d)]
    for _ in range(16):
        shapes += [(d, d), (kv, d), (kv, d), (d, d), (ffn, d), (ffn, d), (d, ffn), (d,), (d,)]
    return shapes + [(d,), (vocab, d)]


def llama_preset(d, ffn, layers, vocab=32000):
    """GaLore's llama_60m / llama_1b as the harness's presets build them (LlamaConfig.ParameterShapes), vocab 32000."""
    shapes = [(vocab, d)]
    for _ in range(layers):
        shapes += [(d, d), (d, d), (d, d), (d, d), (ffn, d), (ffn, d), (d, ffn), (d,), (d,)]
    return shapes + [(d,), (vocab, d)]


SETS = {
    "llama-60m": lambda: llama_preset(512, 1376, 8),
    "gpt2-124m": gpt2,
    "llama-1b": lambda: llama_preset(2048, 5461, 24),
    "llama-1.5b": llama,
}


def bench(shapes, variant, warmup, steps, dtype):
    dev = torch.device("cuda")
    gen = torch.Generator().manual_seed(1234)
    params, grads = [], []
    for s in shapes:
        p = (torch.randn(s, device=dev) * 0.02).to(dtype).requires_grad_(True)
        rows = s[0] if len(s) == 2 else 1
        scale = (torch.randn(rows, 1, generator=gen) * 1.5).exp_().mul_(1e-3).to(dev)
        g = (torch.randn((s if len(s) == 2 else (1, s[0])), device=dev) * scale).reshape(s).to(dtype)
        p.grad = g
        params.append(p)
        grads.append(g)
    kwargs = {"fused": variant == "fused", "foreach": variant == "foreach"} if variant != "for-loop" else {"foreach": False, "fused": False}
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, **kwargs)
    for _ in range(warmup):
        opt.step()
    torch.cuda.synchronize()
    events = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)]
    events[0].record()
    for i in range(steps):
        opt.step()
        events[i + 1].record()
    torch.cuda.synchronize()
    times = sorted(events[i].elapsed_time(events[i + 1]) for i in range(steps))
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    opt.step()
    torch.cuda.synchronize()
    transient = torch.cuda.max_memory_allocated() - before
    state = sum(t.numel() * t.element_size() for st in opt.state.values() for t in st.values() if torch.is_tensor(t) and t.dim() > 0)
    n = sum(p.numel() for p in params)
    pbytes = sum(p.numel() * p.element_size() for p in params)
    gbytes = sum(g.numel() * g.element_size() for g in grads)
    del opt, params, grads
    torch.cuda.empty_cache()
    return n, statistics.median(times), times[0], state, transient, 2 * pbytes + gbytes + 2 * state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--variants", default="fused,foreach")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args()
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[a.dtype]
    gpu = torch.cuda.get_device_name(0)
    cols = ["gpu", "parameter_set", "parameters", "optimizer", "implementation", "dtype", "steps", "median_ms", "min_ms", "state_bytes",
            "transient_bytes", "bytes_moved", "bandwidth_bytes_per_s", "floor_ms", "ratio_to_floor", "source"]
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for name in a.sets.split(","):
            for variant in a.variants.split(","):
                n, med, mn, state, transient, moved = bench(SETS[name](), variant, a.warmup, a.steps, dtype)
                print(f"{name:11s} torch AdamW {variant:8s} {med:9.3f} ms  state {state:,} B  transient {transient:,} B", flush=True)
                w.writerow([gpu, name, n, "adamw", f"pytorch-{variant}", a.dtype, a.steps, med, mn, state, transient, moved, 1, "", "",
                            f"torch {torch.__version__}"])


if __name__ == "__main__":
    main()
