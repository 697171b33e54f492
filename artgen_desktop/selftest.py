"""`artgen --self-test`: is this installation (or frozen bundle) whole and working?

Loads the bundled model (ARTGEN_DEFAULT_MODEL overrides it), generates two seeds on the CPU, makes one of
them again on its own and compares bytes and caption, exports both into a temporary folder and reads the
files back, then draws one through Qt's offscreen platform. Everything it writes, user data and caches
included, goes into that temporary folder, which is removed at the end.

Prints one line: `self-test ok: …` on stdout and exits 0, or `self-test FAILED: <reason>` on stderr and
exits 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SEEDS = (7, 42)
_app = None  # a Qt app made here lives until the process exits: Qt wants one per process


class SelfTestFailure(Exception):
    pass


def _check(ok: bool, reason: str) -> None:
    if not ok:
        raise SelfTestFailure(reason)


@contextlib.contextmanager
def _sandbox(folder: Path) -> Iterator[None]:
    """User data, config and caches (fontconfig, Qt) point into `folder` for the duration."""
    names = {"ARTGEN_DATA_DIR": folder / "userdata", "XDG_CACHE_HOME": folder / "cache",
             "XDG_CONFIG_HOME": folder / "config", "XDG_DATA_HOME": folder / "data"}
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(v) for k, v in names.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _engine_checks(tmp: Path) -> tuple[str, list]:
    from .engine import Engine, ExportWriter, Settings, bundled_model_path, read_png_metadata
    from .engine.pngmeta import png_bytes

    path = bundled_model_path()
    _check(path.exists(), f"the bundled model is missing ({path})")
    engine = Engine.load(path, device="cpu")
    settings = Settings()
    first = engine.generate(list(SEEDS), settings)
    _check([r.seed for r in first] == list(SEEDS), f"asked for seeds {SEEDS}, got {[r.seed for r in first]}")
    for r in first:
        _check(r.image.mode == "L" and r.image.size == (settings.size, settings.size),
               f"seed {r.seed}: picture is {r.image.mode} {r.image.size}, expected L {settings.size}px square")
        _check(bool(r.caption.strip()), f"seed {r.seed}: empty caption")
    _check(any(r.image.getextrema()[0] != r.image.getextrema()[1] for r in first),
           "both pictures are a single flat colour (the renderer drew nothing)")
    _check(first[0].image.tobytes() != first[1].image.tobytes(),
           f"seeds {SEEDS[0]} and {SEEDS[1]} gave the same picture")

    # determinism: the first seed again, alone (a different batch size and position), must match exactly
    again = engine.generate([SEEDS[0]], settings)[0]
    a = first[0]
    _check(again.caption == a.caption,
           f"seed {a.seed}: caption changed between runs ({a.caption!r}, then {again.caption!r})")
    _check(again.tone.tobytes() == a.tone.tobytes(), f"seed {a.seed}: tone image changed between runs")
    _check(again.image.tobytes() == a.image.tobytes(), f"seed {a.seed}: picture changed between runs")
    png_again = png_bytes(again.image, again.metadata)

    out = tmp / "export"
    with ExportWriter(out) as writer:
        files = [writer.add(r) for r in first]
    _check(files[0].read_bytes() == png_again, f"seed {a.seed}: exported PNG differs from a second run's bytes")
    for r, f in zip(first, files):
        meta = read_png_metadata(f)
        _check(meta["seed"] == r.seed and meta["caption"] == r.caption, f"{f.name}: settings read back differ")
        _check(f.with_suffix(".txt").read_text(encoding="utf-8").strip() == r.caption,
               f"{f.with_suffix('.txt').name}: caption file differs")
    _check((out / "metadata.jsonl").read_text(encoding="utf-8").count("\n") == len(first),
           "metadata.jsonl does not have one row per picture")
    return f"model {engine.info.name} (hash {engine.info.hash})", first


def _qt_checks(tmp: Path, result) -> str:
    """The offscreen platform plugin loads, and a generated picture survives PIL -> QImage -> PNG -> QImage."""
    from PySide6.QtGui import QGuiApplication, QImage

    from .ui.images import to_qimage

    global _app
    app = QGuiApplication.instance()
    if app is None:
        app = _app = QGuiApplication([sys.argv[0] if sys.argv else "artgen", "-platform", "offscreen"])
    qimage = to_qimage(result.image)
    path = tmp / "qt.png"
    _check(qimage.save(str(path), "PNG"), "Qt could not write a PNG")
    back = QImage(str(path))
    _check(not back.isNull(), "Qt could not read back the PNG it wrote")
    w, h = result.image.size
    _check((back.width(), back.height()) == (w, h),
           f"Qt read a {back.width()}x{back.height()} picture, expected {w}x{h}")
    for x, y in ((0, 0), (w // 2, h // 3), (w - 1, h - 1), (w // 3, h - 2)):
        _check(back.pixelColor(x, y).red() == result.image.getpixel((x, y)),
               f"pixel ({x}, {y}) differs after the trip through Qt")
    return f"Qt {app.platformName()}"


def run() -> int:
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="artgen-selftest-") as name, _sandbox(Path(name)):
            tmp = Path(name)
            model, results = _engine_checks(tmp)
            qt = _qt_checks(tmp, results[0])
    except SelfTestFailure as e:
        print(f"self-test FAILED: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # anything else (a missing module in a bundle, a damaged model) is a failure too
        print(f"self-test FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"self-test ok: {model}, {len(SEEDS)} seeds ({', '.join(map(str, SEEDS))}), deterministic, "
          f"export read back, {qt} ok, {time.perf_counter() - t0:.1f} s")
    return 0
