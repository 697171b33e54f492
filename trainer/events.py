"""The trainer's progress events, defined once for both ends of the pipe.

`python -m trainer train … --progress-json` prints one JSON object per line on stdout; any other line is
log text. trainer/train.py writes these events, the app's Fine-tune dialog (artgen_desktop/ui/finetune.py)
reads them back with `parse_line`. This module imports neither torch nor Qt, so the app can import it
without loading the trainer.

    {"event": "progress", "stage": "autoencoder", "step": 40, "steps": null, "loss": 0.51, "losses": {…},
     "eta_s": 312.0, "elapsed_s": 48.1}
    {"event": "sample", "path": "…/samples-autoencoder.png", "stage": "autoencoder"}
    {"event": "checkpoint", "path": "…/state.safetensors", "stage": "prior", "step": 12}
    {"event": "done", "model": "…/new.safetensors"}
    {"event": "error", "message": "…"}
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar


@dataclass(frozen=True)
class ProgressEvent:
    kind: ClassVar[str] = "progress"
    stage: str
    step: int
    steps: int | None = None  # None when a time budget, not a step count, ends the stage
    loss: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None  # the stage's time left
    elapsed_s: float | None = None  # the stage's time so far (resumed runs included)


@dataclass(frozen=True)
class SampleEvent:
    kind: ClassVar[str] = "sample"
    path: str
    stage: str = ""


@dataclass(frozen=True)
class CheckpointEvent:
    """The run's state was saved (not a model file): `--resume` with the same --out continues from it."""

    kind: ClassVar[str] = "checkpoint"
    path: str
    stage: str = ""
    step: int = 0


@dataclass(frozen=True)
class DoneEvent:
    kind: ClassVar[str] = "done"
    model: str


@dataclass(frozen=True)
class ErrorEvent:
    kind: ClassVar[str] = "error"
    message: str


Event = ProgressEvent | SampleEvent | CheckpointEvent | DoneEvent | ErrorEvent
KINDS: dict[str, type] = {c.kind: c for c in (ProgressEvent, SampleEvent, CheckpointEvent, DoneEvent, ErrorEvent)}


def to_line(event: Event) -> str:
    """One line of JSON, "event" first (readers may match on the line's start)."""
    return json.dumps({"event": event.kind, **asdict(event)})


def _number(value, kind: type):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    if kind is int:
        return int(value)
    return float(value)


def parse_line(line: str) -> Event | None:
    """The event on `line`, or None when it is log text (or an event this version does not know).

    Unknown fields are ignored and missing optional ones take their defaults, so a newer trainer still
    talks to an older app; a field of the wrong type makes the line log text rather than an exception.
    """
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("event") not in KINDS:
        return None
    cls = KINDS[raw["event"]]
    values = {}
    try:
        for f in fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.type in ("int", "int | None"):
                value = _number(value, int)
                if value is None and f.type == "int":
                    raise TypeError(f.name)
            elif f.type == "float | None":
                value = _number(value, float)
            elif f.type == "str":
                if not isinstance(value, str):
                    raise TypeError(f.name)
            elif f.type == "dict[str, float]":
                if not isinstance(value, dict):
                    raise TypeError(f.name)
                value = {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
            values[f.name] = value
        return cls(**values)
    except (TypeError, ValueError, OverflowError):
        return None


class Pacer:
    """When the next progress line is due: at once, then every `seconds`, so a slow first step or a short
    run still shows steps, loss and time left within seconds."""

    def __init__(self, seconds: float = 1.0):
        self.seconds = seconds
        self._last = -math.inf

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.seconds:
            self._last = now
            return True
        return False
