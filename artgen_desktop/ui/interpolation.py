"""Interpolation: slide between seed A and seed B, see the live picture and caption, make a filmstrip,
export its frames and an animated GIF or WebP.

Every frame records what remakes it: seed A (`seed`), `seed_b` and `t`, the position between them with
the easing already applied (artgen_desktop/engine/engine.py, Result.metadata). A restored frame comes
back here, at exactly that t.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from artgen_desktop.engine import EASINGS, ArtGenError, check_seed

from .bridge import EngineBridge, ModelDescription, Picture
from .export_progress import ExportProgress
from .image_view import ImageView
from .prefs import Preferences
from .preview import DIM_AFTER_MS
from .seed_box import SeedBox
from .state import AppState
from .userdata import default_export_dir

FRAME_ICON_PX = 96


def frame_from_metadata(meta: dict) -> tuple[int, float] | None:
    """(seed B, t) when a picture's metadata is an interpolation frame's, None for a seed's own picture."""
    if meta.get("seed_b") is None:
        return None
    t = meta.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 1:
        raise ArtGenError(f"its interpolation position t must be a number from 0 to 1, not {t!r}")
    return check_seed(meta["seed_b"]), float(t)


class InterpolationPanel(QWidget):
    message = Signal(str, str)
    strip_shown = Signal(list)  # list[Picture]

    def __init__(self, state: AppState, bridge: EngineBridge, prefs: Preferences, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.bridge, self.prefs = state, bridge, prefs
        self.frames: list[Picture] = []
        self.live: Picture | None = None
        self._model: ModelDescription | None = None
        self._strip_request: int | None = None
        self._strip_key: tuple = ()  # (seed A, seed B, easing) the filmstrip was made with
        self._exact_t: float | None = None  # a restored frame's t, which the 2-decimal slider cannot hold
        self.export: ExportProgress | None = None

        self.seed_a, self.seed_b = SeedBox(), SeedBox()
        self.seed_a.setValue(state.seed)
        self.seed_b.setValue(state.seed + 1)
        self.use_a = QPushButton("Use current", toolTip="Seed A = the seed selected in the gallery")
        self.use_b = QPushButton("Use current", toolTip="Seed B = the seed selected in the gallery")
        self.swap_button = QToolButton(text="⇅", toolTip="Swap A and B")
        seeds = QGridLayout()
        seeds.addWidget(QLabel("Seed A"), 0, 0)
        seeds.addWidget(self.seed_a, 0, 1)
        seeds.addWidget(self.use_a, 0, 2)
        seeds.addWidget(QLabel("Seed B"), 1, 0)
        seeds.addWidget(self.seed_b, 1, 1)
        seeds.addWidget(self.use_b, 1, 2)
        seeds.addWidget(self.swap_button, 0, 3, 2, 1)
        seeds.setColumnStretch(1, 1)

        self.image_view = ImageView("Pick two seeds and move the slider")
        self._dim_timer = QTimer(self, singleShot=True, interval=DIM_AFTER_MS)  # as the preview: no flicker
        self._dim_timer.timeout.connect(lambda: self.image_view.set_dimmed(True))
        self.caption_label = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignHCenter)
        self.caption_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.position.setRange(0.0, 1.0)
        self.position.setSingleStep(0.01)
        self.position.setDecimals(2)
        self.position.setToolTip("Position between A (0) and B (1)")

        self.frame_count = QSpinBox(minimum=2, maximum=120, value=9,
                                    toolTip="Frames in the filmstrip, A and B included")
        self.easing = QComboBox(toolTip="How the frames are spaced between A and B")
        self.easing.addItems(list(EASINGS))
        self.easing.setCurrentText("ease-in-out")
        self.strip_status = QLabel()
        self.filmstrip = QListWidget()
        self.filmstrip.setViewMode(QListView.ViewMode.IconMode)
        self.filmstrip.setFlow(QListView.Flow.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setMovement(QListView.Movement.Static)
        self.filmstrip.setIconSize(QSize(FRAME_ICON_PX, FRAME_ICON_PX))
        self.filmstrip.setFixedHeight(FRAME_ICON_PX + 44)
        self.anim_format = QComboBox(toolTip="Animation format")
        self.anim_format.addItem("GIF", "gif")
        self.anim_format.addItem("WebP", "webp")
        self.anim_format.addItem("No animation", None)
        self.frame_ms = QSpinBox(minimum=20, maximum=2000, value=120, suffix=" ms", toolTip="Time per frame")
        self.export_button = QPushButton("Export frames…")

        strip_form = QFormLayout()
        strip_row = QHBoxLayout()
        strip_row.addWidget(self.frame_count)
        strip_row.addWidget(self.easing, 1)
        strip_form.addRow("Frames", strip_row)
        export_row = QHBoxLayout()
        export_row.addWidget(self.anim_format)
        export_row.addWidget(self.frame_ms)
        export_row.addWidget(self.export_button, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(seeds)
        layout.addWidget(self.image_view, 1)
        layout.addWidget(self.caption_label)
        layout.addWidget(self.position)
        layout.addLayout(strip_form)
        layout.addWidget(self.filmstrip)
        layout.addWidget(self.strip_status)
        layout.addLayout(export_row)

        self.use_a.clicked.connect(lambda: self.seed_a.setValue(state.seed))
        self.use_b.clicked.connect(lambda: self.seed_b.setValue(state.seed))
        self.swap_button.clicked.connect(self.swap)
        self.seed_a.valueChanged.connect(self._inputs_changed)
        self.seed_b.valueChanged.connect(self._inputs_changed)
        self.position.valueChanged.connect(self._position_moved)
        self.frame_count.valueChanged.connect(lambda _: self.refresh_strip())
        self.easing.currentIndexChanged.connect(lambda _: self.refresh_strip())
        self.export_button.clicked.connect(lambda: self.export_frames())
        self.filmstrip.currentRowChanged.connect(self._show_frame)
        state.settings_changed.connect(self._inputs_changed)
        bridge.live_ready.connect(self._on_live)
        bridge.strip_ready.connect(self._on_strip)
        bridge.model_loaded.connect(self._on_model)
        bridge.failed.connect(self._on_failed)
        self._update_buttons()

    # ---- inputs ----------------------------------------------------------------------------------------

    def set_seeds(self, a: int | None = None, b: int | None = None) -> None:
        if a is not None:
            self.seed_a.setValue(a)
        if b is not None:
            self.seed_b.setValue(b)

    def show_frame(self, seed_a: int, seed_b: int, t: float) -> None:
        """Shows the frame at exactly `t` between the seeds (a restored picture); the slider shows t rounded."""
        for box, seed in ((self.seed_a, seed_a), (self.seed_b, seed_b)):
            box.blockSignals(True)
            box.setValue(seed)
            box.blockSignals(False)
        self.position.blockSignals(True)
        self.position.setValue(t)
        self.position.blockSignals(False)
        self._exact_t = t
        self.strip_status.setText(f"Frame between seeds {seed_a} and {seed_b} at t = {t:.3f}, from a picture.")
        self._inputs_changed()

    def position_value(self) -> float:
        return self._exact_t if self._exact_t is not None else self.position.value()

    def _position_moved(self, _value: float) -> None:
        self._exact_t = None
        # the picture is the slider's now, not a frame's: no frame stays highlighted as if it were shown
        self.filmstrip.blockSignals(True)
        self.filmstrip.setCurrentRow(-1)
        self.filmstrip.blockSignals(False)
        self.refresh_live()

    def swap(self) -> None:
        a, b = self.seed_a.value(), self.seed_b.value()
        self.seed_a.blockSignals(True)
        self.seed_a.setValue(b)
        self.seed_a.blockSignals(False)
        self.seed_b.setValue(a)
        if a == b:
            self._inputs_changed()

    def _inputs_changed(self, *_args) -> None:
        self.refresh_live()
        self.refresh_strip()

    def _strip_current(self) -> bool:
        if not self.frames or self.frames[0].result is None:
            return False
        r = self.frames[0].result
        return (len(self.frames) == self.frame_count.value() and r.settings == self.state.settings
                and self._strip_key == (self.seed_a.value(), self.seed_b.value(), self.easing.currentText()))

    def _update_buttons(self) -> None:
        self.export_button.setEnabled(self._model is not None and self._strip_current())

    # ---- rendering -------------------------------------------------------------------------------------

    def _on_model(self, desc: ModelDescription) -> None:
        self._model = desc
        self.frames = []
        self.filmstrip.clear()
        self._update_buttons()
        self._inputs_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_live()  # changes made while the tab was hidden were not rendered
        if not self._strip_current():
            self.refresh_strip()

    def refresh_live(self) -> None:
        if self._model is None or not self.isVisible():
            return  # hidden: no point rendering a picture nobody sees while sliders are dragged elsewhere
        if not self._dim_timer.isActive():
            self._dim_timer.start()
        self.bridge.request_live(self.seed_a.value(), self.seed_b.value(), self.position_value(),
                                 self.state.settings)

    def refresh_strip(self) -> None:
        """Re-makes the filmstrip when anything it depends on changes, while the tab is on screen."""
        self._update_buttons()
        if self.isVisible():
            self.make_strip()

    def make_strip(self) -> int | None:
        if self._model is None:
            return None
        self._strip_key = (self.seed_a.value(), self.seed_b.value(), self.easing.currentText())
        self.strip_status.setText("Rendering the filmstrip…")
        self._strip_request = self.bridge.request_strip(self.seed_a.value(), self.seed_b.value(),
                                                        self.frame_count.value(), self.easing.currentText(),
                                                        self.state.settings)
        return self._strip_request

    def _on_live(self, picture: Picture) -> None:
        self.live = picture
        self._dim_timer.stop()
        self.image_view.set_image(picture.image)
        self.caption_label.setText(picture.caption)

    def _on_strip(self, pictures: list[Picture]) -> None:
        self.frames = pictures
        self.filmstrip.clear()
        for i, p in enumerate(pictures):
            icon = QIcon(QPixmap.fromImage(p.image.scaled(FRAME_ICON_PX, FRAME_ICON_PX,
                                                          Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.SmoothTransformation)))
            item = QListWidgetItem(icon, f"{i + 1}")
            item.setToolTip(f"{p.label}\n{p.caption}")
            self.filmstrip.addItem(item)
        self.strip_status.setText(f"{len(pictures)} frames, {self.easing.currentText()}. Click a frame to view it.")
        self._update_buttons()
        self.strip_shown.emit(pictures)

    def _show_frame(self, row: int) -> None:
        if 0 <= row < len(self.frames):
            p = self.frames[row]
            self.image_view.set_image(p.image)
            self.caption_label.setText(p.caption)
            if p.result is not None and p.result.t is not None:
                # the slider goes to the frame (its eased t, exactly: a live render there remakes this frame)
                self.position.blockSignals(True)
                self.position.setValue(p.result.t)
                self.position.blockSignals(False)
                self._exact_t = p.result.t

    def _on_failed(self, request_id: int, channel: str, message: str) -> None:
        if channel in ("live", "strip"):
            self.strip_status.setText(f"Could not render: {message}")

    # ---- export ----------------------------------------------------------------------------------------

    def export_frames(self, folder: str | Path | None = None) -> int | None:
        if not self._strip_current():
            self.message.emit("Wait for the filmstrip to finish rendering, then export.", "warning")
            return None
        if folder is None:
            start = self.prefs.get("export_dir", str(default_export_dir()))
            folder = QFileDialog.getExistingDirectory(self, "Export frames to folder", start)
            if not folder:
                return None
        self.prefs.set("export_dir", str(folder))
        results = [p.result for p in self.frames if p.result is not None]
        request = self.bridge.request_frames_export(results, self.seed_b.value(), folder,
                                                    self.anim_format.currentData(), self.frame_ms.value())
        self.export = ExportProgress(self.bridge, request, "Exporting frames", len(results) + 1, self)
        self.export.ended.connect(self.message)
        return request
