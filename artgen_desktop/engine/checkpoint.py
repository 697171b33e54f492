"""Model files: safetensors weights with the config, vocabulary and training summary in the header.

Never pickle. Loading checks everything a hand-made or damaged file can get wrong and raises
ModelFileError with the file name and the problem, in words an artist can act on: the header's structure,
then the config (config_check.py) before any module is built, then the model is built under an allocation
budget set by the tensors the file holds (a config cannot ask for more memory than its file brings), and
only then are the tensors read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from .config_check import ConfigError, check_config
from .errors import NOT_A_MODEL, ModelFileError
from .fileio import atomic_path
from .model import ArtGenModel, ModelConfig
from .tokenizer import Tokenizer

FORMAT = "artgen-desktop"
FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000
# bytes per element of the dtypes a safetensors header may name
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}


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


def _json(text, path: Path, what: str):
    """Parsed JSON, or ModelFileError: deep nesting is refused like any other damage."""
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(path, f"{NOT_A_MODEL} ({what} is unreadable)") from None


def _read_header(path: Path) -> dict:
    """The safetensors header, its structure checked: a metadata table of texts, and tensors whose shapes,
    dtypes and data offsets fit the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if n == 0 or n > _MAX_HEADER or n > size - 8:
            # torch.save writes a zip ("PK") or a raw pickle (protocol byte 0x80)
            if head[:2] == b"PK" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
                raise ModelFileError(path, "this is a pickled PyTorch checkpoint; ArtGen loads only "
                                           ".safetensors model files (pickle can run code when loaded)")
            if len(head) < 8:
                raise ModelFileError(path, f"{NOT_A_MODEL} (the file is too short: empty or cut off)")
            raise ModelFileError(path, f"{NOT_A_MODEL} (it does not start like a .safetensors model)")
        raw = f.read(n)
    header = _json(raw, path, "its header")
    if not isinstance(header, dict):
        raise ModelFileError(path, f"{NOT_A_MODEL} (its header is not a table)")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError(path, f"{NOT_A_MODEL} (its header's metadata is not a table of texts)")
    data_size = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        problem = _tensor_entry_problem(entry)
        if problem:
            raise ModelFileError(path, f"{NOT_A_MODEL} (tensor {_short(name)}: {problem})")
        if entry["data_offsets"][1] > data_size:
            raise ModelFileError(path, "file is truncated (tensor data ends early); download or copy it again")
    return header


def _tensor_entry_problem(entry) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return "its entry is not dtype, shape and data_offsets"
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPE_BYTES:
        return f"unknown dtype {_short(dtype)}"
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        return "its shape is not a list of sizes"
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        return "bad data_offsets"
    if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[dtype]:
        return "its data_offsets do not match its shape"
    return None


def _short(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def file_hash(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:10]


def read_info(path) -> tuple[ModelInfo, Tokenizer]:
    """Reads the header only (fast): config, vocabulary, summary."""
    info, tokenizer, _ = _read(Path(path))
    return info, tokenizer


def _read(path: Path) -> tuple[ModelInfo, Tokenizer, dict]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except OSError as e:
        raise ModelFileError(path, f"cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(path, "is a folder, not a model file")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read, a device never end
        raise ModelFileError(path, f"{NOT_A_MODEL} (not a regular file)")
    try:
        header = _read_header(path)
    except ModelFileError:
        raise
    except OSError as e:
        raise ModelFileError(path, f"cannot be read ({e.strerror or e})") from None
    meta = header.get("__metadata__", {})
    if meta.get("format") != FORMAT:
        raise ModelFileError(path, "a safetensors file, but not an ArtGen model (no ArtGen metadata)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(path, f"model format version {_short(meta.get('format_version'))!r} is not "
                                   f"supported by this version of ArtGen (expects {FORMAT_VERSION})")
    for key in ("config", "vocab"):
        if key not in meta:
            raise ModelFileError(path, f"{NOT_A_MODEL} (damaged model metadata: no {key})")
    raw_config = _json(meta["config"], path, "its config")
    try:
        check_config(raw_config)  # types and sane sizes, before anything is built from them
        config = ModelConfig.from_json(meta["config"])
    except (ConfigError, TypeError, ValueError) as e:
        raise ModelFileError(path, f"{NOT_A_MODEL}: {e}") from None
    words = _json(meta["vocab"], path, "its vocabulary")
    summary = _json(meta.get("summary", "{}"), path, "its training summary")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ModelFileError(path, f"{NOT_A_MODEL} (damaged model metadata: the vocabulary is not a list of words)")
    if not isinstance(summary, dict):
        raise ModelFileError(path, f"{NOT_A_MODEL} (damaged model metadata: the summary is not a table)")
    try:
        tokenizer = Tokenizer(words)
    except ValueError as e:
        raise ModelFileError(path, f"{NOT_A_MODEL} (damaged model metadata: {e})") from None
    if config.vocab_size != len(tokenizer):
        raise ModelFileError(path, f"config says {config.vocab_size} words but the vocabulary has {len(tokenizer)}")
    info = ModelInfo(str(path), config, summary, file_hash(path), st.st_size)
    return info, tokenizer, header


class _ModelTooLarge(Exception):
    pass


class _AllocationBudget(TorchFunctionMode):
    """Refuses, before it is made, any tensor that would take construction past `limit` elements.

    The config's bounds (config_check.py) stop absurd single fields; this stops absurd combinations
    (a flat latent behind wide 1024 px layers is terabytes from in-range fields) whatever the architecture."""

    _FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full}

    def __init__(self, limit: int):
        super().__init__()
        self.left = limit

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._FACTORIES:
            size = kwargs.get("size", args[0] if func is torch.full or (len(args) == 1 and not
                                                                          isinstance(args[0], int)) else args)
            try:
                n = math.prod(int(d) for d in (size if isinstance(size, (tuple, list, torch.Size)) else [size]))
            except (TypeError, ValueError):
                n = 0
            self.left -= n
            if self.left < 0:
                raise _ModelTooLarge
        return func(*args, **kwargs)


def _build(path: Path, config: ModelConfig, header: dict) -> ArtGenModel:
    """The model the config describes, allowed at most twice the elements the file holds (the tied
    caption head is built before it is tied, so counts twice) plus a little for small buffers."""
    held = sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    try:
        with _AllocationBudget(2 * held + 1_000_000):
            return ArtGenModel(config)
    except _ModelTooLarge:
        raise ModelFileError(path, f"{NOT_A_MODEL} (its settings describe a model far larger than the "
                                   "weights the file holds)") from None
    except ValueError as e:
        raise ModelFileError(path, f"invalid model config ({e})") from None


def load_checkpoint(path, device: str | torch.device = "cpu") -> tuple[ArtGenModel, Tokenizer, ModelInfo]:
    path = Path(path)
    info, tokenizer, header = _read(path)
    model = _build(path, info.config, header)
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for damaged data
        raise ModelFileError(path, f"{NOT_A_MODEL} (cannot read its tensors: {_short(str(e))})") from None
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
    model.captioner.tie_weights()
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
