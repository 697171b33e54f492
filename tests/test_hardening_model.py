"""Malformed model files: each one is refused with one line naming the file (exit 2 from the CLI), and
nothing is built from a config before its types and sizes are checked. Files are made here."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from artgen_desktop.cli import main as cli_main
from artgen_desktop.engine import Engine, ModelConfig, ModelFileError, load_checkpoint, read_info
from artgen_desktop.engine.config_check import BOUNDS, ConfigError, check_config
from artgen_desktop.engine.errors import NOT_A_MODEL


def _raw(path: Path, header: dict | bytes, data: bytes = b"") -> Path:
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)
    return path


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """(tensors, metadata) of a real tiny model, to write variants of."""
    from conftest import make_tiny_model
    path = make_tiny_model(tmp_path_factory.mktemp("base") / "tiny.safetensors")
    model, tok, info = load_checkpoint(path)
    tensors = {k: v.clone() for k, v in model.state_dict().items() if k != "captioner.head.weight"}
    meta = {"format": "artgen-desktop", "format_version": "1", "config": info.config.to_json(),
            "vocab": json.dumps(tok.words), "summary": "{}"}
    return tensors, meta


def _with_config(tmp_path: Path, parts, name: str, **changes) -> Path:
    tensors, meta = parts
    config = {**json.loads(meta["config"]), **changes}
    path = tmp_path / f"{name}.safetensors"
    save_file(tensors, str(path), metadata={**meta, "config": json.dumps(config)})
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(ModelFileError) as e:
        load_checkpoint(path)
    text = str(e.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    return e.value.problem


def test_broken_headers_are_refused_in_words(tmp_path):
    nested = b"[" * 200_000 + b"]" * 200_000
    cases = {
        "nested": (nested, "its header is unreadable"),
        "nested_object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "its header is unreadable"),
        "list": ([1, 2], "its header is not a table"),
        "meta_list": ({"__metadata__": ["format"]}, "metadata is not a table of texts"),
        "meta_text": ({"__metadata__": "artgen"}, "metadata is not a table of texts"),
        "meta_numbers": ({"__metadata__": {"format": 1}}, "metadata is not a table of texts"),
        "offsets_backwards": ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, "bad data_offsets"),
        "offsets_text": ({"w": {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}}, "bad data_offsets"),
        "offsets_short": ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, "bad data_offsets"),
        "offsets_mismatch": ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}},
                             "data_offsets do not match its shape"),
        "offsets_huge": ({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}, "truncated"),
        "shape_negative": ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, "shape"),
        "dtype": ({"w": {"dtype": "F128", "shape": [2], "data_offsets": [0, 8]}}, "unknown dtype F128"),
        "entry": ({"w": [0, 8]}, "not dtype, shape and data_offsets"),
    }
    for name, (header, expected) in cases.items():
        path = _raw(tmp_path / f"{name}.safetensors", header if isinstance(header, bytes) else
                    json.dumps(header).encode(), b"\0" * 8)
        problem = _refusal(path)
        assert problem.startswith(NOT_A_MODEL) or "truncated" in problem, (name, problem)
        assert expected in problem, (name, problem)


def test_damaged_metadata_texts(tmp_path, parts):
    tensors, meta = parts
    cases = {
        "nested_config": ({"config": "[" * 100_000}, "its config is unreadable"),
        "config_list": ({"config": "[1]"}, "the config is not a table of settings"),
        "vocab_numbers": ({"vocab": "[1, 2, 3]"}, "the vocabulary is not a list of words"),
        "summary_list": ({"summary": "[]"}, "the summary is not a table"),
        "no_vocab": ({"vocab": None}, "no vocab"),
    }
    for name, (change, expected) in cases.items():
        m = {k: v for k, v in {**meta, **change}.items() if v is not None}
        path = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(path), metadata=m)
        problem = _refusal(path)
        assert problem.startswith(NOT_A_MODEL) and expected in problem, (name, problem)


@pytest.mark.parametrize("field, value, expected", [
    ("channels", "abc", "config field channels must be a list of whole numbers, not 'abc'"),
    ("channels", [8, "x"], "config field channels must be a list of whole numbers"),
    ("text_layers", 2.5, "config field text_layers must be a whole number, not 2.5"),
    ("text_layers", True, "config field text_layers must be a whole number, not True"),
    ("latent_dim", None, "config field latent_dim must be a whole number, not None"),
    ("prior_bandwidth", "wide", "config field prior_bandwidth must be a number, not 'wide'"),
    ("vocab_size", 1e9, "config field vocab_size must be a whole number, not 1000000000.0"),
    ("vocab_size", 10**9, "config field vocab_size is 1000000000, outside the sane range 0 to 200,000"),
    ("prior_bank", 10**9, "config field prior_bank is 1000000000, outside the sane range 0 to 1,000,000"),
    ("channels", [2**31, 16], "config field channels is 2147483648, outside the sane range 1 to 2,048"),
    ("channels", [], "config field channels has 0 entries (allowed: 1 to 8)"),
    ("text_dim", 2**31, "config field text_dim is 2147483648, outside the sane range"),
    ("prior_steps", 10**9, "config field prior_steps is 1000000000, outside the sane range 1 to 256"),
    ("prior_steps", 1e9, "config field prior_steps must be a whole number"),
    ("image_size", -32, "config field image_size is -32, outside the sane range"),
    ("wat", 1, "unknown config fields: wat"),
])
def test_config_of_wrong_type_or_absurd_size_is_refused_before_building(tmp_path, parts, field, value, expected):
    path = _with_config(tmp_path, parts, "bad", **{field: value})
    t0 = time.perf_counter()
    problem = _refusal(path)
    assert time.perf_counter() - t0 < 5
    assert problem.startswith(NOT_A_MODEL) and expected in problem, problem
    with pytest.raises(ModelFileError):  # the header alone is refused too: `artgen info` and the app's summary
        read_info(path)


def test_in_range_fields_that_add_up_to_terabytes_are_refused_without_allocating(tmp_path, parts):
    # each field is within BOUNDS, but a flat latent behind 1024 px stages is ~1e13 weights
    path = _with_config(tmp_path, parts, "huge", image_size=1024, channels=[2048], latent_channels=0,
                        latent_dim=65_536, prior_hidden=16_384)
    t0 = time.perf_counter()
    problem = _refusal(path)
    assert time.perf_counter() - t0 < 5
    assert problem == f"{NOT_A_MODEL} (its settings describe a model far larger than the weights the file holds)"


def test_cli_info_and_generate_refuse_in_one_line_with_exit_2(tmp_path, parts, capsys):
    bad = _with_config(tmp_path, parts, "steps", prior_steps=10**9)
    nested = _raw(tmp_path / "nested.safetensors", b"[" * 100_000 + b"]" * 100_000)
    for path in (bad, nested):
        for argv in (["info", str(path)],
                     ["generate", "--seeds", "1", "--model", str(path), "--out", str(tmp_path / "out")]):
            assert cli_main(argv) == 2, argv
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(f"artgen: error: {path}: {NOT_A_MODEL}"), err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ModelFileError, match="prior_steps"):
        Engine.load(bad, device="cpu")


def test_special_files_are_refused_unread(tmp_path):
    import os
    os.mkfifo(tmp_path / "pipe.safetensors")
    assert _refusal(tmp_path / "pipe.safetensors") == f"{NOT_A_MODEL} (not a regular file)"
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_info("/dev/zero")


def test_every_config_field_is_type_checked_even_without_bounds():
    """A field the BOUNDS table does not know still gets its annotated type checked."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Newer(ModelConfig):
        prior_kind: str = "kernel"
        widths: tuple[int, ...] = ()
        scale: float | None = None

    check_config({"prior_kind": "mlp", "widths": [8, 16], "scale": None}, Newer)
    check_config({"scale": 2}, Newer)
    for raw, expected in [({"prior_kind": 3}, "prior_kind must be text"),
                          ({"widths": [1.5]}, "widths must be a list of whole numbers"),
                          ({"scale": "x"}, "scale must be a number or empty"),
                          ({"scale": float("inf")}, "scale must be a number or empty")]:
        with pytest.raises(ConfigError, match=expected):
            check_config(raw, Newer)
    # the presets (and every default) are inside the table's bounds
    for preset in ("tiny", "default", "large"):
        check_config(json.loads(ModelConfig.preset(preset, vocab_size=8000, prior_bank=4000).to_json()))
    assert set(BOUNDS) <= set(ModelConfig.__dataclass_fields__)


def test_a_good_model_still_loads(tmp_path, parts):
    path = _with_config(tmp_path, parts, "good")
    model, tok, info = load_checkpoint(path)
    assert info.config.image_size == 32 and model.captioner.head.weight is model.captioner.tok_emb.weight
    assert torch.isfinite(model.encoder.conv[0].weight).all()
