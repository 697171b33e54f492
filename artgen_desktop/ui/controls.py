"""The controls: seed, caption temperature, latent variety, print style (engine/params.py's STYLES) and output
size.

Every change goes straight into AppState as a new Settings; the preview and gallery re-render from
there. When the state changes from elsewhere (a dropped PNG, a favourite) the widgets follow without
echoing the change back.

Under the style combo (given the bridge) a row of live previews, ui/style_row.py, shows the current picture
in every style; clicking one picks that style through the combo: the same change, one undo step.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
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
from artgen_desktop.engine.params import PARAMS, SIZE, STYLES, Param, style_params
from artgen_desktop.engine.presets import Preset, load_preset, save_preset

from .bridge import EngineBridge
from .seed_box import SeedBox
from .state import AppState
from .style_row import StyleRow

# the sliders, their ranges, steps, labels and tooltips all come from the engine's table (params.py)
GENERATION_SLIDERS = ("temperature", "variety")
STYLE_KEYS = tuple(p.name for p in style_params())
OUTPUT_SIZES = SIZE.presets


def make_slider(param: Param) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(param.minimum, param.maximum)
    s.setSingleStep(param.step)
    s.setDecimals(param.decimals)
    s.setToolTip(param.help)
    return s


class ControlsPanel(QWidget):
    message = Signal(str, str)

    def __init__(self, state: AppState, parent: QWidget | None = None, bridge: EngineBridge | None = None):
        super().__init__(parent)
        self.state = state
        self._updating = False
        self.style_row = StyleRow(bridge) if bridge is not None else None

        self.seed_box = SeedBox()
        self.random_button = QToolButton(text="Random", toolTip="Random seed (R)")
        self.prev_seed_button = QToolButton(text="◀", toolTip="Previous seed (←)")
        self.next_seed_button = QToolButton(text="▶", toolTip="Next seed (→)")
        seed_buttons = QHBoxLayout()
        seed_buttons.addWidget(self.prev_seed_button)
        seed_buttons.addWidget(self.next_seed_button)
        seed_buttons.addWidget(self.random_button)
        seed_buttons.addStretch(1)

        self.sliders = {key: make_slider(PARAMS[key]) for key in (*GENERATION_SLIDERS, *STYLE_KEYS)}
        self.mode = QComboBox(toolTip="\n".join(f"{st.label}: {st.help}" for st in STYLES.values()))
        for st in STYLES.values():
            self.mode.addItem(st.label, st.name)
        self.size = QComboBox(toolTip=SIZE.help)
        for px in OUTPUT_SIZES:
            self.size.addItem(f"{px} × {px}", px)
        self.reset_style_button = QPushButton("Reset style")
        self.save_preset_button = QPushButton("Save…", toolTip="Save this style and its settings as a preset file")
        self.load_preset_button = QPushButton("Load…", toolTip="Take the style and settings of a preset file")

        gen_box = QGroupBox("Picture and caption")
        gen = QFormLayout(gen_box)
        gen.addRow("Seed", self.seed_box)
        gen.addRow("", seed_buttons)
        for key in GENERATION_SLIDERS:
            gen.addRow(PARAMS[key].label, self.sliders[key])
        gen.addRow(SIZE.label, self.size)

        style_box = QGroupBox("Print style")
        style = self._style_form = QFormLayout(style_box)
        style.addRow("Style", self.mode)
        if self.style_row is not None:
            style.addRow(self.style_row)
        for key in STYLE_KEYS:
            style.addRow(PARAMS[key].label, self.sliders[key])
        style.addRow("", self.reset_style_button)
        presets = QHBoxLayout()
        presets.addWidget(self.save_preset_button)
        presets.addWidget(self.load_preset_button)
        style.addRow("Preset", presets)

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
        if self.style_row is not None:
            self.style_row.picked.connect(self.pick_style)
        self.save_preset_button.clicked.connect(lambda: self.save_preset())
        self.load_preset_button.clicked.connect(lambda: self.load_preset())
        self.seed_box.valueChanged.connect(state.set_seed)
        self.prev_seed_button.clicked.connect(lambda: state.step_seed(-1))
        self.next_seed_button.clicked.connect(lambda: state.step_seed(1))
        self.random_button.clicked.connect(lambda: state.random_seed())
        state.seed_changed.connect(self.seed_box.setValue)
        state.settings_changed.connect(self.set_from_settings)

    def settings(self) -> Settings:
        v = {key: round(s.value(), PARAMS[key].decimals) for key, s in self.sliders.items()}
        v.update({key: int(v[key]) for key in v if PARAMS[key].kind is int})  # (a slider's value is a float)
        style = EngraveStyle(mode=self.mode.currentData(), **{k: v[k] for k in STYLE_KEYS})
        return Settings(temperature=v["temperature"], variety=v["variety"], size=self.size.currentData(), style=style)

    def set_from_settings(self, settings: Settings) -> None:
        """Shows `settings` without sending them back. Every valid value lies inside its slider's range (one
        table, params.py); finer steps than a slider's are rounded on screen only (the state keeps the exact
        value, e.g. from a PNG made by the command line)."""
        self._updating = True
        try:
            for key in GENERATION_SLIDERS:
                self.sliders[key].setValue(getattr(settings, key))
            for key in STYLE_KEYS:
                self.sliders[key].setValue(getattr(settings.style, key))
            self.mode.setCurrentIndex(max(self.mode.findData(settings.style.mode), 0))
            idx = self.size.findData(settings.size)
            if idx < 0:  # an unusual size from a dropped PNG: offer it rather than silently change it
                self.size.addItem(f"{settings.size} × {settings.size}", settings.size)
                idx = self.size.count() - 1
            self.size.setCurrentIndex(idx)
            self._enable_style_sliders(settings.style.mode)
            if self.style_row is not None:
                self.style_row.set_current(settings.style.mode)
        finally:
            self._updating = False

    def pick_style(self, mode: str) -> None:
        """As choosing `mode` in the style combo (the row of previews does this)."""
        index = self.mode.findData(mode)
        if index >= 0:
            self.mode.setCurrentIndex(index)
        if self.style_row is not None:  # (a click on the style already chosen changes nothing: keep its mark)
            self.style_row.set_current(self.state.settings.style.mode)

    def _commit(self, *_args) -> None:
        if self._updating:
            return
        try:
            settings = self.settings()
        except (ArtGenError, ValueError) as e:
            self.message.emit(str(e), "error")
            return
        self._enable_style_sliders(settings.style.mode)
        self.state.set_settings(settings)

    def _enable_style_sliders(self, mode: str) -> None:
        """Only the sliders of the chosen style's parameters show and can be moved (the raw tone view has none)."""
        own = {p.name for p in STYLES[mode].every} if mode in STYLES else set()
        for key in STYLE_KEYS:
            self.sliders[key].setEnabled(key in own)
            self._style_form.setRowVisible(self.sliders[key], key in own)  # (five styles' sliders: show one's)

    def reset_style(self) -> None:
        s = self.state.settings
        self.state.set_settings(Settings(temperature=s.temperature, variety=s.variety, size=s.size))

    # ---- style presets (engine/presets.py: the same files as the command line's --preset) -------------

    def save_preset(self, path: str | None = None) -> bool:
        style = self.state.settings.style
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save style preset", f"{style.mode}-preset.json",
                                                  "Style presets (*.json)")
            if not path:
                return False
        try:
            save_preset(path, Preset.from_style(style))
        except (ArtGenError, OSError) as e:
            self.message.emit(f"Could not save the style preset: {e}", "error")
            return False
        self.message.emit(f"Saved the {STYLES[style.mode].label} style preset to {path}.", "info")
        return True

    def load_preset(self, path: str | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load style preset", "",
                                                  "Style presets (*.json);;All files (*)")
            if not path:
                return False
        try:
            preset = load_preset(path)
            settings = replace(self.state.settings, style=preset.apply(self.state.settings.style))
        except (ArtGenError, OSError) as e:
            self.message.emit(f"Could not load the style preset: {e}", "error")
            return False
        self.state.set_settings(settings)
        self.message.emit(f"Loaded the {STYLES[preset.style].label} style preset from {path}.", "info")
        return True
