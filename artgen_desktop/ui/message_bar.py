"""A message strip over the bottom of the window: errors and notes without modal dialogs.

Modal boxes would stop the artist (and tests) mid-flow; this strip says what happened and offers the
one useful action, e.g. "Open model…" when there is no model yet. It floats over its host widget (no
layout slot), so showing or hiding it never moves the panels under the pointer. It sits at the bottom:
at the top it covered the search field and the tabs, just when a message about a search asks for the
query to be typed again. Notes and warnings go away by themselves (the pointer resting on the strip
holds them); errors and messages that offer an action stay until dismissed.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsDropShadowEffect, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

STYLES = {
    "error": "background:#fbe3e1; border:1px solid #d9534f; color:#5a1512;",
    "warning": "background:#fff4d6; border:1px solid #e0a800; color:#4d3b00;",
    "info": "background:#e3eefb; border:1px solid #5b8fd9; color:#12305a;",
}
TIMEOUT_MS = {"info": 6000, "warning": 12000, "error": 0}  # 0: until dismissed
MARGIN = 8  # px between the strip and its host's edges
MAX_WIDTH = 960  # a long line is hard to read; wide windows get a centred strip


class MessageBar(QWidget):
    action_triggered = Signal(str)  # the action's name

    def __init__(self, host: QWidget | None = None):
        super().__init__(host)
        self.label = QLabel(wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.close_button = QToolButton(text="✕", autoRaise=True, toolTip="Dismiss")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.level = ""
        self.timeout_ms = 0  # how long the message on show stays; 0: until dismissed
        self._action = ""
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.action_button.clicked.connect(lambda: self.action_triggered.emit(self._action))
        self.close_button.clicked.connect(self.hide)
        self.setObjectName("messageBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # lets the style sheet paint the strip
        shadow = QGraphicsDropShadowEffect(self, blurRadius=12, offset=0)
        shadow.setYOffset(2)
        shadow.setColor(QColor(0, 0, 0, 60))
        self.setGraphicsEffect(shadow)  # reads as floating above the panels it covers
        self.hide()
        if host is not None:
            host.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        host = self.parentWidget()
        if host is None:
            return
        width = max(120, min(host.width() - 2 * MARGIN, MAX_WIDTH))
        height = self.heightForWidth(width)
        if height <= 0:
            height = self.sizeHint().height()
        self.setGeometry((host.width() - width) // 2, max(0, host.height() - height - MARGIN), width, height)
        self.raise_()

    def text(self) -> str:
        """The message on show, or "" when the bar is dismissed."""
        return "" if self.isHidden() else self.label.text()

    def show_message(self, text: str, level: str = "info", action: str = "", action_label: str = "",
                     timeout_ms: int | None = None) -> None:
        """timeout_ms None: the level's default (errors and messages with an action stay until dismissed)."""
        self.level = level
        self.label.setText(text)
        self.setStyleSheet(f"#messageBar {{{STYLES.get(level, STYLES['info'])} border-radius:4px;}}")
        self._action = action
        self.action_button.setVisible(bool(action))
        self.action_button.setText(action_label or action)
        if timeout_ms is None:
            timeout_ms = 0 if action else TIMEOUT_MS.get(level, 0)
        self.timeout_ms = timeout_ms
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
        self.show()
        self._place()

    def enterEvent(self, event) -> None:
        self._timer.stop()  # the artist is reading (or selecting) it
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        if self.timeout_ms and self.isVisible():
            self._timer.start(max(self.timeout_ms // 2, 3000))
        super().leaveEvent(event)

    def clear(self, level: str | None = None) -> None:
        """Hides the bar (only if it shows `level`, when given: a later error is not hidden by a note)."""
        if level is None or level == self.level:
            self._timer.stop()
            self.hide()
