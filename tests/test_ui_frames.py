"""Interpolation frames record what remakes them (seed A, seed B, t), and opening one restores that frame."""

from __future__ import annotations

import json

import pytest
from conftest import WAIT_MS
from PIL import Image

from artgen_desktop.engine import Settings, read_png_metadata
from artgen_desktop.engine.sampling import interpolation_times

SMALL = Settings(size=256)

pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def window(small_window):
    return small_window


@pytest.fixture
def exported(qtbot, window, tmp_path):
    """Frames 3 → 7 (5, ease-in-out) exported from the Interpolate tab; their PNG paths in order."""
    panel = window.interpolation
    window.tabs.setCurrentWidget(panel)
    panel.set_seeds(3, 7)
    panel.frame_count.setValue(5)
    qtbot.waitUntil(lambda: panel.export_button.isEnabled(), timeout=WAIT_MS)
    out = tmp_path / "frames"
    panel.export_frames(out)
    qtbot.waitUntil(lambda: panel.export.done if panel.export else True, timeout=WAIT_MS)
    return [out / f"seed-000003-to-000007-frame-{i:03d}.png" for i in range(5)]


def test_each_frame_records_both_seeds_and_its_position(exported):
    times = interpolation_times(5, "ease-in-out")
    rows = {json.loads(line)["file_name"]: json.loads(line)
            for line in (exported[0].parent / "metadata.jsonl").read_text().splitlines()}
    for path, t in zip(exported, times):
        meta = read_png_metadata(path)
        assert (meta["seed"], meta["seed_b"], meta["t"]) == (3, 7, t)
        assert rows[path.name]["seed_b"] == 7 and rows[path.name]["t"] == t
        with Image.open(path) as im:
            assert f"Seed: 3, Seed B: 7, t: {t}," in im.text["parameters"]
    assert read_png_metadata(exported[-1])["t"] == 1.0  # the end frame says so; it is not seed 3's picture


@pytest.mark.parametrize("index", [4, 1])  # the end frame, and one whose t (0.15625) the slider cannot hold
def test_opening_a_frame_restores_that_frame(qtbot, window, exported, index):
    panel = window.interpolation
    window.tabs.setCurrentWidget(window.preview)
    panel.set_seeds(11, 12)  # the panel shows something else meanwhile
    t = interpolation_times(5, "ease-in-out")[index]
    assert window.restore_from_png(exported[index])
    assert window.tabs.currentWidget() is panel
    assert (panel.seed_a.value(), panel.seed_b.value()) == (3, 7)
    qtbot.waitUntil(lambda: panel.live is not None and panel.live.result.seed_b == 7 and panel.live.result.t == t,
                    timeout=WAIT_MS)
    with Image.open(exported[index]) as im:
        assert panel.live.result.image.tobytes() == im.convert("L").tobytes()  # the same picture, made again
    assert panel.live.caption == read_png_metadata(exported[index])["caption"]
    assert window.state.seed == 3 and window.state.settings == SMALL


def test_a_frame_with_a_bad_position_is_refused_with_a_message(qtbot, window, exported, tmp_path):
    from artgen_desktop.engine import write_png
    meta = read_png_metadata(exported[2])
    with Image.open(exported[2]) as im:
        image = im.convert("L")
    for bad in (1.5, "half", True):
        path = tmp_path / "bad.png"
        write_png(path, image, {**meta, "t": bad})
        assert not window.restore_from_png(path)
        assert "Could not restore bad.png" in window.message_bar.text() and "from 0 to 1" in window.message_bar.text()
