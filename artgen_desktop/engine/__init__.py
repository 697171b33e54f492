"""The generative engine: no Qt; torch where it computes. Its public API is what the GUI, CLI and scripts use.

Names are loaded on first use (PEP 562), each from the module below: checking seeds, settings and output
folders (seeds.py, settings.py, export.py) does not load torch, so the CLI's parent of generate workers
starts them without waiting for it.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "checkpoint": ("ModelInfo", "bundled_model_path", "load_checkpoint", "read_info", "resource_path",
                   "save_checkpoint"),
    "engine": ("Engine", "Result", "pick_device", "set_threads"),
    "errors": ("ArtGenError", "ModelFileError", "SeedError"),
    "export": ("ExportWriter", "export_results"),
    "model": ("ArtGenModel", "ModelConfig"),
    "pngmeta": ("read_png_metadata", "write_png"),
    "render": ("engrave",),
    "sampling": ("EASINGS",),
    "seeds": ("MAX_SEED", "check_seed", "parse_seeds"),
    "settings": ("EngraveStyle", "Settings"),
    "tokenizer": ("Tokenizer",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
