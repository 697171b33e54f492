"""Style presets: a print style and its parameters as a small JSON file, to keep a look and share it.

    {"artgen": "style-preset", "version": 1, "style": "stipple",
     "params": {"dot_spacing": 4.0, "dot_size": 3.0, "dot_min": 0.5}}

- `params` holds the parameters the style uses (params.py's `StyleSpec.every`), each checked against the
  parameter table on load: an unknown style or key, a value of the wrong type or out of its range is an
  ArtGenError naming the file and the field. A parameter left out takes the table's default (a preset
  saved before a style gained a parameter still loads); a preset never carries another style's settings.
- A preset file is read only if it is a regular file, and at most MAX_PRESET_BYTES of it: a huge,
  binary, deeply nested or otherwise damaged file is a clear error, never a hang or a traceback.
- Saving writes atomically (engine/fileio.py): the old file or the whole new one, never half.
No Qt, no torch: the CLI (`--preset`, `--save-preset`) and the app's Save/Load style preset use this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ArtGenError
from .fileio import open_regular, write_text_atomic
from .params import STYLES

KIND = "style-preset"  # the value of "artgen": what the file is
VERSION = 1
MAX_PRESET_BYTES = 64 << 10  # a preset is a few hundred bytes
_FIELDS = ("artgen", "version", "style", "params")


@dataclass(frozen=True)
class Preset:
    style: str  # a style of params.STYLES
    params: dict = field(default_factory=dict)  # every parameter the style uses -> its value, checked

    def __post_init__(self):  # (a preset made in code is checked as one read from a file)
        object.__setattr__(self, "params", _check(self.style, self.params, ""))

    @classmethod
    def from_style(cls, style) -> Preset:
        """The preset of an EngraveStyle: its mode and the values of the parameters that mode uses."""
        spec = STYLES.get(style.mode)
        if spec is None:
            raise ArtGenError(f"style must be one of {', '.join(STYLES)}, not {style.mode!r}")
        return cls(style.mode, {p.name: getattr(style, p.name) for p in spec.every})

    def apply(self, style=None):
        """`style` (an EngraveStyle; the default one if None) in this preset's style and parameters; the
        parameters of the other styles stay as they were, so switching back restores them."""
        from .settings import EngraveStyle
        return replace(style if style is not None else EngraveStyle(), mode=self.style, **self.params)

    def to_json(self) -> str:
        return json.dumps({"artgen": KIND, "version": VERSION, "style": self.style, "params": self.params},
                          indent=2, ensure_ascii=True) + "\n"


def _check(style, params, where: str) -> dict:
    """The parameters of `style` from `params`, each checked by the table; missing ones take defaults."""
    if not isinstance(style, str) or style not in STYLES:
        raise ArtGenError(f"{where}style must be one of {', '.join(STYLES)}, not {_short(style)}")
    if not isinstance(params, dict):
        raise ArtGenError(f"{where}params must be a JSON object of named values, not {_short(params)}")
    spec = STYLES[style]
    known = {p.name: p for p in spec.every}
    for key in params:
        if key not in known:
            theirs = ", ".join(known) if known else "none"
            raise ArtGenError(f"{where}params: {_short(key)} is not a parameter of the {style} style "
                              f"(its parameters: {theirs})")
    out = {}
    for name, p in known.items():
        value = p.check(params.get(name, p.default), f"{where}{name}")
        out[name] = float(value) if p.kind is float else int(value)
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ArtGenError(f"has the field {_short(key)} twice")
        seen[key] = value
    return seen


def parse_preset(data: bytes | str, name: str = "preset") -> Preset:
    """A preset from a file's bytes; `name` (the file) starts every error message."""
    where = f"{name}: "
    if isinstance(data, bytes):
        if len(data) > MAX_PRESET_BYTES:
            raise ArtGenError(f"{where}too large to be a style preset (over {MAX_PRESET_BYTES // 1024} KiB)")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ArtGenError(f"{where}not a style preset (not UTF-8 text)") from None
    try:
        doc = json.loads(data, object_pairs_hook=_no_duplicates)
    except ArtGenError as e:
        raise ArtGenError(f"{where}not a style preset ({e})") from None
    except json.JSONDecodeError as e:
        raise ArtGenError(f"{where}not a style preset (not JSON: {e.msg} at line {e.lineno} column {e.colno})") \
            from None
    except (ValueError, RecursionError):  # a number too long to convert, nesting too deep
        raise ArtGenError(f"{where}not a style preset (damaged JSON)") from None
    if not isinstance(doc, dict) or doc.get("artgen") != KIND:
        raise ArtGenError(f'{where}not an ArtGen style preset (no "artgen": "{KIND}" in it)')
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtGenError(f"{where}version must be a whole number from 1, not {_short(version)}")
    if version > VERSION:
        raise ArtGenError(f"{where}a style preset of version {version}, made by a newer ArtGen (this one reads "
                          f"version {VERSION})")
    extra = [k for k in doc if k not in _FIELDS]
    if extra:
        raise ArtGenError(f"{where}unknown field {_short(extra[0])} (a style preset has {', '.join(_FIELDS)})")
    if "style" not in doc:
        raise ArtGenError(f"{where}names no style")
    # checked here with the file's name in the messages (the Preset checks them again, quietly)
    return Preset(doc["style"], _check(doc["style"], doc.get("params", {}), where))


def load_preset(path) -> Preset:
    """The preset in a file, checked; any problem is an ArtGenError naming the file and the field."""
    path = Path(path)
    f = open_regular(path, "style preset")  # (regular files only: a FIFO would hang, a device never end)
    try:
        with f:
            data = f.read(MAX_PRESET_BYTES + 1)
    except OSError as e:
        raise ArtGenError(f"{path}: cannot be read ({e.strerror or e})") from None
    return parse_preset(data, str(path))


def save_preset(path, preset) -> Path:
    """Writes `preset` (a Preset, or an EngraveStyle whose preset it is) to `path` atomically."""
    if not isinstance(preset, Preset):
        preset = Preset.from_style(preset)
    path = Path(path)
    if path.is_dir():
        raise ArtGenError(f"{path}: is a folder, not a file name for the style preset")
    try:
        write_text_atomic(path, preset.to_json())
    except OSError as e:
        raise ArtGenError(f"cannot write the style preset {path}: {e.strerror or e}") from None
    return path
