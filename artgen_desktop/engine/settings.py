"""What makes a picture besides the seed: the print style (EngraveStyle) and the generation settings
(Settings). Plain dataclasses without torch, so a process that only checks options and hands them on (the
CLI's parent of generate workers) does not load it. Ranges and defaults: params.py; the drawing: render.py
and styles/."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import ArtGenError
from .params import DEFAULT_STYLE, GENERATION, PARAMS, STYLES, style_params

MODES = tuple(STYLES)  # the styles EngraveStyle draws; their parameters are in params.py


@dataclass(frozen=True)
class EngraveStyle:
    """A print style's settings: `mode` names the style, the other fields are the styles' parameters (all
    kept while another style is shown, so switching back restores them). Ranges: params.py."""

    spacing: float = PARAMS["spacing"].default  # line pitch, px at 512
    angle: float = PARAMS["angle"].default  # degrees of the main hatching
    cross_threshold: float = PARAMS["cross_threshold"].default  # darkness above which cross-hatching starts
    outline: float = PARAMS["outline"].default  # outline width, px at 512; 0 = none
    bend: float = PARAMS["bend"].default  # how far lines follow forms (0 = straight)
    mode: str = DEFAULT_STYLE  # a style of params.STYLES: its drawing rules are in styles/; "tone": raw, upsampled
    # the other styles' parameters (params.py; shared ones such as spacing and angle are above)
    families: int = PARAMS["families"].default
    line_width: float = PARAMS["line_width"].default
    dot_spacing: float = PARAMS["dot_spacing"].default
    dot_size: float = PARAMS["dot_size"].default
    dot_min: float = PARAMS["dot_min"].default
    contrast: float = PARAMS["contrast"].default
    bold: float = PARAMS["bold"].default
    levels: int = PARAMS["levels"].default
    follow: float = PARAMS["follow"].default  # engraving: hatching turned along the forms (0 = straight)

    def __post_init__(self):
        if not isinstance(self.mode, str) or self.mode not in MODES:
            raise ArtGenError(f"style must be one of {', '.join(MODES)}, not {self.mode!r}")
        for p in style_params():
            p.check(getattr(self, p.name))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EngraveStyle:
        if not isinstance(d, dict):
            raise ArtGenError(f"a style must be a JSON object of settings, not {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Settings:
    """Everything besides the seed that makes a picture. Ranges and defaults: params.py."""

    temperature: float = PARAMS["temperature"].default  # caption sampling; 0 = greedy
    variety: float = PARAMS["variety"].default  # 0 = each seed's typical picture (FlowPrior.sample)
    size: int = PARAMS["size"].default  # output px (square)
    style: EngraveStyle = field(default_factory=EngraveStyle)

    def __post_init__(self):
        for p in GENERATION:
            p.check(getattr(self, p.name))
        if not isinstance(self.style, EngraveStyle):
            raise ArtGenError(f"style must be an EngraveStyle, not {type(self.style).__name__}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["style"] = self.style.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        """Settings from a stored dict (a PNG, history): a missing field takes its default, a wrong one
        is an ArtGenError."""
        if not isinstance(d, dict):
            raise ArtGenError(f"settings must be a JSON object, not {type(d).__name__}")
        try:
            style = EngraveStyle.from_dict(d.get("style", {}))
            return cls(style=style, **{p.name: d[p.name] for p in GENERATION if p.name in d})
        except (TypeError, ValueError) as e:
            raise ArtGenError(f"bad settings: {e}") from None
