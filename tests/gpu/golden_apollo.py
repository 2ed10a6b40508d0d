#!/usr/bin/env python3
"""Records the golden `apollo` and `apollo_mini` traces from the authors' APOLLO for the harness's trace checker.

    git clone https://github.com/zhuhanqing/APOLLO       # on a machine with network; @76b3472 was read
    python3 tests/gpu/golden_apollo.py --golden ../shared/golden --apollo path/to/APOLLO

Runs on the CPU on purpose: the reference draws its random projections from a generator on the parameter's
device, and the harness draws them from a CPU generator (bit-identical to PyTorch's CPU one), so only a CPU
recording uses the same projections. `apollo_torch/apollo.py` and its two projector modules are loaded from the
checkout without running the package's __init__ (which imports bitsandbytes for an unrelated optimizer); its one
use of transformers (a torch version check) is stubbed when transformers is not installed.

Teacher-forced on caseA (see tests/gpu/golden_io.py). One parameter group per parameter, in manifest order, so
the reference numbers the parameters 1, 2, ... exactly as the harness seeds them (seed 0 + index + 1); the
manifest's low-rank targets get the projection (the harness's Matrix role), the rest plain Adam. Gap 4 so the
12 steps cross three projections and the seed chain. Expected agreement: float32 rounding (bound 1e-5).
"""
import importlib.util
import os
import sys
import types

import torch

import golden_io

COMMON = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.01, "update_proj_gap": 4}
CASES = {
    "apollo": dict(COMMON, rank=8, scale_type="channel", scale=1.0, scale_front=False),
    "apollo_mini": dict(COMMON, variant="mini", rank=1, scale_type="tensor", scale=128.0, scale_front=True),
}


def load_reference(checkout):
    """apollo_torch.apollo.AdamW from the checkout, without the package __init__."""
    try:
        import transformers.utils.versions  # noqa: F401
    except ImportError:
        for name in ("transformers", "transformers.utils", "transformers.utils.versions"):
            sys.modules[name] = types.ModuleType(name)
        sys.modules["transformers.utils.versions"].require_version = lambda *a, **k: None
    package = types.ModuleType("apollo_torch")
    package.__path__ = [os.path.join(checkout, "apollo_torch")]
    sys.modules["apollo_torch"] = package
    for name in ("svd_projector", "random_projector", "apollo"):
        spec = importlib.util.spec_from_file_location(f"apollo_torch.{name}", os.path.join(checkout, "apollo_torch", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"apollo_torch.{name}"] = module
        spec.loader.exec_module(module)
    return sys.modules["apollo_torch.apollo"].AdamW


def main():
    args = golden_io.arguments(__doc__, device=False, extra=[("--apollo", "a checkout of github.com/zhuhanqing/APOLLO")])
    ApolloAdamW = load_reference(args.apollo)

    for key, h in CASES.items():
        manifest, params, grads = golden_io.load_case(args.golden, "cpu")
        groups = []
        for name, p in params.items():
            if golden_io.role(name, manifest) == "matrix":
                groups.append({"params": [p], "rank": h["rank"], "update_proj_gap": h["update_proj_gap"], "scale": h["scale"],
                               "proj_type": "std", "proj": "random", "scale_type": h["scale_type"]})
            else:
                groups.append({"params": [p]})
        opt = ApolloAdamW(groups, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                          weight_decay=h["weight_decay"], scale_front=h["scale_front"])
        saved = golden_io.teacher_force(manifest, params, grads, opt.step, "cpu")
        golden_io.save_entry(args.golden, manifest, key, "apollo", h, saved)
    print(f"torch {torch.__version__}, cpu")


if __name__ == "__main__":
    main()
