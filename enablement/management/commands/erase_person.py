"""``manage.py erase_person --email … --reason … --operator …``: erase a person on request.

Removes the person's identity (name, e-mail, login, MFA, SSO links, sessions), deactivates their
memberships and leaves an opaque id in the user row and in the activity log; KPIs are unchanged.
Audited with the operator and the reason (the e-mail only as a SHA-256). See
``enablement.services.erasure`` and docs/operations.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from enablement.services.erasure import person_erase


class Command(BaseCommand):
    help = "Erase a person's identity (GDPR/APPI request): tombstone the user, rewrite the log with an opaque id."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The person's e-mail address.")
        parser.add_argument("--reason", required=True, help="Why (e.g. the request's ticket number).")
        parser.add_argument("--operator", required=True, help="Who runs the erasure (recorded in the audit log).")

    def handle(self, *args, **options):
        try:
            result = person_erase(email=options["email"], reason=options["reason"], operator=options["operator"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"erased user {result.user_id} → {result.opaque_id}: {result.memberships} memberships deactivated, "
            f"{result.sessions} sessions ended, {result.events} log rows, {result.statements} xAPI statements, "
            f"{result.audit_events} audit events and {result.archives} archived months "
            f"rewritten (tenants {result.tenants or '-'}; e-mail sha256 {result.email_sha256[:12]}…)"
        )
