"""The style picker's live previews: the current picture in every print style, small; a click picks that style.

Each thumbnail is the preview's picture (its stored 8-bit tone, so no network runs) rendered by the engine
thread in one style with that style's current parameters (the style fields the settings hold), box-filtered
down like the gallery's thumbnails. They follow the preview: when a picture of another seed, temperature,
variety or model comes, or one whose style parameters differ, the thumbnails it changes show a plain
placeholder and are asked for THUMBS_AFTER_MS after the last such picture (a slider drag asks once, when it
rests). A thumbnail of a picture that is no longer the current one is dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QToolButton, QWidget

from artgen_desktop.engine.params import STYLES

from .bridge import THUMB_RENDER_SIZE, EngineBridge, Picture, StyleThumb

STYLE_THUMB_PX = 72
THUMBS_AFTER_MS = 200  # the pause after the last new picture before its thumbnails are asked for
COLUMNS = 3  # two rows of three fit the controls' column; six in a line would widen it
PLACEHOLDER = QColor(0xD8, 0xD8, 0xD8)  # neutral grey: nothing drawn yet


def thumb_key(picture: Picture, mode: str) -> tuple | None:
    """What `mode`'s thumbnail of a picture depends on: the picture's tone (model, seed, frame, temperature,
    variety) and the values of that style's own parameters; None for a picture without its stored tone."""
    r = picture.result
    if r is None:
        return None
    s = picture.settings
    own = tuple(getattr(s.style, p.name) for p in STYLES[mode].every)
    return r.model.hash, picture.seed, r.seed_b, r.t, s.temperature, s.variety, mode, own


def placeholder(px: int = STYLE_THUMB_PX) -> QPixmap:
    pixmap = QPixmap(px, px)
    pixmap.fill(PLACEHOLDER)
    return pixmap


class StyleRow(QWidget):
    picked = Signal(str)  # a style's name (params.STYLES), clicked

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None, thumb_px: int = STYLE_THUMB_PX):
        super().__init__(parent)
        self.bridge = bridge
        self.thumb_px = thumb_px
        self.images: dict[str, QImage | None] = dict.fromkeys(STYLES)  # None: pending (the placeholder shows)
        self.keys: dict[str, Any] = dict.fromkeys(STYLES)  # thumb_key of what each thumbnail shows or awaits
        self._picture: Picture | None = None  # the newest picture, asked for when the timer fires
        self._request: int | None = None  # the last request for thumbnails
        self._timer = QTimer(self, singleShot=True, interval=THUMBS_AFTER_MS)
        self._timer.timeout.connect(self._ask)

        self.buttons: dict[str, QToolButton] = {}
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for i, spec in enumerate(STYLES.values()):
            b = QToolButton(text=spec.label, toolTip=f"{spec.label}: {spec.help}", checkable=True, autoRaise=True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            b.setIconSize(QSize(thumb_px, thumb_px))
            b.setIcon(QIcon(placeholder(thumb_px)))
            b.clicked.connect(lambda _checked=False, name=spec.name: self.picked.emit(name))
            self.group.addButton(b)
            self.buttons[spec.name] = b
            grid.addWidget(b, i // COLUMNS, i % COLUMNS)

        bridge.preview_ready.connect(self.show_picture)
        bridge.style_thumb_ready.connect(self._on_thumb)

    def set_current(self, mode: str) -> None:
        """Marks the chosen style (without sending `picked`)."""
        if mode in self.buttons:
            self.buttons[mode].setChecked(True)

    def pending(self) -> list[str]:
        """The styles whose thumbnail of the current picture has not come yet."""
        return [name for name, image in self.images.items() if image is None]

    def show_picture(self, picture: Picture) -> None:
        """A new preview picture: the thumbnails it changes are asked for once pictures stop coming a moment."""
        keys = {name: thumb_key(picture, name) for name in STYLES}
        changed = [name for name, key in keys.items() if key is not None and key != self.keys[name]]
        if not changed:  # (e.g. only the chosen style or the size changed): nothing new to draw
            return
        self._picture = picture
        for name in changed:  # the old thumbnail shows another picture: the placeholder until the new one comes
            self.keys[name] = keys[name]
            self._set_image(name, None)
        self._timer.start()  # (restarted by every new picture: a drag asks once, when it rests)

    def _ask(self) -> None:
        picture, names = self._picture, self.pending()
        if picture is None or picture.result is None or not names:
            return
        # every pending style, also those a replaced request had not drawn yet
        styles = [(self.keys[name], replace(picture.settings.style, mode=name)) for name in names]
        self._request = self.bridge.request_style_thumbs(picture.result.tone, styles, THUMB_RENDER_SIZE,
                                                         self.thumb_px)

    def _on_thumb(self, _request_id: int, thumb: StyleThumb) -> None:
        if thumb.mode not in self.keys or thumb.key != self.keys[thumb.mode]:  # of a picture no longer shown
            return
        self._set_image(thumb.mode, thumb.image)

    def _set_image(self, name: str, image: QImage | None) -> None:
        self.images[name] = image
        pixmap = placeholder(self.thumb_px) if image is None else QPixmap.fromImage(image)
        self.buttons[name].setIcon(QIcon(pixmap))
