"""The seed atlas: every seed's latent and greedy caption for one model, searchable by words and likeness.

    atlas = Atlas.for_engine(engine)                 # <user cache>/atlas/<model hash>.sqlite
    for p in iter_build(engine, atlas, range(100_000)): ...   # resumable: done seeds are skipped
    hits = search_words(engine, atlas, "a red flower")     # [Hit(seed, caption, score)]
    hits = like_seed(engine, atlas, 42)                    # the seeds whose latents are nearest seed 42's

One SQLite file per model (WAL: searchable while a build writes to it). A row holds the seed, its latent
(int8 with a per-seed float32 scale: 4 + latent_dim bytes, a quarter of float32) and its caption at
temperature 0; an FTS5 index over the captions finds words (LIKE where this SQLite lacks FTS5). The
latents are made at variety 1.0 (Settings' default), the caption greedily, whatever the app's sliders say.
The model's hash is stored: an atlas is never used for another model. In the atlas cache folder a damaged
file, one of another schema version, or one of another model's under this model's name is deleted and made
again, and `Atlas.notice` says so; a file a person named (--db, merge's OUT) is never replaced: AtlasError
says what is wrong with it. Processes may open, create and build one file at once: creation is one
transaction, and writers wait for each other (BUSY_TIMEOUT_S).

No Qt here; what leaves this module is plain Python and numpy.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ArtGenError
from .tokenizer import SPECIALS, split_words

SCHEMA = "1"
QUANT = "int8"  # a float32 scale, then latent_dim int8 values: half float16's bytes, for the atlas's size target
ATLAS_VARIETY = 1.0
DEFAULT_SEEDS = range(100_000)
# seeds per engine call and per commit: the one definition (the CLI's --batch-size default, bench/atlas.py).
# Larger batches share each engine call's fixed cost among more seeds; smaller ones lose less to a quit and
# hold the write lock (which other builders and merges wait for) for a shorter commit
BUILD_BATCH = 64
# words too common to find anything by; they still count in the decoder's score
STOP_WORDS = frozenset("a an the of with on in and at to its his her their is are by for from".split())
# how long a connection waits for another's write lock (a batch's commit, a merge of a whole shard, another
# process making the file) before it gives up: writers queue rather than fail
BUSY_TIMEOUT_S = 120.0
LIKE_CHUNK = 16384  # rows per float32 product in likeness search (the cache is float16)
# seeds holding a query's words that a word search looks at, at least (FTS5 gives the best matches first);
# and the most seeds nearest a picture that words then rank (`search` with both)
WORD_CANDIDATES = 2000
LIKE_WORD_CANDIDATES = 20_000
TYPICAL_BLOCK = 256  # rows per product in typicality (its memory stays small for any limit)
# the cosine of two centred latents (Atlas.unit) above which they show one picture: the seeds that a kernel
# prior lands on one stored latent sit above it, those on different latents below it
SAME_PICTURE = 0.8
# word search ranking (rank_by_words), in units of the decoder's log-probability per token; chosen by counting
# by eye which results show the word, on other words than the ones README's quality figure counts
TYPICAL_NEIGHBOURS = 5
TYPICAL_POOL = 2000  # the pictures typicality compares with, at most
TYPICAL_WEIGHT = 40.0  # per unit of cosine
VOTE_WEIGHT = 10.0  # per unit of log(votes): a picture's seeds whose caption holds the words


class AtlasError(ArtGenError):
    """An atlas that cannot be used (another model's, an unwritable folder); the message says which."""


class UnknownWordsError(ArtGenError):
    def __init__(self, unknown: dict[str, list[str]]):
        self.unknown = unknown  # word -> close known words
        parts = []
        for word, close in unknown.items():
            parts.append(f"“{word}” (did you mean {', '.join(close)}?)" if close else f"“{word}” (no close word)")
        verb = "does" if len(unknown) == 1 else "do"
        super().__init__(f"the model's vocabulary {verb} not know {'; '.join(parts)}")


@dataclass(frozen=True)
class Hit:
    seed: int
    caption: str
    score: float  # words: the decoder's mean log-probability per token; likeness: cosine similarity


@dataclass(frozen=True)
class BuildProgress:
    done: int
    total: int


def atlas_dir() -> Path:
    """ARTGEN_CACHE_DIR overrides the cache folder; without it ARTGEN_DATA_DIR (tests, portable installs: see
    ui/userdata.py) keeps the atlas under that folder too."""
    override = os.environ.get("ARTGEN_CACHE_DIR")
    if override:
        return Path(override) / "atlas"
    if os.environ.get("ARTGEN_DATA_DIR"):
        return Path(os.environ["ARTGEN_DATA_DIR"]) / "cache" / "atlas"
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("artgen-desktop", appauthor=False)) / "atlas"


def default_path(model_hash: str) -> Path:
    return atlas_dir() / f"{model_hash}.sqlite"


def has_fts5() -> bool:
    try:
        con = sqlite3.connect(":memory:")
        try:
            con.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        finally:
            con.close()
        return True
    except sqlite3.OperationalError:
        return False


def encode_latents(z: np.ndarray) -> list[bytes]:
    """(B, D) float -> one blob per row: float32 scale + D int8 (round(z / scale), |q| <= 127)."""
    z = np.asarray(z, dtype=np.float32)
    scale = np.abs(z).max(axis=1) / 127
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(z / scale[:, None]), -127, 127).astype(np.int8)
    return [s.astype("<f4").tobytes() + row.tobytes() for s, row in zip(scale, q)]


def decode_latents(blob: bytes, dim: int) -> np.ndarray:
    """Concatenated blobs -> (N, dim) float32."""
    raw = np.frombuffer(blob, dtype=np.uint8).reshape(-1, 4 + dim)
    scale = raw[:, :4].copy().view("<f4")[:, 0]
    return raw[:, 4:].view(np.int8).astype(np.float32) * scale[:, None]


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _sqlite_error_is(e: sqlite3.Error, codes: tuple[str, ...], words: tuple[str, ...]) -> bool:
    """By the error's SQLite code where Python gives it (3.11+), else by its message."""
    name = getattr(e, "sqlite_errorname", None)
    if name is not None:
        return name.startswith(codes)
    text = str(e).lower()
    return any(w in text for w in words)


def is_damage(e: sqlite3.DatabaseError) -> bool:
    """Errors that say the file's content is bad, not that it is busy, read-only or unreadable."""
    return _sqlite_error_is(e, ("SQLITE_CORRUPT", "SQLITE_NOTADB"), ("not a database", "malformed"))


def _is_busy(e: sqlite3.Error) -> bool:
    """Errors that say another connection holds the file just now."""
    return _sqlite_error_is(e, ("SQLITE_BUSY", "SQLITE_LOCKED"), ("locked", "busy"))


def _remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


class Atlas:
    """One model's atlas file. Not thread-safe: use it from one thread (the app's engine thread)."""

    def __init__(self, path: str | Path, model_hash: str, latent_dim: int, model_name: str = "",
                 check: bool = True):
        self.path = Path(path)
        self.model_hash = model_hash
        self.latent_dim = latent_dim
        self.model_name = model_name
        self.notice = ""  # set when a damaged or foreign file was replaced: a message for a person
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AtlasError(f"cannot make the atlas folder {self.path.parent}: {e.strerror or e}") from None
        found = _file_id(self.path)  # the file as found: what a replacement may delete (see _replace)
        problem = self._open(check)
        if problem and not self._ours_to_replace():
            self.close()
            raise AtlasError(f"{self.path} {problem}: it is not a usable seed atlas and was left as it is "
                             "(name another file, or delete this one)")
        if problem:
            self.notice = f"The seed atlas {self.path.name} {problem}; it is being made again."
            self.close()
            self._replace(found)
            problem = self._open(False)
            if problem:  # (a fresh file cannot be damaged; if it is, say so rather than loop)
                self.close()
                raise AtlasError(f"cannot create the atlas {self.path}: {problem}")
        try:
            self._when_free(self._set_modes)
        except sqlite3.Error as e:
            self.close()
            raise AtlasError(f"cannot open the atlas {self.path}: {e}") from None
        self._cache: tuple | None = None  # (data_version, seeds, int8 latents, scales): see _load
        self._unit = None  # every latent through unit(), float16: see _unit_latents
        self._mean: np.ndarray | None = None  # see _centre
        self._dirty = True

    def _ours_to_replace(self) -> bool:
        """A damaged file is made again only in the atlas cache folder, which holds nothing but atlases:
        a file a person named (--db, merge's OUT) may be theirs, and is never deleted."""
        try:
            return self.path.resolve().parent == atlas_dir().resolve()
        except OSError:
            return False

    @classmethod
    def for_engine(cls, engine, path: str | Path | None = None) -> Atlas:
        info = engine.info
        return cls(path or default_path(info.hash), info.hash, info.config.latent_dim, info.name)

    # ---- opening, checking, creating --------------------------------------------------------------------

    def _open(self, check: bool) -> str:
        """Connects, and makes the schema if the file has none; returns "" or what is wrong with the file
        (damage, not an atlas).

        Several processes may open one new file at once (the app and `artgen atlas build`, shard builders
        given one --db): a file without schema (absent, empty, or another process's before its schema is
        committed) is made an atlas in one BEGIN IMMEDIATE transaction that checks again inside it, so one
        process creates and the others wait for it (the busy timeout), then find its schema. Nobody sees a
        half-made atlas: the schema and meta rows commit together."""
        try:
            self.con = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise AtlasError(f"cannot open the atlas {self.path}: {e}") from None
        try:
            return self._when_free(lambda: self._check_or_create(check))
        except AtlasError:
            self.close()
            raise
        except sqlite3.DatabaseError as e:
            if is_damage(e):  # "file is not a database", "database disk image is malformed"
                return f"is damaged ({e})"
            self.close()  # busy past the timeout, read-only, I/O: not damage, so nothing is replaced
            raise AtlasError(f"cannot open the atlas {self.path}: {e}") from None

    def _check_or_create(self, check: bool) -> str:
        problem = self._check(check)
        if problem is None:
            with self._write():
                problem = self._check(False)
                if problem is None:
                    self._create()
                    problem = ""
        return problem

    def _when_free(self, fn):
        """fn(), tried again while another connection holds a lock that SQLite answers at once instead of
        waiting for (the busy timeout covers ordinary writes, not e.g. another process switching the new
        file to WAL), up to BUSY_TIMEOUT_S."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _set_modes(self) -> None:
        self.con.execute("PRAGMA journal_mode=WAL")  # readers (a search, another process) while a build writes
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.fts = self.con.execute("SELECT value FROM meta WHERE key='fts'").fetchone() == ("1",)

    def _check(self, check: bool) -> str | None:
        """None for a file without schema (to be made an atlas), else "" or what is wrong with it."""
        if check:
            row = self.con.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                return f"is damaged (integrity check: {row[0] if row else 'no answer'})"
        names = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master")}
        if not names:
            return None
        if not {"meta", "seeds"} <= names:
            return "is not a seed atlas (its tables are missing)"
        meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA or meta.get("quant") != QUANT:
            return (f"was made by another version of ArtGen (schema {meta.get('schema')!r} / {meta.get('quant')!r}; "
                    f"this one reads {SCHEMA!r} / {QUANT!r})")
        if meta.get("fts") == "1" and "words" not in names:
            return "is damaged (the word index is missing)"
        cols = [r[1] for r in self.con.execute("PRAGMA table_info(seeds)")]
        if cols != ["seed", "latent", "caption"]:
            return "is damaged (unexpected columns)"
        if meta.get("model_hash") != self.model_hash:
            other = (f"is the seed atlas of another model ({meta.get('model_name') or '?'}, hash "
                     f"{meta.get('model_hash')}), not of this one ({self.model_hash})")
            if _same_file(self.path, default_path(self.model_hash)):  # this model's own file in the cache: remade
                return other
            raise AtlasError(f"{self.path} {other}; it is not used, and was left as it is")
        if meta.get("latent_dim") != str(self.latent_dim):
            return f"does not fit the model (latent size {meta.get('latent_dim')}, the model's is {self.latent_dim})"
        return ""

    def _create(self) -> None:
        """The schema and meta rows, inside _open's transaction."""
        con = self.con
        fts = has_fts5()
        con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute("CREATE TABLE seeds(seed INTEGER PRIMARY KEY, latent BLOB NOT NULL, caption TEXT NOT NULL)")
        if fts:
            # an external-content index filled by a trigger: INSERT OR IGNORE of a seed already there
            # (a resumed build, a merge) adds nothing to it
            con.execute("CREATE VIRTUAL TABLE words USING fts5(caption, content='seeds', content_rowid='seed')")
            con.execute("CREATE TRIGGER seeds_words AFTER INSERT ON seeds BEGIN "
                        "INSERT INTO words(rowid, caption) VALUES (new.seed, new.caption); END")
        meta = {"schema": SCHEMA, "quant": QUANT, "model_hash": self.model_hash, "model_name": self.model_name,
                "latent_dim": str(self.latent_dim), "variety": str(ATLAS_VARIETY), "temperature": "0",
                "fts": "1" if fts else "0", "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        con.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())

    def _replace(self, found: tuple[int, int] | None) -> None:
        """Deletes the damaged file (and its journal files) unless another process replaced it meanwhile:
        then its new file is used as it is (opening it checks it)."""
        if found is None or _file_id(self.path) != found:
            return
        try:
            _remove_db(self.path)
        except OSError as e:  # (Windows: another program holds it open)
            raise AtlasError(f"the seed atlas {self.path} is damaged and cannot be deleted: "
                             f"{e.strerror or e}") from None

    @contextlib.contextmanager
    def _write(self):
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # (an error SQLite met may have ended the transaction)
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.con.close()

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- rows ------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.con.execute("SELECT count(*) FROM seeds").fetchone()[0]

    def missing(self, seeds: Iterable[int]) -> list[int]:
        """The seeds (in the given order) that are not in the atlas yet."""
        seeds = list(seeds)
        if not seeds:
            return []
        lo, hi = min(seeds), max(seeds)
        done = {r[0] for r in self.con.execute("SELECT seed FROM seeds WHERE seed BETWEEN ? AND ?", (lo, hi))}
        return [s for s in seeds if s not in done]

    def add(self, seeds: Sequence[int], latents: np.ndarray, captions: Sequence[str]) -> None:
        """One transaction: after a quit the atlas holds whole batches only."""
        if not (len(seeds) == len(latents) == len(captions)) or np.shape(latents)[1:] != (self.latent_dim,):
            raise ValueError("seeds, latents (N, latent_dim) and captions must match")
        rows = [(int(s), b, c) for s, b, c in zip(seeds, encode_latents(latents), captions)]
        with self._write():
            self.con.executemany("INSERT OR IGNORE INTO seeds VALUES (?, ?, ?)", rows)
        self._dirty = True

    def rows(self) -> list[tuple[int, bytes, str]]:
        """Every row in seed order (tests, merges)."""
        return self.con.execute("SELECT seed, latent, caption FROM seeds ORDER BY seed").fetchall()

    def captions(self, seeds: Sequence[int]) -> dict[int, str]:
        out = {}
        for i in range(0, len(seeds), 500):
            part = [int(s) for s in seeds[i:i + 500]]
            q = f"SELECT seed, caption FROM seeds WHERE seed IN ({','.join('?' * len(part))})"
            out.update(self.con.execute(q, part).fetchall())
        return out

    # ---- the in-memory copy the searches use -------------------------------------------------------------

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(seeds sorted, int8 latents, their scales), as stored (4 + latent_dim bytes a seed); reloaded when
        this or another connection (a build in another process) has written."""
        version = self.con.execute("PRAGMA data_version").fetchone()[0]
        if self._cache is None or self._dirty or self._cache[0] != version:
            rows = self.con.execute("SELECT seed, latent FROM seeds ORDER BY seed").fetchall()
            seeds = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            raw = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint8).reshape(-1, 4 + self.latent_dim)
            self._cache = (version, seeds, raw[:, 4:].view(np.int8), raw[:, :4].copy().view("<f4")[:, 0])
            self._unit = self._mean = None
            self._dirty = False
        return self._cache[1], self._cache[2], self._cache[3]

    def latents_of(self, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(found seeds, their latents (N, latent_dim) float32), in the given order; absent seeds are left out."""
        all_seeds, q, scale = self._load()
        want = np.asarray(list(seeds), dtype=np.int64)
        idx = np.searchsorted(all_seeds, want)
        ok = (idx < len(all_seeds)) & (all_seeds[np.minimum(idx, len(all_seeds) - 1)] == want) if len(all_seeds) \
            else np.zeros(len(want), bool)
        idx = idx[ok]
        return want[ok], q[idx].astype(np.float32) * scale[idx, None]

    def _centre(self) -> np.ndarray:
        """The mean latent of the atlas (float32): likeness compares latents less it."""
        seeds, q, scale = self._load()
        if self._mean is None:
            total = np.zeros(self.latent_dim, np.float64)
            for i in range(0, len(q), LIKE_CHUNK):
                total += (q[i:i + LIKE_CHUNK].astype(np.float32) * scale[i:i + LIKE_CHUNK, None]).sum(0)
            self._mean = (total / max(len(q), 1)).astype(np.float32)
        return self._mean

    def unit(self, z: np.ndarray) -> np.ndarray:
        """Latents (N, latent_dim) less the atlas's mean, scaled to length 1: what likeness compares."""
        c = np.asarray(z, np.float32) - self._centre()
        return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-6)

    def _unit_latents(self):
        """Every latent through `unit`: a float16 torch tensor (2 * latent_dim bytes a seed). Torch rather than
        numpy because its float16-to-float32 conversion is the faster, and every likeness search converts
        every chunk."""
        import torch
        seeds, q, scale = self._load()
        if self._unit is None:
            parts = [torch.from_numpy(self.unit(q[i:i + LIKE_CHUNK].astype(np.float32) * scale[i:i + LIKE_CHUNK, None]))
                     .half() for i in range(0, len(q), LIKE_CHUNK)]
            self._unit = torch.cat(parts) if parts else torch.zeros(0, self.latent_dim, dtype=torch.float16)
        return self._unit

    def nearest(self, latent: np.ndarray, limit: int, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """(seed, cosine similarity of centred latents), most alike first."""
        import torch
        seeds = self._load()[0]
        unit = self._unit_latents()
        if not len(seeds):
            return []
        qt = torch.from_numpy(self.unit(np.asarray(latent, np.float32).reshape(1, -1))[0])
        sims = torch.cat([unit[i:i + LIKE_CHUNK].float() @ qt for i in range(0, len(unit), LIKE_CHUNK)]).numpy()
        skip = np.isin(seeds, np.asarray(list(exclude), dtype=np.int64))
        sims[skip] = -np.inf
        k = min(limit, int((~skip).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((seeds[top], -sims[top]))]  # ties by seed: the same order on every run
        return [(int(seeds[i]), float(sims[i])) for i in top]

    def count_matches(self, words: Sequence[str]) -> int:
        """How many seeds have a caption holding every one of `words` (without ranking them)."""
        if self.fts and words:
            sql = "SELECT count(*) FROM words WHERE words MATCH ?"
            return self.con.execute(sql, (_fts_query(words, True),)).fetchone()[0]
        return len(self.word_matches(words, max(len(self), 1)))

    def word_matches(self, words: Sequence[str], limit: int, all_words: bool = True) -> list[int]:
        """Seeds whose caption holds every (or any) of `words` (vocabulary words: [a-z0-9'-])."""
        if not words:
            return []
        if self.fts:
            sql = "SELECT rowid FROM words WHERE words MATCH ? ORDER BY rank, rowid LIMIT ?"
            return [r[0] for r in self.con.execute(sql, (_fts_query(words, all_words), limit))]
        # no FTS5: substring match, then whole words checked here
        joiner = " AND " if all_words else " OR "
        where = joiner.join("lower(caption) LIKE ?" for _ in words)
        rows = self.con.execute(f"SELECT seed, caption FROM seeds WHERE {where} ORDER BY seed",
                                [f"%{w}%" for w in words])
        out = []
        for seed, caption in rows:
            have = set(split_words(caption))
            if (all if all_words else any)(w in have for w in words):
                out.append(seed)
                if len(out) >= limit:
                    break
        return out


def _fts_query(words: Sequence[str], all_words: bool) -> str:
    """An FTS5 query for captions holding all (or any) of `words`; a quoted term: "hot-air" is the phrase."""
    return (" AND " if all_words else " OR ").join(f'"{w.replace(chr(34), "")}"' for w in words)


# ---- building --------------------------------------------------------------------------------------------

def atlas_rows(engine, seeds: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """Latents (float32 numpy) and greedy captions for seeds: the generator's pipeline without images."""
    from .sampling import caption_generators, seed_noise
    z = engine.latents(seed_noise(seeds, engine.model.cfg.latent_dim), ATLAS_VARIETY)
    captions = engine.captions(z, 0.0, caption_generators(seeds))
    return z.float().cpu().numpy(), captions


def iter_build(engine, atlas: Atlas, seeds: Iterable[int], batch_size: int = BUILD_BATCH) -> Iterator[BuildProgress]:
    """Adds the missing seeds batch by batch, yielding progress (first before any work). Stopping the
    iteration (close(), Ctrl-C) keeps every whole batch; the next build skips them."""
    from .seeds import check_seed
    if atlas.model_hash != engine.info.hash:
        raise AtlasError(f"the atlas {atlas.path} is for model {atlas.model_hash}, not {engine.info.hash}")
    seeds = [check_seed(s) for s in seeds]
    todo = atlas.missing(seeds)
    done = len(seeds) - len(todo)
    yield BuildProgress(done, len(seeds))
    for i in range(0, len(todo), batch_size):
        chunk = todo[i:i + batch_size]
        z, captions = atlas_rows(engine, chunk)
        atlas.add(chunk, z, captions)
        done += len(chunk)
        yield BuildProgress(done, len(seeds))


def build(engine, atlas: Atlas, seeds: Iterable[int], batch_size: int = BUILD_BATCH, on_progress=None) -> int:
    """iter_build to the end; returns the seeds the atlas holds of those asked for."""
    last = BuildProgress(0, 0)
    for last in iter_build(engine, atlas, seeds, batch_size):
        if on_progress:
            on_progress(last)
    return last.done


def merge(out: str | Path, inputs: Sequence[str | Path]) -> Atlas:
    """Adds the rows of `inputs` (atlases of one model, e.g. shards) to `out` (made if missing). As rows
    depend on the seed alone, the merge of shards is the atlas one build of all their seeds makes."""
    if not inputs:
        raise AtlasError("nothing to merge: name at least one input atlas")
    metas = []
    for p in inputs:
        p = Path(p)
        if not p.is_file():
            raise AtlasError(f"{p}: no such atlas file")
        try:
            con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                if con.execute("PRAGMA quick_check").fetchone() != ("ok",):
                    raise sqlite3.DatabaseError("integrity check failed")
                metas.append(dict(con.execute("SELECT key, value FROM meta").fetchall()))
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise AtlasError(f"{p}: not a usable atlas ({e})") from None
    hashes = {m.get("model_hash") for m in metas}
    if len(hashes) != 1 or any(m.get("schema") != SCHEMA or m.get("quant") != QUANT for m in metas):
        raise AtlasError(f"the inputs are atlases of different models or formats (model hashes: "
                         f"{', '.join(sorted(str(h) for h in hashes))}); only one model's atlases merge")
    m = metas[0]
    atlas = Atlas(out, m["model_hash"], int(m["latent_dim"]), m.get("model_name", ""))
    for p in inputs:
        if Path(p).resolve() == atlas.path.resolve():
            continue
        atlas.con.execute("ATTACH DATABASE ? AS src", (f"file:{Path(p)}?mode=ro",))
        try:
            with atlas._write():
                atlas.con.execute("INSERT OR IGNORE INTO seeds SELECT seed, latent, caption FROM src.seeds")
        finally:
            atlas.con.execute("DETACH DATABASE src")
    atlas._dirty = True
    return atlas


# ---- searching -------------------------------------------------------------------------------------------

def query_words(engine, text: str) -> list[str]:
    """The query's words, checked against the model's vocabulary (UnknownWordsError lists close ones)."""
    words = [w for w in split_words(text) if w.isalnum() or "-" in w or "'" in w]
    if not words:
        raise ArtGenError("type one or more words to search for, e.g. “horse” or “a red flower”")
    known = engine.tokenizer.index
    vocab = [w for w in engine.tokenizer.words if w not in SPECIALS]
    unknown = {w: difflib.get_close_matches(w, vocab, n=4, cutoff=0.7) for w in words if w not in known}
    if unknown:
        raise UnknownWordsError(unknown)
    return words


def caption_matches(engine, atlas: Atlas, text: str) -> int:
    """How many seeds of the atlas have a caption holding every word of the query (stop words aside)."""
    words = query_words(engine, text)
    return atlas.count_matches([w for w in words if w not in STOP_WORDS] or words)


def as_caption(words: list[str]) -> str:
    """The query as a caption of the bundled model starts: "A horse", "An apple" (an article added)."""
    if words[0] in ("a", "an", "the"):
        return " ".join(words)
    return ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)


def search_words(engine, atlas: Atlas, text: str, limit: int = 50, neighbours: int = 100) -> list[Hit]:
    """Seeds for words: captions holding them (FTS), then, where those are fewer than `limit`, captions holding
    some of them and the latents nearest the hits' mean (pictures that fit while their caption says
    otherwise); ranked by rank_by_words."""
    words = query_words(engine, text)
    content = [w for w in words if w not in STOP_WORDS] or words
    most = max(WORD_CANDIDATES, 3 * limit)
    cands = atlas.word_matches(content, most, all_words=True)
    if len(cands) < limit and len(content) > 1:
        have = set(cands)
        cands += [s for s in atlas.word_matches(content, most, all_words=False) if s not in have]
    if cands and len(cands) < limit:
        _, z_hits = atlas.latents_of(cands[:50])
        cands += [s for s, _ in atlas.nearest(z_hits.mean(0), neighbours, exclude=cands)]
    elif not cands and len(atlas):
        # no caption holds the words: let the decoder look at an even spread of the atlas
        seeds = atlas._load()[0]
        step = max(1, len(seeds) // (scored_pictures(limit) + neighbours))
        cands = [int(s) for s in seeds[::step]]
    return rank_by_words(engine, atlas, cands, words, limit)


def scored_pictures(limit: int) -> int:
    """How many different pictures a word search looks at, those with the most votes first: the caption
    decoder scores each once, and that is most of what a query costs."""
    return max(100, 3 * limit)


def picture_groups(units: np.ndarray, most: int | None = None) -> np.ndarray:
    """A group number for each of `units` (Atlas.unit rows), in order: a row joins the first earlier group
    whose first row it is within SAME_PICTURE of, else starts the next group; with `most`, rows that would
    start a group past it get -1. Many seeds land on one stored latent of a kernel prior and show one
    picture; grouping them lets a search show different ones. (One matrix-vector product a group: numpy's
    matrix products would wake BLAS threads that then slow the caption decoder's torch threads.)"""
    group = np.full(len(units), -1, np.int64)
    first = 0
    for g in range(len(units) if most is None else most):
        free = np.flatnonzero(group[first:] < 0)
        if not len(free):
            break
        first += int(free[0])
        rest = group[first:] < 0
        rest &= units[first:] @ units[first] >= SAME_PICTURE
        rest[0] = True  # (a latent at the atlas's mean is its own picture)
        group[first:][rest] = g
    return group


def typicality(units: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For each of `units` (Atlas.unit rows), the mean cosine to its TYPICAL_NEIGHBOURS nearest rows among the
    first TYPICAL_POOL of those marked `among`, itself left out (0 when fewer than two are marked)."""
    others = np.flatnonzero(among)[:TYPICAL_POOL]
    out = np.zeros(len(units), np.float32)
    if len(others) < 2:
        return out
    k = min(TYPICAL_NEIGHBOURS, len(others) - 1)
    pool = units[others].T
    for start in range(0, len(units), TYPICAL_BLOCK):
        sims = units[start:start + TYPICAL_BLOCK] @ pool
        mine = np.flatnonzero((others >= start) & (others < start + len(sims)))
        sims[others[mine] - start, mine] = -np.inf
        out[start:start + len(sims)] = np.partition(sims, -k, axis=1)[:, -k:].mean(1)
    return out


def rank_by_words(engine, atlas: Atlas, seeds: Sequence[int], words: list[str], limit: int) -> list[Hit]:
    """`seeds` (those in the atlas) ranked by how well the checked query `words` fit their pictures."""
    found, z = atlas.latents_of(seeds)
    if not len(found):
        return []
    content = [w for w in words if w not in STOP_WORDS] or words
    units = atlas.unit(z)
    captions = atlas.captions([int(s) for s in found])
    # seeds whose greedy caption holds the words come first (the decoder's own best words for the latent).
    # Scores alone ranked "An ice cream cone" below pictures whose caption could start "A cream": the decoder's
    # log-probability of the query as a whole caption favours latents whose caption would begin with its words
    # over those that show them (scripts/make_atlas_sheet.py --quality measures both)
    held = np.array([sum(w in set(split_words(captions.get(int(s), ""))) for w in content) for s in found])
    # Many seeds redraw one picture (picture_groups; groups are numbered in the order of `seeds`, the best
    # caption matches or the nearest seeds first). A picture's votes are its seeds whose caption holds the
    # most words: a picture that many seeds name so is more often the thing than one a seed or two do (a
    # seed that strayed between pictures, a drawing the captions disagree on)
    group = picture_groups(units, most=4 * scored_pictures(limit))
    votes = np.bincount(group[group >= 0], weights=held[group >= 0] == held.max())
    # one decoder pass per picture, not per seed (a group's seeds score alike), for those with the most votes
    looked = np.argsort(-votes, kind="stable")[:scored_pictures(limit)]
    keep = np.isin(group, looked)
    looked, first, group = np.unique(group[keep], return_index=True, return_inverse=True)  # (renumbered 0, 1, …)
    found, units, held, votes = found[keep], units[keep], held[keep], votes[looked]
    score = engine.score_text(z[keep][first], as_caption(words))
    # A picture unlike the other pictures that hold the words is more often a misdrawing (a blob, another
    # thing): its score counts for less. And the k-th seed of one picture ranks as if the picture had
    # votes / k, so a page shows several pictures rather than one picture's redraws
    most_held = np.zeros(len(first), held.dtype)
    np.maximum.at(most_held, group, held)  # (a picture's seeds may be captioned apart)
    key = (score + TYPICAL_WEIGHT * typicality(units[first], most_held == most_held.max())
           + VOTE_WEIGHT * np.log(np.maximum(votes, 1)))[group]
    order = np.lexsort((found, -key, -held))
    turn = np.zeros(len(found))
    seen: dict[int, int] = {}
    for i in order:
        turn[i] = seen.get(int(group[i]), 0)
        seen[int(group[i])] = int(turn[i]) + 1
    order = np.lexsort((found, -(key - VOTE_WEIGHT * np.log1p(turn)), -held))[:limit]
    return [Hit(int(found[i]), captions.get(int(found[i]), ""), float(score[group[i]])) for i in order]


def search(engine, atlas: Atlas, text: str = "", like: int | None = None, limit: int = 50) -> list[Hit]:
    """Words, likeness to a seed, or both (the seeds most like it, ranked by the words)."""
    if like is None:
        return search_words(engine, atlas, text, limit)
    if not text.strip():
        return like_seed(engine, atlas, like, limit)
    words = query_words(engine, text)
    near = atlas.nearest(latent_of_seed(engine, atlas, like), min(max(10 * limit, 500), LIKE_WORD_CANDIDATES),
                         exclude=[like])
    return rank_by_words(engine, atlas, [s for s, _ in near], words, limit)


def search_like(atlas: Atlas, latent: np.ndarray, limit: int = 50, exclude: Iterable[int] = ()) -> list[Hit]:
    near = atlas.nearest(latent, limit, exclude)
    captions = atlas.captions([s for s, _ in near])
    return [Hit(s, captions.get(s, ""), sim) for s, sim in near]


def latent_of_seed(engine, atlas: Atlas, seed: int) -> np.ndarray:
    """The seed's latent: from the atlas, or made (a seed outside the atlas can still be matched)."""
    found, z = atlas.latents_of([seed])
    if len(found):
        return z[0]
    return atlas_rows(engine, [seed])[0][0]


def like_seed(engine, atlas: Atlas, seed: int, limit: int = 50) -> list[Hit]:
    """Seeds most like `seed` (itself left out)."""
    return search_like(atlas, latent_of_seed(engine, atlas, seed), limit, exclude=[seed])
