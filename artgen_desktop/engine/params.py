"""Every setting an artist can change, defined once: name, type, range, default, step, label and help.

`Settings` and `EngraveStyle` validate against this table, the CLI builds its options from it and the
app its sliders, so the three can no longer disagree. Print styles are groups: each style lists its own
typed parameters (today only the engraving has any; the raw tone view has none).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .errors import ArtGenError


@dataclass(frozen=True)
class Param:
    name: str  # the field in Settings or in the style
    kind: type  # int or float
    minimum: float
    maximum: float
    default: float
    step: float  # one step of the app's slider
    decimals: int  # digits the app shows and keeps
    label: str  # the app's label
    help: str  # the app's tooltip and the CLI's help
    flag: str = ""  # the CLI option's name where it is not the field's (--cross)
    presets: tuple = ()  # values the app offers as a list instead of a slider

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))

    def check(self, value, what: str | None = None):
        """`value` if it is a number of this parameter's type inside its range, else an ArtGenError
        naming `what` (the label by default; the CLI passes its option)."""
        what = what or self.label
        if self.kind is int:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            kind = "a whole number"
        else:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            kind = "a number"
        if not ok:
            raise ArtGenError(f"{what} must be {kind}, not {value!r}")
        if not self.minimum <= value <= self.maximum:
            shown = value if self.kind is int else f"{value:g}"
            raise ArtGenError(f"{what} must be between {self.minimum:g} and {self.maximum:g}, not {shown}")
        return value


@dataclass(frozen=True)
class StyleSpec:
    name: str  # the style's value in settings and for --style
    label: str
    help: str
    params: tuple[Param, ...]


TEMPERATURE = Param("temperature", float, 0.0, 2.0, 0.7, 0.05, 2, "Temperature",
                    "Caption temperature: how adventurous the words are. 0 = always the most likely words (greedy).")
VARIETY = Param("variety", float, 0.0, 2.0, 1.0, 0.05, 2, "Variety",
                "How far a seed strays from typical pictures: 0 gives each seed its typical picture, higher "
                "gives freer variations of it.")
SIZE = Param("size", int, 256, 2048, 512, 256, 0, "Output size",
             "Size of the picture in pixels (square).", presets=(256, 512, 768, 1024, 1536, 2048))
GENERATION: tuple[Param, ...] = (TEMPERATURE, VARIETY, SIZE)

ENGRAVING: tuple[Param, ...] = (
    Param("spacing", float, 1.5, 32.0, 6.0, 0.5, 1, "Line spacing", "Distance between hatching lines (px at 512)."),
    Param("angle", float, -90.0, 90.0, 35.0, 1.0, 0, "Angle", "Direction of the main hatching, in degrees."),
    Param("cross_threshold", float, 0.0, 1.0, 0.55, 0.05, 2, "Cross-hatch",
          "Darkness where a second, crossing family of lines starts (1 = never).", flag="cross"),
    Param("outline", float, 0.0, 8.0, 1.6, 0.1, 1, "Outline",
          "Width of the outlines around forms, px at 512 (0 = none)."),
    Param("bend", float, 0.0, 4.0, 1.0, 0.1, 1, "Bend", "How far lines follow the forms (0 = straight)."),
)

STYLES: dict[str, StyleSpec] = {s.name: s for s in (
    StyleSpec("engraving", "Engraving", "Hatched lines whose width follows the tone.", ENGRAVING),
    StyleSpec("tone", "Raw tone", "The model's raw light and shade, without lines.", ()),
)}
DEFAULT_STYLE = "engraving"

# interpolation strips from the command line (the GIF loops forth and back)
FRAMES = Param("frames", int, 2, 1000, 9, 1, 0, "Frames", "Frames from the first seed to the second, both included.")
FRAME_MS = Param("frame_ms", int, 20, 10000, 120, 10, 0, "Frame time", "Time per frame of the animation, in ms.")

PARAMS: dict[str, Param] = {p.name: p for p in (*GENERATION, *(p for s in STYLES.values() for p in s.params))}


def style_params() -> tuple[Param, ...]:
    """Every style's parameters, in table order (each name once)."""
    return tuple(dict.fromkeys(p for s in STYLES.values() for p in s.params))
