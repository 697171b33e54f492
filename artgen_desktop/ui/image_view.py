"""A widget that shows one image as large as fits, keeping its aspect ratio, on a paper-like ground."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class ImageView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._image = QImage()
        self._placeholder = placeholder
        self._dimmed = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage) -> None:
        self._image = image
        self._dimmed = False
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def set_dimmed(self, dimmed: bool) -> None:
        """Dimmed while a newer picture renders, so the artist sees the old one is on its way out."""
        if dimmed != self._dimmed:
            self._dimmed = dimmed
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(512, 512)

    def target_rect(self) -> QRect:
        side = min(self.width(), self.height())
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        rect = self.target_rect()
        if self._image.isNull():
            p.fillRect(rect, self.palette().alternateBase())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(rect, self._image)
        if self._dimmed:
            p.fillRect(rect, QColor(255, 255, 255, 120))
        p.setPen(self.palette().mid().color())
        p.drawRect(rect.adjusted(0, 0, -1, -1))
