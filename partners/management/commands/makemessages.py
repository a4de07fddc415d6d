"""`makemessages` that writes exactly the catalogues settings.LOCALE_PATHS loads.

A source file goes to the first LOCALE_PATHS entry (they are listed deepest first) whose parent directory
contains it: partners/deals/** → partners/deals/locale/, partners/** → partners/locale/, prm/** →
locale/. Django's own rule is close but depends on which locale/ directories its walk has met so far.
Templates live in one tree, so templates/<name>/ goes to the catalogue of the context package named
<name> (templates/deals/ → partners/deals/locale/, templates/patterns/ → kpis/patterns/locale/) or the
one TEMPLATE_ALIASES names; templates directly in templates/ (base, header, errors) go to locale/.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import makemessages

# templates/<dir>/ whose name is not the name of a context package.
# Template folders named after a library (allauth: account, mfa, socialaccount; Django auth: registration)
# belong to the partners context, which owns people and their sign-in.
TEMPLATE_ALIASES = dict.fromkeys(("registration", "account", "mfa", "socialaccount", "allauth", "admin"), "partners")


class Command(makemessages.Command):
    # A new msgid stays untranslated (the catalogue test names it) instead of getting a guessed, fuzzy
    # translation of a similar one.
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]

    def find_files(self, root):
        files = super().find_files(root)
        loaded = [Path(p).resolve() for p in settings.LOCALE_PATHS]
        by_context = {p.parent.name: p for p in loaded}
        templates = Path(settings.BASE_DIR, "templates").resolve()
        for f in files:
            here = Path(f.dirpath).resolve()
            if here.is_relative_to(templates) and here != templates:
                name = here.relative_to(templates).parts[0]
                name = TEMPLATE_ALIASES.get(name, name)
                if name not in by_context:
                    raise CommandError(f"templates/{name}/ matches no catalogue in LOCALE_PATHS")
                target = by_context[name]
            else:
                target = next((p for p in loaded if here.is_relative_to(p.parent)), None)
                if target is None:
                    raise CommandError(f"{f.path} is under no catalogue in LOCALE_PATHS")
            f.locale_dir = str(target)
        for locale_dir in {f.locale_dir for f in files}:
            Path(locale_dir).mkdir(exist_ok=True)
        return files
