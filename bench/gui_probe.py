"""Child process for the GUI figures: start the real window offscreen, note when the first thumbnail and
the whole gallery page arrive, print one JSON line, close.

    python -m bench.gui_probe MODEL [TIMEOUT_S]

Times are time.monotonic() (one clock for every process on the machine), so the parent subtracts the
moment it started this process. Peak RSS is the process's high-water mark with the page shown.
"""

from __future__ import annotations

import json
import sys
import time


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main() -> int:
    model = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    marks: dict = {"imported": None}
    from PySide6.QtCore import QTimer

    from artgen_desktop.ui.app import build_window, make_application
    marks["imported"] = time.monotonic()
    app = make_application()
    window = build_window(model, "cpu")
    marks["window_shown"] = time.monotonic()
    gallery = window.gallery.model

    def changed(*_):
        if "first_thumbnail" not in marks and gallery.filled_count() >= 1:
            marks["first_thumbnail"] = time.monotonic()

    def filled():
        if "page_filled" in marks or not gallery.is_filled():
            return
        changed()
        marks["page_filled"] = time.monotonic()
        marks["thumbnails"] = gallery.rowCount()
        app.processEvents()  # let the view paint the page before the memory is read
        marks["peak_rss_kib"] = _status_kib("VmHWM")
        marks["rss_kib"] = _status_kib("VmRSS")
        window.close()

    def give_up():
        if "page_filled" not in marks:
            marks["timed_out"] = True
            window.close()

    gallery.dataChanged.connect(changed)
    gallery.page_filled.connect(filled)
    QTimer.singleShot(0, filled)  # a page served from a cache is filled before we listen
    QTimer.singleShot(int(timeout * 1000), give_up)
    app.exec()
    window.shutdown()
    print("GUI_PROBE " + json.dumps(marks), flush=True)
    return 0 if "page_filled" in marks else 1


if __name__ == "__main__":
    raise SystemExit(main())
