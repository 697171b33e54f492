"""Progress and cancel for one long bridge request (an export), in a non-blocking QProgressDialog."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from .bridge import EngineBridge, ExportSummary, Progress


class ExportProgress(QObject):
    """Follows request `request_id`: shows its progress, cancels it on Cancel, reports how it ended."""

    ended = Signal(str, str)  # message, level ("info" when done, "warning" when cancelled, "error")

    def __init__(self, bridge: EngineBridge, request_id: int, title: str, total: int, parent: QWidget):
        super().__init__(parent)
        self.bridge, self.request_id = bridge, request_id
        self.summary: ExportSummary | None = None
        self.dialog = QProgressDialog(title, "Cancel", 0, max(total, 1), parent)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)  # the gallery stays usable during an export
        self.dialog.setMinimumDuration(300)  # quick exports finish before a dialog flashes up
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setValue(0)
        self.dialog.canceled.connect(self.cancel)
        bridge.progress.connect(self._on_progress)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        self.done = False

    def cancel(self) -> None:
        if self.done:
            return
        self.bridge.cancel(self.request_id)
        self._end("Export cancelled; the pictures written so far are complete and listed in metadata.jsonl",
                  "warning")

    def _on_progress(self, request_id: int, progress: Progress) -> None:
        if request_id == self.request_id and not self.done:
            self.dialog.setMaximum(max(progress.total, 1))
            self.dialog.setValue(progress.done)
            if progress.text:
                self.dialog.setLabelText(progress.text)

    def _on_finished(self, request_id: int, _channel: str, payload) -> None:
        if request_id != self.request_id or self.done:
            return
        self.summary = payload if isinstance(payload, ExportSummary) else None
        if self.summary is None:
            self._end("Export finished", "info")
            return
        n = sum(1 for f in self.summary.files if f.endswith(".png"))
        extra = f" and {self.summary.animation.rsplit('/', 1)[-1]}" if self.summary.animation else ""
        self._end(f"Exported {n} picture{'s' if n != 1 else ''}{extra} to {self.summary.folder}", "info")

    def _on_failed(self, request_id: int, _channel: str, message: str) -> None:
        if request_id == self.request_id and not self.done:
            self._end(f"Export failed: {message}", "error")

    def _end(self, message: str, level: str) -> None:
        self.done = True
        for signal, slot in ((self.bridge.progress, self._on_progress), (self.bridge.finished, self._on_finished),
                             (self.bridge.failed, self._on_failed)):
            signal.disconnect(slot)
        self.dialog.canceled.disconnect(self.cancel)
        self.dialog.close()
        self.ended.emit(message, level)
        self.deleteLater()
