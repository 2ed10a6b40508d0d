#!/usr/bin/env python3
"""Records the golden `adafactor` trace from torch.optim.Adafactor (PyTorch >= 2.5) for the harness's trace checker.

    python3 tests/gpu/golden_adafactor.py --golden ../shared/golden [--device cuda]

Teacher-forced on caseA (see tests/gpu/golden_io.py): every parameter goes to torch.optim.Adafactor(foreach=False)
with its defaults except the lr and a weight decay (so the decay path is covered): beta2_decay -0.8, eps
(None -> float32 machine epsilon, 1e-3), d 1.0. The harness's `kind: adafactor` follows exactly this definition,
so the checker's default bound (1e-5) applies. A second key, `adafactor_hf`, is not recorded here: the GaLore
comparison ran HF transformers' Adafactor, which is a different algorithm (see Adafactor.cs's remarks).
"""
import torch

import golden_io

HYPER = {"lr": 0.01, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.01}


def main():
    args = golden_io.arguments(__doc__)
    assert hasattr(torch.optim, "Adafactor"), f"torch.optim.Adafactor needs PyTorch >= 2.5 (this is {torch.__version__})"

    manifest, params, grads = golden_io.load_case(args.golden, args.device)
    h = HYPER
    opt = torch.optim.Adafactor(list(params.values()), lr=h["lr"], beta2_decay=h["beta2_decay"], eps=(None, h["eps2"]),
                                d=h["d"], weight_decay=h["weight_decay"], foreach=False)
    saved = golden_io.teacher_force(manifest, params, grads, opt.step, args.device)
    golden_io.save_entry(args.golden, manifest, "adafactor", "adafactor", h, saved)
    print(f"torch {torch.__version__}, device {args.device}")


if __name__ == "__main__":
    main()
