"""`artgen gui --model F` starts the real app (Qt event loop, worker thread), fills the gallery and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from artgen_desktop.cli import main
    from artgen_desktop.ui.app import make_application
    from artgen_desktop.ui.main_window import MainWindow

    app = make_application()

    def poll():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].gallery.model.is_filled() and windows[0].preview.picture:
            w = windows[0]
            print("FILLED", w.model.name, w.gallery.model.filled_count(), w.device_label.text(), flush=True)
            print("ICON", "none" if app.windowIcon().isNull() else app.windowIcon().availableSizes(), flush=True)
            w.close()  # the last window closing ends the app
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    sys.exit(main(["gui", "--model", sys.argv[1], "--device", "cpu"]))
""")


def test_gui_command_runs_and_exits_cleanly(tmp_path, tiny_model_path):
    # OMP_NUM_THREADS=1: shared cores make two OpenMP threads crawl; this checks start-up and shutdown, not speed
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ARTGEN_DATA_DIR=str(tmp_path / "userdata"), OMP_NUM_THREADS="1")
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tiny_model_path)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "FILLED tiny 24 Device: CPU" in proc.stdout
    assert "ICON none" not in proc.stdout and "ICON [" in proc.stdout  # the app's icon from resources/icons
