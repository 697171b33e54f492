"""Every setting an artist can change, defined once: name, type, range, default, step, label and help.

`Settings` and `EngraveStyle` validate against this table, the CLI builds its options from it and the
app its sliders, so the three can no longer disagree. Print styles are groups: each style lists its own
typed parameters (the raw tone view has none); a style may also use (`shared`) parameters of a style
listed before it (spacing, angle): one entry, one CLI option, one slider.
The styles' drawing rules are in engine/styles/.
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
    params: tuple[Param, ...]  # its own
    shared: tuple[Param, ...] = ()  # parameters of an earlier style that this one uses too

    @property
    def every(self) -> tuple[Param, ...]:
        """All the parameters the style uses."""
        return (*self.shared, *self.params)


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
    Param("bend", float, 0.0, 4.0, 1.0, 0.1, 1, "Bend", "How far lines bow over the forms (0 = straight)."),
    Param("follow", float, 0.0, 1.0, 0.0, 0.05, 2, "Follow form",
          "How far the hatching turns to run along the forms' contours, as a burin follows them "
          "(0 = every line at the set angle)."),
)

SPACING, ANGLE = ENGRAVING[0], ENGRAVING[1]
LINE_WIDTH = Param("line_width", float, 0.3, 4.0, 1.5, 0.1, 1, "Line width",
                   "Width of every line, px at 512 (cross-hatch and contour styles).")
CROSSHATCH: tuple[Param, ...] = (
    Param("families", int, 2, 4, 3, 1, 0, "Line families",
          "How many families of lines cross; each starts at a darker tone than the one before."),
    LINE_WIDTH,
)
STIPPLE: tuple[Param, ...] = (
    Param("dot_spacing", float, 2.0, 16.0, 4.0, 0.5, 1, "Dot spacing",
          "Distance between dots in the darkest tones (px at 512); lighter tones get fewer dots."),
    Param("dot_size", float, 1.0, 8.0, 3.0, 0.1, 1, "Dot size", "Diameter of the largest dots, px at 512."),
    Param("dot_min", float, 0.2, 1.0, 0.5, 0.05, 2, "Smallest dot",
          "Size of the dots in the palest tones, as a fraction of the largest."),
)
WOODCUT: tuple[Param, ...] = (
    Param("contrast", float, 1.0, 4.0, 2.0, 0.1, 1, "Contrast",
          "How quickly the cut white lines close up into solid black masses."),
    Param("bold", float, 0.0, 12.0, 3.0, 0.5, 1, "Bold outline",
          "Width of the black outlines around forms, px at 512 (0 = none)."),
)
CONTOUR: tuple[Param, ...] = (
    Param("levels", int, 2, 16, 6, 1, 0, "Levels", "How many iso-tone levels get a contour line."),
)

STYLES: dict[str, StyleSpec] = {s.name: s for s in (
    StyleSpec("engraving", "Engraving", "Hatched lines whose width follows the tone.", ENGRAVING),
    StyleSpec("crosshatch", "Cross-hatch", "Families of thin lines at different angles, switched on by tone.",
              CROSSHATCH, shared=(SPACING, ANGLE)),
    StyleSpec("stipple", "Stipple", "Dots whose density and size follow the tone.", STIPPLE),
    StyleSpec("woodcut", "Woodcut", "White lines cut into black masses, with bold outlines.", WOODCUT,
              shared=(SPACING, ANGLE)),
    StyleSpec("contour", "Contour", "Lines along iso-tone contours at several levels.", CONTOUR,
              shared=(LINE_WIDTH,)),
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
