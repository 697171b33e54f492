"""Caption clean-up for the default dataset: pure functions, no I/O beyond reading given text.

Openclipart metadata is messy: titles are often a collection name ("Etiquette Icons"), carry the
author ("Clipart by Nicu Buculei - piggybank"), or are Italian ("Cigno"); file names are truncated
("cigno_architetto_frances_01"). Each candidate is cleaned, judged for being a short English noun
phrase, and the first good one becomes a sentence ("A swan."). Tux Paint ships a sentence already.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_WORDS = 20  # the caption model is word-level; long sentences only add rare words

# Words that say nothing about what is drawn (file-name debris, clip-art jargon).
NOISE_WORDS = frozenset("""
clipart clip art svg png eps ai bw md sm lg xl hq hd ver version v new untitled drawing image
contour remix remixed vector vectorized edited edit copy final draft layer document hash theme
collection clipart's openclipart ocal scalable graphic graphics simple colour color colored coloured
blackandwhite lineart rev rc alt fixed small big large illustration
""".split())

# Phrases too generic to caption a picture on their own.
GENERIC_PHRASES = frozenset("""
animal animals mammal mammals food people person thing object symbol symbols sign signs icon icons
clipart design misc miscellaneous unsorted other stuff various cartoon cartoons shape shapes
recreation education office computer toy toys tool tools plant plants building buildings
decoration decorations science holiday party entertainment nature element elements item items
logo logos image picture illustration sketch silhouette outline world hobby hobbies household
religion sport sports music musicstuff electronic activity equipment work pretty funny cute
hardware internet clothing device devices
dessert desserts fruit vegetable vegetables container
containers electronics transportation vehicle vehicles geography special duplicates fantasy
""".split())

# Keywords that are adjectives, topics or mass nouns: "A festive." says nothing about the picture.
KEYWORD_STOP = frozenset("""
weather hardware transport protein game games festive presentation fluorescent study studio pregnancy
memory clothing old illusion astronomy architectural activity women men white black blue red green place
health geometry graph cooking commercial psycho label network cover flourish triangle smiley cross saint
human nature beverage beverages art craft fun happy cool modern classic retro cartoonish style
""".split())

# Uncountable nouns take no article: "Furniture.", "Rain."
MASS_NOUNS = frozenset("""
furniture jewelry jewellery luggage money bread rain snow lightning fire smoke grass hair ice water wine
tea coffee milk cheese meat rice popcorn candy sushi spaghetti pasta soup salad fruit food music wool
clothing
""".split())

# The collection has many Italian (and some French / Spanish) titles and file names; a small glossary
# turns the frequent ones into English instead of dropping them. Whole words only.
GLOSSARY = {
    "cigno": "swan", "cigni": "swans", "tigre": "tiger", "leone": "lion", "cavallo": "horse",
    "cavalli": "horses", "orso": "bear", "farfalla": "butterfly", "farfalle": "butterflies",
    "coccinella": "ladybug", "coccinellona": "ladybug", "coccinelle": "ladybug", "ragno": "spider",
    "ragnetto": "spider", "formica": "ant", "formicona": "ant", "libellula": "dragonfly",
    "lumaca": "snail", "zanzara": "mosquito", "moschito": "mosquito", "pollo": "chicken", "gallo": "rooster",
    "gallina": "hen", "acquila": "eagle", "aquila": "eagle", "uccello": "bird", "uccelli": "birds",
    "pesce": "fish", "pescetto": "fish", "gatto": "cat", "gattina": "kitten", "gatti": "cats",
    "cane": "dog", "mucca": "cow", "mucche": "cows", "pecora": "sheep", "pecorella": "lamb",
    "agnellini": "lambs", "maiale": "pig", "dinosauro": "dinosaur", "dinosauri": "dinosaurs",
    "elefante": "elephant", "elefantone": "elephant", "struzzo": "ostrich", "cammello": "camel",
    "papera": "duck", "anatra": "duck", "colombo": "pigeon", "gabbiano": "seagull", "pennuto": "bird",
    "abeille": "bee", "canguro": "kangaroo", "coniglio": "rabbit", "antilope": "antelope",
    "tacchino": "turkey", "bottiglia": "bottle", "vino": "wine", "siringa": "syringe", "candela": "candle",
    "rosa": "rose", "foglie": "leaves", "casa": "house", "sedia": "chair", "tavolo": "table",
    "albero": "tree", "fiore": "flower", "fiori": "flowers", "mela": "apple", "pera": "pear",
    "principessa": "princess", "ragazza": "girl", "ragazzo": "boy", "donna": "woman", "uomo": "man",
    "signorina": "young woman", "carpentiere": "carpenter", "spaventapasseri": "scarecrow",
    "betoniera": "concrete mixer", "motosega": "chainsaw", "ambulanza": "ambulance", "biberon": "baby bottle",
    "ciuccio": "pacifier", "borsetta": "handbag", "zaino": "backpack", "scatolone": "cardboard box",
    "calzettoni": "socks", "vestito": "dress", "candelabro": "candlestick", "forbici": "scissors",
    "martello": "hammer", "sega": "saw", "pinze": "pliers", "guanti": "gloves", "tenda": "tent",
    "serratura": "lock", "chiave": "key", "lampada": "lamp", "orologio": "clock", "scala": "ladder",
    "bicicletta": "bicycle", "barca": "boat", "nave": "ship", "treno": "train",
    "aereo": "airplane", "camion": "truck", "chitarra": "guitar", "tamburo": "drum", "violino": "violin",
    "pinguino": "penguin", "torta": "cake", "pane": "bread", "formaggio": "cheese", "uovo": "egg",
    "fuoco": "fire", "campeggio": "camping", "finestra": "window", "cestino": "basket",
    "calcolatrice": "calculator", "pennello": "paintbrush", "tavolozza": "palette", "provetta": "test tube",
    "provette": "test tubes", "festoni": "festoons", "ghirlande": "garlands",
    "flamand": "flamingo", "champignon": "mushroom", "mante": "mantis", "religieuse": "praying",
    "gato": "cat", "perro": "dog", "pajaro": "bird", "caballo": "horse", "arbol": "tree",
    "pomme": "apple", "chien": "dog", "oiseau": "bird", "maison": "house", "voiture": "car",
    "glace": "ice cream", "gateau": "cake", "galette": "pancake", "lucertola": "lizard",
    "lucertolona": "lizard", "ramarro": "lizard", "toro": "bull", "tramonto": "sunset", "vacca": "cow",
    "topo": "mouse", "rana": "frog", "zucca": "pumpkin", "aglio": "garlic", "ravanello": "radish",
    "trattore": "tractor", "clessidra": "hourglass", "puntine": "thumbtacks", "pinzatrice": "stapler",
    "cinepresa": "movie camera", "casco": "helmet", "microfono": "microphone", "cantiere": "building site",
    "carretta": "wheelbarrow", "grondaia": "gutter", "stetoscopio": "stethoscope", "carta": "paper",
    "fabbrica": "factory", "borsa": "bag", "estiva": "summer", "orme": "footprints", "neve": "snow",
    "arancioni": "orange", "bruna": "brunette", "bionda": "blonde", "pittura": "painting", "lana": "wool",
    "demolizione": "demolition", "costruzione": "construction", "sulla": "on the", "tante": "many",
    "arrotolata": "curled", "pezzata": "spotted", "rossa": "red", "rosso": "red", "lucchetto": "padlock",
    "cani": "dogs", "montagna": "mountain", "per": "for", "seduta": "sitting", "grigio": "grey",
    "nero": "black", "bianco": "white", "bianchi": "white", "neri": "black", "piccolo": "small",
    "profilo": "profile", "stormo": "flock", "figo": "cool", "stilizzata": "stylized",
    "contorno": "outline", "quattro": "four",
    "di": "", "da": "", "del": "", "della": "", "con": "with", "il": "", "la": "", "le": "", "e": "and",
}

_ARTICLE_OR_NUMBER = frozenset("""
a an the some two three four five six seven eight nine ten many several one pair his her its their my
""".split())

_SMALL_WORDS = frozenset("a an the and or of with in on at to for by from over under into".split())
_LEADING_BAD = frozenset("and or of with in on at to for by from over under into".split())
# two-letter tokens in names are mostly initials or debris ("hp", "es"); these are words
_TWO_LETTER_WORDS = frozenset("of in on at to tv up ox an or by go my no oh we it is as be he me us cd pc dj ax"
                              .split())


def translate(words: list[str]) -> list[str]:
    """Glossary words replaced by English (function words dropped); other words unchanged."""
    out: list[str] = []
    for w in words:
        t = GLOSSARY.get(w.lower())
        if t is None:
            out.append(w)
        elif t:
            out += t.split()
    return out


def split_name(text: str) -> list[str]:
    """Words of a title or file name: underscores, dashes and dots split; CamelCase and digits split."""
    text = re.sub(r"\.(svg|png|jpe?g)$", "", text.strip(), flags=re.I)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # CamelCase
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # ABCWord -> ABC Word
    text = re.sub(r"([A-Za-z])(\d)|(\d)([A-Za-z])", r"\1\3 \2\4", text)  # guitar2 -> guitar 2
    return [w for w in re.split(r"[^A-Za-z0-9']+", text) if w]


@dataclass(frozen=True)
class WordList:
    """An English word list: `common` holds words listed in lower case, `proper` capitalised-only ones."""

    common: frozenset[str]
    proper: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> WordList:
        common, proper = set(), set()
        for line in lines:
            w = line.strip()
            if not w or "'" in w or not w.isalpha():
                continue
            (common if w.islower() else proper).add(w.lower())
        return cls(frozenset(common), frozenset(proper - common))

    def is_common(self, word: str) -> bool:
        w = word.lower()
        if w in self.common:
            return True
        # simple plurals are often missing from the list as entries
        if len(w) > 3 and any(w.endswith(s) and w[: -len(s)] in self.common for s in ("s", "es")):
            return True
        # closed compounds: "paperclip", "sugarbox"
        return len(w) >= 7 and any(w[:i] in self.common and w[i:] in self.common for i in range(3, len(w) - 2))

    def is_known(self, word: str) -> bool:
        return self.is_common(word) or word.lower() in self.proper


def author_words(names: Iterable[str]) -> set[str]:
    """Lower-case words of author / publisher names, for stripping them from titles and file names."""
    out: set[str] = set()
    for n in names:
        out.update(w.lower() for w in split_name(n) if len(w) > 1 and not w.isdigit())
    return out


def strip_file_name(stem: str, authors: set[str]) -> list[str]:
    """Words of an openclipart file name before the author part ("cigno_architetto_frances_01" -> cigno).

    File names were cut to ~24 characters, so the author shows as a prefix of a name word ("frances").
    """
    words = split_name(stem)
    out: list[str] = []
    for i, w in enumerate(words):
        lw = w.lower()
        if i > 0 and any(a == lw or (len(lw) >= 2 and a.startswith(lw) and out) for a in authors):
            break
        out.append(w)
    return out


_COLLECTION_RES = [
    re.compile(r"^\s*clip\s*art\s+by\s+[^-:]+[-:]\s*", re.I),  # "Clipart by Jeff Smith - Christian"
    re.compile(r"\bpart of the .*$", re.I),
    re.compile(r"\((?:[^)]*\d{4}[^)]*)\)"),  # dates in brackets
    re.compile(r"\(\s*(?:b\s*(?:and|&|/)?\s*w|bw|black and white)\s*\)", re.I),  # "(b and w)"
    re.compile(r"\b(?:drawn|made|created|designed|vectorized|converted)\s+by\s+.*$", re.I),
]


def clean_title(text: str, authors: set[str]) -> list[str]:
    """Words of a title with collection phrases, author names, numbers and noise removed."""
    text = text or ""
    for rx in _COLLECTION_RES:
        text = rx.sub(" ", text)
    words = split_name(text)
    # drop "by <author>" runs and bare author words
    out: list[str] = []
    skip = False
    for w in words:
        lw = w.lower()
        if lw == "by":
            skip = True
            continue
        if skip and lw in authors:
            continue
        skip = False
        if lw in authors:
            continue
        out.append(w)
    return tidy(translate(out))


def tidy(words: list[str]) -> list[str]:
    """Drop numbers, noise words and initials; trim dangling 'and' / 'of' at either end."""
    out = [w for w in words if not w.isdigit() and w.lower() not in NOISE_WORDS
           and (len(w) > 2 or w.lower() in _TWO_LETTER_WORDS or w.lower() == "a")]
    while out and out[-1].lower() in _SMALL_WORDS:
        out.pop()
    while out and out[0].lower() in _LEADING_BAD:
        out.pop(0)
    return out


def judge(words: list[str], wl: WordList, max_words: int = 8) -> str | None:
    """Why a phrase is not a usable caption, or None when it is one."""
    if not words:
        return "empty"
    if len(words) > max_words:
        return "too long"
    content = [w for w in words if w.lower() not in _SMALL_WORDS]
    if not content:
        return "no content words"
    if all(w.lower() in GENERIC_PHRASES or w.lower() in NOISE_WORDS for w in content):
        return "generic"
    if any(not w.isascii() for w in words):
        return "non-ASCII"
    known = sum(wl.is_known(w) for w in content)
    common = sum(wl.is_common(w) for w in content)
    if common == 0 or known / len(content) < 0.75:
        return "not English"
    return None


def singular(word: str, wl: WordList) -> str:
    """'mammals' -> 'mammal' when the list knows the singular; used for folder names."""
    w = word.lower()
    for suf, rep in (("ies", "y"), ("es", ""), ("s", "")):
        if w.endswith(suf) and not w.endswith("ss") and (w[: -len(suf)] + rep) in wl.common:
            return w[: -len(suf)] + rep
    return w


def is_plural(word: str, wl: WordList) -> bool:
    w = word.lower()
    if len(w) > 4 and w.endswith("men"):  # stickmen, firemen, women
        return True
    return len(w) > 3 and w.endswith("s") and not w.endswith("ss") and singular(w, wl) != w


def sentence(words: list[str], wl: WordList | None = None) -> str:
    """A short caption sentence from a noun phrase: ['red', 'apple'] -> 'A red apple.'"""
    words = [w.lower() for w in words]
    if not words:
        raise ValueError("no words for a caption")
    first, last = words[0], words[-1]
    mass = len(words) == 1 and (first in MASS_NOUNS or (first.endswith("ing") and len(first) > 5))
    if first not in _ARTICLE_OR_NUMBER and not (wl and is_plural(last, wl)) and not first.isdigit() and not mass:
        vowel = first[0] in "aeiou" and not first.startswith(("eu", "uni", "use", "usu", "one", "uk"))
        words.insert(0, "an" if vowel or first.startswith(("hour", "honest")) else "a")
    text = " ".join(words[:MAX_WORDS])
    return text[0].upper() + text[1:] + "."


def first_sentence(text: str) -> str:
    """Tux Paint / description text: the first sentence, tidied, cut to MAX_WORDS words."""
    text = re.sub(r"\s+", " ", text.replace("\u2014", ", ").replace("\u2013", ", ")).strip()
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z\"(])", text)
    if m:
        text = text[: m.start()]
    text = re.sub(r"([!?])\1+", r"\1", text).strip(" ,;")
    words = text.split()
    if len(words) > MAX_WORDS:
        # cut at the last comma inside the limit, else hard
        cut = " ".join(words[:MAX_WORDS])
        text = cut[: cut.rfind(",")] if "," in cut else cut
    text = text.strip(" ,;")
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def tuxpaint_caption(txt: str) -> str | None:
    """The untranslated English description of a Tux Paint stamp's .txt sidecar.

    The file's first line is English; the following `lang.utf8=...` lines are translations. A first
    line that is itself a translation line (or empty) means there is no English text.
    """
    for line in txt.splitlines():
        line = line.strip()
        if not line:
            continue
        if re.match(r"^[a-z]{2,3}(_[A-Z]{2})?(@\w+)?\.utf8=", line):
            return None
        cap = first_sentence(line)
        return cap if re.search(r"[A-Za-z]{2}", cap) else None
    return None


def collection_titles(pairs: Iterable[tuple[str, str]], min_count: int = 4) -> set[str]:
    """Titles that name a collection, not a picture: (title, file stem) pairs in, lower-case titles out.

    A title shared by `min_count`+ files is a collection name unless most of those files' names
    share a word with it (four files titled "Pencil" named pencil_*.svg are four pencils).
    """
    by_title: dict[str, list[str]] = {}
    for title, stem in pairs:
        by_title.setdefault(title.strip().lower(), []).append(stem)
    out = set()
    for title, stems in by_title.items():
        if len(stems) < min_count:
            continue
        twords = {w.lower() for w in split_name(title) if len(w) > 2 and w.lower() not in NOISE_WORDS}
        agree = sum(bool(twords & {w.lower() for w in split_name(s)}) for s in stems)
        if agree * 2 < len(stems):
            out.add(title)
    return out


# --- openclipart SVG metadata ---------------------------------------------------------------

_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}


@dataclass
class SvgMeta:
    title: str = ""
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    license: str = ""


def svg_metadata(data: bytes) -> SvgMeta:
    """Title, description, keywords, creator/publisher names and license URL from SVG RDF metadata."""
    meta = SvgMeta()
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return meta
    work = next((el for el in root.iter() if el.tag.endswith("}Work")), None)
    if work is None:
        t = next((el for el in root.iter() if el.tag.endswith("}title")), None)
        meta.title = (t.text or "").strip() if t is not None else ""
        return meta
    t = work.find("dc:title", _NS)
    d = work.find("dc:description", _NS)
    meta.title = (t.text or "").strip() if t is not None else ""
    meta.description = (d.text or "").strip() if d is not None else ""
    meta.keywords = [li.text.strip() for li in work.findall("dc:subject/rdf:Bag/rdf:li", _NS)
                     if li.text and li.text.strip()]
    for tag in ("dc:creator", "dc:publisher", "dc:rights"):
        meta.authors += [x.text.strip() for x in work.findall(f"{tag}//dc:title", _NS) if x.text and x.text.strip()]
    lic = next((el for el in work.iter() if el.tag.endswith("}license")), None)
    if lic is not None:
        meta.license = lic.get(f"{{{_NS['rdf']}}}resource", "")
    return meta


def openclipart_caption(
    meta: SvgMeta,
    stem: str,
    folders: list[str],
    wl: WordList,
    collection_titles: set[str] | frozenset[str] = frozenset(),
    keyword_counts: dict[str, int] | None = None,
    collection_descriptions: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, str] | tuple[None, str]:
    """(caption, where it came from) or (None, why not), trying title, file name, description,
    keywords, folder in that order. `collection_descriptions` (lower case) are an upload's blurb, copied
    onto each of its pictures ("Satellite engineering related" on a monitor, a tower and a TV)."""
    authors = author_words(meta.authors)
    why: list[str] = []

    title_words = clean_title(meta.title, authors)
    stem_words = {w.lower() for w in split_name(stem)}
    if meta.title.strip().lower() in collection_titles:
        why.append("title: collection name")
    elif _COLLECTION_RES[0].match(meta.title) and not {w.lower() for w in title_words} & stem_words:
        # "Clipart by X - name" titles were often copied onto other pictures of the same upload
        why.append("title: another picture's name")
    else:
        r = judge(title_words, wl)
        if r is None:
            return sentence(title_words, wl), "title"
        why.append(f"title: {r}")

    name_words = tidy(translate(strip_file_name(stem, authors)))
    r = judge(name_words, wl)
    if r is None:
        return sentence(name_words, wl), "file name"
    why.append(f"file name: {r}")

    blurb = meta.description.strip().lower() in collection_descriptions
    if blurb:
        why.append("description: shared by other pictures")
    elif meta.description:
        desc = first_sentence(meta.description).rstrip(".!?")
        desc = re.sub(r"^(this is |it is |here is )?(an? |the )?((vector(ized|ization)?|drawing|picture|image|"
                      r"clip ?art|version|illustration|sketch) of )?", "", desc, flags=re.I)
        dwords = clean_title(desc, authors)
        r = judge(dwords, wl, max_words=10)
        # a sentence about the drawing or its author ("I hate the lot of them", "created with Inkscape")
        chatty = {"this", "is", "was", "are", "it", "i", "my", "me", "we", "you", "your", "thy", "they", "them",
                  "can", "will", "made", "create", "created", "inkscape", "logo"}
        if r is None and (re.search(r"https?:|@|\.com|converted", desc, re.I) or chatty & {w.lower() for w in dwords}):
            r = "not a caption"
        if r is None:
            return sentence(dwords, wl), "description"
        why.append(f"description: {r or 'not a caption'}")

    # the most specific English keyword; one that also appears in the title or file name wins
    seen = {w.lower() for w in split_name(meta.title) + split_name(stem)}
    kws = []
    for k in meta.keywords:
        kw = clean_title(k, authors)
        if len(kw) == 1 and judge(kw, wl) is None and kw[0].lower() not in KEYWORD_STOP:
            kws.append(kw[0].lower())
    if blurb:  # the upload's keywords came with its blurb: only one its name repeats is this picture's
        kws = [k for k in kws if k in seen]
    if kws:
        counts = keyword_counts or {}
        # a keyword in the title/file name is the subject; else the most used one (a category noun like
        # "bird"), since rare keywords are mostly adjectives ("pretty", "tropical")
        best = sorted(set(kws), key=lambda k: (k not in seen, -counts.get(k, 0), k))[0]
        return sentence([singular(best, wl)] if best not in seen else [best], wl), "keywords"
    why.append("keywords: none usable")

    for f in reversed(folders):
        fw = [singular(w, wl) for w in split_name(f)]
        if judge(fw, wl) is None:
            return sentence(fw, wl), "folder"
    why.append("folder: generic")
    return None, "; ".join(why)
