"""Japanese is first-class: every catalogue is complete and its compiled .mo matches the .po."""

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

CATALOGUES = sorted(Path(settings.BASE_DIR, "locale").glob("*/ja/LC_MESSAGES/django.po"))


def test_there_are_catalogues():
    assert CATALOGUES, "no Japanese catalogues found"


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parts[-4])
def test_catalogue_complete_and_compiled(po_path):
    po = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {po_path}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {po_path}: {fuzzy[:10]}"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} missing: run msgfmt"
    mo = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in polib.mofile(str(mo_path))}
    for entry in po.translated_entries():
        assert mo.get((entry.msgctxt, entry.msgid)) == (entry.msgstr or entry.msgstr_plural), (
            f"{mo_path} is stale for {entry.msgid!r}: recompile"
        )


def test_core_strings_are_translated_at_runtime():
    with translation.override("ja"):
        assert translation.gettext("Log in") == "ログイン"
        assert translation.gettext("Enablement completion rate") == "支援消化率"
