"""Word-level tokenizer. The vocabulary is stored inside the model file, never beside it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[.,!?;:]")
_NO_SPACE_BEFORE = set(".,!?;:")


def split_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Tokenizer:
    def __init__(self, words: Iterable[str]):
        words = list(words)
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("vocabulary must start with the special tokens " + " ".join(SPECIALS))
        if len(set(words)) != len(words):
            raise ValueError("vocabulary has duplicate words")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.pad, self.bos, self.eos, self.unk = (self.index[s] for s in SPECIALS)
        self.punctuation = [i for i, w in enumerate(words) if w in _NO_SPACE_BEFORE]

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1, max_words: int = 8000) -> Tokenizer:
        counts = Counter(w for c in captions for w in split_words(c))
        # most frequent first, ties alphabetical, so a vocabulary is reproducible
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + ranked[:max_words])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_tokens: int | None = None) -> list[int]:
        """BOS + word ids (+ EOS), truncated so the whole fits in max_tokens + 1."""
        ids = [self.index.get(w, self.unk) for w in split_words(text)]
        if max_tokens is not None:
            ids = ids[: max_tokens - 1]
        return [self.bos] + ids + [self.eos]

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        for i in ids:
            if i == self.eos:
                break
            if i in (self.pad, self.bos):
                continue
            w = self.words[i]
            if out and w in _NO_SPACE_BEFORE:
                out[-1] += w
            else:
                out.append(w)
        text = " ".join(out)
        return text[:1].upper() + text[1:]
