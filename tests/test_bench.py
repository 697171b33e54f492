"""`python -m bench --quick` runs every figure and writes its JSON (a smoke run: no timing is asserted)."""

from __future__ import annotations

import json

import pytest
import torch

no_cuda = not torch.cuda.is_available()


def _number(doc: dict, *path: str) -> float:
    for key in path:
        doc = doc[key]
    assert isinstance(doc, (int, float)) and not isinstance(doc, bool), (path, doc)
    return doc


def test_quick_bench_writes_every_figure_as_json(tmp_path):
    from bench.__main__ import FIGURES, main
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    docs = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(FIGURES) <= set(docs), sorted(docs)
    for name, doc in docs.items():
        assert doc["name"] == name and doc["quick"] is True
        assert doc["machine"]["cpu"] and doc["machine"]["torch"] and _number(doc, "machine", "usable_cores") >= 1
        assert doc["machine"]["device"] == "cpu"  # the default stays the CPU
        assert _number(doc, "model", "bytes") > 0
        for t in doc["targets"].values():
            assert isinstance(t["met"], bool) and t["target"]
    positive = [
        ("throughput", "best_ours", "pairs_per_s"), ("throughput", "best_prototype", "pairs_per_s"),
        ("throughput", "ratio_best_vs_best"),
        ("latency", "image_and_caption_ms", "p50"), ("latency", "image_and_caption_ms", "p95"),
        ("interpolation", "strip_ms", "median"), ("breakdown", "ms_per_pair", "batch_1_threads_1", "engrave_512"),
        ("cold_start", "first_picture_s", "median"), ("gui", "first_thumbnail_s"), ("gui", "peak_rss_mib"),
        ("memory", "generate_peak_rss_mib"), ("memory", "app_peak_rss_mib"), ("model", "file_bytes"),
        ("training", "fp32", "images_per_s"), ("training", "bf16", "images_per_s"),
    ]
    for name, *path in positive:
        assert _number(docs[name]["figures"], *path) > 0, (name, path)
    rows = docs["throughput"]["figures"]["ours"]
    assert {(r["batch"], r["workers"]) for r in rows} == {(b, w) for b in (1, 4) for w in (1, 2)}
    assert all(r["pairs"] == 8 and r["other_processes_cores"] >= 0 for r in rows)


@pytest.mark.skipif(not no_cuda, reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu_is_one_clear_error(tmp_path, capsys):
    from bench.__main__ import main, resolve_device
    assert main(["--quick", "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: --device cuda") and "no CUDA GPU" in err[0], err
    assert not list(tmp_path.iterdir())  # nothing ran
    assert resolve_device("auto") == "cpu"


@pytest.mark.skipif(no_cuda, reason="needs a CUDA GPU")
def test_quick_bench_on_cuda_writes_the_device_figures(tmp_path):
    from bench.__main__ import DEVICE_FIGURES, main
    assert main(["--quick", "--device", "cuda", "--out", str(tmp_path)]) == 0
    docs = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(docs) == {"model", *DEVICE_FIGURES}, sorted(docs)
    for name in DEVICE_FIGURES:
        assert docs[name]["machine"]["device"].startswith("cuda ("), docs[name]["machine"]
        assert docs[name]["figures"]["device"] == "cuda"
    assert docs["training"]["figures"]["auto_precision"] == "bf16"
    assert _number(docs["training"]["figures"], "bf16", "images_per_s") > 0
    assert _number(docs["throughput"]["figures"], "best_ours", "pairs_per_s") > 0


def test_fast_cpu_renderer_draws_what_the_reference_draws():
    """The speed work (bench's hot path) must not change pictures: the CPU strip renderer against the
    whole-batch reference, on smooth tones with edges, at sizes that are and are not multiples of the tone."""
    import torch
    import torch.nn.functional as F

    from artgen_desktop.engine.render import EngraveStyle, _engrave_batched, engrave
    g = torch.Generator().manual_seed(0)
    tone = F.avg_pool2d(torch.rand(3, 1, 48, 48, generator=g), 7, 1, 3)[:, 0]
    tone = (tone - tone.amin()) / (tone.amax() - tone.amin())
    tone[:, :, :12] = 1.0  # paper with a silhouette edge
    for style, size in ((EngraveStyle(), 256), (EngraveStyle(spacing=3, angle=-20, cross_threshold=0.3,
                                                             outline=3, bend=2.5), 300)):
        fast, ref = engrave(tone, style, size), _engrave_batched(tone, style, size)
        diff = (fast.int() - ref.int()).abs()
        assert fast.shape == ref.shape and int(diff.max()) <= 2 and float(diff.float().mean()) < 0.01


def test_search_quality_words_skip_colour_names_only():
    """The quality count's words (scripts/make_atlas_sheet.py --quality): the most frequent content words,
    without colour names, which a grey engraving cannot show."""
    from artgen_desktop.engine import Engine
    from bench.atlas import COLOURS, common_words
    engine = Engine.load(None, device="cpu")
    plain, things = common_words(engine, 40), common_words(engine, 20, things=True)
    assert len(things) == 20 and not set(things) & COLOURS and set(plain[:20]) & COLOURS
    assert things == [w for w in plain if w not in COLOURS][:20]
