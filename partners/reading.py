"""Readings (furigana) of partner names and the あいうえお order of partner lists.

The reading is suggested from the name with SudachiPy's core dictionary (the analyser the FAQ
search uses; partners may not import enablement, so this is its own small tokenizer): the
reading form of each morpheme, katakana turned into hiragana, the legal form (株式会社, (株) …)
left out as Japanese sorting does. People can correct it in the partner form.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import get_language

LEGAL_FORMS = re.compile(r"株式会社|有限会社|合同会社|合資会社|合名会社|\((?:株|有|同)\)|\s+")
_local = threading.local()
_lock = threading.Lock()
_dictionary = None


def _tokenizer():
    global _dictionary
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        from sudachipy import Dictionary, SplitMode

        with _lock:
            if _dictionary is None:
                _dictionary = Dictionary(dict="core")
        tok = _local.tokenizer = _dictionary.tokenizer(mode=SplitMode.C)
    return tok


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


@lru_cache(maxsize=2048)
def reading_of(name: str) -> str:
    """The hiragana reading of a company name, without its legal form ("" for an empty name)."""
    text = LEGAL_FORMS.sub("", unicodedata.normalize("NFKC", name or ""))
    if not text:
        return ""
    return to_hiragana("".join(m.reading_form() or m.surface() for m in _tokenizer().tokenize(text)))[:200]


def japanese_order() -> bool:
    return (get_language() or "").split("-")[0] == "ja"


def partner_ordering(prefix: str = "") -> list:
    """order_by() arguments for partners: あいうえお order (reading, then name) in Japanese."""
    if japanese_order():
        return [Coalesce(NullIf(F(f"{prefix}name_kana"), Value("")), F(f"{prefix}name")), f"{prefix}name", f"{prefix}pk"]
    return [f"{prefix}name", f"{prefix}pk"]


def partner_sort_key(partner) -> tuple:
    """The same order for lists sorted in Python."""
    if japanese_order():
        return (partner.name_kana or partner.name, partner.name)
    return (partner.name,)
