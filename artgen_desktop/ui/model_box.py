"""The model box under the controls: which model is loaded, and the model actions one click away."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from .bridge import ModelDescription


class ModelBox(QGroupBox):
    def __init__(self, open_action: QAction, summary_action: QAction, finetune_action: QAction,
                 parent: QWidget | None = None):
        super().__init__("Model", parent)
        self.name_label = QLabel("No model loaded", wordWrap=True)
        self.detail_label = QLabel(wordWrap=True)
        self.detail_label.setEnabled(False)  # greyed: secondary information
        layout = QGridLayout(self)
        layout.addWidget(self.name_label, 0, 0, 1, 3)
        layout.addWidget(self.detail_label, 1, 0, 1, 3)
        for col, (text, action) in enumerate((("Open…", open_action), ("Summary", summary_action),
                                              ("Fine-tune…", finetune_action))):
            button = QPushButton(text, toolTip=action.text())
            button.clicked.connect(action.trigger)
            layout.addWidget(button, 2, col)

    def show_model(self, desc: ModelDescription) -> None:
        self.name_label.setText(f"<b>{desc.name}</b>")
        self.detail_label.setText(f"{desc.size_bytes / 1e6:.1f} MB · hash {desc.hash} · {desc.device}")
        self.setToolTip(desc.path)
