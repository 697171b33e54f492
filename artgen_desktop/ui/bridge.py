"""The engine bridge: the only module that talks to the engine, from one worker thread that owns it.

Widgets ask for work with `request_*` methods, which return a request id at once. Each request belongs
to a channel ("preview", "gallery", …). On a coalescing channel a newer request replaces the queued one
and a running one stops at its next step, so dragging a slider renders the latest position rather
than every position. On a following channel (the preview, the live interpolation frame) a picture that
finished while a newer request waited is still shown: it is the nearest there is, so the preview follows
a drag at the seed-to-picture latency; it carries the settings that made it. Elsewhere a stale result
never reaches the screen. Jobs are generators: the worker runs
one step (one engine call) at a time and always picks the most urgent channel next, so the preview
stays live while a gallery page fills in batch by batch.

Results come back on the Qt main thread as signals carrying QImages, strings and the engine's plain
`Result` objects (PIL images), never tensors. An exception in a job becomes `failed(id, channel,
message)`; the worker carries on with the next request.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from artgen_desktop.engine import ArtGenError, Engine, EngraveStyle, ExportWriter, Result, Settings, set_threads
from artgen_desktop.engine.animation import write_animation
from artgen_desktop.engine.atlas import DEFAULT_SEEDS, Atlas, caption_matches, is_damage, iter_build, search
from artgen_desktop.engine.export import stem_for
from artgen_desktop.engine.svg import write_result_svg

from .images import thumbnail, to_qimage

MODEL, PREVIEW, LIVE, STRIP, GALLERY, EXPORT = "model", "preview", "live", "strip", "gallery", "export"
SEARCH, ATLAS = "search", "atlas"  # the seed atlas (engine/atlas.py): a search, and its background build
STYLES_ROW, SAVE = "styles", "save"  # the style picker's live thumbnails; Save as of an SVG
# lower runs first: what the artist is looking at right now beats background filling and exports
PRIORITY = {MODEL: 0, PREVIEW: 1, LIVE: 1, SEARCH: 1, STRIP: 2, STYLES_ROW: 2, SAVE: 2, GALLERY: 3, EXPORT: 4,
            ATLAS: 5}
# exports and saves are never replaced by a later one
COALESCING = {MODEL, PREVIEW, LIVE, STRIP, STYLES_ROW, GALLERY, SEARCH, ATLAS}
FOLLOWING = {PREVIEW, LIVE}  # one-picture channels whose superseded-but-finished pictures are still shown
GALLERY_BATCH = 4  # small batches: thumbnails appear progressively and the preview can cut in between
EXPORT_BATCH = 4
ATLAS_BATCH = 32  # smaller than atlas.BUILD_BATCH: a preview asked for meanwhile waits for at most one batch
THUMB_RENDER_SIZE = 256  # the renderer's smallest size; thumbnails are box-filtered down from it


@dataclass(frozen=True)
class ModelDescription:
    """What the UI shows about the loaded model (plain data, copied out of the engine)."""

    name: str
    path: str
    hash: str
    size_bytes: int
    device: str
    summary: dict
    config: dict


@dataclass
class Picture:
    seed: int
    caption: str
    image: QImage
    settings: Settings
    label: str = ""
    result: Result | None = None  # the full-size result (preview, frames), kept for saving and export


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    text: str = ""


@dataclass(frozen=True)
class ExportSummary:
    folder: str
    files: list[str]
    animation: str | None = None


@dataclass(frozen=True)
class StyleThumb:
    """One style's thumbnail of a picture: `key` is the asker's name for what it shows (ui/style_row.py), so a
    thumbnail of a picture no longer shown can be told apart and dropped."""

    key: Any
    mode: str
    image: QImage


@dataclass(frozen=True)
class Saved:
    path: str


@dataclass(frozen=True)
class SearchResults:
    """A search of the seed atlas, as plain data: the seeds best first, their greedy captions and scores."""

    query: str
    like: int | None
    seeds: list[int]
    captions: list[str]
    scores: list[float]
    atlas_size: int  # seeds the atlas held when searched
    error: str = ""  # e.g. words the model does not know (with close ones)
    notice: str = ""  # e.g. a damaged atlas was made again
    limit: int = 0  # how many were asked for: as many came back, the atlas may hold more
    matches: int | None = None  # seeds whose captions hold the words (None: a search by likeness alone)

    @property
    def maybe_more(self) -> bool:
        return len(self.seeds) >= self.limit > 0


@dataclass(frozen=True)
class AtlasProgress:
    done: int  # of the seeds asked for
    total: int
    notice: str = ""


@dataclass
class _Job:
    id: int
    channel: str
    work: Callable[[Engine | None], Iterator[Any]]
    iterator: Iterator[Any] | None = None
    last: Any = None  # the last payload, reported again with "done"

    @property
    def slot(self) -> str:
        return self.channel if self.channel in COALESCING else f"{self.channel}#{self.id}"


@dataclass
class _SwapEngine:
    engine: Engine


class _Relay(QObject):
    """Carries worker events to the main thread (a queued connection: the receiver lives there)."""

    event = Signal(object)


@dataclass
class _State:
    latest: dict[str, int] = field(default_factory=dict)  # channel -> newest request id
    shown: dict[str, int] = field(default_factory=dict)  # following channel -> newest request id shown
    open_jobs: set[int] = field(default_factory=set)


class EngineBridge(QObject):
    model_loaded = Signal(object)  # ModelDescription
    preview_ready = Signal(object)  # Picture
    gallery_batch = Signal(int, object)  # request id, list[Picture]
    live_ready = Signal(object)  # Picture
    strip_ready = Signal(object)  # list[Picture]
    search_ready = Signal(int, object)  # request id, SearchResults
    style_thumb_ready = Signal(int, object)  # request id, StyleThumb
    saved = Signal(int, str)  # request id, path of the file written
    atlas_progress = Signal(int, object)  # request id, AtlasProgress
    progress = Signal(int, object)  # request id, Progress
    finished = Signal(int, str, object)  # request id, channel, last payload (e.g. ExportSummary)
    failed = Signal(int, str, str)  # request id, channel, message for a person
    busy_changed = Signal(bool)
    timing = Signal(float)  # seconds the last engine call took

    def __init__(self, device: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.device = device
        self.calls: Counter[str] = Counter()  # engine calls per channel (renders actually done)
        self._ids = itertools.count(1)
        self._state = _State()
        self._engine: Engine | None = None  # touched by the worker thread only
        self._threads_wanted: int | None = None  # set by the main thread, applied by the worker
        self._threads_applied: int | None = None
        self._preview_base: Result | None = None  # worker only: the last preview, for style-only re-renders
        self._atlas: Atlas | None = None  # worker only (an SQLite connection stays on its thread)
        self._pending: dict[str, _Job] = {}
        self._cancelled: set[int] = set()  # guarded by _cond
        self._cond = threading.Condition()
        self._stopping = False
        self._relay = _Relay()
        self._relay.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name="artgen-engine", daemon=True)
        self._thread.start()

    # ---- requests (main thread) ---------------------------------------------------------------------

    def load_model(self, path: str | Path | None) -> int:
        """None = the bundled default model. On failure the current model stays loaded."""
        device = self.device

        def work(_engine):
            engine = Engine.load(path, device=device)
            yield _SwapEngine(engine)
            info = engine.info
            yield ModelDescription(info.name, str(info.path), info.hash, info.size_bytes, engine.device_name,
                                   dict(info.summary), json.loads(info.config.to_json()))
        return self._submit(MODEL, work)

    def request_preview(self, seed: int, settings: Settings) -> int:
        def work(engine):
            engine = _need(engine)
            base = self._preview_base
            if (base is not None and base.seed == seed and base.model.hash == engine.info.hash
                    and base.settings.temperature == settings.temperature
                    and base.settings.variety == settings.variety):
                # only style or size changed: re-render the stored tone, the network need not run again
                result = replace(base, image=engine.render(base.tone, settings), settings=settings)
            else:
                result = engine.generate([seed], settings)[0]
            self._count(PREVIEW, engine)
            self._preview_base = result
            yield Picture(seed, result.caption, to_qimage(result.image), settings, result=result)
        return self._submit(PREVIEW, work)

    def request_gallery(self, seeds: Sequence[int], settings: Settings, thumb_px: int) -> int:
        seeds = list(seeds)
        small = replace(settings, size=THUMB_RENDER_SIZE)

        def work(engine):
            engine = _need(engine)
            for batch in engine.iter_generate(seeds, small, batch_size=GALLERY_BATCH):
                self._count(GALLERY, engine)
                yield [Picture(r.seed, r.caption, thumbnail(r.image, thumb_px), settings) for r in batch]
        return self._submit(GALLERY, work)

    def request_live(self, seed_a: int, seed_b: int, position: float, settings: Settings) -> int:
        def work(engine):
            engine = _need(engine)
            r = engine.interpolate(seed_a, seed_b, settings=settings, positions=[position])[0]
            self._count(LIVE, engine)
            yield Picture(r.seed, r.caption, to_qimage(r.image), settings, r.label, r)
        return self._submit(LIVE, work)

    def request_strip(self, seed_a: int, seed_b: int, frames: int, easing: str, settings: Settings) -> int:
        def work(engine):
            engine = _need(engine)
            results = engine.interpolate(seed_a, seed_b, frames=frames, easing=easing, settings=settings)
            self._count(STRIP, engine)
            yield [Picture(r.seed, r.caption, to_qimage(r.image), settings, r.label, r) for r in results]
        return self._submit(STRIP, work)

    def request_style_thumbs(self, tone: Image.Image, styles: Sequence[tuple[Any, EngraveStyle]], size: int,
                             thumb_px: int) -> int:
        """Renders a stored 8-bit tone (Result.tone) in each style of `styles` ((key, style) pairs) at `size` px
        (Engine.render: no network runs), box-filtered to `thumb_px`: style_thumb_ready(StyleThumb) for each,
        carrying its key. One engine call per step, so a newer request replaces this one between two styles."""
        styles = list(styles)

        def work(engine):
            engine = _need(engine)
            for key, style in styles:
                image = engine.render(tone, Settings(size=size, style=style))
                self._count(STYLES_ROW, engine)
                yield StyleThumb(key, style.mode, thumbnail(image, thumb_px))
        return self._submit(STYLES_ROW, work)

    def request_save_svg(self, result: Result, path: str | Path) -> int:
        """Writes `result` as an SVG file on the engine thread (a large picture's vectors take a while): saved(id,
        path) when it is on disk; failed(id, "save", reason) names what went wrong (a full disk, a read-only
        folder)."""
        path = Path(path)

        def work(_engine):
            try:
                write_result_svg(path, result)
            except OSError as e:
                raise ArtGenError(e.strerror or str(e)) from None
            yield Saved(str(path))
        return self._submit(SAVE, work)

    def request_export(self, seeds: Sequence[int], settings: Settings, folder: str | Path,
                       formats: Sequence[str] = ("png",)) -> int:
        """Writes seed-NNNNNN.png/.txt + metadata.jsonl (and .svg: `formats`); cancelling keeps every pair
        written so far."""
        seeds = list(seeds)

        def work(engine):
            engine = _need(engine)
            writer = ExportWriter(folder, formats)  # a missing or read-only folder fails here, before any work
            yield Progress(0, len(seeds), f"Exporting to {writer.folder}")
            try:
                for batch in engine.iter_generate(seeds, settings, batch_size=EXPORT_BATCH):
                    self._count(EXPORT, engine)
                    for r in batch:
                        writer.add(r)
                    writer.flush()
                    yield Progress(len(writer.written), len(seeds), f"Exported seed {batch[-1].seed}")
            finally:
                writer.flush()  # also on cancel: metadata.jsonl lists exactly the pairs on disk
            yield ExportSummary(str(writer.folder), [str(p) for p in writer.written])
        return self._submit(EXPORT, work)

    def request_frames_export(self, frames: Sequence[Result], seed_b: int, folder: str | Path,
                              animation: str | None = "gif", frame_ms: int = 120) -> int:
        """Interpolation frames as PNG+txt pairs, plus an animated GIF or WebP of them."""
        frames = list(frames)

        def work(_engine):
            writer = ExportWriter(folder)
            with writer:
                for i, r in enumerate(frames):
                    writer.add(r, stem=f"{stem_for(r)}-to-{seed_b:06d}-frame-{i:03d}")
                    yield Progress(i + 1, len(frames) + 1, f"Frame {i + 1} of {len(frames)}")
            anim = None
            if animation:
                anim = writer.folder / f"interpolation-{frames[0].seed}-{seed_b}.{animation}"
                write_animation(anim, [r.image for r in frames], frame_ms)
            yield ExportSummary(str(writer.folder), [str(p) for p in writer.written], str(anim) if anim else None)
        return self._submit(EXPORT, work)

    def _atlas_for(self, engine: Engine) -> tuple[Atlas, str]:
        """Worker only: the loaded model's atlas, opened (or made) on first use; and a notice to show once."""
        if self._atlas is None or self._atlas.model_hash != engine.info.hash:
            if self._atlas is not None:
                self._atlas.close()
            self._atlas = None
            self._atlas = Atlas.for_engine(engine)
            notice, self._atlas.notice = self._atlas.notice, ""
            return self._atlas, notice
        return self._atlas, ""

    @contextlib.contextmanager
    def _atlas_damage(self):
        """Worker only: an atlas file damaged while open is let go, so the next search or build opens it
        again, and the check on opening (engine/atlas.py) makes it anew."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            if self._atlas is not None:
                self._atlas.close()
            self._atlas = None
            if not is_damage(e):  # busy past the timeout, read-only, I/O: the file is not to blame
                raise ArtGenError(f"the seed atlas cannot be used just now ({e})") from None
            raise ArtGenError(f"the seed atlas file seems damaged ({e}); the next search checks it and makes it "
                              "again if it is") from None

    def request_search(self, text: str, like: int | None = None, limit: int = 48) -> int:
        """Seeds by words, by likeness to a seed, or both; answered with search_ready(SearchResults)."""
        def work(engine):
            engine = _need(engine)
            atlas, notice = self._atlas_for(engine)
            size = 0
            try:
                with self._atlas_damage():
                    size = len(atlas)
                    hits = search(engine, atlas, text, like, limit) if size else []
                    matches = caption_matches(engine, atlas, text) if text.strip() and size else None
            except ArtGenError as e:  # unknown words and the like: the search bar says it, not an error box
                yield SearchResults(text, like, [], [], [], size, str(e), notice, limit)
                return
            yield SearchResults(text, like, [h.seed for h in hits], [h.caption for h in hits],
                                [h.score for h in hits], size, "", notice, limit, matches)
        return self._submit(SEARCH, work)

    def request_atlas_build(self, seeds: Sequence[int] = DEFAULT_SEEDS) -> int:
        """Adds the missing seeds to the model's atlas a batch per step (searchable as it grows; cancel to
        pause, ask again to resume): atlas_progress(AtlasProgress) after each batch."""
        def work(engine):
            engine = _need(engine)
            atlas, notice = self._atlas_for(engine)
            with self._atlas_damage():
                for p in iter_build(engine, atlas, seeds, ATLAS_BATCH):
                    yield AtlasProgress(p.done, p.total, notice)
                    notice = ""
        return self._submit(ATLAS, work)

    def set_threads(self, n: int | None) -> None:
        """CPU threads for generation (None = default); e.g. 1 while a fine-tune shares the CPU."""
        self._threads_wanted = n

    def cancel(self, request_id: int) -> None:
        with self._cond:
            for slot, job in list(self._pending.items()):
                if job.id == request_id:
                    del self._pending[slot]
                    self._close(job)
                    self._finish_bookkeeping(request_id)
            self._cancelled.add(request_id)

    def is_busy(self) -> bool:
        return bool(self._state.open_jobs)

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # ---- internals ---------------------------------------------------------------------------------

    def _submit(self, channel: str, work: Callable[[Engine | None], Iterator[Any]]) -> int:
        job = _Job(next(self._ids), channel, work)
        with self._cond:
            if self._stopping:
                return job.id  # the window is closing: late requests are ignored, never run
        was_busy = self.is_busy()
        self._state.latest[channel] = job.id
        self._state.open_jobs.add(job.id)
        with self._cond:
            old = self._pending.get(job.slot)
            if old is not None:  # superseded before it started: it never runs
                self._close(old)
                self._state.open_jobs.discard(old.id)
            self._pending[job.slot] = job
            self._cond.notify()
        if not was_busy:
            self.busy_changed.emit(True)
        return job.id

    def _finish_bookkeeping(self, request_id: int) -> None:
        was_busy = self.is_busy()
        self._state.open_jobs.discard(request_id)
        if was_busy and not self.is_busy():
            self.busy_changed.emit(False)

    def _count(self, channel: str, engine: Engine) -> None:
        self.calls[channel] += 1
        self._relay.event.emit((0, channel, "timing", engine.last_seconds))

    @staticmethod
    def _close(job: _Job) -> None:
        if job.iterator is not None:
            try:
                job.iterator.close()  # runs the job's `finally`, e.g. an export's last metadata flush
            except Exception:  # noqa: BLE001 - a failing cleanup must not take the worker down
                traceback.print_exc()

    def _run(self) -> None:
        """The worker thread: one step of the most urgent job at a time."""
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    for job in self._pending.values():
                        self._close(job)
                    return
                job = min(self._pending.values(), key=lambda j: (PRIORITY[j.channel], j.id))
                del self._pending[job.slot]  # out of the queue while it runs; a newer request takes its slot
            event, payload = self._step(job)
            with self._cond:
                if event == "data":
                    cancelled = job.id in self._cancelled
                    superseded = job.slot in self._pending or cancelled
                    if superseded:
                        self._close(job)
                        # a following channel's finished picture still goes out (a job's single step); the
                        # newer request renders next
                        event = "last" if job.channel in FOLLOWING and not cancelled else "dropped"
                    else:
                        self._pending[job.slot] = job  # unfinished: its next step competes again
            if event == "data" and isinstance(payload, _SwapEngine):
                continue
            self._relay.event.emit((job.id, job.channel, event, payload))

    def _step(self, job: _Job) -> tuple[str, Any]:
        if self._threads_wanted != self._threads_applied:  # thread counts are per OS thread: set it here
            self._threads_applied = self._threads_wanted
            set_threads(self._threads_applied)
        try:
            if job.iterator is None:
                job.iterator = iter(job.work(self._engine))
            payload = next(job.iterator)
            if isinstance(payload, _SwapEngine):
                self._engine = payload.engine  # only after it loaded: a bad file leaves the old model in place
                self._preview_base = None
            job.last = payload
            return "data", payload
        except StopIteration:
            return "done", job.last
        except ArtGenError as e:
            return "error", str(e)
        except Exception as e:  # noqa: BLE001 - any engine failure is shown, never fatal
            traceback.print_exc(file=sys.stderr)
            return "error", f"{type(e).__name__}: {e}"

    def _on_event(self, event: tuple) -> None:
        """Main thread: drops stale results, routes the rest to typed signals."""
        job_id, channel, kind, payload = event
        if kind == "timing":
            self.timing.emit(payload)
            return
        with self._cond:
            cancelled = job_id in self._cancelled
        stale = cancelled or (channel in COALESCING and self._state.latest.get(channel) != job_id)
        if channel in FOLLOWING and kind in ("data", "last") and not cancelled:
            stale = job_id < self._state.shown.get(channel, 0)  # never an older picture after a newer one
            if not stale:
                self._state.shown[channel] = job_id
        if kind in ("done", "error", "dropped", "last"):
            self._finish_bookkeeping(job_id)
        if kind == "dropped" or stale:  # a newer request owns this channel: its result is what counts
            return
        if kind == "error":
            self.failed.emit(job_id, channel, payload)
        elif kind == "done":
            self.finished.emit(job_id, channel, payload)
        elif isinstance(payload, ModelDescription):
            self.model_loaded.emit(payload)
        elif isinstance(payload, SearchResults):
            self.search_ready.emit(job_id, payload)
        elif isinstance(payload, AtlasProgress):
            self.atlas_progress.emit(job_id, payload)
        elif isinstance(payload, Progress):
            self.progress.emit(job_id, payload)
        elif isinstance(payload, StyleThumb):
            self.style_thumb_ready.emit(job_id, payload)
        elif isinstance(payload, Saved):
            self.saved.emit(job_id, payload.path)
        elif channel == PREVIEW:
            self.preview_ready.emit(payload)
        elif channel == GALLERY:
            self.gallery_batch.emit(job_id, payload)
        elif channel == LIVE:
            self.live_ready.emit(payload)
        elif channel == STRIP:
            self.strip_ready.emit(payload)


def _need(engine: Engine | None) -> Engine:
    if engine is None:
        raise ArtGenError("no model is loaded yet: open a model file (Model ▸ Open model…)")
    return engine

