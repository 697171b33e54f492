"""Trainer faults: a missing or empty dataset, a damaged --init model, damaged checkpoints under --resume,
and a loss that turns NaN. Each gives one line (`trainer: error: ...`), a non-zero exit and no traceback,
and the last good checkpoint is never overwritten. Everything runs in-process on the tiny preset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from trainer.errors import TrainingDiverged
from trainer.state import peek_run, save_state
from trainer.train import Trainer
from trainer.train import main as train_main

FAST = ["--preset", "tiny", "--batch-size", "8", "--quiet", "--no-adapt-threads", "--prior", "kernel"]


def _run(capsys, dataset, out: Path, *extra: str) -> tuple[int, list[str]]:
    code = train_main([str(dataset), "--out", str(out), *FAST, "--tone-cache", str(out.parent / "cache"), *extra])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("trainer")]
    return code, err


def test_missing_dataset_folder_is_one_line_exit_2(tmp_path, capsys):
    code, err = _run(capsys, tmp_path / "nope", tmp_path / "m.safetensors", "--steps", "1")
    assert code == 2
    assert err == [f"trainer: error: dataset folder {tmp_path / 'nope'} does not exist"]
    # the app reads the same reason from the progress events
    assert train_main([str(tmp_path / "nope"), "--out", str(tmp_path / "m.safetensors"), "--progress-json"]) == 2
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [{"event": "error", "message": f"dataset folder {tmp_path / 'nope'} does not exist"}]


def test_no_usable_images_says_why_and_writes_the_report(tmp_path, capsys):
    from PIL import Image
    data = tmp_path / "set"
    data.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (32, 32), 128).save(data / name)
    (data / "metadata.jsonl").write_bytes(b'{"file_name": "a.png", "text": "Un caf\xe9."}\n'
                                          b'{"file_name": "gone.png", "text": "A ghost."}\n')
    out = tmp_path / "m.safetensors"
    code, err = _run(capsys, data, out, "--steps", "1")
    assert code == 2 and len(err) == 1
    report = tmp_path / "m.run" / "report.json"
    assert err[0] == (f"trainer: error: no usable images in {data} (4 skipped: 2 not listed in metadata.jsonl; "
                      f"1 metadata line is not UTF-8; 1 missing file); every skipped file and its reason: {report}")
    saved = json.loads(report.read_text())
    assert saved["dataset"]["counts"]["items"] == 0 and len(saved["dataset"]["skipped"]) == 4
    assert not out.exists()


def test_damaged_init_model_is_one_line(tmp_path, capsys, shapes_dataset):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 3)
    code, err = _run(capsys, shapes_dataset, tmp_path / "m.safetensors", "--steps", "1", "--init", str(bad))
    assert code == 2
    assert err == [f"trainer: error: --init {bad}: not an ArtGen model file, or damaged "
                   "(the file is too short: empty or cut off)"]


def _tiny_state(path: Path) -> Path:
    lin = torch.nn.Linear(2, 2)
    save_state(path, {"model": lin}, {}, {"stage": "autoencoder", "step": 3, "elapsed": {}, "vocab": [],
                                          "config": "{}"})
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated", "foreign", "run_not_json", "run_lacks_fields",
                                  "no_weights", "fifo"])
def test_damaged_checkpoint_under_resume_is_named_with_how_to_start_over(tmp_path, capsys, shapes_dataset, kind):
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.run" / "state.safetensors"
    state.parent.mkdir()
    good = _tiny_state(tmp_path / "good.safetensors")
    if kind == "empty":
        state.write_bytes(b"")
    elif kind == "garbage":
        state.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        state.write_bytes(good.read_bytes()[: good.stat().st_size - 20])
    elif kind == "foreign":
        save_file({"w": torch.zeros(2)}, str(state))
    elif kind == "run_not_json":
        save_file({"model/weight": torch.zeros(2, 2)}, str(state), metadata={"run": "{bad", "optimizers": "{}"})
    elif kind == "run_lacks_fields":
        save_file({"model/weight": torch.zeros(2, 2)}, str(state), metadata={"run": "{}", "optimizers": "{}"})
    elif kind == "fifo":
        os.mkfifo(state)  # opening it to read would wait for a writer forever
    elif kind == "no_weights":
        with safe_open(str(good), framework="pt") as f:
            meta = f.metadata()
        save_file({"rng/torch": torch.get_rng_state()}, str(state), metadata=meta)
    code, err = _run(capsys, shapes_dataset, out, "--steps", "1", "--resume")
    if kind == "no_weights":  # peek_run passes; the vocabulary and config are not this run's
        assert code == 2 and err == [f"trainer: error: {state} belongs to another dataset or config; "
                                     "use another --run-dir or delete it"]
        return
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"trainer: error: checkpoint {state} is damaged or not this trainer's (")
    assert err[0].endswith("); to start over, delete it or use another --run-dir")
    if kind == "empty":
        assert "(the file is empty)" in err[0]
    if kind == "fifo":
        assert "(not a regular file)" in err[0]


def test_nan_loss_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path, capsys, shapes_dataset, monkeypatch):
    real = Trainer.train_autoencoder

    def poisoned(self):
        step = real(self)

        def run(i, *rest):
            if i == 5:  # what a diverging run does: the weights turn NaN
                with torch.no_grad():
                    next(self.model.encoder.parameters()).fill_(float("nan"))
            return step(i, *rest)
        return run

    monkeypatch.setattr(Trainer, "train_autoencoder", poisoned)
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.run" / "state.safetensors"
    code, err = _run(capsys, shapes_dataset, out, "--steps", "40", "--checkpoint-every", "0s")
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("trainer: error: the autoencoder loss (")
    assert err[0].endswith(f"became NaN or infinite at step 6; stopped without saving, the last good checkpoint "
                           f"{state} is kept (continue with --resume, perhaps with a lower --lr)")
    assert peek_run(state)["step"] == 5 and not out.exists()
    with safe_open(str(state), framework="pt") as f:
        assert all(torch.isfinite(f.get_tensor(k)).all() for k in f.keys() if f.get_tensor(k).is_floating_point())

    # a checkpoint that holds NaN (written by an older trainer, say) is refused, not trained on
    with safe_open(str(state), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    name = next(k for k in tensors if k.startswith("model/encoder."))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(state), metadata=meta)
    monkeypatch.setattr(Trainer, "train_autoencoder", real)
    code, err = _run(capsys, shapes_dataset, out, "--steps", "40", "--resume")
    assert code == 2 and len(err) == 1
    assert f"checkpoint {state} is damaged or not this trainer's (it holds NaN or infinite values ({name})" in err[0]


def test_weights_holding_nan_are_never_written(tmp_path):
    state = _tiny_state(tmp_path / "state.safetensors")
    before = state.read_bytes()
    lin = torch.nn.Linear(2, 2)
    with torch.no_grad():
        lin.bias.fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match=r"the weights hold NaN or infinite values \(model/bias\)"):
        save_state(state, {"model": lin}, {}, {"stage": "autoencoder", "step": 4, "elapsed": {}, "vocab": [],
                                               "config": "{}"})
    assert state.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left either
