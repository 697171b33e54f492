"""A spin box for seeds up to 2**63-1 (QSpinBox stops at 2**31-1)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from artgen_desktop.engine import MAX_SEED


class SeedBox(QAbstractSpinBox):
    valueChanged = Signal(object)  # int; object because seeds pass 2**31

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._value = 0
        self.setAccelerated(True)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("0" * 10) + 28)  # a random seed (< 2**32) fits
        self.setKeyboardTracking(False)
        self.lineEdit().setText("0")
        self.editingFinished.connect(self._commit)
        self.setToolTip("Seed: any whole number from 0 to 2^63−1. ←/→ step, R picks a random seed.")

    def value(self) -> int:
        return self._value

    def setValue(self, value: int) -> None:
        value = min(max(int(value), 0), MAX_SEED - 1)
        self.lineEdit().setText(str(value))
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    def _commit(self) -> None:
        text = self.lineEdit().text().strip()
        if text.isdigit():
            self.setValue(int(text))
        else:
            self.lineEdit().setText(str(self._value))

    # QAbstractSpinBox hooks -----------------------------------------------------------------------------

    def stepBy(self, steps: int) -> None:
        self.setValue(self._value + steps)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self._value > 0:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self._value < MAX_SEED - 1:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def validate(self, text: str, pos: int) -> object:
        if text == "":
            return QValidator.State.Intermediate
        if text.isdigit() and int(text) < MAX_SEED:
            return QValidator.State.Acceptable
        return QValidator.State.Invalid

    def fixup(self, text: str) -> str:
        return str(self._value)
