#!/usr/bin/env python3
"""Records the golden `muon` trace from torch.optim.Muon (PyTorch >= 2.9) for the harness's trace checker.

    python3 tests/gpu/golden_muon.py --golden ../shared/golden [--device cuda]

Teacher-forced on caseA (see tests/gpu/golden_io.py): the manifest's low-rank targets (every attention and MLP
weight, the harness's Matrix role) go to torch.optim.Muon with its Newton-Schulz in bfloat16 (torch has no
other dtype) and adjust_lr_fn "original" (sqrt(max(1, A/B)), as KellerJordan/Muon muon.py); the embedding, the
head and the norms go to torch.optim.AdamW(foreach=False) with muon.py's auxiliary-Adam settings, exactly as
the harness's `kind: muon` composes them. The manifest entry says `ns_dtype: bfloat16`, so the checker (on the
CPU, where `auto` would pick float32) replays the bf16 iteration too; CPU and CUDA bf16 matmuls still round
differently, so the bound must allow bf16 rounding: expect a relative error around 1e-2, not 1e-5 (add the
kind to TraceChecker.ToleranceFor when the trace lands).
"""
import torch

import golden_io

HYPER = {"lr": 0.02, "momentum": 0.95, "nesterov": True, "weight_decay": 0.01,
         "adam_lr": 3e-3, "adam_betas": [0.9, 0.95], "adam_eps": 1e-10, "adam_weight_decay": 0.0,
         "adjust_lr": "original", "ns_steps": 5}


def main():
    args = golden_io.arguments(__doc__)
    assert hasattr(torch.optim, "Muon"), f"torch.optim.Muon needs PyTorch >= 2.9 (this is {torch.__version__})"

    manifest, params, grads = golden_io.load_case(args.golden, args.device)
    matrices = [p for n, p in params.items() if golden_io.role(n, manifest) == "matrix"]
    others = [p for n, p in params.items() if golden_io.role(n, manifest) != "matrix"]
    h = HYPER
    muon = torch.optim.Muon(matrices, lr=h["lr"], weight_decay=h["weight_decay"], momentum=h["momentum"],
                            nesterov=h["nesterov"], ns_steps=h["ns_steps"], adjust_lr_fn=h["adjust_lr"])
    adam = torch.optim.AdamW(others, lr=h["adam_lr"], betas=tuple(h["adam_betas"]), eps=h["adam_eps"],
                             weight_decay=h["adam_weight_decay"], foreach=False)

    def step():
        muon.step()
        adam.step()

    saved = golden_io.teacher_force(manifest, params, grads, step, args.device)
    hyper = dict(h, ns_dtype="bfloat16")
    golden_io.save_entry(args.golden, manifest, "muon", "muon", hyper, saved)
    print(f"torch {torch.__version__}, device {args.device}")


if __name__ == "__main__":
    main()
