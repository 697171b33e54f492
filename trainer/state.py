"""Training checkpoints: one safetensors file (weights, optimiser moments, RNG) with the run state as JSON.

Written atomically, so a kill at any moment leaves the previous checkpoint intact. No pickle.
Weights holding NaN are never written (the previous checkpoint stays), and a checkpoint that is damaged,
foreign or holds NaN is refused with CheckpointError, which names the file and says how to start over.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from artgen_desktop.engine.fileio import atomic_path
from trainer.errors import CheckpointError, TrainingDiverged

# what train.py keeps in a checkpoint's run state; a file without these is not one of its checkpoints
RUN_FIELDS = {"stage": str, "step": int, "elapsed": dict, "vocab": list, "config": str}


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
    """Raises TrainingDiverged, writing nothing, when a weight is NaN or infinite."""
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            if v.is_floating_point() and not bool(torch.isfinite(v).all()):
                raise TrainingDiverged(f"the weights hold NaN or infinite values ({name}/{k})", path)
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


@contextlib.contextmanager
def _damage_named(path: Path):
    """Turns what a damaged file makes safetensors, json or torch raise into one CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(path, "the file is gone") from None
    except (SafetensorError, OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError,
            RecursionError) as e:
        size = path.stat().st_size if path.exists() else -1
        detail = "the file is empty" if size == 0 else f"{type(e).__name__}: {str(e)[:120]}"
        raise CheckpointError(path, detail) from None


def _check_file(path: Path) -> None:
    if path.exists() and not path.is_file():  # a FIFO would block safetensors' open
        raise CheckpointError(path, "not a regular file")
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(path, "the file is empty")


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor] | None]:
    with _damage_named(path):
        _check_file(path)
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            return meta, {k: f.get_tensor(k) for k in f.keys()}


def _run_of(path: Path, meta: dict) -> dict:
    if "run" not in meta:
        raise CheckpointError(path, "a safetensors file without a training run in it")
    with _damage_named(path):
        run = json.loads(meta["run"])
    if not isinstance(run, dict) or any(not isinstance(run.get(k), t) for k, t in RUN_FIELDS.items()):
        raise CheckpointError(path, "its run state lacks " + ", ".join(
            k for k, t in RUN_FIELDS.items() if not isinstance(run, dict) or not isinstance(run.get(k), t)))
    return run


def load_state(path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """The run state; modules, optimisers and the RNG restored. CheckpointError for a damaged, foreign or
    non-finite checkpoint (checked before anything is restored)."""
    path = Path(path)
    meta, tensors = _read(path)
    run = _run_of(path, meta)
    for k, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(path, f"it holds NaN or infinite values ({k}): saved from a diverged run")
    saved = {name: {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + "/")}
             for name in modules}
    if not any(saved.values()):
        raise CheckpointError(path, "no weights in it")
    with _damage_named(path):
        for name, module in modules.items():
            if not saved[name]:
                continue  # a part added since (say, a critic switched on at resume) starts afresh
            missing, _ = module.load_state_dict(saved[name], strict=False)
            missing = [k for k in missing if not k.endswith("head.weight")]  # tied weights are stored once
            if missing:
                raise CheckpointError(path, f"{name} tensors missing: {', '.join(missing[:3])}")
        groups = json.loads(meta["optimizers"])
        for name, opt in optimizers.items():
            if name in groups:
                _restore_optimizer(f"opt:{name}", opt, tensors, groups[name])
        torch.set_rng_state(tensors["rng/torch"])
    return run


def peek_run(path) -> dict:
    """The run state alone (stage, step, vocabulary, config); CheckpointError if the file is not usable."""
    path = Path(path)
    with _damage_named(path):
        _check_file(path)
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    return _run_of(path, meta)
