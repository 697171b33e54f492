"""The Fine-tune dialog against a stand-in trainer child process that speaks the trainer's JSON-lines contract."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QProcess

from artgen_desktop.ui.bridge import EngineBridge
from artgen_desktop.ui.finetune import FineTuneDialog, format_eta, fresh_output
from artgen_desktop.ui.main_window import MainWindow
from artgen_desktop.ui.prefs import Preferences
from artgen_desktop.ui.state import AppState
from trainer.events import CheckpointEvent, DoneEvent, ErrorEvent, ProgressEvent, parse_line, to_line

WAIT_MS = 30_000


pytestmark = pytest.mark.usefixtures("one_engine_thread")

# A test double for `python -m trainer`: same arguments, the same events (trainer/events.py, as the real
# trainer writes them), and the same SIGTERM behaviour: it saves the run's state, not a model, and exits 130.
FAKE_TRAINER = textwrap.dedent("""
    import json, os, shutil, signal, sys, time
    from PIL import Image
    from trainer.events import CheckpointEvent, DoneEvent, ProgressEvent, SampleEvent, to_line
    args = sys.argv[1:]
    out = args[args.index("--out") + 1]
    run_dir = out[:-len(".safetensors")] + ".run"
    state = os.path.join(run_dir, "state.safetensors")
    mode = os.environ["FAKE_TRAINER_MODE"]
    json.dump(args, open(out + ".args.json", "w"))
    def emit(event):
        print(to_line(event), flush=True)
    def stop(*_):
        os.makedirs(run_dir, exist_ok=True)
        open(state, "w").write("state")
        emit(CheckpointEvent(state, "autoencoder", 7))
        print(f"trainer: stopped; checkpoint saved in {state} (continue with --resume)", file=sys.stderr, flush=True)
        sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    print("found 12 images in", args[1], flush=True)
    print("a warning on stderr", file=sys.stderr, flush=True)
    if mode == "error":
        print(f"trainer: no usable images in {args[1]} (0 skipped)", file=sys.stderr, flush=True)
        sys.exit(1)
    resumed = "--resume" in args and os.path.exists(state)
    for stage in ("autoencoder", "prior"):
        for step in range(1, 4):
            emit(ProgressEvent(stage, step, 3, 1.0 / step, {"rec": 1.0 / step}, 125.0, 2.0 * step))
    grid = os.path.join(os.path.dirname(out), "grid.png")
    Image.new("L", (64, 64), 128).save(grid)
    emit(SampleEvent(grid, "prior"))
    if mode == "slow" and not resumed:
        for step in range(1000):
            emit(ProgressEvent("autoencoder", step, None, 0.5, {}, 100.0, 0.02 * step))
            time.sleep(0.02)
    shutil.copy(os.environ["FAKE_TRAINER_MODEL"], out)
    emit(DoneEvent(out))
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
                    "--init", str(tiny_model_path), "--progress-json", "--quiet"]
    assert [e.stage for e in dialog.events if isinstance(e, ProgressEvent)][-1] == "prior"
    assert dialog.new_model == str(out) and out.is_file()
    assert dialog.load_button.isEnabled() and "Training finished" in dialog.stage_label.text()
    assert dialog.loss_label.text() == "last loss 0.3333"  # the run is over: no time left to show
    dialog._progress([e for e in dialog.events if isinstance(e, ProgressEvent)][-1])  # as while it ran
    assert "loss 0.3333" in dialog.loss_label.text() and "2:05 left" in dialog.loss_label.text()
    assert not dialog.sample_view.image().isNull()
    log = dialog.log.toPlainText()
    assert "found 12 images" in log and "a warning on stderr" in log
    assert '"event"' not in log  # protocol lines are shown as progress, not dumped into the log
    with qtbot.waitSignal(dialog.load_requested) as load:
        dialog.load_button.click()
    assert load.args == [str(out)]


def test_stop_says_what_was_kept_and_resume_finishes_the_run(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "slow", monkeypatch)
    out = trainer[1].parent / "new-model.safetensors"
    assert not dialog.init_check.isChecked()  # no current model to start from
    t0 = time.monotonic()
    dialog.start()
    qtbot.waitUntil(lambda: any(isinstance(e, ProgressEvent) and e.steps is None and e.step > 5
                                for e in dialog.events), timeout=WAIT_MS)
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    assert "about 1:40 left" in dialog.loss_label.text()
    dialog.cancel_button.click()
    wait_done(qtbot, dialog)
    assert time.monotonic() - t0 < 15  # stopped long before its 20 s of work
    # the trainer saved its run state, not a model: the dialog says so and offers nothing to load
    assert not out.exists()
    assert any(isinstance(e, CheckpointEvent) for e in dialog.events)
    text = dialog.stage_label.text()
    assert "No model file was written yet" in text and "Resume" in text and "was saved:" not in text
    # the run is over: no time left to count down, and a long message wraps instead of widening the dialog
    assert "left" not in dialog.loss_label.text() and dialog.loss_label.text().startswith("last loss ")
    assert dialog.stage_label.wordWrap()
    assert not dialog.load_button.isEnabled() and dialog.new_model is None
    assert dialog.resume_button.isEnabled()
    assert dialog.progress.maximum() == 1  # the busy bar stopped
    args = json.loads((trainer[1].parent / "new-model.safetensors.args.json").read_text())
    assert "--init" not in args and "--resume" not in args

    first_run = dialog.arguments()
    assert dialog.resume()  # the same run, continued
    wait_done(qtbot, dialog)
    args = json.loads((trainer[1].parent / "new-model.safetensors.args.json").read_text())
    assert args[-1] == "--resume" and args[:-1] == first_run[1:]  # [0]: the stand-in's script
    assert out.is_file() and dialog.new_model == str(out)
    assert dialog.load_button.isEnabled() and "Training finished" in dialog.stage_label.text()
    assert not dialog.resume_button.isEnabled()


def test_a_second_run_gets_a_fresh_name_and_a_clean_sample_view(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "quick", monkeypatch)
    out = trainer[1].parent / "new-model.safetensors"
    assert dialog.start()
    wait_done(qtbot, dialog)
    assert out.is_file() and not dialog.sample_view.image().isNull()
    proposed = dialog.out_edit.text()
    assert proposed != str(out) and not (trainer[1].parent / proposed).exists()  # the next run's own name
    assert proposed.endswith(".safetensors")

    # the old name typed back in: asked first; Cancel starts nothing
    asked = []
    dialog.ask_taken = lambda path: asked.append(path) or ""
    dialog.out_edit.setText(str(out))
    assert not dialog.start() and asked == [out] and "choose another name" in dialog.stage_label.text()
    assert not dialog.is_running()
    # Replace: the run starts, and the previous run's sample grid is gone until this run sends one
    dialog.ask_taken = lambda path: "replace"
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    assert dialog.start()
    assert dialog.sample_view.image().isNull() and not dialog.load_button.isEnabled()
    dialog.cancel()
    wait_done(qtbot, dialog)


def test_a_run_stopped_in_an_earlier_dialog_can_be_resumed_by_its_name(qtbot, trainer, monkeypatch):
    first = make_dialog(qtbot, trainer, "slow", monkeypatch)
    first.start()
    qtbot.waitUntil(lambda: any(isinstance(e, ProgressEvent) and e.steps is None for e in first.events),
                    timeout=WAIT_MS)
    first.cancel()
    wait_done(qtbot, first)
    first.close()
    second = make_dialog(qtbot, trainer, "slow", monkeypatch)  # same dataset and name, as a person would pick
    asked = []
    second.ask_taken = lambda path: asked.append(path) or "resume"
    assert second.start()
    wait_done(qtbot, second)
    out = trainer[1].parent / "new-model.safetensors"
    args = json.loads((trainer[1].parent / "new-model.safetensors.args.json").read_text())
    assert asked == [out] and args[-1] == "--resume"
    assert out.is_file() and second.load_button.isEnabled()


def test_fresh_output_skips_models_and_stopped_runs(tmp_path):
    assert fresh_output(tmp_path, "m") == tmp_path / "m.safetensors"
    (tmp_path / "m.safetensors").write_text("x")
    (tmp_path / "m-2.run").mkdir()
    (tmp_path / "m-2.run" / "state.safetensors").write_text("x")
    assert fresh_output(tmp_path, "m") == tmp_path / "m-3.safetensors"


def test_a_failing_trainer_says_why_and_stops_the_busy_bar(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "error", monkeypatch)
    dialog.start()
    assert dialog.progress.maximum() == 0  # busy while starting
    wait_done(qtbot, dialog)
    text = dialog.stage_label.text()
    assert f"Training failed: no usable images in {trainer[1]} (0 skipped) (exit code 1)." == text
    assert dialog.progress.maximum() == 1 and dialog.progress.value() == 0
    assert "no usable images" in dialog.log.toPlainText()
    assert not dialog.load_button.isEnabled() and not dialog.resume_button.isEnabled()


def test_start_checks_its_inputs(qtbot, trainer, monkeypatch):
    dialog = make_dialog(qtbot, trainer, "quick", monkeypatch)
    dialog.dataset_edit.setText("")
    assert not dialog.start() and "Choose a dataset folder" in dialog.stage_label.text()
    dialog.dataset_edit.setText(str(trainer[1]))
    assert dialog.stage_label.text() == "Not started"  # the refusal went with the input it was about
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
                       '"eta_s": 60.0, "elapsed_s": 20.0}')
    assert dialog.stage_label.text() == "Training the autoencoder (1 of 2): step 40"
    assert dialog.progress.maximum() == 1000 and dialog.progress.value() == 250  # 20 s done, 60 s to go
    assert "1:00 left" in dialog.loss_label.text()
    dialog.handle_line('{"event": "progress", "stage": 3}')  # malformed: log text, not an exception
    assert dialog.log.toPlainText().endswith('{"event": "progress", "stage": 3}')


def test_events_round_trip_and_load_without_torch_or_qt():
    event = ProgressEvent("autoencoder", 40, None, 0.5, {"rec": 0.2, "cap": 0.3}, 60.0, 20.0)
    line = to_line(event)
    assert line.startswith('{"event": "progress"') and parse_line(line) == event
    assert json.loads(to_line(DoneEvent("m.safetensors"))) == {"event": "done", "model": "m.safetensors"}
    assert parse_line('{"event": "error", "message": "m", "from_a_newer_trainer": 1}') == ErrorEvent("m")
    for text in ("found 12 images", '{"event": "progress", "stage": "a", "step": "x"}', '{"event": "unknown"}',
                 '{"event": "done"}', "{not json", '["event"]'):
        assert parse_line(text) is None  # log text, never an exception
    root = Path(__file__).resolve().parents[1]
    code = "import sys, trainer.events; assert not {'torch', 'PySide6'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
