"""Fine-tune…: runs the trainer as a child process on a dataset folder, with progress, log and cancel.

The trainer speaks JSON lines on stdout (`python -m trainer train DIR --out F --progress-json`):
  {"event": "progress", "stage": ..., "step": n, "steps": n, "loss": x, "eta_s": s}
  {"event": "sample", "path": "grid.png"}   {"event": "done", "model": "path"}   {"event": "error", ...}
Any other line is log text. Cancel sends SIGTERM; the trainer saves what it has learnt and exits.
A child process (not a thread) keeps training's CPU and memory apart from the app, and a crash in it
cannot take the app down.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .image_view import ImageView
from .prefs import Preferences
from .userdata import models_dir

STAGES = ("autoencoder", "prior")  # as the trainer names them
KILL_AFTER_MS = 20_000  # the trainer gets this long to save after SIGTERM before it is killed


def default_trainer_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a bundle: its executable is `artgen`, which routes `train …`
        return [sys.executable]
    return [sys.executable, "-m", "trainer"]


def format_eta(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class FineTuneDialog(QDialog):
    load_requested = Signal(str)  # path of the model to load
    running_changed = Signal(bool)

    def __init__(self, current_model: str | None, prefs: Preferences, parent: QWidget | None = None,
                 command: list[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune the model on your pictures")
        self.resize(720, 640)
        self.prefs = prefs
        self.command = command or default_trainer_command()
        self.current_model = current_model
        self.process: QProcess | None = None
        self.new_model: str | None = None
        self.cancelled = False
        self._stage_started: dict[str, float] = {}  # stage -> when its first progress line came
        self.events: list[dict] = []
        self._buffer = b""

        self.dataset_edit = QLineEdit(prefs.get("dataset_dir", ""), placeholderText="A folder of images "
                                      "(with metadata.jsonl, .txt captions, or none)")
        self.dataset_browse = QPushButton("Browse…")
        self.budget = QSpinBox(minimum=1, maximum=24 * 60, value=int(prefs.get("train_minutes", 10)), suffix=" min")
        self.init_check = QCheckBox("Start from the current model")
        self.init_check.setChecked(bool(current_model))
        self.init_check.setEnabled(bool(current_model))
        stamp = time.strftime("%Y%m%d-%H%M")
        self.out_edit = QLineEdit(str(models_dir() / f"finetuned-{stamp}.safetensors"))
        self.out_browse = QPushButton("Browse…")

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.dataset_edit, 1)
        row.addWidget(self.dataset_browse)
        form.addRow("Dataset folder", row)
        form.addRow("Time budget", self.budget)
        form.addRow("", self.init_check)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(self.out_browse)
        form.addRow("Save new model as", row)

        self.stage_label = QLabel("Not started")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.loss_label = QLabel()
        self.sample_view = ImageView("Samples appear here while training")
        self.sample_view.setMinimumSize(200, 200)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

        self.start_button = QPushButton("Start training")
        self.cancel_button = QPushButton("Stop")
        self.load_button = QPushButton("Load the new model")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.close_button)

        middle = QHBoxLayout()
        middle.addWidget(self.sample_view, 1)
        middle.addWidget(self.log, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.loss_label)
        layout.addLayout(middle, 1)
        layout.addLayout(buttons)

        self.dataset_browse.clicked.connect(self._browse_dataset)
        self.out_browse.clicked.connect(self._browse_out)
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button.clicked.connect(self._load)
        self.close_button.clicked.connect(self.close)
        self._set_running(False)
        self.load_button.setEnabled(False)

    # ---- running ---------------------------------------------------------------------------------------

    def arguments(self) -> list[str]:
        args = [*self.command[1:], "train", self.dataset_edit.text().strip(), "--out", self.out_edit.text().strip(),
                "--time-budget", f"{self.budget.value()}m"]
        if self.init_check.isChecked() and self.current_model:
            args += ["--init", self.current_model]
        return [*args, "--progress-json"]

    def start(self) -> bool:
        text = self.dataset_edit.text().strip()
        dataset = Path(text).expanduser()
        if not text or not dataset.is_dir():
            self._status(f"Choose a dataset folder first{f' ({text} is not a folder)' if text else ''}.", error=True)
            return False
        out = Path(self.out_edit.text().strip()).expanduser()
        if out.suffix != ".safetensors":
            self._status("The new model's file name must end in .safetensors.", error=True)
            return False
        self.prefs.set("dataset_dir", str(dataset))
        self.prefs.set("train_minutes", self.budget.value())
        self.events.clear()
        self._stage_started = {}
        self.new_model, self.cancelled, self._buffer = None, False, b""
        self.log.clear()
        self.load_button.setEnabled(False)

        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")  # progress lines must arrive as they are printed
        # `-m trainer` must import from this installation even when started outside the checkout
        root = str(Path(__file__).resolve().parents[2])
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (root, env.value("PYTHONPATH", "")) if p))
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._process_error)
        self.process = proc
        self._append_log(f"$ {' '.join([self.command[0], *self.arguments()])}")
        self.stage_label.setText("Starting the trainer…")
        self.progress.setRange(0, 0)  # busy until the first progress line
        self._set_running(True)
        proc.start(self.command[0], self.arguments())
        return True

    def cancel(self) -> None:
        if not self.is_running():
            return
        self.cancelled = True
        self.stage_label.setText("Stopping: the trainer is saving what it has learnt…")
        assert self.process is not None
        self.process.terminate()  # SIGTERM: the trainer saves and exits
        QTimer.singleShot(KILL_AFTER_MS, self._kill_if_running)

    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def _kill_if_running(self) -> None:
        if self.is_running():
            assert self.process is not None
            self._append_log("The trainer did not stop in time; killing it.")
            self.process.kill()

    # ---- the child's output ------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.process is not None
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self.handle_line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _read_stderr(self) -> None:
        assert self.process is not None
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            self._append_log(line)

    def handle_line(self, line: str) -> None:
        event = None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
        if not isinstance(event, dict) or "event" not in event:
            if line.strip():
                self._append_log(line)
            return
        self.events.append(event)
        kind = event["event"]
        if kind == "progress":
            self._progress(event)
        elif kind == "sample":
            image = QImage(str(event.get("path", "")))
            if not image.isNull():
                self.sample_view.set_image(image)
        elif kind == "done":
            self.new_model = str(event.get("model", "")) or None
        elif kind == "error":
            self._status(f"The trainer reported an error: {event.get('message', '?')}", error=True)
            self._append_log(f"error: {event.get('message', '?')}")

    def _progress(self, e: dict) -> None:
        stage = str(e.get("stage", ""))
        steps, step = int(e.get("steps", 0) or 0), int(e.get("step", 0) or 0)
        number = f" ({STAGES.index(stage) + 1} of {len(STAGES)})" if stage in STAGES else ""
        if steps > 0:
            self.stage_label.setText(f"Training the {stage}{number}: step {step:,} of {steps:,}")
            self.progress.setRange(0, steps)
            self.progress.setValue(min(step, steps))
        else:  # a time budget (what this dialog asks for): the bar follows time, eta_s is the stage's rest
            self.stage_label.setText(f"Training the {stage}{number}: step {step:,}")
            elapsed = time.monotonic() - self._stage_started.setdefault(stage, time.monotonic())
            eta = e.get("eta_s") if isinstance(e.get("eta_s"), (int, float)) else 0.0
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * elapsed / max(elapsed + eta, 1e-9)))
        parts = []
        if isinstance(e.get("loss"), (int, float)):
            parts.append(f"loss {e['loss']:.4f}")
        if isinstance(e.get("eta_s"), (int, float)):
            parts.append(f"about {format_eta(e['eta_s'])} left")
        self.loss_label.setText(" · ".join(parts))

    def _finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        if self._buffer.strip():  # a last line without a newline
            self.handle_line(self._buffer.decode("utf-8", "replace"))
            self._buffer = b""
        self._set_running(False)
        model = self.new_model or (self.out_edit.text().strip() if self.cancelled else None)
        if model and Path(model).is_file() and (exit_code == 0 or self.cancelled):
            self.new_model = model
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            what = "Stopped; the model trained so far was saved" if self.cancelled else "Training finished"
            self._status(f"{what}: {model}")
            self.load_button.setEnabled(True)
        elif self.cancelled:
            self._status("Stopped before anything was saved.")
        else:
            crashed = exit_status == QProcess.ExitStatus.CrashExit
            self._status(f"Training failed ({'the trainer crashed' if crashed else f'exit code {exit_code}'}); "
                         "see the log.", error=True)

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._set_running(False)
            self._status(f"Could not start the trainer ({self.command[0]}).", error=True)

    # ---- helpers -----------------------------------------------------------------------------------------

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def _status(self, text: str, error: bool = False) -> None:
        self.stage_label.setText(text)
        self.stage_label.setStyleSheet("color:#b3261e;" if error else "")

    def _set_running(self, running: bool) -> None:
        self.running_changed.emit(running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.dataset_edit, self.dataset_browse, self.budget, self.init_check, self.out_edit,
                  self.out_browse):
            w.setEnabled(not running)
        self.init_check.setEnabled(not running and bool(self.current_model))

    def _browse_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.dataset_edit.text())
        if folder:
            self.dataset_edit.setText(folder)

    def _browse_out(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the new model as", self.out_edit.text(),
                                              "Models (*.safetensors)")
        if name:
            self.out_edit.setText(name if name.endswith(".safetensors") else name + ".safetensors")

    def _load(self) -> None:
        if self.new_model:
            self.load_requested.emit(self.new_model)
            self.close()

    def closeEvent(self, event) -> None:
        # closing while training stops the trainer (it saves first) rather than orphaning it
        if self.is_running():
            self.cancel()
        super().closeEvent(event)

