"""Starts the real app, waits until the gallery page and the preview are filled, saves a screenshot, exits.

    python scripts/screenshot_app.py --model MODEL.safetensors --out shot.png [--seed 0] [--tab preview]

Run it under a real X server (scripts/screenshot.sh starts Xvfb) to see exactly what an artist sees.
"""

from __future__ import annotations

import argparse
import sys
import time

from PySide6.QtCore import QTimer


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tab", choices=["preview", "interpolate", "library"], default="preview")
    p.add_argument("--size", default="1440x900")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()

    from artgen_desktop.ui.app import build_window, make_application
    app = make_application()
    window = build_window(args.model, "auto")
    w, h = (int(v) for v in args.size.split("x"))
    window.resize(w, h)
    window.state.set_seed(args.seed)
    window.tabs.setCurrentIndex(["preview", "interpolate", "library"].index(args.tab))
    start = time.monotonic()
    status = {"rc": 1}

    def poll() -> None:
        ready = window.gallery.model.is_filled() and window.preview.picture is not None
        if window.message_bar.level == "error" and window.message_bar.text():
            print(f"error shown: {window.message_bar.text()}", file=sys.stderr)
        if ready or time.monotonic() - start > args.timeout:
            QTimer.singleShot(400, lambda: shoot(ready))  # let the last thumbnails paint
        else:
            QTimer.singleShot(100, poll)

    def shoot(ready: bool) -> None:
        window.grab().save(args.out)
        took = time.monotonic() - start
        print(f"{'filled' if ready else 'TIMED OUT'} after {took:.1f} s: {window.gallery.model.filled_count()} "
              f"thumbnails, model {window.model.name if window.model else None}; saved {args.out}")
        status["rc"] = 0 if ready else 1
        window.close()

    QTimer.singleShot(100, poll)
    app.exec()
    window.shutdown()
    return status["rc"]


if __name__ == "__main__":
    raise SystemExit(main())
