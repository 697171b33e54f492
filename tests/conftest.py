import contextlib
import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CAPTIONS = [
    "A penguin standing on the ice.",
    "A red ball.",
    "An old teapot with flowers.",
    "A horse running in a field.",
    "A sailing ship on the sea.",
    "A cat sleeping on a chair.",
]


def make_tiny_model(path, seed: int = 0):
    """A real (untrained, randomly initialised) tiny model file, built in milliseconds."""
    import torch

    from artgen_desktop.engine import ArtGenModel, ModelConfig, Tokenizer, save_checkpoint
    tok = Tokenizer.build(CAPTIONS)
    torch.manual_seed(seed)
    model = ArtGenModel(ModelConfig.preset("tiny", vocab_size=len(tok)))
    save_checkpoint(path, model, tok, summary={"note": "untrained tiny test model"})
    return path


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_main_thread():
    """As the app does (artgen_desktop/ui/app.py, collect_garbage_on_gui_thread): no automatic cycle
    collection, which could run on an engine thread and free Qt objects there, but one after every test."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_after_test():
    yield
    gc.collect()


@pytest.fixture
def one_engine_thread():
    """One intra-op thread for the engine while UI tests run: when the 2 cores are shared, two OpenMP threads
    slow tiny-model generation ~25x (docs/architecture.md, "Threads"), and these tests check the UI, not
    engine throughput."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_path):
    from artgen_desktop.engine import Engine
    return Engine.load(tiny_model_path, device="cpu")


SHAPES = ("circle", "square", "triangle", "cross")
SHADES = {"black": 0, "grey": 140}


def make_shapes_dataset(folder, per_kind: int = 6, size: int = 64):
    """An imagefolder of drawn shapes with captions that name them ("A grey triangle.")."""
    import json
    from pathlib import Path

    from PIL import Image, ImageDraw
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for shape in SHAPES:
        for shade, value in SHADES.items():
            for k in range(per_kind):
                im = Image.new("L", (size, size), 255)
                d = ImageDraw.Draw(im)
                m = 8 + (k * 3) % 12
                box = [m, m + k % 4, size - m, size - m + k % 4]
                if shape == "circle":
                    d.ellipse(box, fill=value)
                elif shape == "square":
                    d.rectangle(box, fill=value)
                elif shape == "triangle":
                    d.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=value)
                else:
                    w = (box[2] - box[0]) // 5
                    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
                    d.rectangle([cx - w, box[1], cx + w, box[3]], fill=value)
                    d.rectangle([box[0], cy - w, box[2], cy + w], fill=value)
                name = f"{shape}-{shade}-{k}.png"
                im.save(folder / name)
                rows.append({"file_name": name, "text": f"A {shade} {shape}."})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="session")
def shapes_dataset(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


WAIT_MS = 30_000  # generous: the 2 cores may be shared with other work; normally each wait is well under 1 s


def wait_preview(qtbot, w, seed, settings=None):
    """Waits until the main window's preview shows `seed` (with `settings` if given); returns the Picture."""
    def shown():
        p = w.preview.picture
        return p is not None and p.seed == seed and (settings is None or p.settings == settings)
    qtbot.waitUntil(shown, timeout=WAIT_MS)
    return w.preview.picture


@pytest.fixture
def small_window(qtbot, tiny_model_path, tmp_path, monkeypatch):
    """The main window on the tiny model at 256 px, with its own user-data folder."""
    from artgen_desktop.engine import Settings
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))
    with open_main_window(qtbot, tiny_model_path, Settings(size=256)) as w:
        yield w


@contextlib.contextmanager
def open_main_window(qtbot, model_path, settings=None):
    """The app's main window on a model, shown, 12 seeds a page; shut down afterwards."""
    from artgen_desktop.engine import Settings
    from artgen_desktop.ui.bridge import EngineBridge
    from artgen_desktop.ui.main_window import MainWindow
    from artgen_desktop.ui.state import AppState
    state = AppState(page_size=12)
    state.set_settings(settings or Settings(size=256))
    w = MainWindow(bridge=EngineBridge(device="cpu"), state=state)
    qtbot.addWidget(w)
    w.show()
    try:
        with qtbot.waitSignal(w.bridge.model_loaded, timeout=WAIT_MS):
            w.open_model(str(model_path))
        yield w
    finally:
        w.shutdown()
