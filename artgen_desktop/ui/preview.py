"""The preview: the current seed large, its caption and seed, copy / save / favourite.

It asks the bridge for a new picture whenever the seed or the settings change, also while a slider is
dragged; the bridge drops requests a newer one has overtaken and shows each picture that finishes, so
the preview follows the drag at the seed-to-picture latency. Each picture keeps the seed and settings
that made it (what Save and Favourite use). The previous picture is dimmed only when a new one is slow
to come, so a drag does not flicker. Save as writes a PNG at once; an SVG (a large picture's vectors take
a while) is written on the engine thread, and its message comes when it is on disk.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from artgen_desktop.engine import ArtGenError, write_png

from .bridge import SAVE, EngineBridge, ModelDescription, Picture
from .image_view import ImageView
from .library import Entry, Library
from .prefs import Preferences
from .state import AppState
from .userdata import default_export_dir

DIM_AFTER_MS = 300  # a picture slower than this to replace is dimmed, so the artist sees one is on its way


class PreviewPanel(QWidget):
    message = Signal(str, str)  # text, level
    picture_shown = Signal(object)  # Picture
    more_like = Signal(object)  # seed: find seeds like it in the atlas (ui/atlas_search.py)
    saved = Signal(object)  # Path: a Save as is on disk (an SVG's comes after save_as returned)

    def __init__(self, state: AppState, bridge: EngineBridge, library: Library, prefs: Preferences,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.bridge, self.library, self.prefs = state, bridge, library, prefs
        self.picture: Picture | None = None
        self._model: ModelDescription | None = None
        self._request: int | None = None
        self._saves: dict[int, Path] = {}  # SVG saves on the engine thread: request id -> file
        self._dim_timer = QTimer(self, singleShot=True, interval=DIM_AFTER_MS)
        self._dim_timer.timeout.connect(lambda: self.image_view.set_dimmed(True))

        self.image_view = ImageView("No model loaded yet")
        self.caption_label = QLabel(wordWrap=True)
        self.caption_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.caption_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setItalic(True)
        self.caption_label.setFont(font)
        self.caption_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.seed_label = QLabel()
        self.seed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seed_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.copy_caption_button = QPushButton("Copy caption")
        self.copy_seed_button = QPushButton("Copy seed")
        self.save_button = QPushButton("Save as…", toolTip="Save this picture as a PNG that remembers its "
                                                           "seed and settings (Ctrl+S)")
        self.favourite_button = QPushButton("☆ Favourite", checkable=True, toolTip="Keep this seed and settings "
                                                                                   "in Favourites (F)")
        self.more_like_button = QPushButton("More like this", toolTip="Seeds whose pictures are most like this one, "
                                                                      "from the seed atlas")
        buttons = QHBoxLayout()
        for b in (self.copy_caption_button, self.copy_seed_button, self.save_button, self.favourite_button,
                  self.more_like_button):
            buttons.addWidget(b)
        # picture, caption and buttons stay together, centred; the picture takes the largest square that fits
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.image_view, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption_label)
        layout.addWidget(self.seed_label)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._buttons = buttons

        self.copy_caption_button.clicked.connect(self.copy_caption)
        self.copy_seed_button.clicked.connect(self.copy_seed)
        self.save_button.clicked.connect(lambda: self.save_as())
        self.favourite_button.clicked.connect(self.toggle_favourite)
        self.more_like_button.clicked.connect(lambda: self.picture and self.more_like.emit(self.picture.seed))
        state.seed_changed.connect(lambda _: self.refresh())
        state.settings_changed.connect(lambda _: self.refresh())
        bridge.preview_ready.connect(self._on_picture)
        bridge.model_loaded.connect(self._on_model)
        bridge.saved.connect(self._on_saved)
        bridge.failed.connect(self._on_save_failed)
        library.favourites.changed.connect(self._update_favourite_button)
        self._set_enabled(False)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_image()

    def _fit_image(self) -> None:
        m = self.layout().contentsMargins()
        width = self.width() - m.left() - m.right()
        below = (self.caption_label.heightForWidth(width) + self.seed_label.sizeHint().height()
                 + self._buttons.sizeHint().height() + 4 * self.layout().spacing())
        side = max(160, min(width, self.height() - m.top() - m.bottom() - below))
        self.image_view.setFixedSize(side, side)

    def refresh(self) -> None:
        if self._model is None:
            return
        if not self._dim_timer.isActive():  # not restarted per request: a drag dims only if pictures stop coming
            self._dim_timer.start()
        self._request = self.bridge.request_preview(self.state.seed, self.state.settings)

    def _on_model(self, desc: ModelDescription) -> None:
        self._model = desc
        self.refresh()

    def is_current(self, picture: Picture | None) -> bool:
        """Made with the seed and settings the state holds now (not an in-between picture of a drag)."""
        return picture is not None and picture.seed == self.state.seed and picture.settings == self.state.settings

    def _on_picture(self, picture: Picture) -> None:
        self.picture = picture
        current = self.is_current(picture)
        self._dim_timer.stop()
        if not current:  # more is on its way: dim only if it is slow to come
            self._dim_timer.start()
        self.image_view.set_image(picture.image)
        self.caption_label.setText(picture.caption)
        self.seed_label.setText(f"Seed {picture.seed}")
        self._fit_image()  # a longer caption may need another line
        self._set_enabled(True)
        self._update_favourite_button()
        if current:  # history keeps where the artist stopped, not every position a drag passed
            self.library.history.record(self._entry())
        self.picture_shown.emit(picture)

    def _set_enabled(self, on: bool) -> None:
        for b in (self.copy_caption_button, self.copy_seed_button, self.save_button, self.favourite_button,
                  self.more_like_button):
            b.setEnabled(on)

    def _entry(self) -> Entry:
        p = self.picture
        assert p is not None
        return Entry(p.seed, p.settings.to_dict(), p.caption, self._model.name if self._model else "")

    def _update_favourite_button(self) -> None:
        on = self.picture is not None and self.library.favourites.contains(self.picture.seed,
                                                                         self.picture.settings.to_dict())
        self.favourite_button.setChecked(on)
        self.favourite_button.setText("★ Favourite" if on else "☆ Favourite")

    # ---- actions ---------------------------------------------------------------------------------------

    def copy_caption(self) -> None:
        if self.picture:
            QGuiApplication.clipboard().setText(self.picture.caption)

    def copy_seed(self) -> None:
        if self.picture:
            QGuiApplication.clipboard().setText(str(self.picture.seed))

    def toggle_favourite(self) -> None:
        if self.picture:
            added = self.library.favourites.toggle(self._entry())
            self.message.emit(f"Seed {self.picture.seed} {'added to' if added else 'removed from'} Favourites",
                              "info")
        self._update_favourite_button()

    def save_as(self, path: str | Path | None = None) -> Path | None:
        """Saves the shown picture as a PNG (or, named .svg, an SVG) with its parameters embedded; None asks
        for a file name. Returns the file's path (None: not saved). A PNG is on disk when this returns; an SVG
        is written on the engine thread, then `saved` is sent, or an error message if it could not be."""
        if self.picture is None or self.picture.result is None:
            return None
        if path is None:
            folder = Path(self.prefs.get("save_dir", str(default_export_dir())))
            suggested = str(folder / f"seed-{self.picture.seed:06d}.png")
            name, kind = QFileDialog.getSaveFileName(self, "Save picture", suggested,
                                                     "PNG images (*.png);;SVG vectors (*.svg)")
            if not name:
                return None
            if kind.startswith("SVG") and not name.lower().endswith(".svg"):
                name = str(Path(name).with_suffix(".svg"))
            path = name
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_suffix(".png")
        result = self.picture.result
        if path.suffix.lower() == ".svg":  # on the engine thread: the window stays live meanwhile
            self._saves[self.bridge.request_save_svg(result, path)] = path
            return path
        try:
            write_png(path, result.image, result.metadata)
        except (OSError, ArtGenError) as e:
            self._save_failed(path, getattr(e, "strerror", None) or str(e))
            return None
        self._saved(path)
        return path

    def saves_pending(self) -> bool:
        return bool(self._saves)

    def _on_saved(self, request_id: int, _path: str) -> None:
        if request_id in self._saves:
            self._saved(self._saves.pop(request_id))

    def _on_save_failed(self, request_id: int, channel: str, message: str) -> None:
        if channel == SAVE and request_id in self._saves:
            self._save_failed(self._saves.pop(request_id), message)

    def _saved(self, path: Path) -> None:
        self.prefs.set("save_dir", str(path.parent))
        self.message.emit(f"Saved {path}", "info")
        self.saved.emit(path)

    def _save_failed(self, path: Path, reason: str) -> None:
        self.message.emit(f"Could not save {path}: {reason}", "error")
