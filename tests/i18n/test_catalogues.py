"""Japanese is first-class: one catalogue per context, all loaded, complete, compiled and consistent.

Django merges every loaded catalogue (settings.LOCALE_PATHS, then each installed app's locale/) into one
gettext domain, so a msgid can have only one translation per msgctxt: when two catalogues disagree, one
silently wins on every page. A word with two meanings needs a msgctxt
(pgettext / {% translate "Registered" context "date" %}).
"""

from collections import defaultdict
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.template import Context, Template
from django.utils import translation

BASE = Path(settings.BASE_DIR).resolve()
PO = Path("ja", "LC_MESSAGES", "django.po")


def _ours(path: Path) -> bool:
    return path.is_relative_to(BASE) and not path.is_relative_to(BASE / ".venv")


# What gettext loads: LOCALE_PATHS and the locale/ of every installed app (ours, not Django's or libraries').
LOADED_DIRS = {Path(p).resolve() for p in settings.LOCALE_PATHS} | {
    Path(c.path, "locale").resolve() for c in apps.get_app_configs() if _ours(Path(c.path).resolve())
}
CATALOGUES = sorted(d / PO for d in LOADED_DIRS if (d / PO).exists())


def _key(entry):
    return entry.msgctxt, entry.msgid, entry.msgid_plural


def _translation(entry):
    return entry.msgstr or tuple(sorted(entry.msgstr_plural.items()))


def test_every_locale_path_has_a_catalogue():
    missing = [str(p) for p in settings.LOCALE_PATHS if not (Path(p) / PO).exists()]
    assert not missing, f"LOCALE_PATHS entries without a Japanese catalogue: {missing}"


def test_no_catalogue_that_nothing_loads():
    on_disk = {
        p.resolve()
        for p in BASE.rglob("django.po")
        if _ours(p.resolve()) and "tests" not in p.relative_to(BASE).parts[:1]
    }
    orphans = sorted(str(p.relative_to(BASE)) for p in on_disk - set(CATALOGUES))
    assert not orphans, f"catalogues that gettext never loads (add to LOCALE_PATHS or delete): {orphans}"


def test_locale_paths_deepest_first():
    """makemessages gives a file to the first entry whose parent contains it: a parent before its child
    would swallow the child's strings."""
    paths = [Path(p).resolve().parent for p in settings.LOCALE_PATHS]
    for i, earlier in enumerate(paths):
        for later in paths[i + 1 :]:
            assert not later.is_relative_to(earlier), f"{later} must come before {earlier} in LOCALE_PATHS"


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: str(p.relative_to(BASE)))
def test_catalogue_complete_and_compiled(po_path):
    po = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {po_path}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {po_path}: {fuzzy[:10]}"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} missing: run `make messages`"
    mo = {(e.msgctxt, e.msgid): _translation(e) for e in polib.mofile(str(mo_path))}
    po_entries = {(e.msgctxt, e.msgid): _translation(e) for e in po.translated_entries()}
    assert mo == po_entries, f"{mo_path} is stale: run `make messages`"


def test_one_translation_per_msgid_and_context_across_catalogues():
    seen = defaultdict(dict)
    for po_path in CATALOGUES:
        for entry in polib.pofile(str(po_path)).translated_entries():
            seen[(entry.msgctxt, entry.msgid)][str(po_path.relative_to(BASE))] = _translation(entry)
    conflicts = {
        f"{ctx + ' | ' if ctx else ''}{msgid}": where
        for (ctx, msgid), where in seen.items()
        if len(set(where.values())) > 1
    }
    assert not conflicts, (
        "the same msgid is translated differently in different catalogues; only one wins at run time. "
        f"Use one translation, or a msgctxt if the meanings differ: {conflicts}"
    )


def test_core_strings_are_translated_at_runtime():
    with translation.override("ja"):
        assert translation.gettext("Log in") == "ログイン"
        assert translation.gettext("Enablement completion rate") == "支援消化率"


def test_words_with_two_meanings_are_told_apart():
    with translation.override("ja"):
        assert translation.gettext("Registered") == "登録済み"  # the deal stage
        assert translation.pgettext("date", "Registered") == "登録日"  # the column over dates
        assert translation.pgettext("dashboard", "Assigned") == "割り当て数"
        assert translation.pgettext("date", "Assigned") == "割り当て日"
        rendered = Template('{% load i18n %}{% translate "Registered" context "date" %}').render(Context())
        assert rendered == "登録日"
    with translation.override("en"):
        assert translation.pgettext("date", "Registered") == "Registered"
