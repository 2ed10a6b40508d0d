"""Shared plumbing of the golden-trace recorders (tests/gpu/golden_*.py): safetensors I/O, the teacher-forced
loop and the manifest entry, in the format of shared/golden/README.md.

A recorder builds a reference optimizer over the parameters of caseA, and this module feeds it the recorded
gradients `g.<t>.<param>` from `p0.<param>` at the manifest's constant lr, saves `p.<k>.<param>` at the
checkpoints into `caseA.<key>.safetensors` and adds `<key>: {kind, hyperparameters, checkpoints}` to
`caseA.manifest.json`. Needs only torch (no safetensors package). float32 on the device given (CPU is fine:
these traces are tiny; a GPU run records what the GPU's kernels compute).
"""
import argparse
import json
import os
import struct

import torch

_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=_DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_case(golden_dir, device):
    """The manifest, the parameters (name -> nn.Parameter from p0, in manifest order) and the gradient file."""
    manifest_path = os.path.join(golden_dir, "caseA.manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    grads = read_safetensors(os.path.join(golden_dir, "caseA.gradients.safetensors"))
    params = {p["name"]: torch.nn.Parameter(grads[f"p0.{p['name']}"].to(device)) for p in manifest["params"]}
    return manifest, params, grads


def role(name, manifest):
    """The harness's role of a parameter, as its trace checker assigns them (TraceChecker.RoleOf)."""
    if name in manifest["low_rank_targets"]:
        return "matrix"
    if "embed_tokens" in name:
        return "embedding"
    if "lm_head" in name:
        return "output_head"
    return "vector"


def teacher_force(manifest, params, grads, step, device):
    """Runs `step()` (one optimizer step of every optimizer the recorder built) on the recorded gradients.
    Returns {p.<k>.<param>} at the checkpoints."""
    checkpoints = set(manifest["model"]["checkpoints"])
    saved = {}
    for t in range(manifest["model"]["steps"]):
        for name, p in params.items():
            p.grad = grads[f"g.{t}.{name}"].to(device).clone()
        step()
        for p in params.values():
            p.grad = None
        if t + 1 in checkpoints:
            for name, p in params.items():
                saved[f"p.{t + 1}.{name}"] = p.detach().clone()
    return saved


def save_entry(golden_dir, manifest, key, kind, hyperparameters, saved):
    """Writes caseA.<key>.safetensors and the manifest entry (hyperparameter keys = the harness's snake_case options)."""
    write_safetensors(os.path.join(golden_dir, f"caseA.{key}.safetensors"), saved)
    manifest.setdefault("optimizers", {})[key] = {
        "kind": kind,
        "hyperparameters": hyperparameters,
        "checkpoints": manifest["model"]["checkpoints"],
    }
    with open(os.path.join(golden_dir, "caseA.manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote caseA.{key}.safetensors ({len(saved)} tensors) and its manifest entry")


def arguments(doc, *, device=True, extra=()):
    """The recorders' command line: --golden (and --device unless the reference must run on the CPU), plus
    (flag, help) pairs of required paths."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", required=True, help="the shared/golden folder (caseA.manifest.json is updated)")
    if device:
        ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    for flag, text in extra:
        ap.add_argument(flag, required=True, help=text)
    return ap.parse_args()
