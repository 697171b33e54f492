"""Training checkpoints: one safetensors file (weights, optimiser moments, RNG) with the run state as JSON.

Written atomically, so a kill at any moment leaves the previous checkpoint intact. No pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from artgen_desktop.engine.fileio import atomic_path


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, out: dict[str, torch.Tensor]) -> dict:
    sd = opt.state_dict()
    for idx, state in sd["state"].items():
        for key, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"{prefix}.{idx}.{key}"] = t.detach().cpu().contiguous()
    return {"param_groups": sd["param_groups"]}


def _restore_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, groups: dict) -> None:
    state: dict[int, dict] = {}
    for name, t in tensors.items():
        if name.startswith(prefix + "."):
            _, idx, key = name.rsplit(".", 2)
            state.setdefault(int(idx), {})[key] = t
    opt.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


def save_state(path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               run: dict) -> None:
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            if v.data_ptr() in seen and k.endswith("head.weight"):
                continue  # tied weights are stored once
            seen.add(v.data_ptr())
            tensors[f"{name}/{k}"] = v.detach().cpu().contiguous()
    groups = {name: _flatten_optimizer(f"opt:{name}", opt, tensors) for name, opt in optimizers.items()}
    tensors["rng/torch"] = torch.get_rng_state()
    meta = {"run": json.dumps(run), "optimizers": json.dumps(groups)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_state(path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for name, module in modules.items():
        sd = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + "/")}
        module.load_state_dict(sd, strict=False)
    groups = json.loads(meta["optimizers"])
    for name, opt in optimizers.items():
        if name in groups:
            _restore_optimizer(f"opt:{name}", opt, tensors, groups[name])
    torch.set_rng_state(tensors["rng/torch"])
    return json.loads(meta["run"])


def peek_run(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["run"])
