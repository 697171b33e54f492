"""ArtGen Desktop: one seed -> one latent -> an engraving and a caption that describes it."""

__version__ = "0.1.0"


def __getattr__(name):  # the prototype's API, imported lazily so `import artgen_desktop` stays light
    if name == "MultimodalGenerator":
        from .engine.compat import MultimodalGenerator
        return MultimodalGenerator
    raise AttributeError(name)
