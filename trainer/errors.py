"""Errors the trainer reports as one line (`trainer: error: ...`) and an exit code, without a traceback."""

from __future__ import annotations

from pathlib import Path


class TrainerError(Exception):
    """A problem the person running the trainer can act on; the message says what and how."""

    exit_code = 2


class CheckpointError(TrainerError):
    """A run's checkpoint that cannot be resumed from."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        super().__init__(f"checkpoint {path} is damaged or not this trainer's ({problem}); to start over, "
                         "delete it or use another --run-dir")


class TrainingDiverged(TrainerError):
    """A non-finite loss or weight: the run stops without saving, so the last good checkpoint stays."""

    exit_code = 1

    def __init__(self, what: str, state_path):
        kept = (f"the last good checkpoint {state_path} is kept (continue with --resume, perhaps with a lower "
                "--lr)" if Path(state_path).exists() else "no checkpoint was written (try a lower --lr)")
        super().__init__(f"{what}; stopped without saving, {kept}")
