"""Fine-tune…: runs the trainer as a child process on a dataset folder, with progress, log and cancel.

The trainer speaks JSON lines on stdout (`python -m trainer train DIR --out F --progress-json`), defined
in trainer/events.py; any other line is log text. Stop sends SIGTERM: the trainer saves the run's state
(a checkpoint, not yet a model file) and exits, and Resume continues that run with `--resume`.
A child process (not a thread) keeps training's CPU and memory apart from the app, and a crash in it
cannot take the app down.
"""

from __future__ import annotations

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
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from trainer.events import CheckpointEvent, DoneEvent, ErrorEvent, ProgressEvent, SampleEvent, parse_line

from .image_view import ImageView
from .prefs import Preferences
from .userdata import models_dir

STAGES = ("autoencoder", "prior")  # as the trainer names them
KILL_AFTER_MS = 20_000  # the trainer gets this long to save after SIGTERM before it is killed
SAMPLE_PLACEHOLDER = "Samples appear here while training"


def default_trainer_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a bundle: its executable is `artgen`, which routes `train …`
        return [sys.executable]
    return [sys.executable, "-m", "trainer"]


def run_dir_for(out: Path) -> Path:
    """Where the trainer keeps a run's checkpoint and sample grids (its --run-dir default)."""
    return Path(str(out.with_suffix("")) + ".run")  # as trainer/train.py's main() derives it


def output_taken(out: Path) -> bool:
    return out.exists() or (run_dir_for(out) / "state.safetensors").exists()


def fresh_output(folder: Path, stem: str) -> Path:
    """folder/stem.safetensors, or stem-2, stem-3 … when a model or a stopped run already has that name."""
    out, n = folder / f"{stem}.safetensors", 2
    while output_taken(out):
        out, n = folder / f"{stem}-{n}.safetensors", n + 1
    return out


def reason_from(lines: list[str]) -> str:
    """The trainer's last error line (what it says before exiting, or a traceback's last line)."""
    for line in reversed(lines):
        line = line.strip()
        if line:
            return line.removeprefix("trainer: ").removeprefix("error: ")
    return ""


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
        self.checkpoint: str | None = None  # the run's saved state, when it stopped before writing a model
        self._stage_started: dict[str, float] = {}  # stage -> when its first progress line came
        self.events: list = []  # trainer/events.py objects, in order
        self._buffer = b""
        self._stderr_tail: list[str] = []
        self._run_args: list[str] | None = None  # the last run's arguments, which Resume repeats
        self._progressed = False
        self._last_loss: float | None = None  # the run's last reported loss, kept when the run ends
        # asked when the name is taken: "replace", "resume" (a stopped run's name) or "" (tests answer for the user)
        self.ask_taken = self._ask_taken

        self.dataset_edit = QLineEdit(prefs.get("dataset_dir", ""), placeholderText="A folder of images "
                                      "(with metadata.jsonl, .txt captions, or none)")
        self.dataset_browse = QPushButton("Browse…")
        self.budget = QSpinBox(minimum=1, maximum=24 * 60, value=int(prefs.get("train_minutes", 10)), suffix=" min")
        self.init_check = QCheckBox("Start from the current model")
        self.init_check.setChecked(bool(current_model))
        self.init_check.setEnabled(bool(current_model))
        self.out_edit = QLineEdit(str(self._fresh_name()))
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

        self.stage_label = QLabel("Not started", wordWrap=True)  # (a long message wraps: the dialog keeps its width)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.loss_label = QLabel(wordWrap=True)
        self._refused = False  # the status says why Start refused the dialog's inputs
        self.sample_view = ImageView(SAMPLE_PLACEHOLDER)
        self.sample_view.setMinimumSize(200, 200)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

        self.start_button = QPushButton("Start training")
        self.cancel_button = QPushButton("Stop", toolTip="Stop and keep the run's progress; Resume continues it")
        self.resume_button = QPushButton("Resume", toolTip="Continue the stopped run where it left off")
        self.load_button = QPushButton("Load the new model")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
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
        for edit in (self.dataset_edit, self.out_edit):
            edit.textChanged.connect(self._inputs_edited)
        self.out_browse.clicked.connect(self._browse_out)
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.load_button.clicked.connect(self._load)
        self.close_button.clicked.connect(self.close)
        self._set_running(False)
        self.load_button.setEnabled(False)
        self.resume_button.setEnabled(False)

    # ---- running ---------------------------------------------------------------------------------------

    def arguments(self) -> list[str]:
        args = [*self.command[1:], "train", self.dataset_edit.text().strip(), "--out", self.out_edit.text().strip(),
                "--time-budget", f"{self.budget.value()}m"]
        if self.init_check.isChecked() and self.current_model:
            args += ["--init", self.current_model]
        return [*args, "--progress-json", "--quiet"]  # --quiet: no text progress bar in the log

    def start(self) -> bool:
        """A new run with the dialog's settings. A name already taken asks first: replace the model, or
        resume or replace the stopped run of that name (also one stopped in an earlier session)."""
        text = self.dataset_edit.text().strip()
        dataset = Path(text).expanduser()
        if not text or not dataset.is_dir():
            self._status(f"Choose a dataset folder first{f' ({text} is not a folder)' if text else ''}.", error=True)
            self._refused = True
            return False
        out = Path(self.out_edit.text().strip()).expanduser()
        if out.suffix != ".safetensors":
            self._status("The new model's file name must end in .safetensors.", error=True)
            self._refused = True
            return False
        answer = self.ask_taken(out) if output_taken(out) else "replace"
        if answer not in ("replace", "resume"):
            self._status(f"{out.name} is taken: choose another name for the new model.", error=True)
            return False
        self.prefs.set("dataset_dir", str(dataset))
        self.prefs.set("train_minutes", self.budget.value())
        self.log.clear()
        resume = answer == "resume" and not out.exists()
        return self._launch([*self.arguments(), "--resume"] if resume else self.arguments())

    def resume(self) -> bool:
        """Continues the stopped run: the same arguments plus --resume (the trainer checks they match)."""
        if self._run_args is None or self.checkpoint is None or self.is_running():
            return False
        self._append_log("Resuming the stopped run.")
        return self._launch([*self._run_args, "--resume"] if "--resume" not in self._run_args else self._run_args)

    def _launch(self, args: list[str]) -> bool:
        self.events.clear()
        self._stage_started = {}
        self.new_model, self.checkpoint, self.cancelled, self._buffer = None, None, False, b""
        self._stderr_tail, self._progressed, self._run_args, self._last_loss = [], False, args, None
        self.load_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.loss_label.clear()
        self.sample_view.set_image(QImage())  # never the previous run's grid
        self.sample_view.set_placeholder(SAMPLE_PLACEHOLDER)

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
        self._append_log(f"$ {' '.join([self.command[0], *args])}")
        self._status("Starting the trainer…")
        self.progress.setRange(0, 0)  # busy until the first progress line
        self._set_running(True)
        proc.start(self.command[0], args)
        return True

    def cancel(self) -> None:
        if not self.is_running():
            return
        self.cancelled = True
        self.stage_label.setText("Stopping: the trainer is saving the run so far…")
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
            self._log_line(line)
            if line.strip():
                self._stderr_tail = [*self._stderr_tail[-19:], line]

    def handle_line(self, line: str) -> None:
        event = parse_line(line)
        if event is None:
            if line.strip():
                self._log_line(line)
            return
        self.events.append(event)
        if isinstance(event, ProgressEvent):
            self._progress(event)
        elif isinstance(event, SampleEvent):
            image = QImage(event.path)
            if not image.isNull():
                self.sample_view.set_image(image)
        elif isinstance(event, CheckpointEvent):
            self.checkpoint = event.path
        elif isinstance(event, DoneEvent):
            self.new_model = event.model or None
        elif isinstance(event, ErrorEvent):
            self._status(f"The trainer reported an error: {event.message}", error=True)
            self._append_log(f"error: {event.message}")

    def _log_line(self, line: str) -> None:
        self._append_log(line)
        if self.is_running() and not self._progressed and not self.cancelled and line.strip():
            # until the first step, what the trainer is doing (reading images, building the model) is the news
            self._status(f"Starting the trainer… {line.strip()[:120]}")

    def _progress(self, e: ProgressEvent) -> None:
        self._progressed = True
        if e.loss is not None:
            self._last_loss = e.loss
        stage, step, steps = e.stage, e.step, e.steps or 0
        number = f" ({STAGES.index(stage) + 1} of {len(STAGES)})" if stage in STAGES else ""
        if steps > 0:
            self._status(f"Training the {stage}{number}: step {step:,} of {steps:,}")
            self.progress.setRange(0, steps)
            self.progress.setValue(min(step, steps))
        else:  # a time budget (what this dialog asks for): the bar follows time, eta_s is the stage's rest
            self._status(f"Training the {stage}{number}: step {step:,}")
            if e.elapsed_s is not None:
                elapsed = e.elapsed_s
            else:  # an older trainer: time since this stage's first line
                elapsed = time.monotonic() - self._stage_started.setdefault(stage, time.monotonic())
            eta = e.eta_s or 0.0
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * elapsed / max(elapsed + eta, 1e-9)))
        parts = []
        if e.loss is not None:
            parts.append(f"loss {e.loss:.4f}")
        if e.eta_s is not None:
            parts.append(f"about {format_eta(e.eta_s)} left")
        self.loss_label.setText(" · ".join(parts))

    def _finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        if self._buffer.strip():  # a last line without a newline
            self.handle_line(self._buffer.decode("utf-8", "replace"))
            self._buffer = b""
        self._set_running(False)
        self.progress.setRange(0, 1)  # never left animating: the run is over, however it ended
        self.loss_label.setText(f"last loss {self._last_loss:.4f}" if self._last_loss is not None else "")
        model = self.new_model
        if model and Path(model).is_file() and (exit_code == 0 or self.cancelled):
            # only a "done" event means the model file was written (a stop writes the run's state only)
            self.progress.setValue(1)
            self._status(f"Training finished: {model}")
            self.load_button.setEnabled(True)
            self._propose_next_name()
        elif self.cancelled and self.checkpoint and Path(self.checkpoint).is_file():
            self.progress.setValue(0)
            self._status("Stopped. No model file was written yet; the run so far is saved, and Resume "
                         f"continues it (checkpoint {self.checkpoint}).")
            self.resume_button.setEnabled(True)
        elif self.cancelled:
            self.progress.setValue(0)
            self._status("Stopped before anything was saved.")
        else:
            self.progress.setValue(0)
            self.new_model = None
            crashed = exit_status == QProcess.ExitStatus.CrashExit
            how = "the trainer crashed" if crashed else f"exit code {exit_code}"
            errors = [e.message for e in self.events if isinstance(e, ErrorEvent)]
            reason = errors[-1] if errors else reason_from(self._stderr_tail)
            self._status(f"Training failed: {reason} ({how})." if reason else f"Training failed ({how}); see the log.",
                         error=True)

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._set_running(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self._status(f"Could not start the trainer ({self.command[0]}).", error=True)

    # ---- helpers -----------------------------------------------------------------------------------------

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def _status(self, text: str, error: bool = False) -> None:
        self._refused = False
        self.stage_label.setText(text)
        self.stage_label.setStyleSheet("color:#b3261e;" if error else "")

    def _inputs_edited(self, _text: str) -> None:
        if self._refused and not self.is_running():
            self._status("Not started")  # the refusal was about what is being edited now

    def _fresh_name(self) -> Path:
        return fresh_output(models_dir(), f"finetuned-{time.strftime('%Y%m%d-%H%M')}")

    def _propose_next_name(self) -> None:
        """After a model is written, the next run gets a name of its own (Start would otherwise ask)."""
        out = Path(self.out_edit.text().strip()).expanduser()
        if output_taken(out):
            self.out_edit.setText(str(fresh_output(out.parent, f"finetuned-{time.strftime('%Y%m%d-%H%M')}")))

    def _ask_taken(self, out: Path) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Name taken", "", parent=self)
        resume = None
        if out.exists():
            box.setText(f"A model named {out.name} already exists. Replace it?")
        else:
            box.setText(f"A stopped training run named {out.name} exists. Resume it, or start over and "
                        "replace it? (Resume needs the same dataset and starting model.)")
            resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked is replace:
            return "replace"
        return "resume" if not out.exists() and clicked is resume else ""

    def _set_running(self, running: bool) -> None:
        self.running_changed.emit(running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.resume_button.setEnabled(False)
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
        # closing while training stops the trainer (it saves the run first) rather than orphaning it
        if self.is_running():
            self.cancel()
        super().closeEvent(event)

