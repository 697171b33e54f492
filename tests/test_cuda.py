"""The engine and the trainer on a CUDA GPU (skipped without one; scripts/cuda_check.sh runs them).

The determinism contract (docs/architecture.md, "Determinism") holds per machine, so these compare GPU
results with GPU results only.
"""

import pytest
import torch

from artgen_desktop.engine import Engine, Settings, read_info
from artgen_desktop.engine.pngmeta import png_bytes

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _pairs(engine, seeds, settings, batch_size):
    return {r.seed: (png_bytes(r.image, r.metadata), r.caption)
            for r in engine.generate(seeds, settings, batch_size=batch_size)}


def test_cuda_engine_repeats_a_seed_exactly(tiny_model_path):
    engine = Engine.load(tiny_model_path, device="cuda")
    assert engine.device.type == "cuda" and engine.device_name.startswith("CUDA: ")
    settings = Settings(temperature=0.8)
    first = _pairs(engine, list(range(8)), settings, 8)
    again = _pairs(Engine.load(tiny_model_path, device="cuda"), list(range(8)), settings, 8)
    assert first == again
    assert all(caption for _, caption in first.values())


def test_cuda_engine_is_batch_invariant(tiny_model_path):
    engine = Engine.load(tiny_model_path, device="cuda")
    for temperature in (0.0, 0.8):
        settings = Settings(temperature=temperature)
        batched = _pairs(engine, list(range(8)), settings, 8)
        single = _pairs(engine, [5, 3, 7, 1, 0, 2, 4, 6], settings, 1)
        assert batched == single, f"temperature {temperature}"


def test_cuda_interpolation_frames_match_their_seeds(tiny_model_path):
    engine = Engine.load(tiny_model_path, device="cuda")
    frames = engine.interpolate(3, 4, frames=5, settings=Settings(temperature=0.0))
    assert len(frames) == 5 and frames[0].seed == 3 and frames[-1].seed_b == 4


def test_cuda_training_with_bf16_autocast(tmp_path, shapes_dataset):
    """--device cuda with --precision auto (bf16 on CUDA): both stages run and the model loads anywhere."""
    from trainer.train import main as train_main
    out = tmp_path / "m.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(out), "--preset", "tiny", "--steps", "40",
                       "--batch-size", "16", "--device", "cuda", "--quiet", "--adv-start", "0",
                       "--tone-cache", str(tmp_path / "cache")]) == 0
    info, _ = read_info(out)
    assert info.summary["device"].startswith("cuda") and info.summary["precision"] == "bf16"
    assert info.summary["steps"]["autoencoder"] == 40
    results = Engine.load(out, device="cpu").generate([0, 1])
    assert all(r.caption for r in results)


def test_cuda_decoder_prior_fine_tune(tmp_path, shapes_dataset):
    """--finetune decoder-prior on the GPU: the latent table lives there and the model loads anywhere."""
    from trainer.train import main as train_main
    base, tuned = tmp_path / "base.safetensors", tmp_path / "tuned.safetensors"
    common = ["--batch-size", "16", "--device", "cuda", "--quiet", "--tone-cache", str(tmp_path / "cache")]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "20", *common]) == 0
    assert train_main([str(shapes_dataset), "--out", str(tuned), "--init", str(base), "--finetune", "decoder-prior",
                       "--steps", "20", "--adv-start", "0", *common]) == 0
    info, _ = read_info(tuned)
    assert info.summary["finetune"] == "decoder-prior" and info.summary["steps"]["autoencoder"] == 20
    assert all(r.caption for r in Engine.load(tuned, device="cpu").generate([0, 1]))
