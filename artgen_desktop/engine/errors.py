"""Errors the engine raises for bad input. Each message is meant to be shown to a person as is."""


# how a refused model file reads to an artist; the detail follows in brackets
NOT_A_MODEL = "not an ArtGen model file, or damaged"


class ArtGenError(ValueError):
    """Base class: bad input that the caller can fix (a file, a seed, a setting)."""


class ModelFileError(ArtGenError):
    """A file that is not a usable ArtGen model; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SeedError(ArtGenError):
    pass
