#!/usr/bin/env python3
"""Records the golden `adam_mini` trace from the authors' Adam-mini for the harness's trace checker.

    git clone https://github.com/zyushun/Adam-mini     # on a machine with network; v1.1.1, @402aadf was read
    python3 tests/gpu/golden_adam_mini.py --golden ../shared/golden --adam-mini path/to/Adam-mini [--device cuda]

The reference is imported from the checkout given (nothing is copied into this repository). Teacher-forced on
caseA (see tests/gpu/golden_io.py) with the model's own dim and heads from the manifest (d 48, 4 heads): its
name rules then partition caseA exactly as the harness's roles and `n_heads` do (embedding and lm_head per row,
q/k per head, v/o/MLP per row, norms one block each). Run it on a host with ONE visible GPU or on CPU: with
several GPUs the reference all-gathers block sizes through torch.distributed, which needs an initialised group.
The arithmetic is plain fp32 tensor ops, so the checker's default bound (1e-5) applies.
"""
import sys

import torch

import golden_io

HYPER = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}


def main():
    args = golden_io.arguments(__doc__, extra=[("--adam-mini", "a checkout of github.com/zyushun/Adam-mini")])
    sys.path.insert(0, args.adam_mini)
    from adam_mini.adam_mini import Adam_mini  # noqa: E402  (the reference, from the given checkout)

    manifest, params, grads = golden_io.load_case(args.golden, args.device)
    model = manifest["model"]
    h = HYPER
    opt = Adam_mini(list(params.items()), lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                    weight_decay=h["weight_decay"], dim=model["d"], n_heads=model["heads"], verbose=False)
    saved = golden_io.teacher_force(manifest, params, grads, opt.step, args.device)
    golden_io.save_entry(args.golden, manifest, "adam_mini", "adam_mini", dict(h, n_heads=model["heads"]), saved)
    print(f"torch {torch.__version__}, device {args.device}")


if __name__ == "__main__":
    main()
