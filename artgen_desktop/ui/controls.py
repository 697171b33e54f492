"""The controls: seed, caption temperature, latent variety, engraving style and output size.

Every change goes straight into AppState as a new Settings; the preview and gallery re-render from
there. When the state changes from elsewhere (a dropped PNG, a favourite) the widgets follow without
echoing the change back.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from artgen_desktop.engine import ArtGenError, EngraveStyle, Settings

from .seed_box import SeedBox
from .state import AppState

OUTPUT_SIZES = (256, 512, 768, 1024, 1536, 2048)


@dataclass(frozen=True)
class SliderSpec:
    label: str
    minimum: float
    maximum: float
    step: float
    decimals: int
    tip: str


SPECS = {
    "temperature": SliderSpec("Temperature", 0.0, 2.0, 0.05, 2,
                              "Caption temperature: how adventurous the words are. 0 = always the most likely "
                              "words (greedy)."),
    "variety": SliderSpec("Variety", 0.0, 2.0, 0.05, 2,
                          "Scale of the seed's noise: lower gives more typical pictures, higher more unusual ones."),
    "spacing": SliderSpec("Line spacing", 1.5, 24.0, 0.5, 1, "Distance between hatching lines (px at 512)."),
    "angle": SliderSpec("Angle", -90.0, 90.0, 1.0, 0, "Direction of the main hatching, in degrees."),
    "cross_threshold": SliderSpec("Cross-hatch", 0.0, 1.0, 0.05, 2,
                                  "Darkness where a second, crossing family of lines starts (1 = never)."),
    "outline": SliderSpec("Outline", 0.0, 6.0, 0.1, 1, "Width of the outlines around forms (0 = none)."),
    "bend": SliderSpec("Bend", 0.0, 4.0, 0.1, 1, "How far lines follow the forms (0 = straight)."),
}
STYLE_KEYS = ("spacing", "angle", "cross_threshold", "outline", "bend")


def make_slider(spec: SliderSpec) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(spec.minimum, spec.maximum)
    s.setSingleStep(spec.step)
    s.setDecimals(spec.decimals)
    s.setToolTip(spec.tip)
    return s


class ControlsPanel(QWidget):
    message = Signal(str, str)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._updating = False

        self.seed_box = SeedBox()
        self.random_button = QToolButton(text="Random", toolTip="Random seed (R)")
        self.prev_seed_button = QToolButton(text="◀", toolTip="Previous seed (←)")
        self.next_seed_button = QToolButton(text="▶", toolTip="Next seed (→)")
        seed_buttons = QHBoxLayout()
        seed_buttons.addWidget(self.prev_seed_button)
        seed_buttons.addWidget(self.next_seed_button)
        seed_buttons.addWidget(self.random_button)
        seed_buttons.addStretch(1)

        self.sliders = {key: make_slider(spec) for key, spec in SPECS.items()}
        self.mode = QComboBox(toolTip="Engraving: hatched lines. Tone: the model's raw light and shade.")
        self.mode.addItem("Engraving", "engraving")
        self.mode.addItem("Raw tone", "tone")
        self.size = QComboBox(toolTip="Size of the preview and of exported pictures, in pixels")
        for px in OUTPUT_SIZES:
            self.size.addItem(f"{px} × {px}", px)
        self.reset_style_button = QPushButton("Reset style")

        gen_box = QGroupBox("Picture and caption")
        gen = QFormLayout(gen_box)
        gen.addRow("Seed", self.seed_box)
        gen.addRow("", seed_buttons)
        for key in ("temperature", "variety"):
            gen.addRow(SPECS[key].label, self.sliders[key])
        gen.addRow("Output size", self.size)

        style_box = QGroupBox("Engraving style")
        style = QFormLayout(style_box)
        style.addRow("Mode", self.mode)
        for key in STYLE_KEYS:
            style.addRow(SPECS[key].label, self.sliders[key])
        style.addRow("", self.reset_style_button)

        layout = QVBoxLayout(self)
        layout.addWidget(gen_box)
        layout.addWidget(style_box)
        layout.addStretch(1)

        self.set_from_settings(state.settings)
        self.seed_box.setValue(state.seed)
        for s in self.sliders.values():
            s.valueChanged.connect(self._commit)
        self.mode.currentIndexChanged.connect(self._commit)
        self.size.currentIndexChanged.connect(self._commit)
        self.reset_style_button.clicked.connect(self.reset_style)
        self.seed_box.valueChanged.connect(state.set_seed)
        self.prev_seed_button.clicked.connect(lambda: state.step_seed(-1))
        self.next_seed_button.clicked.connect(lambda: state.step_seed(1))
        self.random_button.clicked.connect(lambda: state.random_seed())
        state.seed_changed.connect(self.seed_box.setValue)
        state.settings_changed.connect(self.set_from_settings)

    def settings(self) -> Settings:
        v = {key: round(s.value(), SPECS[key].decimals) for key, s in self.sliders.items()}
        style = EngraveStyle(mode=self.mode.currentData(), **{k: v[k] for k in STYLE_KEYS})
        return Settings(temperature=v["temperature"], variety=v["variety"], size=self.size.currentData(), style=style)

    def set_from_settings(self, settings: Settings) -> None:
        """Shows `settings` without sending them back; values outside a slider's range are clamped on screen
        only (the state keeps the exact value, e.g. from a PNG made by the command line)."""
        self._updating = True
        try:
            for key in ("temperature", "variety"):
                self.sliders[key].setValue(getattr(settings, key))
            for key in STYLE_KEYS:
                self.sliders[key].setValue(getattr(settings.style, key))
            self.mode.setCurrentIndex(max(self.mode.findData(settings.style.mode), 0))
            idx = self.size.findData(settings.size)
            if idx < 0:  # an unusual size from a dropped PNG: offer it rather than silently change it
                self.size.addItem(f"{settings.size} × {settings.size}", settings.size)
                idx = self.size.count() - 1
            self.size.setCurrentIndex(idx)
            style_on = settings.style.mode == "engraving"
            for key in STYLE_KEYS:
                self.sliders[key].setEnabled(style_on)
        finally:
            self._updating = False

    def _commit(self, *_args) -> None:
        if self._updating:
            return
        try:
            settings = self.settings()
        except (ArtGenError, ValueError) as e:
            self.message.emit(str(e), "error")
            return
        for key in STYLE_KEYS:
            self.sliders[key].setEnabled(settings.style.mode == "engraving")
        self.state.set_settings(settings)

    def reset_style(self) -> None:
        s = self.state.settings
        self.state.set_settings(Settings(temperature=s.temperature, variety=s.variety, size=s.size))
