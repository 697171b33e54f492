"""A window with the loaded model's file details, config and training summary."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .bridge import ModelDescription


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
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["", ""])
        self.tree.setHeaderHidden(True)
        _add(self.tree, "Name", desc.name)
        _add(self.tree, "File", desc.path)
        _add(self.tree, "Hash", desc.hash)
        _add(self.tree, "Size", f"{desc.size_bytes / 1e6:.1f} MB")
        _add(self.tree, "Device", desc.device)
        _add(self.tree, "Training summary", desc.summary or {"": "(none recorded)"})
        _add(self.tree, "Config", desc.config)
        self.tree.expandToDepth(0)
        self.tree.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
