import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CAPTIONS = [
    "A penguin standing on the ice.",
    "A red ball.",
    "An old teapot with flowers.",
    "A horse running in a field.",
    "A sailing ship on the sea.",
    "A cat sleeping on a chair.",
]


def make_tiny_model(path, seed: int = 0):
    """A real (untrained, randomly initialised) tiny model file, built in milliseconds."""
    import torch

    from artgen_desktop.engine import ArtGenModel, ModelConfig, Tokenizer, save_checkpoint
    tok = Tokenizer.build(CAPTIONS)
    torch.manual_seed(seed)
    model = ArtGenModel(ModelConfig.preset("tiny", vocab_size=len(tok)))
    save_checkpoint(path, model, tok, summary={"note": "untrained tiny test model"})
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_path):
    from artgen_desktop.engine import Engine
    return Engine.load(tiny_model_path, device="cpu")
