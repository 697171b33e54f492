"""Model files: safetensors weights with the config, vocabulary and training summary in the header.

Never pickle. Loading checks everything a hand-made or damaged file can get wrong and raises
ModelFileError with the file name and the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import ModelFileError
from .fileio import atomic_path
from .model import ArtGenModel, ModelConfig
from .tokenizer import Tokenizer

FORMAT = "artgen-desktop"
FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000


@dataclass
class ModelInfo:
    path: str | None
    config: ModelConfig
    summary: dict = field(default_factory=dict)
    hash: str = ""  # first 10 hex digits of the file's sha256, as other generators print it
    size_bytes: int = 0

    @property
    def name(self) -> str:
        return Path(self.path).stem if self.path else "unsaved"


TIED = "captioner.head.weight"  # shares the token embedding's storage; not stored twice


def save_checkpoint(path, model: ArtGenModel, tokenizer: Tokenizer, summary: dict | None = None,
                    dtype: torch.dtype = torch.float32) -> None:
    """Writes atomically: a reader never sees half a model file. float16 halves the file for shipping."""
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.cfg.to_json(),
        "vocab": json.dumps(tokenizer.words),
        "summary": json.dumps(summary or {}, sort_keys=True),
    }
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in model.state_dict().items() if k != TIED}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def _read_header(path: Path) -> dict:
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if n == 0 or n > _MAX_HEADER or n > path.stat().st_size - 8:
            # torch.save writes a zip ("PK") or a raw pickle (protocol byte 0x80)
            if head[:2] == b"PK" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
                raise ModelFileError(path, "this is a pickled PyTorch checkpoint; ArtGen loads only "
                                           ".safetensors model files (pickle can run code when loaded)")
            if len(head) < 8:
                raise ModelFileError(path, "file is too short to be a safetensors model (empty or truncated)")
            raise ModelFileError(path, "not a safetensors file (bad header length)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(path, "not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "not a safetensors file (header is not a JSON object)")
    # the data section must hold every tensor the header promises
    ends = [v["data_offsets"][1] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v]
    if ends and 8 + n + max(ends) > path.stat().st_size:
        raise ModelFileError(path, "file is truncated (tensor data ends early); download or copy it again")
    return header


def file_hash(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:10]


def read_info(path) -> tuple[ModelInfo, Tokenizer]:
    """Reads the header only (fast): config, vocabulary, summary."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "no such file")
    if path.is_dir():
        raise ModelFileError(path, "is a folder, not a model file")
    meta = _read_header(path).get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ModelFileError(path, "a safetensors file, but not an ArtGen model (no ArtGen metadata)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(path, f"model format version {meta.get('format_version')!r} is not supported "
                                   f"by this version of ArtGen (expects {FORMAT_VERSION})")
    try:
        config = ModelConfig.from_json(meta["config"])
        tokenizer = Tokenizer(json.loads(meta["vocab"]))
        summary = json.loads(meta.get("summary", "{}"))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(path, f"damaged model metadata ({e})") from None
    if config.vocab_size != len(tokenizer):
        raise ModelFileError(path, f"config says {config.vocab_size} words but the vocabulary has {len(tokenizer)}")
    info = ModelInfo(str(path), config, summary, file_hash(path), path.stat().st_size)
    return info, tokenizer


def load_checkpoint(path, device: str | torch.device = "cpu") -> tuple[ArtGenModel, Tokenizer, ModelInfo]:
    info, tokenizer = read_info(path)
    try:
        model = ArtGenModel(info.config)
    except ValueError as e:
        raise ModelFileError(path, f"invalid model config ({e})") from None
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for damaged data
        raise ModelFileError(path, f"cannot read tensors ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors) - {TIED})
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {', '.join(unexpected[:3])}{' …' if len(unexpected) > 3 else ''}")
        raise ModelFileError(path, "weights do not match the model config: " + "; ".join(parts))
    for name, t in tensors.items():
        want = expected[name]
        if t.shape != want.shape:
            raise ModelFileError(path, f"tensor {name} has shape {tuple(t.shape)}, "
                                       f"the config needs {tuple(want.shape)}")
        if not t.is_floating_point():
            raise ModelFileError(path, f"tensor {name} has dtype {t.dtype}, expected floating point")
        if not torch.isfinite(t).all():
            raise ModelFileError(path, f"tensor {name} holds NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    model.captioner.head.weight = model.captioner.tok_emb.weight
    model.eval().to(device)
    return model, tokenizer, info


def resource_path(*parts: str) -> Path:
    """A file under resources/ (models, icons): inside the installed package or a source checkout."""
    from importlib.resources import files
    # an installed wheel holds artgen_desktop/resources; a source checkout has resources/ beside the package
    roots = (Path(str(files("artgen_desktop"))) / "resources", Path(__file__).resolve().parents[2] / "resources")
    for root in roots:
        if root.joinpath(*parts).exists():
            return root.joinpath(*parts)
    return roots[0].joinpath(*parts)


def bundled_model_path() -> Path:
    """resources/models/default.safetensors, or the file ARTGEN_DEFAULT_MODEL names."""
    env = os.environ.get("ARTGEN_DEFAULT_MODEL")
    if env:
        return Path(env)
    return resource_path("models", "default.safetensors")
