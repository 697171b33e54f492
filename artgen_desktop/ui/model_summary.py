"""Model → Summary: what the loaded model is, in sentences and a small table; every field on a second tab.

The training summary is whatever the trainer wrote (trainer/train.py `Trainer.summary`), possibly from an
older trainer or a hand-made file, so every field is optional and read defensively.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .bridge import ModelDescription

FINETUNE_WORDS = {"all": "all of it", "captions-prior": "the captions and the prior",
                  "decoder-prior": "the image decoder and the prior", "prior-only": "the prior only"}
CAPTION_MODES = {"captions": "the dataset's own captions"}
MAX_CHAIN = 8  # fine-tunes of fine-tunes: how far back the history is followed


def _num(d: dict, key: str) -> float | None:
    v = d.get(key) if isinstance(d, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _text(d: dict, key: str) -> str:
    v = d.get(key) if isinstance(d, dict) else None
    return str(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v) else ""


def _count(n: float | None, word: str) -> str:
    return f"{int(n):,} {word}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """"45 s", "12 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def training_seconds(summary: dict) -> float:
    """Time spent training this model and the models it was fine-tuned from."""
    total, d = 0.0, summary
    for _ in range(MAX_CHAIN):
        if not isinstance(d, dict):
            break
        seconds = d.get("seconds")
        if isinstance(seconds, dict):
            total += sum(v for v in seconds.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
        d = d.get("init_summary")
    return total


def _prior_sentence(summary: dict, config: dict) -> str:
    kind = _text(summary, "prior") or ("kernel" if _num(config, "prior_bank") else "")
    steps = _num(config, "prior_steps")
    step_text = f", {int(steps)} ODE steps per picture" if steps else ""
    if kind == "kernel":
        bank = _num(config, "prior_bank")
        bw = _num(config, "prior_bandwidth")
        held = f" around {_count(bank, 'stored training latent')}" if bank else ""
        width = f" (bandwidth {bw:g})" if bw else ""
        return (f"Pictures come from a kernel prior: an exact flow to narrow Gaussians{held}{width}{step_text}. "
                "New seeds stay close to pictures the model was trained on.")
    if kind == "mlp":
        return f"Pictures come from a learned flow prior (a small network{step_text})."
    return ""


def summary_sentences(desc: ModelDescription) -> list[str]:
    """The training summary as a few plain sentences (as many as the summary supports)."""
    s = desc.summary if isinstance(desc.summary, dict) else {}
    c = desc.config if isinstance(desc.config, dict) else {}
    out = []
    dataset = _text(s, "dataset")
    images = _num(s, "images")
    if dataset or images:
        where = f" the dataset “{html.escape(dataset)}”" if dataset else ""
        what = f": {_count(images, 'picture')}" if images else ""
        split = ""
        train, val = _num(s, "train_images"), _num(s, "val_images")
        if train is not None and val:
            split = f" ({int(train):,} to learn from, {int(val):,} held back to check it)"
        out.append(f"Trained on{where}{what}{split}.")
    words = _num(s, "vocabulary") or _num(c, "vocab_size")
    mode = CAPTION_MODES.get(_text(s, "caption_mode"), "")
    if words:
        out.append(f"Its captions use {_count(words, 'word')}" + (f", learnt from {mode}." if mode else "."))
    init = _text(s, "init")
    if init:
        name = init.replace("\\", "/").rsplit("/", 1)[-1]
        part = FINETUNE_WORDS.get(_text(s, "finetune"), "")
        out.append(f"Fine-tuned from {html.escape(name)}" + (f" (training {part})." if part else "."))
    seconds = training_seconds(s)
    if seconds:
        device = _text(s, "device")
        on = f" on the {html.escape(device.upper() if device == 'cpu' else device)}" if device else ""
        earlier = " in all, counting the models it was fine-tuned from" if init else ""
        out.append(f"Training took {duration(seconds)}{on}{earlier}.")
    prior = _prior_sentence(s, c)
    if prior:
        out.append(prior)
    preset = _text(s, "preset")
    if preset:
        out.append(f"Network size: the “{html.escape(preset)}” preset.")
    when = _text(s, "trained_at")
    if when:
        out.append(f"Saved {html.escape(when)}.")
    if not out:
        out.append("This model file records no training summary.")
    return out


def summary_table(desc: ModelDescription) -> list[tuple[str, str]]:
    c = desc.config if isinstance(desc.config, dict) else {}
    rows = [("File", desc.path), ("Size", f"{desc.size_bytes / 1e6:.1f} MB"), ("Hash", desc.hash),
            ("Runs on", desc.device)]
    size = _num(c, "image_size")
    if size:
        rows.append(("Network picture size", f"{int(size)} × {int(size)} px (drawn larger by the engraver)"))
    tokens = _num(c, "max_caption_tokens")
    if tokens:
        rows.append(("Longest caption", _count(tokens, "word")))
    latent = _num(c, "latent_dim")
    if latent:
        rows.append(("Latent", f"{int(latent)} numbers per seed"))
    return rows


def summary_html(desc: ModelDescription) -> str:
    sentences = "".join(f"<p>{s}</p>" for s in summary_sentences(desc))
    rows = "".join(f"<tr><td style='padding-right:12px; color:#6b665c'>{html.escape(k)}</td>"
                   f"<td>{html.escape(v)}</td></tr>" for k, v in summary_table(desc))
    return f"<h2>{html.escape(desc.name)}</h2>{sentences}<h3>The file</h3><table>{rows}</table>"


def _add(parent: QTreeWidgetItem | QTreeWidget, key: str, value) -> None:
    item = QTreeWidgetItem([key, "" if isinstance(value, (dict, list)) else _fmt(value)])
    if isinstance(parent, QTreeWidget):
        parent.addTopLevelItem(item)
    else:
        parent.addChild(item)
    if isinstance(value, dict):
        for k, v in value.items():
            _add(item, str(k), v)
    elif isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value) and len(value) <= 12:
            item.setText(1, ", ".join(_fmt(v) for v in value))
        else:
            for i, v in enumerate(value):
                _add(item, str(i), v)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class ModelSummaryDialog(QDialog):
    def __init__(self, desc: ModelDescription, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Model: {desc.name}")
        self.resize(560, 520)
        self.text = QTextBrowser()
        self.text.setHtml(summary_html(desc))
        self.tree = QTreeWidget()  # every recorded field, for the curious and for bug reports
        self.tree.setHeaderLabels(["", ""])
        self.tree.setHeaderHidden(True)
        _add(self.tree, "Training summary", desc.summary or {"": "(none recorded)"})
        _add(self.tree, "Config", desc.config)
        self.tree.expandToDepth(0)
        self.tree.resizeColumnToContents(0)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.text, "Summary")
        self.tabs.addTab(self.tree, "All fields")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
