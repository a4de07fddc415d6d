"""Text analysis for FAQ search: the same function turns FAQs and queries into search terms.

1. NFKC normalisation and lower case (full-width ``ｍｄｆ`` = ``MDF`` = ``mdf``; half-width katakana
   become full-width).
2. The text is cut into runs of ASCII letters/digits and everything else.
3. ASCII words (English): stop words dropped, British spellings mapped to American
   (licence → license, organise → organize, catalogue → catalog), then the Snowball English
   stemmer (registering → regist = register).
4. Other runs (Japanese) go through SudachiPy with the core dictionary. Content words (nouns,
   verbs, adjectives, …) are kept in Sudachi's *normalised form* (忘れ → 忘れる, サーバ → サーバー,
   出来る for でき); particles, auxiliaries, symbols and a short list of light words are dropped.
   Long units (split mode C: 申請方法, 請求書) are kept together with their short parts
   (mode A: 申請 + 方法, 請求), so a search for either finds the other.

``analyse(text)`` returns *groups*: one per long unit, each with its term and its parts.
``index_terms(text)`` flattens them for the index (a term and all its parts).

Why SudachiPy (pinned in pyproject.toml): it is maintained by Works Applications, ships wheels for
CPython 3.13 (Rust core, no MeCab build), its core dictionary is a plain PyPI package, and its
normalised forms fold spelling variants (出来る/できる, サーバ/サーバー) that fugashi + unidic-lite
leave to the application. The dictionary is memory-mapped once per process.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from sudachipy import Dictionary, SplitMode

MAX_TERM_LENGTH = 100

_RUN_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]+")
_WORD_RE = re.compile(r"[a-z0-9]+")

# Sudachi parts of speech (first level) that carry no search meaning.
_SKIP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "代名詞", "連体詞", "接続詞", "感動詞", "接頭辞", "接尾辞", "副詞"}
# Light words in their normalised form: "how / do / can / thing / case / time".
_JA_STOP = {
    "為る", "出来る", "有る", "ある", "居る", "いる", "成る", "なる", "行う", "思う", "言う", "呉れる", "貰う", "下さる",
    "頂く", "致す", "見る", "こと", "事", "もの", "物", "ため", "為", "よう", "様", "方", "場合", "とき", "時", "どう",
    "何", "なに", "どこ", "いつ", "誰", "ない", "無い", "良い", "いい", "よい", "たい", "もう", "御", "お", "ご",
}
_EN_STOP_WORDS = """a about after again all also am an and any are as at be been before being both but by can cannot could
    did do does doing done down during each either else ever for from further get gets got had has have having he
    her here hers him his how i if in into is it its itself just let me might more most must my myself no nor not
    of off on once only or other our ours out over own please same shall she should so some such than that the
    their theirs them then there these they this those through to too under until up us very was we were what when
    where which while who whom why will with would yes yet you your yours"""
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
# British → American spellings that the stemmer would otherwise keep apart.
_EN_SPELLING = {
    "licence": "license", "licences": "licenses", "licenced": "licensed", "licencing": "licensing",
    "defence": "defense", "offence": "offense", "catalogue": "catalog", "catalogues": "catalogs",
    "dialogue": "dialog", "programme": "program", "programmes": "programs", "cheque": "check",
    "enrol": "enroll", "enrolment": "enrollment", "analyse": "analyze",
    "analysed": "analyzed", "analysing": "analyzing", "colour": "color", "favour": "favor",
    "behaviour": "behavior", "centre": "center", "centres": "centers", "travelled": "traveled",
}
_EN_SUFFIX_RULES = (  # applied to words of 6+ letters after the table above
    ("isation", "ization"), ("isations", "izations"), ("ised", "ized"), ("ises", "izes"),
    ("ising", "izing"), ("ise", "ize"), ("yse", "yze"), ("ysed", "yzed"),
)
_ONE_CHAR_OK = re.compile(r"[\u4e00-\u9fff]")  # a single kanji can be a word (版, 証 are dropped as suffixes)


@dataclass
class Group:
    """One unit of meaning: a long unit and its short parts (empty when it has none)."""

    term: str
    parts: tuple[str, ...] = field(default_factory=tuple)

    @property
    def all_terms(self) -> tuple[str, ...]:
        return (self.term, *self.parts)


class _Analyser(threading.local):
    """Sudachi tokenizers are not thread-safe: one per thread over one shared dictionary."""

    _dictionary: Dictionary | None = None
    _lock = threading.Lock()

    def tokenizer(self):
        tok = getattr(self, "_tokenizer", None)
        if tok is None:
            with _Analyser._lock:
                if _Analyser._dictionary is None:
                    _Analyser._dictionary = Dictionary(dict="core")
            tok = self._tokenizer = _Analyser._dictionary.tokenizer(mode=SplitMode.C)
        return tok

    def stemmer(self):
        st = getattr(self, "_stemmer", None)
        if st is None:
            st = self._stemmer = snowballstemmer.stemmer("english")
        return st


_local = _Analyser()


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace runs collapsed (also what the log stores as the keyword)."""
    return " ".join(unicodedata.normalize("NFKC", text or "").lower().split())


def _english_word(word: str) -> str | None:
    if word in _EN_STOP or (len(word) == 1 and not word.isdigit()):
        return None
    word = _EN_SPELLING.get(word, word)
    if len(word) >= 6 and not word.isdigit():
        for old, new in _EN_SUFFIX_RULES:
            if word.endswith(old):
                word = word[: -len(old)] + new
                break
    return _local.stemmer().stemWord(word)[:MAX_TERM_LENGTH]


def _japanese_form(morpheme) -> str | None:
    pos = morpheme.part_of_speech()[0]
    if pos in _SKIP_POS:
        return None
    form = unicodedata.normalize("NFKC", morpheme.normalized_form()).lower()
    surface = morpheme.surface()
    if form in _JA_STOP or surface in _JA_STOP:
        return None
    if len(form) == 1 and not _ONE_CHAR_OK.match(form):
        return None  # a lone kana or symbol
    return form[:MAX_TERM_LENGTH]


@lru_cache(maxsize=4096)
def _analyse_japanese(run: str) -> tuple[Group, ...]:
    groups: list[Group] = []
    for m in _local.tokenizer().tokenize(run):
        term = _japanese_form(m)
        if term is None:
            continue
        parts: list[str] = []
        split = m.split(SplitMode.A)
        if len(split) > 1:
            for p in split:
                part = _japanese_form(p)
                if part and part != term and part not in parts:
                    parts.append(part)
        groups.append(Group(term, tuple(parts)))
    return tuple(groups)


def analyse(text: str) -> list[Group]:
    """The search terms of ``text``, in order, one group per word (long unit)."""
    groups: list[Group] = []
    for run in _RUN_RE.findall(normalise(text)):
        if _WORD_RE.fullmatch(run):
            term = _english_word(run)
            if term:
                groups.append(Group(term))
        else:
            groups.extend(_analyse_japanese(run))
    return groups


def index_terms(text: str) -> list[str]:
    """Every term of ``text`` (long units and their parts), with repetitions (for term counts)."""
    return [t for g in analyse(text) for t in g.all_terms]
