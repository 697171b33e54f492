"""The engine bridge on its own: one worker thread, coalescing, priorities, errors that do not kill it."""

from __future__ import annotations

import pytest

from artgen_desktop.engine import EngraveStyle, Settings
from artgen_desktop.ui.bridge import EngineBridge

WAIT_MS = 30_000
SMALL = Settings(size=256)


pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def bridge(qtbot, tiny_model_path):
    b = EngineBridge(device="cpu")
    with qtbot.waitSignal(b.model_loaded, timeout=WAIT_MS) as loaded:
        b.load_model(tiny_model_path)
    assert loaded.args[0].name == "tiny" and loaded.args[0].device == "CPU"
    yield b
    b.shutdown()


def idle(qtbot, b: EngineBridge) -> None:
    qtbot.waitUntil(lambda: not b.is_busy(), timeout=WAIT_MS)


def test_requests_without_a_model_fail_with_a_message(qtbot):
    b = EngineBridge(device="cpu")
    try:
        with qtbot.waitSignal(b.failed, timeout=WAIT_MS) as failed:
            b.request_preview(1, SMALL)
        assert failed.args[1] == "preview" and "no model is loaded" in failed.args[2]
    finally:
        b.shutdown()


def test_engine_errors_are_reported_and_the_worker_carries_on(qtbot, bridge):
    with qtbot.waitSignal(bridge.failed, timeout=WAIT_MS) as failed:
        bridge.request_preview(-1, SMALL)  # the engine refuses the seed
    assert failed.args[1] == "preview" and "seed -1" in failed.args[2]
    with qtbot.waitSignal(bridge.failed, timeout=WAIT_MS) as failed:
        bridge.request_strip(1, 2, 5, "wobbly", SMALL)  # a ValueError from deep inside the engine
    assert failed.args[1] == "strip" and "easing" in failed.args[2]
    with qtbot.waitSignal(bridge.preview_ready, timeout=WAIT_MS) as ready:
        bridge.request_preview(3, SMALL)
    assert ready.args[0].seed == 3 and ready.args[0].caption


def test_newer_requests_supersede_queued_ones(qtbot, bridge, tiny_engine):
    shown = []
    bridge.preview_ready.connect(shown.append)
    before = bridge.calls["preview"]
    for i in range(200):
        bridge.request_preview(8, Settings(temperature=i / 100, size=256))
    idle(qtbot, bridge)
    # queued requests that a newer one overtook never ran; the one already running when they came is shown
    # (the nearest picture there is while the newest renders), then the newest, never an older after a newer
    temps = [p.settings.temperature for p in shown]
    assert temps[-1] == 1.99 and len(temps) <= 2 and temps == sorted(temps)
    assert shown[-1].caption == tiny_engine.generate([8], Settings(temperature=1.99, size=256))[0].caption
    assert bridge.calls["preview"] - before <= 3


def test_a_preview_overtaken_while_rendering_is_shown_and_a_gallery_batch_is_not(qtbot, bridge):
    previews, batches = [], []
    bridge.preview_ready.connect(previews.append)
    bridge.gallery_batch.connect(lambda _id, pics: batches.append(pics))
    idle(qtbot, bridge)
    big = Settings(size=2048)  # slow enough to be overtaken while it renders
    for i in range(1, 5):  # a drag: each request comes while the previous one renders
        bridge.request_preview(8, Settings(variety=i / 4, size=big.size))
        qtbot.waitUntil(lambda: not bridge._pending, timeout=WAIT_MS)  # the worker has taken it
    idle(qtbot, bridge)
    # every position it rendered is shown in order, ending with the last
    assert [p.settings.variety for p in previews] == [0.25, 0.5, 0.75, 1.0]
    bridge.request_gallery(range(0, 8), SMALL, 96)
    bridge.request_gallery(range(100, 104), SMALL, 96)
    idle(qtbot, bridge)
    assert all(p.seed >= 100 for pics in batches for p in pics), "a superseded page delivered thumbnails"
    bridge.cancel(bridge.request_gallery(range(200, 204), SMALL, 96))
    idle(qtbot, bridge)
    assert all(p.seed < 200 for pics in batches for p in pics), "a cancelled page delivered thumbnails"


def test_the_preview_cuts_in_while_a_gallery_page_fills(qtbot, bridge):
    events = []
    bridge.gallery_batch.connect(lambda _id, pics: events.append(("gallery", [p.seed for p in pics])))
    bridge.preview_ready.connect(lambda p: events.append(("preview", p.seed)))
    bridge.request_gallery(range(100, 148), SMALL, 96)
    bridge.request_preview(5, SMALL)
    idle(qtbot, bridge)
    gallery = [seeds for kind, seeds in events if kind == "gallery"]
    assert sorted(s for seeds in gallery for s in seeds) == list(range(100, 148))
    assert all(len(seeds) <= 4 for seeds in gallery)  # small batches: thumbnails appear progressively
    assert events.index(("preview", 5)) <= 1  # not stuck behind the 12 gallery batches


def test_a_new_gallery_page_stops_the_old_one(qtbot, bridge):
    seen = []
    bridge.gallery_batch.connect(lambda _id, pics: seen.extend(p.seed for p in pics))
    bridge.request_gallery(range(0, 48), SMALL, 96)
    bridge.request_gallery(range(1000, 1012), SMALL, 96)
    idle(qtbot, bridge)
    assert sorted(s for s in seen if s >= 1000) == list(range(1000, 1012))
    assert len([s for s in seen if s < 1000]) < 48
    assert bridge.calls["gallery"] < 12 + 3


def test_style_only_changes_rerender_the_stored_tone(qtbot, bridge, tiny_engine):
    with qtbot.waitSignal(bridge.preview_ready, timeout=WAIT_MS):
        bridge.request_preview(11, SMALL)
    toned = Settings(size=256, style=EngraveStyle(mode="tone"))
    with qtbot.waitSignal(bridge.preview_ready, timeout=WAIT_MS) as ready:
        bridge.request_preview(11, toned)
    want = tiny_engine.generate([11], toned)[0]
    assert ready.args[0].result.image.tobytes() == want.image.tobytes()
    assert ready.args[0].caption == want.caption
