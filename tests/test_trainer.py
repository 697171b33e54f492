"""The trainer on a tiny model and a drawn-shapes fixture: loss falls, resume, DDP, evaluation."""

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from artgen_desktop.engine import Engine, read_info
from trainer.config import TrainConfig
from trainer.evaluate import evaluate, is_fallback, well_formed
from trainer.train import KERNEL_PRIOR_STEPS, build_parser, parse_duration
from trainer.train import main as train_main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_tiny_model_with_mlp_prior_trains_and_loss_falls(tmp_path, shapes_dataset, capsys):
    out = tmp_path / "m.safetensors"
    code = train_main([str(shapes_dataset), "--out", str(out), "--preset", "tiny", "--steps", "120",
                       "--prior", "mlp", "--prior-steps", "150", "--batch-size", "16", "--progress-json", "--quiet",
                       "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"])
    assert code == 0
    events = _events(capsys.readouterr().out)
    ae = [e for e in events if e["event"] == "progress" and e["stage"] == "autoencoder"]
    prior = [e for e in events if e["event"] == "progress" and e["stage"] == "prior"]
    assert ae[-1]["losses"]["rec"] < 0.8 * ae[0]["losses"]["rec"]
    assert ae[-1]["losses"]["cap"] < 0.8 * ae[0]["losses"]["cap"]
    assert prior[-1]["loss"] < prior[0]["loss"]
    assert events[-1] == {"event": "done", "model": str(out)}
    info, tok = read_info(out)
    assert info.summary["images"] == 48 and info.summary["steps"] == {"autoencoder": 120, "prior": 150}
    assert "circle" in tok.words
    assert (tmp_path / "m.run" / "samples-prior.png").exists()
    results = Engine.load(out, device="cpu").generate([0, 1, 2])
    assert all(r.caption for r in results)


def test_tiny_model_with_edge_and_adversarial_losses_trains(tmp_path, shapes_dataset, capsys):
    """The sharpening losses: the critic joins at once here, its loss is reported, reconstruction improves."""
    out = tmp_path / "m.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(out), "--preset", "tiny", "--steps", "120",
                       "--batch-size", "16", "--progress-json", "--quiet", "--edge-weight", "2",
                       "--adv-weight", "0.5", "--adv-start", "0", "--tone-cache", str(tmp_path / "cache"),
                       "--no-adapt-threads"]) == 0
    ae = [e for e in _events(capsys.readouterr().out) if e["event"] == "progress" and e["stage"] == "autoencoder"]
    assert {"rec", "cap", "adv", "disc"} <= set(ae[-1]["losses"])
    assert ae[-1]["losses"]["rec"] < 0.8 * ae[0]["losses"]["rec"]
    assert not any(k.startswith("disc") for k in load_file(str(out)))  # the critic stays out of the model


def test_losses_edge_term_and_sharpness_prefer_crisp_edges():
    import torch
    import torch.nn.functional as F

    from trainer.losses import edge_sharpness, edges_kept, reconstruction_loss
    crisp = torch.ones(1, 1, 32, 32)
    crisp[..., 8:24, 8:24] = 0
    soft = F.avg_pool2d(F.pad(crisp, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    assert float(edge_sharpness(crisp)) > 1.5 * float(edge_sharpness(soft))
    # the kernel prior's ranking: a faithful redrawing keeps all its edges, a blurred one loses some
    assert float(edges_kept(crisp, crisp)) == pytest.approx(1.0)
    assert float(edges_kept(crisp, soft)) < 0.7
    # the edge term charges a blurred square more than L1+MSE alone do
    assert float(reconstruction_loss(soft, crisp, 1.0)) > 1.5 * float(reconstruction_loss(soft, crisp, 0.0))
    assert float(reconstruction_loss(crisp, crisp, 1.0)) == 0.0


@pytest.mark.slow  # trains four models
def test_kernel_prior_stores_the_training_latents_and_seeds_land_near_them(tmp_path, shapes_dataset):
    import torch

    from artgen_desktop.engine.sampling import seed_noise
    out = tmp_path / "k.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(out), "--preset", "tiny", "--steps", "60", "--batch-size",
                       "16", "--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads",
                       "--prior-bandwidth", "0.2"]) == 0
    info, _ = read_info(out)
    train = info.summary["train_images"]
    assert info.config.prior_bank == 2 * train and info.config.prior_bandwidth == 0.2  # each image and its mirror
    assert info.config.prior_steps == KERNEL_PRIOR_STEPS
    assert info.summary["prior"] == "kernel" and info.summary["steps"]["prior"] == 1
    engine = Engine.load(out, device="cpu")
    prior = engine.model.prior
    bank = prior.bank
    z = prior.normalise(engine.latents(seed_noise(range(64), info.config.latent_dim)))
    nearest = torch.cdist(z, bank).min(1).values
    # the store holds normalised latents (mean 0, spread 1 per dimension)
    assert float(bank.mean(0).abs().max()) < 1e-3 and abs(float(bank.std(0).median()) - 1) < 1e-3
    # a sample sits about bandwidth * sqrt(dim) from its stored latent: far closer than stored latents
    # sit to each other on average
    assert float(nearest.median()) < 0.2 * info.config.latent_dim**0.5 * 1.5
    assert float(nearest.median()) < 0.5 * float(torch.cdist(bank, bank).mean())

    # fine-tuning onto another folder refits the store to that folder's images (and keeps the autoencoder)
    from conftest import make_shapes_dataset
    other = make_shapes_dataset(tmp_path / "other", per_kind=3)
    tuned = tmp_path / "tuned.safetensors"
    assert train_main([str(other), "--out", str(tuned), "--init", str(out), "--finetune", "prior-only",
                       "--steps", "1", "--quiet", "--tone-cache", str(tmp_path / "cache"),
                       "--no-adapt-threads"]) == 0
    tuned_info, _ = read_info(tuned)
    assert tuned_info.config.prior_bank == 2 * tuned_info.summary["train_images"] != info.config.prior_bank
    assert all(r.caption for r in Engine.load(tuned, device="cpu").generate([0, 1]))

    # --prior-keep: only the share of images the decoder redraws best (and their mirror images)
    kept = tmp_path / "kept.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(kept), "--init", str(out), "--finetune", "prior-only",
                       "--prior-keep", "0.5", "--quiet", "--tone-cache", str(tmp_path / "cache"),
                       "--no-adapt-threads"]) == 0
    kept_info, _ = read_info(kept)
    assert kept_info.config.prior_bank == 2 * round(0.5 * train) and kept_info.summary["prior_keep"] == 0.5

    # and back to a learnt MLP prior on the same autoencoder, with the MLP's own ODE steps
    mlp = tmp_path / "mlp.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(mlp), "--init", str(out), "--finetune", "prior-only",
                       "--prior", "mlp", "--prior-steps", "5", "--quiet", "--tone-cache", str(tmp_path / "cache"),
                       "--no-adapt-threads"]) == 0
    mlp_info, _ = read_info(mlp)
    assert mlp_info.config.prior_bank == 0 and mlp_info.config.prior_steps == 16
    assert mlp_info.summary["init_summary"]["prior"] == "kernel"


@pytest.mark.slow
def test_kill_and_resume_continue_from_the_checkpoint(tmp_path, shapes_dataset):
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.run" / "state.safetensors"
    base = [sys.executable, "-m", "trainer", "train", str(shapes_dataset), "--out", str(out), "--preset", "tiny",
            "--batch-size", "8", "--quiet", "--progress-json", "--tone-cache", str(tmp_path / "cache"),
            "--no-adapt-threads"]
    proc = subprocess.Popen(base + ["--steps", "100000", "--checkpoint-every", "1s"], env=ENV, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not state.exists():
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)  # a hard kill: no chance to save
    proc.wait()
    assert state.exists()
    from trainer.state import peek_run
    killed_at = peek_run(state)["step"]
    assert killed_at > 0

    # SIGTERM (what the app's Cancel sends) saves and exits with 130
    proc = subprocess.Popen(base + ["--steps", "100000", "--resume"], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = json.loads(next(line for line in proc.stdout if line.startswith('{"event": "progress"')))
    assert first["step"] > killed_at  # continued, did not start over
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    stopped_at = peek_run(state)["step"]
    assert stopped_at >= first["step"]

    done = subprocess.run(base + ["--steps", str(stopped_at + 20), "--prior-steps", "30", "--resume"], env=ENV,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert read_info(out)[0].summary["steps"]["autoencoder"] == stopped_at + 20


@pytest.mark.slow
def test_ddp_with_two_gloo_processes(tmp_path, shapes_dataset):
    out = tmp_path / "ddp.safetensors"
    # --standalone: the launcher binds its rendezvous port itself (port 0); a port picked here and freed
    # again could be taken by another process on a busy machine before the launcher binds it
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer", "train", str(shapes_dataset), "--out", str(out), "--preset", "tiny",
           "--steps", "12", "--prior-steps", "12", "--batch-size", "8", "--quiet", "--device", "cpu",
           "--tone-cache", str(tmp_path / "cache")]
    # one thread per rank (two ranks share the cores), and a Python stack from any rank that aborts
    env = {**ENV, "MKL_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = read_info(out)[0].summary
    assert summary["world_size"] == 2 and summary["steps"]["autoencoder"] == 12
    # the caption decoder alone (CaptionStage) under DDP too
    tuned = tmp_path / "tuned.safetensors"
    cmd = cmd[:cmd.index("--out")] + ["--out", str(tuned), "--init", str(out), "--finetune", "captions-prior",
                                      "--steps", "6", "--batch-size", "8", "--quiet", "--device", "cpu",
                                      "--tone-cache", str(tmp_path / "cache")]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tuned_summary = read_info(tuned)[0].summary
    assert tuned_summary["steps"]["autoencoder"] == 6 and set(tuned_summary["final_losses"]["autoencoder"]) == {"cap"}
    before, after = load_file(out), load_file(tuned)
    assert all(before[k].equal(after[k]) for k in before if k.startswith(("encoder.", "decoder.")))


def test_evaluate_reports_every_metric(tmp_path):
    from conftest import make_shapes_dataset
    shapes_dataset = make_shapes_dataset(tmp_path / "shapes", per_kind=20)  # enough for a held-out split
    out = tmp_path / "m.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(out), "--preset", "tiny", "--steps", "150",
                       "--prior-steps", "100", "--batch-size", "16", "--quiet", "--no-adapt-threads",
                       "--tone-cache", str(tmp_path / "cache")]) == 0
    # the judge's epochs, not its time limit, end its training here: a busy machine gets the same judge
    m = evaluate(out, shapes_dataset, seeds=100, out_dir=tmp_path / "eval", judge_seconds=600,
                 cache_dir=tmp_path / "cache", log=lambda s: None)
    rp = m["r_precision"]
    assert rp["real_heldout"] > rp["shuffled"]
    for key in ("generated_vs_heldout", "train_vs_heldout"):
        assert m["frechet_judge"][key] >= 0
    for key in ("well_formed_rate", "distinct_rate", "verbatim_copy_rate"):
        assert 0 <= m[key] <= 1
    assert m["fallback_count"] >= 0 and m["diversity"]["generated"] > 0
    assert set(m["targets"]) == {"r_precision_ratio", "fd_ratio", "fallback_count", "well_formed_rate",
                                 "distinct_rate", "sharpness_ratio", "novelty_ratio"}
    sharp = m["sharpness"]
    assert sharp["real_heldout"] > 0 and sharp["generated"] > 0 and sharp["reconstructed_heldout"] > 0
    assert m["sharpness_ratio"] == pytest.approx(sharp["generated"] / sharp["real_heldout"])
    assert 0 < m["heldout_reconstruction_l1"] < 1 and m["novelty_ratio"] > 0
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["seeds"] == 100
    assert (tmp_path / "eval" / "contact_sheet.png").exists()
    assert (tmp_path / "eval" / "contact_sheet_1000.png").exists()


def test_caption_checks_and_durations():
    assert well_formed("A red apple.") and not well_formed("A red red apple.")
    assert not well_formed("A cat on a cat on a mat.") and not well_formed("A red apple")
    assert is_fallback("An engraving.") and not is_fallback("An engraved teapot.")
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400 and parse_duration("45m") == 2700
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")


def test_train_config_is_the_command_lines_options_with_their_defaults():
    """Every option is a TrainConfig field and its default comes from there; resolved() fills in the rest."""
    parsed = vars(build_parser().parse_args(["data", "--out", "m.safetensors"]))
    assert parsed == {"dataset": "data", "out": "m.safetensors", **TrainConfig.option_defaults()}
    options = TrainConfig(**parsed)
    config = options.resolved()
    assert config.run_dir == "m.run" and config.device_resolved in ("cpu", "cuda")
    assert config.precision_resolved in ("fp32", "bf16") and options.device_resolved is None
    explicit = TrainConfig("data", "m.safetensors", run_dir="r", device="cpu", precision="fp32").resolved(local_rank=1)
    assert (explicit.run_dir, explicit.device_resolved, explicit.precision_resolved) == ("r", "cpu", "fp32")
    assert TrainConfig("d", "o", device="cuda", precision="fp32").resolved(1).device_resolved == "cuda:1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0
    with pytest.raises(ValueError, match="--prior-keep"):
        TrainConfig("d", "o", prior_keep=0)


def test_prior_drawings_stores_exactly_the_listed_training_drawings(tmp_path, shapes_dataset, tiny_model_path,
                                                                     capsys):
    """A curated bank: the kernel prior stores the listed drawings (and their mirror images), those held out
    or not in the dataset are left out, and a list that names no training drawing is refused."""
    import torch

    from trainer.train import Dist, Trainer

    circles = sorted(p.name for p in shapes_dataset.glob("circle-*.png"))
    listing = tmp_path / "bank.txt"
    listing.write_text("# the circles\n" + "\n".join(circles) + "\n\n  not-in-the-dataset.png  \n")
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"]
    out = tmp_path / "circles.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(out), "--init", str(tiny_model_path), "--finetune",
                       "prior-only", "--prior-drawings", str(listing), *common]) == 0
    info, _ = read_info(out)
    config = TrainConfig(str(shapes_dataset), str(tmp_path / "x.safetensors"), init=str(out), finetune="prior-only",
                         prior_drawings=str(listing), tone_cache=str(tmp_path / "cache")).resolved()
    trainer = Trainer(config, Dist())
    stored = [trainer.items[trainer.train_idx[k]] for k in trainer.listed]
    train_circles = [it for it in trainer.items if it.split == "train" and it.path.name.startswith("circle-")]
    assert stored == train_circles and 0 < len(stored) <= len(circles)
    assert info.config.prior_bank == 2 * len(stored) and info.summary["prior_drawings"] == {
        "file": "bank.txt", "stored": len(stored)}
    # the bank holds those drawings' latents and their mirror images' (the encoder is the model's own)
    x = torch.stack([trainer.tones[trainer.train_idx[k]] for k in trainer.listed]).float().div(255).unsqueeze(1)
    prior = Engine.load(out, device="cpu").model.prior
    with torch.no_grad():
        z = torch.cat([trainer.model.eval().encoder(x), trainer.model.encoder(x.flip(-1))])
    assert torch.allclose(prior.normalise(z), prior.bank, atol=1e-4)

    listing.write_text("not-in-the-dataset.png\n")
    assert train_main([str(shapes_dataset), "--out", str(tmp_path / "none.safetensors"), "--init", str(out),
                       "--finetune", "prior-only", "--prior-drawings", str(listing), *common]) == 2
    assert "none of its 1 names is a training image" in capsys.readouterr().err
    assert train_main([str(shapes_dataset), "--out", str(tmp_path / "none.safetensors"), "--init", str(out),
                       "--finetune", "prior-only", "--prior-drawings", str(tmp_path), *common]) == 2
    assert "--prior-drawings" in capsys.readouterr().err and not (tmp_path / "none.safetensors").exists()
    for clash in ({"prior_keep": 0.7}, {"prior": "mlp"}):
        with pytest.raises(ValueError, match="--prior-drawings"):
            TrainConfig("d", "o", prior_drawings="bank.txt", **clash)


@pytest.mark.parametrize("flags", [["--edge-weight", "-1"], ["--adv-weight", "nan"], ["--adv-start", "1.5"]])
def test_bad_loss_settings_are_refused_before_anything_runs(tmp_path, flags, capsys):
    with pytest.raises(SystemExit) as e:
        train_main([str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--steps", "1", *flags])
    assert e.value.code == 2 and flags[0] in capsys.readouterr().err
    assert not (tmp_path / "m.run").exists()


def test_captions_prior_fine_tune_trains_the_caption_decoder_on_latents_encoded_once(tmp_path, shapes_dataset,
                                                                                     capsys):
    """--finetune captions-prior: the image autoencoder is kept as it was, the caption loss falls, and no
    reconstruction loss is computed (no image is encoded or drawn per step)."""
    base = tmp_path / "base.safetensors"
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads", "--batch-size", "16"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "20", *common]) == 0
    capsys.readouterr()
    tuned = tmp_path / "tuned.safetensors"
    assert train_main([str(shapes_dataset), "--out", str(tuned), "--init", str(base), "--finetune", "captions-prior",
                       "--steps", "150", "--progress-json", *common]) == 0
    steps = [e for e in _events(capsys.readouterr().out) if e["event"] == "progress" and e["stage"] == "autoencoder"]
    assert set(steps[-1]["losses"]) == {"cap"} and steps[-1]["losses"]["cap"] < 0.8 * steps[0]["losses"]["cap"]
    before, after = load_file(base), load_file(tuned)
    image_side = [k for k in before if k.startswith(("encoder.", "decoder."))]
    assert image_side and all(before[k].equal(after[k]) for k in image_side)
    assert not before["captioner.prefix.weight"].equal(after["captioner.prefix.weight"])


def test_the_caption_stage_reads_each_items_own_latent_and_its_mirror_images(tmp_path, shapes_dataset, monkeypatch):
    """The latents encoded once are looked up by item: a batch gets encoder(its tones) or encoder(mirrored)."""
    import torch

    from trainer.train import Dist, Trainer

    base = tmp_path / "base.safetensors"
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "5", *common]) == 0
    args = build_parser().parse_args([str(shapes_dataset), "--out", str(tmp_path / "t.safetensors"), "--init",
                                      str(base), "--finetune", "captions-prior", "--batch-size", "8", *common])
    trainer = Trainer(TrainConfig(**vars(args)).resolved(), Dist())
    seen = []
    monkeypatch.setattr("trainer.train.noisy", lambda z: seen.append(z.clone()) or z)
    step = trainer.train_autoencoder()
    torch.manual_seed(3)
    step(0, 10, float("inf"), 0.0)
    torch.manual_seed(3)
    idx = next(trainer.batches("autoencoder", 8))
    flip = torch.rand(len(idx)) < 0.5
    x = trainer.tones[idx].float().div(255).unsqueeze(1)
    with torch.no_grad():
        trainer.model.eval()
        want = torch.where(flip[:, None], trainer.model.encoder(x.flip(-1)), trainer.model.encoder(x))
    assert len(trainer.val_idx) and torch.allclose(seen[0], want, atol=1e-5)


def test_decoder_prior_fine_tune_trains_the_decoder_with_the_latents_the_prior_stores(tmp_path, shapes_dataset,
                                                                                      capsys):
    """--finetune decoder-prior: the encoder and caption decoder are kept, the image decoder learns, and the
    kernel prior stores the trained latents (not the encoder's, which a prior-only refit stores)."""
    base, tuned, refit = (tmp_path / f"{n}.safetensors" for n in ("base", "tuned", "refit"))
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads", "--batch-size", "16",
              "--no-prior-mirror", "--prior-keep", "0.7"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "30", *common]) == 0
    capsys.readouterr()
    assert train_main([str(shapes_dataset), "--out", str(tuned), "--init", str(base), "--finetune", "decoder-prior",
                       "--steps", "120", "--adv-start", "0.5", "--progress-json", *common]) == 0
    steps = [e for e in _events(capsys.readouterr().out) if e["event"] == "progress" and e["stage"] == "autoencoder"]
    assert {"rec", "cap", "adv", "disc"} == set(steps[-1]["losses"])
    assert steps[-1]["losses"]["rec"] < 0.9 * steps[0]["losses"]["rec"]
    assert train_main([str(shapes_dataset), "--out", str(refit), "--init", str(base), "--finetune", "prior-only",
                       *common]) == 0
    before, after, refitted = load_file(base), load_file(tuned), load_file(refit)
    kept = [k for k in before if k.startswith(("encoder.", "captioner."))]
    assert kept and all(before[k].equal(after[k]) for k in kept)
    decoder = [k for k in before if k.startswith("decoder.")]
    assert decoder and all(not before[k].equal(after[k]) for k in decoder if k.endswith("weight"))
    stored = [after["prior.bank"] * after["prior.latent_std"] + after["prior.latent_mean"],
              refitted["prior.bank"] * refitted["prior.latent_std"] + refitted["prior.latent_mean"]]
    assert stored[0].shape == stored[1].shape  # as many drawings; every stored latent moved
    assert (stored[0] - stored[1]).norm(dim=1).min() > 1e-3
    assert read_info(tuned)[0].summary["finetune"] == "decoder-prior"


def test_the_latent_table_starts_from_the_kept_drawings_and_each_step_draws_its_rows_own_drawings(
        tmp_path, shapes_dataset, monkeypatch):
    """Row r holds encoder(tone of items[r], mirrored where mirrored[r]); a step's reconstruction target is
    exactly the tones of its rows, so a row's latent only ever learns its own drawing."""
    import torch

    from artgen_desktop.engine.model import on_sphere
    from trainer.train import Dist, Trainer

    base = tmp_path / "base.safetensors"
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "5", *common]) == 0
    args = build_parser().parse_args([str(shapes_dataset), "--out", str(tmp_path / "t.safetensors"), "--init",
                                      str(base), "--finetune", "decoder-prior", "--batch-size", "8",
                                      "--prior-keep", "0.5", *common])
    trainer = Trainer(TrainConfig(**vars(args)).resolved(), Dist())
    targets = []
    real_loss = __import__("trainer.train", fromlist=["reconstruction_loss"]).reconstruction_loss
    monkeypatch.setattr("trainer.train.reconstruction_loss",
                        lambda recon, x, w: targets.append(x.clone()) or real_loss(recon, x, w))
    step = trainer.train_autoencoder()
    table = trainer.table
    n = len(table.latents) // 2
    assert n == round(len(trainer.train_idx) * 0.5) and table.mirrored.tolist() == [False] * n + [True] * n
    assert table.items[:n].equal(table.items[n:]) and len(set(table.items[:n].tolist())) == n
    tones = trainer.tones[table.items].float().div(255).unsqueeze(1)
    tones = torch.where(table.mirrored.view(-1, 1, 1, 1), tones.flip(-1), tones)
    trainer.model.eval()
    with torch.no_grad():
        assert torch.allclose(table.latents, on_sphere(trainer.model.encoder(tones)), atol=1e-5)
    rows = next(trainer.batches("autoencoder", 8, torch.arange(len(table.latents)).numpy()))
    before = table.latents.clone()
    trainer.model.train()
    step(0, 10, float("inf"), 0.0)
    assert torch.equal(targets[0], tones[rows])
    changed = (table.latents != before).any(1)
    assert changed[rows].all() and changed.sum() == len(rows)
    trainer.fit_kernel_prior()  # stage 2 stores the rows as they are
    assert torch.allclose(trainer.model.prior.bank, trainer.model.prior.normalise(table.latents))


def test_latent_table_adam_matches_torch_adam_on_the_rows_it_updates():
    """Each row is its own Adam problem: rows updated at different times end where torch's Adam, run on
    that row alone for the same gradients, ends (kept on the sphere after each step)."""
    import torch

    from artgen_desktop.engine.model import on_sphere
    from trainer.redraw import LatentTable

    torch.manual_seed(0)
    table = LatentTable(4, 6)
    table.fill(torch.randn(4, 6), torch.arange(4), torch.zeros(4, dtype=torch.bool))
    ref = [torch.nn.Parameter(table.latents[r].clone()) for r in range(4)]
    opts = [torch.optim.Adam([p], lr=0.05) for p in ref]
    for rows in ([0, 1], [2, 0], [0, 1], [3]):
        grad = torch.randn(len(rows), 6)
        table.adam_step(torch.tensor(rows), grad, 0.05)
        for r, g in zip(rows, grad):
            ref[r].grad = g.clone()
            opts[r].step()
            with torch.no_grad():
                ref[r].copy_(on_sphere(ref[r][None])[0])
    assert torch.allclose(table.latents, torch.stack([p.detach() for p in ref]), atol=1e-5)
    assert table.updates.tolist() == [3, 2, 1, 1]


def test_decoder_prior_refuses_what_it_cannot_train(tmp_path, shapes_dataset, capsys):
    """An MLP prior (nothing stored to train), new caption words (their embeddings would stay random in the
    frozen caption decoder) and torchrun (rows updated per process) are refused with what to do instead."""
    import json
    import shutil

    from trainer.errors import TrainerError
    from trainer.train import Dist, Trainer

    base = tmp_path / "base.safetensors"
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "5", *common]) == 0
    tune = ["--out", str(tmp_path / "t.safetensors"), "--init", str(base), "--finetune", "decoder-prior",
            "--steps", "5", *common]
    with pytest.raises(SystemExit) as e:
        train_main([str(shapes_dataset), *tune, "--prior", "mlp"])
    assert e.value.code == 2 and "needs --prior kernel" in capsys.readouterr().err
    renamed = tmp_path / "renamed"  # (a copy: the shapes dataset is shared by the session's tests)
    shutil.copytree(shapes_dataset, renamed)
    rows = [json.loads(line) for line in (renamed / "metadata.jsonl").read_text().splitlines()]
    rows[0]["text"] = "A purple rhombus."
    (renamed / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert train_main([str(renamed), *tune]) == 2
    err = capsys.readouterr().err
    assert "2 words the model does not know (purple, rhombus)" in err and "captions-prior" in err
    assert not (tmp_path / "t.safetensors").exists()
    args = build_parser().parse_args([str(shapes_dataset), *tune])
    with pytest.raises(TrainerError, match="without torchrun"):
        Trainer(TrainConfig(**vars(args)).resolved(), Dist(rank=0, world=2))


def test_decoder_prior_checkpoint_carries_the_latent_table(tmp_path, shapes_dataset):
    """--resume continues with the trained rows and their Adam moments, not with fresh encoder latents."""
    import torch

    from trainer.train import Dist, Trainer

    base = tmp_path / "base.safetensors"
    common = ["--quiet", "--tone-cache", str(tmp_path / "cache"), "--no-adapt-threads"]
    assert train_main([str(shapes_dataset), "--out", str(base), "--preset", "tiny", "--steps", "5", *common]) == 0
    argv = [str(shapes_dataset), "--out", str(tmp_path / "t.safetensors"), "--init", str(base), "--finetune",
            "decoder-prior", "--batch-size", "8", *common]
    first = Trainer(TrainConfig(**vars(build_parser().parse_args(argv))).resolved(), Dist())
    step = first.train_autoencoder()
    for i in range(3):
        step(i, 10, float("inf"), 0.0)
        first.run["step"] += 1
    first.save()
    again = Trainer(TrainConfig(**vars(build_parser().parse_args(argv + ["--resume"]))).resolved(), Dist())
    assert not bool(again.table.filled) and again.resume() and bool(again.table.filled)
    again.train_autoencoder()  # goes on with the rows it was given, never refilled from the encoder
    for name in ("latents", "items", "mirrored", "moment1", "moment2", "updates", "spread"):
        assert torch.equal(getattr(again.table, name), getattr(first.table, name)), name
    assert again.table.updates.sum() == 3 * 8
