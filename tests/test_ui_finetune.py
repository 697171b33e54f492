"""The Fine-tune dialog against a stand-in trainer child process that speaks the trainer's JSON-lines contract."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import pytest
from PySide6.QtCore import QProcess

from artgen_desktop.ui.bridge import EngineBridge
from artgen_desktop.ui.finetune import FineTuneDialog, format_eta
from artgen_desktop.ui.main_window import MainWindow
from artgen_desktop.ui.prefs import Preferences
from artgen_desktop.ui.state import AppState

WAIT_MS = 30_000


pytestmark = pytest.mark.usefixtures("one_engine_thread")

# A test double for `python -m trainer`: same arguments, same stdout protocol, same SIGTERM behaviour.
FAKE_TRAINER = textwrap.dedent("""
    import json, os, shutil, signal, sys, time
    from PIL import Image
    args = sys.argv[1:]
    out = args[args.index("--out") + 1]
    mode = os.environ["FAKE_TRAINER_MODE"]
    json.dump(args, open(out + ".args.json", "w"))
    def emit(**event):
        print(json.dumps(event), flush=True)
    def save_and_exit(*_):
        shutil.copy(os.environ["FAKE_TRAINER_MODEL"], out)
        emit(event="done", model=out)
        sys.exit(0)
    signal.signal(signal.SIGTERM, save_and_exit)
    print("found 12 images in", args[1], flush=True)
    print("a warning on stderr", file=sys.stderr, flush=True)
    if mode == "error":
        emit(event="error", message="no usable images in the folder")
        sys.exit(1)
    for stage in ("autoencoder", "prior"):
        for step in range(1, 4):
            emit(event="progress", stage=stage, step=step, steps=3, loss=1.0 / step, eta_s=125.0)
    grid = os.path.join(os.path.dirname(out), "grid.png")
    Image.new("L", (64, 64), 128).save(grid)
    emit(event="sample", path=grid)
    if mode == "slow":
        for step in range(1000):
            emit(event="progress", stage="prior", step=step, steps=1000, loss=0.5, eta_s=100.0)
            time.sleep(0.02)
    save_and_exit()
""")


@pytest.fixture
def trainer(tmp_path, monkeypatch, tiny_model_path):
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.setenv("FAKE_TRAINER_MODEL", str(tiny_model_path))
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    dataset = tmp_path / "pictures"
    dataset.mkdir()
    return [sys.executable, str(script)], dataset


def make_dialog(qtbot, trainer, mode, monkeypatch, current=None):
    monkeypatch.setenv("FAKE_TRAINER_MODE", mode)
    command, dataset = trainer
    dialog = FineTuneDialog(current, Preferences(), command=command)
    qtbot.addWidget(dialog)
    dialog.dataset_edit.setText(str(dataset))
    dialog.out_edit.setText(str(dataset.parent / "new-model.safetensors"))
    dialog.budget.setValue(5)
    return dialog


def wait_done(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.process is not None and
                    dialog.process.state() == QProcess.ProcessState.NotRunning and
                    dialog.start_button.isEnabled(), timeout=WAIT_MS)


def test_training_run_shows_progress_and_offers_the_new_model(qtbot, trainer, monkeypatch, tiny_model_path):
    dialog = make_dialog(qtbot, trainer, "quick", monkeypatch, current=str(tiny_model_path))
    assert dialog.start()
    wait_done(qtbot, dialog)
    out = trainer[1].parent / "new-model.safetensors"
    args = json.loads((trainer[1].parent / "new-model.safetensors.args.json").read_text())
    assert args == ["train", str(trainer[1]), "--out", str(out), "--time-budget", "5m",
                    "--init", str(tiny_model_path), "--progress-json"]
    assert [e["stage"] for e in dialog.events if e["event"] == "progress"][-1] == "prior"
    assert dialog.new_model == str(out) and out.is_file()
    assert dialog.load_button.isEnabled() and "Training finished" in dialog.stage_label.text()
    assert "loss 0.3333" in dialog.loss_label.text() and "2:05 left" in dialog.loss_label.text()
    assert not dialog.sample_view.image().isNull()
    log = dialog.log.toPlainText()
    assert "found 12 images" in log and "a warning on stderr" in log
    assert '"event"' not in log  # protocol lines are shown as progress, not dumped into the log
    with qtbot.waitSignal(dialog.load_requested) as load:
        dialog.load_button.click()
    assert load.args == [str(out)]


def test_stop_asks_the_trainer_to_save_and_keeps_its_model(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "slow", monkeypatch)
    assert not dialog.init_check.isChecked()  # no current model to start from
    t0 = time.monotonic()
    dialog.start()
    qtbot.waitUntil(lambda: any(e.get("step", 0) > 5 and e.get("steps") == 1000 for e in dialog.events),
                    timeout=WAIT_MS)
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    dialog.cancel_button.click()
    wait_done(qtbot, dialog)
    assert time.monotonic() - t0 < 15  # stopped long before its 20 s of work
    assert "Stopped; the model trained so far was saved" in dialog.stage_label.text()
    assert dialog.load_button.isEnabled()
    args = json.loads((trainer[1].parent / "new-model.safetensors.args.json").read_text())
    assert "--init" not in args


def test_a_failing_trainer_is_reported(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "error", monkeypatch)
    dialog.start()
    wait_done(qtbot, dialog)
    assert "exit code 1" in dialog.stage_label.text()
    assert "no usable images in the folder" in dialog.log.toPlainText()
    assert not dialog.load_button.isEnabled()


def test_start_checks_its_inputs(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "quick", monkeypatch)
    dialog.dataset_edit.setText("")
    assert not dialog.start() and "Choose a dataset folder" in dialog.stage_label.text()
    dialog.dataset_edit.setText(str(trainer[1]))
    dialog.out_edit.setText(str(trainer[1].parent / "model.pt"))
    assert not dialog.start() and ".safetensors" in dialog.stage_label.text()
    assert dialog.process is None


def test_eta_format():
    assert format_eta(65) == "1:05" and format_eta(3725) == "1:02:05" and format_eta(-3) == "0:00"


def test_window_loads_the_fine_tuned_model(qtbot, trainer, monkeypatch, tiny_model_path):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "quick")
    command, dataset = trainer
    window = MainWindow(bridge=EngineBridge(device="cpu"), state=AppState(page_size=12), trainer_command=command)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS):
        window.open_model(str(tiny_model_path))
    dialog = window.show_finetune()
    assert dialog.init_check.isChecked() and dialog.current_model == str(tiny_model_path)
    dialog.dataset_edit.setText(str(dataset))
    dialog.out_edit.setText(str(dataset.parent / "finetuned.safetensors"))
    dialog.start()
    assert window.bridge._threads_wanted == 1  # generation steps aside to one thread while training runs
    wait_done(qtbot, dialog)
    assert window.bridge._threads_wanted is None
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS) as loaded:
        dialog.load_button.click()
    assert loaded.args[0].name == "finetuned" and window.model.name == "finetuned"
    window.shutdown()


def test_time_budget_progress_follows_time_not_a_step_count(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "quick", monkeypatch)
    dialog.handle_line('{"event": "progress", "stage": "autoencoder", "step": 40, "steps": null, "loss": 0.5, '
                       '"eta_s": 60.0}')
    assert dialog.stage_label.text() == "Training the autoencoder (1 of 2): step 40"
    assert dialog.progress.maximum() == 1000 and 0 <= dialog.progress.value() < 1000
    assert "1:00 left" in dialog.loss_label.text()
