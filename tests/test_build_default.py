"""The default-dataset builder: caption clean-up, filters, dedup, rendering, and a tiny end-to-end build
from a fake package cache (no apt needed). One test uses the real packages when they are cached."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainer import build_default as bd
from trainer import captions as cap

WORDS = """a an the and of with in on red apple apples ship ships horse horses cat dog bird birds swan pig tiger
insect insects cone ice cream scoop hat man woman house flower flowers fish rose simple sailing boat
cherry cherries paper clip mouse pointer alarm clock furniture tree trees pear mammal mammals
bottle wine tux Santa Rosa Tuxedo lemon slice eucalyptus umbrella hour teapot old""".split()


@pytest.fixture(scope="module")
def wl() -> cap.WordList:
    return cap.WordList.from_lines(WORDS)


# --- captions -------------------------------------------------------------------------------


def test_split_name_handles_underscores_camelcase_and_digits():
    assert cap.split_name("red_apple-01.svg") == ["red", "apple", "01"]
    assert cap.split_name("MatieresNocivesIrritantes") == ["Matieres", "Nocives", "Irritantes"]
    assert cap.split_name("guitar2") == ["guitar", "2"]
    assert cap.split_name("SVGFile") == ["SVG", "File"]


def test_word_list_common_proper_plurals_compounds(wl):
    assert wl.is_common("apple") and wl.is_common("Apples") and wl.is_common("paperclip")
    assert not wl.is_common("rosa") and wl.is_known("rosa")  # proper noun only
    assert not wl.is_known("cigno")


def test_strip_file_name_cuts_truncated_author():
    authors = cap.author_words(["Architetto Francesco Rollandin"])
    assert cap.strip_file_name("cigno_architetto_frances_01", authors) == ["cigno"]
    assert cap.strip_file_name("gattina_cat_architetto_f_01", authors) == ["gattina", "cat"]
    assert cap.strip_file_name("red_apple_01", authors) == ["red", "apple", "01"]


def test_clean_title_strips_collections_authors_and_noise():
    authors = cap.author_words(["Nicu Buculei"])
    assert cap.clean_title("Clipart by Nicu Buculei - red_apple", authors) == ["red", "apple"]
    assert cap.clean_title("ice cream cone (1 scoop) (b and w)", set()) == ["ice", "cream", "cone", "scoop"]
    assert cap.clean_title("Hat by Nicu Buculei", authors) == ["Hat"]
    assert cap.clean_title("Part of the Flat Icon Collection (Wed Aug 25 2004)", set()) == []
    assert cap.clean_title("Cigno", set()) == ["swan"]  # glossary


def test_judge(wl):
    assert cap.judge(["red", "apple"], wl) is None
    assert cap.judge([], wl) == "empty"
    assert cap.judge(["cigno"], wl) == "not English"
    assert cap.judge(["Santa", "Rosa"], wl) == "not English"  # proper nouns only
    assert cap.judge(["mammal"], wl) == "generic"
    assert cap.judge(["caf\u00e9", "apple"], wl) == "non-ASCII"
    assert cap.judge(["apple"] * 9, wl) == "too long"


def test_sentence_articles_plurals_mass_nouns(wl):
    assert cap.sentence(["red", "apple"], wl) == "A red apple."
    assert cap.sentence(["apple"], wl) == "An apple."
    assert cap.sentence(["cherries"], wl) == "Cherries."
    assert cap.sentence(["furniture"], wl) == "Furniture."
    assert cap.sentence(["knitting"], wl) == "Knitting."
    assert cap.sentence(["stickmen"], wl) == "Stickmen."
    assert cap.sentence(["eucalyptus"], wl) == "A eucalyptus."
    assert cap.sentence(["hour", "glass"], wl) == "An hour glass."
    assert cap.sentence(["the", "old", "ship"], wl) == "The old ship."
    with pytest.raises(ValueError):
        cap.sentence([])


def test_tuxpaint_caption_takes_untranslated_first_line():
    txt = ("A mince pie is a traditional Christmas food in the UK. It contains dried fruit.\n"
           "de.utf8=Ein Mince Pie.\nfr.utf8=Une tarte.\n")
    assert cap.tuxpaint_caption(txt) == "A mince pie is a traditional Christmas food in the UK."
    assert cap.tuxpaint_caption("Boom!!!\nes.utf8=Bum!\n") == "Boom!"
    assert cap.tuxpaint_caption("Anthurium\n") == "Anthurium."
    assert cap.tuxpaint_caption("de.utf8=Nur Deutsch.\n") is None
    assert cap.tuxpaint_caption("\n\n") is None
    long = "Knight " + " ".join(["moves"] * 15) + ", then jumps over all the other pieces on the board."
    out = cap.tuxpaint_caption(long)
    assert len(out.split()) <= cap.MAX_WORDS and out.endswith(".")
    assert cap.first_sentence("Saturn\u2014the planet with rings.") == "Saturn, the planet with rings."


SVG_META = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 width="100" height="100"><metadata><rdf:RDF><cc:Work rdf:about="">
 <dc:title>{title}</dc:title><dc:description>{desc}</dc:description>
 <dc:subject><rdf:Bag>{kws}</rdf:Bag></dc:subject>
 <dc:creator><cc:Agent><dc:title>Jane Painter</dc:title></cc:Agent></dc:creator>
 <cc:license rdf:resource="http://web.resource.org/cc/PublicDomain"/>
 </cc:Work></rdf:RDF></metadata>{body}</svg>"""


def svg(title="", desc="", kws=(), body='<circle cx="50" cy="50" r="30" fill="black"/>') -> str:
    return SVG_META.format(title=title, desc=desc, kws="".join(f"<rdf:li>{k}</rdf:li>" for k in kws), body=body)


def test_svg_metadata_parse():
    m = cap.svg_metadata(svg("Red apple", "A shiny apple", ["fruit", "apple"]).encode())
    assert (m.title, m.description, m.keywords, m.authors) == ("Red apple", "A shiny apple", ["fruit", "apple"],
                                                               ["Jane Painter"])
    assert "PublicDomain" in m.license
    assert cap.svg_metadata(b"<not xml").title == ""


def test_openclipart_caption_order(wl):
    def caption(title="", stem="x", desc="", kws=(), folders=("misc",), coll=frozenset(), counts=None,
                shared=frozenset()):
        m = cap.SvgMeta(title=title, description=desc, keywords=list(kws), authors=["Jane Painter"])
        return cap.openclipart_caption(m, stem, list(folders), wl, coll, counts, shared)

    assert caption("Red apple") == ("A red apple.", "title")
    assert caption("Cigno") == ("A swan.", "title")
    assert caption("Etiquette Icons", "red_apple_jane_painter_01", coll={"etiquette icons"}) == \
        ("A red apple.", "file name")
    # a "Clipart by" title that names another picture of the upload is not trusted
    assert caption("Clipart by Nicu Buculei - piggybank", "alarm_clock") == ("An alarm clock.", "file name")
    assert caption("zzz", "qqq", desc="An old teapot") == ("An old teapot.", "description")
    assert caption("zzz", "qqq", desc="This is a picture I made") != ("A picture I made.", "description")
    # an upload's blurb on each of its pictures, and sentences about the file, are not captions
    text, why = caption("zzz", "qqq", desc="Satellite engineering related", shared={"satellite engineering related"})
    assert text is None and "description: shared by other pictures" in why
    # ... and so are its keywords, unless the picture's name repeats one
    blurb = dict(desc="Satellite engineering related", shared={"satellite engineering related"},
                 kws=["bird", "swan"], counts={"bird": 50, "swan": 1})
    assert caption("zzz", "qqq", **blurb)[0] is None
    assert caption("zzz", "swan_qqq", **blurb) == ("A swan.", "keywords")
    for blurb in ("Created with the Inkscape", "I hate the lot of them", "Database creation application logo"):
        assert caption("zzz", "qqq", desc=blurb)[1] != "description"
    # a description two files share while their names agree with it is kept (one drawing, two folders)
    pairs = [("Planet Jupiter", "jupiter_01"), ("Planet Jupiter", "jupiter_02"), ("Blurb", "a"), ("Blurb", "b")]
    assert cap.collection_titles(pairs, min_count=2) == {"blurb"}
    # keywords: the one in the file name wins, else the most used one (a category noun)
    assert caption("zzz", "swan_qqq", kws=["bird", "swan"]) == ("A swan.", "keywords")
    assert caption("zzz", "qqq", kws=["bird", "pretty"], counts={"bird": 50, "pretty": 1}) == ("A bird.", "keywords")
    assert caption("zzz", "qqq", folders=["animals", "horses"]) == ("A horse.", "folder")
    text, why = caption("zzz", "qqq", folders=["animals"])
    assert text is None and "folder: generic" in why


def test_collection_titles():
    pairs = [("Etiquette Icons", f"gnome-{i}") for i in range(5)] + [("Pencil", f"pencil_{i}") for i in range(5)]
    pairs += [("Red apple", "red_apple")]
    assert cap.collection_titles(pairs) == {"etiquette icons"}


# --- filters --------------------------------------------------------------------------------


def test_folder_and_word_exclusions():
    t = bd.OPENCLIPART_EXCLUDE_DIRS
    assert bd.folder_exclusion("shapes/stars", t) == "generated star"
    assert bd.folder_exclusion("signs_and_symbols/flags/europe/france", t) == "flag"
    assert bd.folder_exclusion("signs_and_symbols/clocks", t, bd.OPENCLIPART_EXCLUDE_EXACT) is None
    assert bd.folder_exclusion("signs_and_symbols", t, bd.OPENCLIPART_EXCLUDE_EXACT) == "sign"
    assert bd.folder_exclusion("animals/birds", t) is None
    assert bd.word_exclusion(["Flag of Wales", "cymru"]) == "flag (flag)"
    assert bd.word_exclusion(["Starfish", "starfish_01"]) is None  # whole words only
    assert bd.word_exclusion(["Apple", "apple"], ["fruit", "icon"]) == "UI icon (keyword icon)"
    assert bd.word_exclusion(["Apple"], ["fruit"]) is None
    assert bd.folder_exclusion("symbols/alphabets/english/filled", bd.TUXPAINT_EXCLUDE_DIRS) == "letter or number"


def test_license_names():
    assert bd.license_name("http://web.resource.org/cc/PublicDomain", "x") == "Public Domain"
    assert bd.license_name("http://creativecommons.org/licenses/GPL/2.0/", "x") == "GPL-2.0"
    assert bd.license_name("", "Public Domain") == "Public Domain"


def test_ink_bbox_center_square_and_analyse():
    g = np.ones((100, 200), np.float32)
    g[40:60, 50:90] = 0.0
    assert bd.ink_bbox(g) == (50, 40, 90, 60)
    assert bd.ink_bbox(np.ones((10, 10), np.float32)) is None
    sq = bd.center_square(g, bd.ink_bbox(g), size=100, margin=0.1)
    assert sq.shape == (100, 100)
    x0, y0, x1, y1 = bd.ink_bbox(sq)
    assert abs(x0 - 10) <= 1 and abs(x1 - 90) <= 1  # long side fills the inner 80%
    assert abs((y0 + y1) / 2 - 50) <= 1  # centred
    assert bd.analyse(sq) is None
    blank = np.ones((256, 256), np.float32)
    blank[100, 100] = 0
    assert bd.analyse(blank).startswith("blank")
    assert bd.analyse(np.full((256, 256), 0.3, np.float32)).startswith("background")


def test_near_duplicates():
    rng = np.random.default_rng(0)
    base = np.ones((64, 64), np.float32)
    base[10:50, 20:40] = 0.2
    copy = base.copy()
    copy[30, 30] = 0.25  # tiny change: same picture
    other = np.ones((64, 64), np.float32)
    other[5:20, 5:60] = 0.0
    noise = rng.random((64, 64)).astype(np.float32)
    imgs = [base, other, copy, noise]
    dh = np.stack([bd.dhash(i) for i in imgs])
    ah = np.stack([bd.ahash(i) for i in imgs])
    assert bd.near_duplicates(dh, ah, 8) == {2: 0}
    assert bd.hamming(dh)[0, 0] == 0


def test_slug_is_stable_and_safe():
    assert bd.slug("openclipart/animals/Birds/swan (1).svg") == "openclipart-animals-birds-swan-1"


# --- rendering ------------------------------------------------------------------------------


def test_render_svg_and_png(tmp_path):
    s = tmp_path / "dot.svg"
    s.write_text(svg(body='<rect x="10" y="40" width="20" height="10" fill="#000"/>'))
    r = bd.render_candidate(("k", str(s)))
    assert r.reason is None and r.renderer == "qt" and r.gray.shape == (bd.GRAY_PX, bd.GRAY_PX)
    x0, y0, x1, y1 = bd.ink_bbox(r.gray / 255.0)
    assert x1 - x0 > 0.8 * bd.GRAY_PX  # cropped to the drawing, long side fills the square less the margin
    blank = tmp_path / "blank.svg"
    blank.write_text(svg(body='<rect x="0" y="0" width="100" height="100" fill="#fff"/>'))
    assert bd.render_candidate(("b", str(blank))).reason.startswith("blank")
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg><g>")
    assert bd.render_candidate(("x", str(broken))).reason.startswith(("render failed", "blank"))
    im = Image.new("RGBA", (80, 40), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse((10, 5, 70, 35), fill=(200, 0, 0, 255))
    im.save(tmp_path / "stamp.png")
    r = bd.render_candidate(("p", str(tmp_path / "stamp.png")))
    assert r.reason is None and r.renderer == "pillow"
    assert r.gray[0, 0] == 255  # transparent corners composited on white


# --- fetching -------------------------------------------------------------------------------


def test_fetch_without_apt_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(bd.shutil, "which", lambda name: None)
    with pytest.raises(bd.FetchError, match="apt-get is not available"):
        bd.fetch_package(bd.PACKAGES["wamerican"], tmp_path)


def test_fetch_checks_sha256(tmp_path):
    pkg = bd.PACKAGES["wamerican"]
    debs = tmp_path / "debs"
    debs.mkdir()
    fake = debs / "wamerican_2020.12.07-2_all.deb"
    fake.write_bytes(b"not a deb")
    bogus = bd.DebPackage(pkg.name, pkg.version, bd.sha256_file(fake), pkg.license)
    with pytest.raises(bd.FetchError, match="dpkg-deb"):  # sha matches, content is no package
        bd.fetch_package(bogus, tmp_path)


def fake_cache(tmp_path: Path) -> Path:
    """A package cache laid out as fetch_package leaves it, with a few hand-made drawings."""
    cache = tmp_path / "cache"

    def root(name: str) -> Path:
        pkg = bd.PACKAGES[name]
        r = cache / "unpacked" / f"{pkg.name}_{pkg.version.replace(':', '%3a')}"
        r.mkdir(parents=True)
        (r / ".complete").write_text(pkg.sha256 + "\n")
        return r

    words = root("wamerican") / bd.WORDS_FILE
    words.parent.mkdir(parents=True)
    words.write_text("\n".join(WORDS) + "\n")
    oc = root("openclipart-svg") / bd.OPENCLIPART_DIR
    (oc / "food/fruit").mkdir(parents=True)
    (oc / "shapes/stars").mkdir(parents=True)
    (oc / "animals/birds").mkdir(parents=True)
    (oc / "food/fruit/red_apple_jane_painter_01.svg").write_text(svg("Red apple"))
    (oc / "food/fruit/pear_jane_painter_01.svg").write_text(
        svg("Pear", body='<rect x="20" y="10" width="30" height="80" fill="#444"/>'))
    (oc / "animals/birds/cigno_jane_painter_01.svg").write_text(
        svg("Cigno", body='<path d="M10 80 L50 10 L90 80 Z" fill="none" stroke="#000" stroke-width="4"/>'))
    (oc / "animals/birds/cigno_copy.svg").write_text(  # the same drawing again: a near-duplicate
        svg("Cigno", body='<path d="M10 80 L50 10 L90 80 Z" fill="none" stroke="#000" stroke-width="4"/>'))
    (oc / "food/fruit/red-apple_jane_painter_01.svg").write_text(  # same slug as red_apple_..., other picture
        svg("Red apple", body='<path d="M10 10 L90 10 L50 90 Z" fill="#000"/>'))
    (oc / "shapes/stars/star_5pt.svg").write_text(svg("gramastar"))
    (oc / "food/fruit/mystery_jane_painter_01.svg").write_text(svg("Zzyqx", kws=["qqq"]))
    tp = root("tuxpaint-stamps-default") / bd.TUXPAINT_DIR
    (tp / "animals/cats").mkdir(parents=True)
    im = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)  # not a filled disc: the apple is one, and would make this a near-duplicate
    d.ellipse((5, 5, 55, 55), outline=(120, 60, 0, 255), width=4)
    d.rectangle((20, 30, 40, 58), fill=(0, 0, 0, 255))
    im.save(tp / "animals/cats/cat.png")
    (tp / "animals/cats/cat.txt").write_text("A cat sleeping on a chair.\nde.utf8=Eine Katze.\n")
    return cache


def test_build_end_to_end_from_fake_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(bd, "ENGRAVE_PX", 128)  # the renderer's cost grows with size; 128 px keeps this fast
    cache = fake_cache(tmp_path)
    out = tmp_path / "out"
    rep = bd.build(out, cache_dir=cache, workers=1, icon_sets=(), log=lambda *a: None)
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert [(r["text"], r["source"], r["caption_from"]) for r in rows] == [
        ("A swan.", "openclipart", "title"), ("A pear.", "openclipart", "title"),
        ("A red apple.", "openclipart", "title"), ("A red apple.", "openclipart", "title"),
        ("A cat sleeping on a chair.", "tuxpaint", "tuxpaint txt")]
    assert len({r["file_name"] for r in rows}) == len(rows) == len(list((out / "images").iterdir()))
    assert {r["license"] for r in rows} == {"Public Domain", "GPL-2.0-or-later"}
    for r in rows:
        assert set(r) == {"file_name", "text", "source", "category", "license", "caption_from"}
        with Image.open(out / r["file_name"]) as im:
            assert im.size == (bd.ENGRAVE_PX, bd.ENGRAVE_PX) and im.mode == "L"
    assert rep["items"] == 5 and rep["by_source"] == {"openclipart": 4, "tuxpaint": 1}
    ex = rep["excluded"]
    assert ex["generated star"]["count"] == 1 and ex["near-duplicate"]["count"] == 1
    assert ex["no meaningful caption"]["count"] == 1
    assert json.loads((out / "report.json").read_text())["items"] == 5
    assert (out / "contact_sheet.png").is_file()
    assert not list(out.rglob("*.part-*"))
    # deterministic: a second build gives the same rows and the same image bytes
    before = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    rep2 = bd.build(out, cache_dir=cache, workers=1, icon_sets=(), log=lambda *a: None)
    assert (out / "metadata.jsonl").read_text().splitlines() == [json.dumps(r, ensure_ascii=False) for r in rows]
    assert {p.name: p.read_bytes() for p in (out / "images").iterdir()} == before
    assert rep2["excluded"] == rep["excluded"]
    # public-domain only: no GPL stamps
    pd = bd.build(tmp_path / "pd", public_domain_only=True, cache_dir=cache, workers=1, icon_sets=(),
                  log=lambda *a: None)
    assert pd["by_source"] == {"openclipart": 4} and "tuxpaint" not in json.dumps(pd["packages"])


# --- npm icon sets -----------------------------------------------------------------------------

SQUARE = '<ellipse cx="12" cy="12" rx="9" ry="5" fill="currentColor"/>'  # a full square reads as background
ICONS = {"prefix": "t", "width": 24, "height": 24, "icons": {
    "red-apple": {"body": SQUARE},
    "pear": {"body": '<circle cx="24" cy="24" r="14" fill="none" stroke="currentColor" stroke-width="4"/>',
             "width": 48, "height": 48},
    "apple-dark-skin-tone": {"body": SQUARE},
    "abstract-001": {"body": SQUARE},
    "zzyqx-qqq": {"body": SQUARE},
    "cat": {"body": SQUARE},
    "bad": {"width": 3},
}}
ICON_META = {"categories": {"Food": ["red-apple", "pear", "apple-dark-skin-tone", "abstract-001", "zzyqx-qqq", "bad"],
                            "Flags": ["cat"]}}


def icon_tarball(path: Path, icons: dict = ICONS, metadata: dict = ICON_META) -> Path:
    """An npm package tarball laid out as `npm pack` leaves an Iconify set."""
    import io
    import tarfile
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in (("package/icons.json", icons), ("package/metadata.json", metadata)):
            data = json.dumps(obj).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_icon_set_reader_filters_captions_and_writes_svgs(tmp_path, wl):
    tgz = icon_tarball(tmp_path / "t.tgz")
    icons, meta = bd.read_icon_tarball(tgz)
    spec = bd.IconSet("@t/icons", "1.0.0", bd.sha256_file(tgz), "MIT", "Test icons", frozenset({"Food"}))
    by = {c.key: c for c in bd.icon_candidates("test", spec, icons, meta, tmp_path / "svg", wl)}
    assert by["test/red-apple"].text == "A red apple." and by["test/red-apple"].license == "MIT"
    assert by["test/red-apple"].excluded is None and by["test/pear"].text == "A pear."
    assert by["test/apple-dark-skin-tone"].excluded == "skin-tone variant"
    assert by["test/abstract-001"].excluded == "abstract shape"
    assert by["test/zzyqx-qqq"].excluded == "no meaningful caption"
    assert by["test/cat"].excluded == "category not kept (Flags)"
    assert by["test/bad"].excluded == "malformed icon entry"
    svg_text = Path(by["test/pear"].path).read_text()
    assert 'viewBox="0 0 48 48"' in svg_text and "currentColor" not in svg_text
    r = bd.render_candidate(("test/red-apple", by["test/red-apple"].path))
    assert r.reason is None and r.gray.min() < 30  # a black ellipse, centred


def test_build_adds_icon_sets_with_credits_and_an_ink_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(bd, "ENGRAVE_PX", 128)
    cache = fake_cache(tmp_path)
    (cache / "npm").mkdir()
    tgz = icon_tarball(cache / "npm" / "t-icons-1.0.0.tgz")
    spec = bd.IconSet("@t/icons", "1.0.0", bd.sha256_file(tgz), "MIT", "Test icons by Someone, MIT licence",
                      frozenset({"Food"}), ink_cap=0.7)
    monkeypatch.setattr(bd, "ICON_SETS", {"test": spec})
    monkeypatch.setattr(bd, "SOURCE_CREDITS", {**bd.SOURCE_CREDITS, "test": spec.attribution})
    out = tmp_path / "out"
    rep = bd.build(out, cache_dir=cache, workers=1, icon_sets=("test",), log=lambda *a: None)
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    icons = {r["text"]: r for r in rows if r["source"] == "test"}
    assert set(icons) == {"A red apple.", "A pear."} and rep["by_source"]["test"] == 2
    assert rep["icon_sets"] == {"test": {"package": "@t/icons", "version": "1.0.0", "license": "MIT"}}
    credits = (out / "CREDITS.md").read_text()
    assert "Test icons by Someone, MIT licence" in credits and "public domain" in credits
    with Image.open(out / icons["A red apple."]["file_name"]) as im:
        centre = np.asarray(im, np.float32)[56:72, 40:88] / 255
    # the solid ellipse is engraved with white between its lines, not filled black
    assert 0.15 < centre.mean() < 0.6


def test_icon_sets_are_skipped_with_one_line_without_npm(tmp_path, monkeypatch):
    monkeypatch.setattr(bd, "ENGRAVE_PX", 128)
    cache = fake_cache(tmp_path)
    real_which = bd.shutil.which
    monkeypatch.setattr(bd.shutil, "which", lambda tool: None if tool == "npm" else real_which(tool))
    lines: list[str] = []
    rep = bd.build(tmp_path / "out", cache_dir=cache, workers=1, icon_sets=("openmoji",), log=lines.append)
    assert rep["items"] == 5 and "openmoji" in rep["sources_skipped"]
    assert [ln for ln in lines if "openmoji" in ln] == [
        "skipping openmoji: npm is not available (or put iconify-json-openmoji-1.2.29.tgz in "
        f"{cache / 'npm'})"]


REAL_CACHE = bd.default_cache_dir()


@pytest.mark.skipif(not all((REAL_CACHE / "unpacked" / f"{p.name}_{p.version.replace(':', '%3a')}" / ".complete")
                            .is_file() for p in bd.PACKAGES.values()),
                    reason="the pinned Debian packages are not in the local cache (run trainer.build_default once)")
def test_real_packages_captions_and_filters():
    roots = {n: REAL_CACHE / "unpacked" / f"{p.name}_{p.version.replace(':', '%3a')}" for n, p in bd.PACKAGES.items()}
    tux = {c.key: c for c in bd.tuxpaint_candidates(roots["tuxpaint-stamps-default"])}
    assert tux["tuxpaint/animals/amphibians/frog.png"].text == "A frog."
    assert tux["tuxpaint/symbols/alphabets/english/filled/lowercase/a_filled.png"].excluded == "letter or number"
    kept = [c for c in tux.values() if c.excluded is None]
    assert 550 <= len(kept) <= 800
    assert all(c.text and len(c.text.split()) <= cap.MAX_WORDS for c in kept)
    assert os.path.isfile(roots["wamerican"] / bd.WORDS_FILE)
