"""Customer identity for conflict detection: a normalised name key and a registrable domain.

``customer_key("株式会社 東都銀行")`` == ``customer_key("東都銀行（株）")`` == ``customer_key("㈱東都銀行")``;
``customer_key("Kobe Logistics Co., Ltd.")`` == ``customer_key("ＫＯＢＥ　ＬＯＧＩＳＴＩＣＳ")``.
``registrable_domain("taro@mail.toto-bank.co.jp")`` == ``registrable_domain("https://www.toto-bank.co.jp/")``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Japanese legal forms, anywhere in the name (after NFKC: ㈱ → (株), （株） → (株)).
_JA_FORMS = re.compile(r"\((?:株|有|同|資|名)\)|株式会社|有限会社|合同会社|合資会社|合名会社")
# Latin legal forms as whole words (so "Lincoln" keeps its "inc").
_EN_FORMS = re.compile(
    r"(?<![a-z0-9])(?:co\.?\s*,?\s*ltd\.?|company\s+limited|corporation|incorporated|limited|inc\.?|corp\.?|"
    r"ltd\.?|llc|k\.\s*k\.?|kk|gmbh|plc)(?![a-z0-9])"
)
# Public suffixes of more than one label that customers of a Japanese PRM meet; otherwise the last
# two labels are the registrable domain. (Not the whole Public Suffix List: a heuristic.)
_MULTI_LABEL_SUFFIXES = frozenset({
    "co.jp", "ne.jp", "or.jp", "ac.jp", "ad.jp", "ed.jp", "go.jp", "gr.jp", "lg.jp",
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "com.cn", "com.tw",
    "com.hk", "com.sg", "co.kr", "co.in", "com.br", "co.th",
})


def customer_key(name: str) -> str:
    """The customer's name without legal forms, width, case, spacing or punctuation."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    text = _JA_FORMS.sub(" ", text)
    text = _EN_FORMS.sub(" ", text)
    kept = [ch for ch in text if unicodedata.category(ch)[0] not in ("P", "Z", "S", "C")]
    return "".join(kept)[:200]


def registrable_domain(value: str) -> str:
    """An e-mail address, URL or host reduced to its registrable domain ("" when there is none)."""
    text = unicodedata.normalize("NFKC", value or "").strip().casefold()
    if not text:
        return ""
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    host = host.strip(".")
    labels = [label for label in host.split(".") if label]
    if len(labels) < 2 or not all(re.fullmatch(r"[a-z0-9-]+|xn--[a-z0-9-]+", label) for label in labels):
        return ""
    size = 3 if ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES and len(labels) >= 3 else 2
    return ".".join(labels[-size:])
