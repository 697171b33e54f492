"""An inline message strip at the top of the window: errors and notes without modal dialogs.

Modal boxes would stop the artist (and tests) mid-flow; this strip says what happened and offers the
one useful action, e.g. "Open model…" when there is no model yet.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

STYLES = {
    "error": "background:#fbe3e1; border:1px solid #d9534f; color:#5a1512;",
    "warning": "background:#fff4d6; border:1px solid #e0a800; color:#4d3b00;",
    "info": "background:#e3eefb; border:1px solid #5b8fd9; color:#12305a;",
}


class MessageBar(QWidget):
    action_triggered = Signal(str)  # the action's name

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
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
        self._action = ""
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.action_button.clicked.connect(lambda: self.action_triggered.emit(self._action))
        self.close_button.clicked.connect(self.hide)
        self.setObjectName("messageBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # lets the style sheet paint the strip
        self.hide()

    def text(self) -> str:
        """The message on show, or "" when the bar is dismissed."""
        return "" if self.isHidden() else self.label.text()

    def show_message(self, text: str, level: str = "info", action: str = "", action_label: str = "",
                     timeout_ms: int = 0) -> None:
        self.level = level
        self.label.setText(text)
        self.setStyleSheet(f"#messageBar {{{STYLES.get(level, STYLES['info'])} border-radius:4px;}}")
        self._action = action
        self.action_button.setVisible(bool(action))
        self.action_button.setText(action_label or action)
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
        self.show()

    def clear(self, level: str | None = None) -> None:
        """Hides the bar (only if it shows `level`, when given: a later error is not hidden by a note)."""
        if level is None or level == self.level:
            self.hide()
