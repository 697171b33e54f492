import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from artgen_desktop.engine import (
    ArtGenModel,
    Engine,
    ModelConfig,
    ModelFileError,
    Tokenizer,
    load_checkpoint,
    read_info,
    save_checkpoint,
)


def test_round_trip_keeps_weights_config_vocab_and_summary(tmp_path, tiny_model_path):
    model, tok, info = load_checkpoint(tiny_model_path)
    out = tmp_path / "copy.safetensors"
    save_checkpoint(out, model, tok, summary={"steps": 12, "dataset": "x"})
    model2, tok2, info2 = load_checkpoint(out)
    assert info2.config == info.config and tok2.words == tok.words
    assert info2.summary == {"steps": 12, "dataset": "x"}
    for (k, a), (k2, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    # the tied caption head still shares the embedding after loading
    assert model2.captioner.head.weight is model2.captioner.tok_emb.weight
    assert len(info2.hash) == 10 and info2.hash != info.hash


def test_half_precision_file_is_half_the_size_and_loads(tmp_path, tiny_model_path):
    model, tok, _ = load_checkpoint(tiny_model_path)
    full, half = tmp_path / "f.safetensors", tmp_path / "h.safetensors"
    save_checkpoint(full, model, tok)
    save_checkpoint(half, model, tok, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert Engine.load(half, device="cpu").generate([1])[0].caption


def _error(path) -> str:
    with pytest.raises(ModelFileError) as e:
        load_checkpoint(path)
    assert str(path) in str(e.value)
    return e.value.problem


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.safetensors")


def test_empty_and_truncated_files(tmp_path, tiny_model_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert "too short" in _error(empty)
    data = tiny_model_path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    assert "truncated" in _error(cut)


def test_pickle_checkpoint_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, path)
    assert "pickle" in _error(path)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    assert "pickle" in _error(raw)


def test_not_safetensors(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello, this is a text file and not a model at all")
    assert _error(path) == "not an ArtGen model file, or damaged (it does not start like a .safetensors model)"
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(struct.pack("<Q", 10) + b"\xff" * 10 + b"\x00" * 10)
    assert _error(junk) == "not an ArtGen model file, or damaged (its header is unreadable)"


def test_safetensors_without_artgen_metadata(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2, 2)}, str(path))
    assert "not an ArtGen model" in _error(path)


def test_wrong_shapes_and_missing_tensors(tmp_path, tiny_model_path):
    model, tok, info = load_checkpoint(tiny_model_path)
    header_meta = {"format": "artgen-desktop", "format_version": "1", "config": info.config.to_json(),
                   "vocab": json.dumps(tok.words), "summary": "{}"}
    tensors = {k: v.clone() for k, v in model.state_dict().items() if k != "captioner.head.weight"}
    bad = dict(tensors)
    bad["decoder.fc.weight"] = torch.zeros(3, 3)
    save_file(bad, str(tmp_path / "shape.safetensors"), metadata=header_meta)
    assert "decoder.fc.weight has shape (3, 3)" in _error(tmp_path / "shape.safetensors")
    fewer = {k: v for k, v in tensors.items() if not k.startswith("prior.")}
    save_file(fewer, str(tmp_path / "fewer.safetensors"), metadata=header_meta)
    assert "missing tensors prior." in _error(tmp_path / "fewer.safetensors")
    nan = dict(tensors)
    nan["prior.out.1.weight"] = torch.full_like(tensors["prior.out.1.weight"], float("nan"))
    save_file(nan, str(tmp_path / "nan.safetensors"), metadata=header_meta)
    assert "NaN" in _error(tmp_path / "nan.safetensors")


def test_damaged_metadata_and_other_version(tmp_path, tiny_model_path):
    model, tok, info = load_checkpoint(tiny_model_path)
    tensors = {k: v for k, v in model.state_dict().items() if k != "captioner.head.weight"}
    meta = {"format": "artgen-desktop", "format_version": "1", "config": "{not json", "vocab": "[]"}
    save_file(tensors, str(tmp_path / "meta.safetensors"), metadata=meta)
    assert _error(tmp_path / "meta.safetensors") == "not an ArtGen model file, or damaged (its config is unreadable)"
    save_file(tensors, str(tmp_path / "v9.safetensors"), metadata={**meta, "format_version": "9"})
    assert "version" in _error(tmp_path / "v9.safetensors")


def test_read_info_is_header_only_and_engine_load_refuses_folders(tmp_path, tiny_model_path):
    info, tok = read_info(tiny_model_path)
    assert info.config.vocab_size == len(tok) and info.summary["note"]
    with pytest.raises(ModelFileError, match="folder"):
        Engine.load(tmp_path)


def test_config_presets_and_unknown_fields():
    assert ModelConfig.preset("tiny").image_size == 32
    with pytest.raises(ValueError, match="unknown model preset"):
        ModelConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown config fields"):
        ModelConfig.from_json('{"wat": 1}')
    cfg = ModelConfig.preset("default", vocab_size=100)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert ArtGenModel(ModelConfig.preset("tiny", vocab_size=10)).num_parameters() > 0


def test_tokenizer_round_trip_and_unknown_words():
    tok = Tokenizer.build(["A penguin on the ice.", "A red ball, rolling!"])
    ids = tok.encode("a penguin on the ball!")
    assert ids[0] == tok.bos and ids[-1] == tok.eos
    assert tok.decode(ids[1:]) == "A penguin on the ball!"
    assert tok.unk in tok.encode("a zebra")
    assert len(tok.encode("a " * 50, max_tokens=8)) == 9
