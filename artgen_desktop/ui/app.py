"""Starts the desktop app: `run(model=None, device="auto") -> int` (what `artgen` / `artgen gui` call).

A plain Qt event loop: every long job (engine work, exports) runs on the bridge's worker thread and
reports back through signals, and the fine-tune runs as a child process (QProcess), so nothing needs
an asyncio loop (README, "The desktop app", says why qasync was dropped).
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from artgen_desktop.engine import resource_path

from .bridge import EngineBridge
from .main_window import MainWindow


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("ArtGen Desktop")
    app.setOrganizationName("artgen-desktop")
    app.setDesktopFileName("artgen")  # ties windows to packaging/artgen.desktop (dock icon, Wayland app id)
    icon = resource_path("icons", "artgen.png")
    if icon.exists():  # the window and taskbar icon (a bundle without icons still starts)
        app.setWindowIcon(QIcon(str(icon)))
    app.setStyle("Fusion")  # the same look on every platform and under Xvfb
    app.setPalette(_paper_palette())
    collect_garbage_on_gui_thread(app)
    return app


GC_INTERVAL_MS = 2000


def collect_garbage_on_gui_thread(parent: QObject) -> QTimer:
    """Python's cycle collector runs in whichever thread allocates when a threshold trips, and the
    engine thread allocates a lot; a Qt object it frees there (a closed dialog, an old thumbnail) is
    destroyed off the GUI thread, which crashes Qt. So automatic collection is off and the GUI thread
    collects on a timer instead. Idempotent: the test run calls it for every window."""
    timer = parent.findChild(QTimer, "gui-thread-gc")
    if timer is None:
        gc.disable()
        timer = QTimer(parent)
        timer.setObjectName("gui-thread-gc")
        timer.timeout.connect(gc.collect)
        timer.start(GC_INTERVAL_MS)
    return timer


def _paper_palette() -> QPalette:
    """A light, warm palette: engravings are black ink on white paper and read best on a light ground."""
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#f3f1ec", QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#ebe8e1", QPalette.ColorRole.Button: "#ebe8e1",
        QPalette.ColorRole.Text: "#1d1b18", QPalette.ColorRole.WindowText: "#1d1b18",
        QPalette.ColorRole.ButtonText: "#1d1b18", QPalette.ColorRole.Highlight: "#8a5a2b",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.Mid: "#c9c4b8",
        QPalette.ColorRole.PlaceholderText: "#8a857a", QPalette.ColorRole.ToolTipBase: "#fffdf5",
        QPalette.ColorRole.ToolTipText: "#1d1b18",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    # setColor(role, …) sets every colour group: give disabled widgets their greyed text back
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#a19b8f"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor("#c9c4b8"))
    return p


def build_window(model: str | None = None, device: str = "auto") -> MainWindow:
    """A shown main window with its model loading in the background (also used by the screenshot script)."""
    window = MainWindow(bridge=EngineBridge(device=device))
    window.show()
    window.load_initial_model(model)
    return window


def run(model: str | None = None, device: str = "auto") -> int:
    app = make_application()
    window = build_window(model, device)
    code = app.exec()
    window.shutdown()
    return code
