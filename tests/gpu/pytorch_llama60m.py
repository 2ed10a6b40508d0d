#!/usr/bin/env python3
"""LLaMA-60M training throughput in PyTorch eager with fused AdamW, for comparison with the harness.

Not part of the product: run on the GPU host in the same call as `harness run configs/gpu/throughput-60m.yaml`
(fp32) and `configs/gpu/throughput-60m-mixed.yaml` (training.dtype mixed). Same model as the harness's LLaMA-60M
(hidden 512, ffn 1376, 8 layers, 8 heads, RMSNorm eps 1e-6, RoPE base 10000, SwiGLU, untied head, GPT-2 vocabulary
50257), same batch (16 × 256 tokens), AdamW(lr 1e-3, fused=True) on fp32 parameters, gradients set to None each step.
Each mode of --autocast trains a fresh model from the same seed: `none` is fp32 eager; `bf16` runs the forward and
the loss under torch.autocast("cuda", torch.bfloat16) (what the harness's `mixed` mirrors: bf16 matmuls, fp32 master
weights and state; no GradScaler, which bf16 does not need). Tokens/s over the timed steps (after untimed warm-up),
with a device synchronisation only at the window edges, as the harness measures it. Random token ids (the data
pipeline is not what is compared).

    python3 tests/gpu/pytorch_llama60m.py [--steps 150 --warmup 10] [--autocast none,bf16] [--out pytorch-llama60m.csv]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, ffn, bias=False)
        self.up = nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)
        self.n1 = RMSNorm(d)
        self.n2 = RMSNorm(d)

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        h = self.n1(x)
        q, k, v = (m(h).view(b, t, self.heads, d // self.heads).transpose(1, 2) for m in (self.q, self.k, self.v))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)
        x = x + self.o(a)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, vocab=50257, d=512, layers=8, heads=8, ffn=1376, seq=256):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        hd = d // heads
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(seq).float(), inv)
        emb = torch.cat((f, f), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, ids):
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.head(self.norm(x))


def run(a, autocast, dev):
    """One mode: a fresh model and optimizer from seed 0; returns (parameters, tokens/s, seconds, last loss)."""
    torch.manual_seed(0)
    model = Llama(vocab=a.vocab, seq=a.seq).to(dev)
    n = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    ids = torch.randint(0, a.vocab, (a.steps + a.warmup, a.batch, a.seq + 1), device=dev)

    def step(i):
        x, y = ids[i, :, :-1], ids[i, :, 1:]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast == "bf16"):
            loss = F.cross_entropy(model(x).view(-1, a.vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for i in range(a.warmup):
        step(i)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        loss = step(i)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    result = n, a.steps * a.batch * a.seq / dt, dt, loss.item()
    del model, opt, ids
    torch.cuda.empty_cache()
    return result


LABELS = {"none": "pytorch-eager-fused-adamw", "bf16": "pytorch-eager-bf16-autocast-fused-adamw"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--autocast", default="none,bf16", help="comma-separated modes: none (fp32 eager), bf16 (autocast)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    modes = a.autocast.split(",")
    bad = [m for m in modes if m not in LABELS]
    if bad:
        ap.error(f"--autocast: unknown mode(s) {', '.join(bad)} (known: {', '.join(LABELS)})")
    dev = torch.device("cuda")
    rows = []
    for mode in modes:
        n, tps, dt, loss = run(a, mode, dev)
        print(f"pytorch eager fused AdamW, autocast {mode}: LLaMA-60M ({n:,} params) {tps:,.0f} tokens/s over {a.steps} steps, "
              f"{dt / a.steps * 1e3:.2f} ms/step, last loss {loss:.3f}", flush=True)
        rows.append(f"{torch.cuda.get_device_name(0)},{LABELS[mode]},{n},{a.steps},{a.batch},{a.seq},{tps:.1f},{dt / a.steps * 1e3:.3f},{torch.__version__}\n")
    if a.out:
        with open(a.out, "w") as f:
            f.write("gpu,implementation,params,steps,batch,seq,tokens_per_s,ms_per_step,torch\n")
            f.writelines(rows)


if __name__ == "__main__":
    main()
