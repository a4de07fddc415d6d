"""Every translatable string of the portal templates has a Japanese translation (compiled catalogues),
and the portal pages render completely in Japanese and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

pytestmark = pytest.mark.django_db

TEMPLATES = sorted((Path(settings.BASE_DIR) / "templates" / "enablement").glob("portal_*.html"))
TRANSLATE_RE = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1\s*(?:as\s+\w+\s*)?%\}""")
BLOCK_RE = re.compile(r"\{%\s*blocktranslate(?P<args>[^%]*)%\}(?P<body>.*?)\{%\s*endblocktranslate\s*%\}", re.S)
VAR_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _to_msgid(text: str) -> str:
    return VAR_RE.sub(lambda m: f"%({m.group(1)})s", text.replace("%", "%%"))


def extract(path: Path) -> list[tuple[str, str | None]]:
    source = path.read_text(encoding="utf-8")
    found: list[tuple[str, str | None]] = [(m.group(2), None) for m in TRANSLATE_RE.finditer(source)]
    for m in BLOCK_RE.finditer(source):
        body = m.group("body")
        if "{% plural %}" in body:
            singular, plural = body.split("{% plural %}")
            found.append((_to_msgid(singular), _to_msgid(plural)))
        else:
            found.append((_to_msgid(body), None))
    return found


def test_templates_are_found():
    names = {p.name for p in TEMPLATES}
    assert {"portal_home.html", "portal_catalog.html", "portal_training.html", "portal_faq.html"} <= names


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_portal_string_has_a_japanese_translation(path):
    msgids = extract(path)
    assert msgids, f"no translatable strings found in {path.name}"
    untranslated = []
    with translation.override("ja"):
        for singular, plural in msgids:
            translated = ngettext(singular, plural, 2) if plural else gettext(singular)
            if translated == (plural or singular) and singular not in {"FAQ"}:
                untranslated.append(singular)
    assert untranslated == [], f"untranslated in {path.name}: {untranslated}"


def test_view_messages_are_translated():
    with translation.override("ja"):
        assert gettext("Thank you for your feedback.") != "Thank you for your feedback."


@pytest.fixture
def all_pages(client, login, portal):
    login(portal["member"])
    return [
        reverse("portal-home", kwargs={"tenant_slug": "acme"}),
        reverse("portal-catalog", kwargs={"tenant_slug": "acme"}),
        reverse("portal-faq", kwargs={"tenant_slug": "acme"}) + "?q=請求書",
        reverse("portal-faq-detail", kwargs={"tenant_slug": "acme", "asset_id": portal["faq"].pk}),
        reverse("portal-document", kwargs={"tenant_slug": "acme", "asset_id": portal["document"].pk}),
        reverse("portal-training", kwargs={"tenant_slug": "acme", "asset_id": portal["training"].pk}),
    ]


ENGLISH_UI = ["What to do next", "Recently added materials", "All types", "Did this solve your problem?", "Download", "Your progress"]
JAPANESE_UI = ["次にやること", "新着コンテンツ", "すべての種類", "この回答で問題は解決しましたか？", "ダウンロード", "あなたの進捗"]


def test_pages_render_in_japanese_without_english_ui(client, all_pages):
    html = "".join(client.get(u).content.decode() for u in all_pages)  # tenant acme defaults to ja
    for en, ja in zip(ENGLISH_UI, JAPANESE_UI, strict=True):
        assert ja in html and en not in html


def test_pages_render_in_english(client, all_pages, portal):
    user = portal["member"].user
    user.language = "en"
    user.save(update_fields=["language"])
    html = "".join(client.get(u).content.decode() for u in all_pages)
    for en, ja in zip(ENGLISH_UI, JAPANESE_UI, strict=True):
        assert en in html and ja not in html
