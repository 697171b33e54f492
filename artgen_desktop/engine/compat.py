"""The prototype's documented API, kept so its users' scripts run unchanged."""

from __future__ import annotations

from .engine import Engine, Settings


class MultimodalGenerator:
    """MultimodalGenerator(checkpoint_path=None, tokenizer_path=None): None = the bundled model.

    tokenizer_path is accepted and ignored: the vocabulary lives inside the model file now.
    """

    def __init__(self, checkpoint_path=None, tokenizer_path=None, device: str = "auto",
                 temperature: float = Settings.temperature):
        self.engine = Engine.load(checkpoint_path, device=device)
        self.settings = Settings(temperature=temperature)

    def generate(self, seed: int):
        r = self.engine.generate([seed], self.settings)[0]
        return r.image, r.caption

    def generate_with_metadata(self, seed: int):
        r = self.engine.generate([seed], self.settings)[0]
        return r.image, r.caption, r.metadata

    def generate_batch(self, seeds):
        return [(r.image, r.caption, r.metadata) for r in self.engine.generate(list(seeds), self.settings)]
