"""Erasure of a person: identity gone everywhere (user row, login, MFA, SSO links, sessions, log
rows, xAPI statements), memberships deactivated, an opaque id left, KPIs unchanged, audited
without the e-mail in clear — and the log's only UPDATE is the sanctioned one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django_scopes import scope, scopes_disabled

from enablement.lrs.models import StatementAgent, XapiStatement
from enablement.models import ActivityEvent
from enablement.services.log import activity_record_many
from kpis.metrics import compute_kpis
from kpis.models import DailyActivityFact, KpiResult, PartnerAssetState, UserAssetState
from kpis.rollup import rollup_tenant
from partners.models import AuditEvent, Membership, User
from partners.services import api_key_create
from tests import factories as f
from tests.api.conftest import basic_client
from tests.lrs.test_statements_legacy import URL as XAPI_URL
from tests.lrs.test_statements_legacy import stmt

pytestmark = pytest.mark.django_db
EMAIL = "taro@acme.example"
TODAY = dt.date(2026, 12, 2)


def _kpis(tenant) -> dict:
    return {
        "results": sorted(KpiResult.objects.filter(tenant=tenant).values_list(
            "definition__metric", "period_start", "partner_id", "numerator", "denominator", "value", "status"), key=repr),
        "daily": sorted(DailyActivityFact.objects.filter(tenant=tenant).values_list(
            "day", "partner_id", "asset_id", "verb", "event_count", "user_count"), key=repr),
        "states": sorted(UserAssetState.objects.filter(tenant=tenant).values_list(
            "user_id", "asset_id", "first_completed_at", "seconds"), key=repr)
        + sorted(PartnerAssetState.objects.filter(tenant=tenant).values_list(
            "partner_id", "asset_id", "first_completed_at", "completed_users"), key=repr),
    }


@pytest.fixture
def person(world_a, world_b):
    """Taro, with a login, MFA, an SSO link, a session, portal events, API events naming him only
    by e-mail (actor_ref), xAPI statements, KPIs — and a member of a second tenant."""
    tenant, user = world_a.tenant, world_a.member.user
    user.name = "山田 太郎"
    user.set_password("a-long-password-123")
    user.save()
    with scopes_disabled():
        f.PartnerUserMembershipFactory(tenant=world_b.tenant, partner=world_b.partner, user=user)
    EmailAddress.objects.get_or_create(user=user, email=EMAIL, defaults={"verified": True, "primary": True})
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    SocialAccount.objects.create(user=user, provider="openid_connect", uid="taro-sso", extra_data={"email": EMAIL})
    client = Client()
    client.force_login(user)
    with scope(tenant=tenant.pk):
        at = dt.datetime(2026, 11, 10, 10, tzinfo=dt.UTC)
        events = [
            f.ActivityEventFactory.build(tenant=tenant, partner=world_a.partner, user=user, asset=world_a.doc,
                                         verb="document.viewed", occurred_at=at, received_at=at, event_id="p1",
                                         extra={"by": EMAIL, "note": "kept"}),
            f.ActivityEventFactory.build(tenant=tenant, partner=world_a.partner, user=None, actor_ref=EMAIL.upper(),
                                         asset=world_a.doc, verb="document.downloaded", occurred_at=at, received_at=at,
                                         source="api", event_id="a1", extra={"actor": {"mbox": f"mailto:{EMAIL}", "name": "山田 太郎"}}),
            f.ActivityEventFactory.build(tenant=tenant, partner=world_a.other_partner, user=None, actor_ref="hanako@acme.example",
                                         asset=world_a.doc, verb="document.viewed", occurred_at=at, received_at=at,
                                         source="api", event_id="a2"),
        ]
        assert all(activity_record_many(tenant=tenant, events=events))
        _key, raw = api_key_create(tenant=tenant, name="LRS", scopes=["events:write", "read"], actor=None)
    r = basic_client(raw).post(XAPI_URL, [stmt(), stmt(actor={"objectType": "Agent", "mbox": "mailto:hanako@acme.example"})],
                               format="json")
    assert r.status_code == 200, r.content
    with scope(tenant=tenant.pk):
        f.KpiDefinitionFactory(tenant=tenant, metric="active_partner_rate")
        f.KpiDefinitionFactory(tenant=tenant, metric="document_downloads", name_en="downloads", name_ja="downloads")
        rollup_tenant(tenant)
        compute_kpis(tenant, today=TODAY, periods_back=9)
    return user


def test_erasure_removes_identity_everywhere_and_keeps_kpis(person, world_a, world_b):
    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        before = _kpis(tenant)
        log_before = {e.event_id: (e.user_id, e.partner_id, e.verb, e.occurred_at, e.query)
                      for e in ActivityEvent.objects.filter(tenant=tenant)}
    assert Session.objects.count() == 1

    call_command("erase_person", email=EMAIL, reason="APPI request #42", operator="ops: Suzuki")

    user = User.objects.get(pk=person.pk)  # the row stays, as a tombstone
    opaque = user.email.split("@")[0]
    assert opaque.startswith("erased-") and user.email.endswith("@erased.invalid")
    assert (user.name, user.is_active, user.has_usable_password()) == ("", False, False)
    assert not User.objects.filter(email__iexact=EMAIL).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()
    assert not SocialAccount.objects.filter(user=user).exists()
    assert Session.objects.count() == 0
    with scopes_disabled():
        assert set(Membership.objects.filter(user=user).values_list("is_active", flat=True)) == {False}
        assert Membership.objects.filter(user=user).count() == 2

    with scope(tenant=tenant.pk):
        rows = {e.event_id: e for e in ActivityEvent.objects.filter(tenant=tenant)}
        assert rows["p1"].extra == {"by": opaque, "note": "kept"}
        assert rows["a1"].actor_ref == opaque
        assert rows["a1"].extra == {"actor": {"mbox": opaque, "name": opaque}}
        assert rows["a2"].actor_ref == "hanako@acme.example"  # someone else: untouched
        assert {k: (e.user_id, e.partner_id, e.verb, e.occurred_at, e.query) for k, e in rows.items()} == log_before
        dump = json.dumps([list(XapiStatement.objects.filter(tenant=tenant).values("payload", "actor_key")),
                           list(StatementAgent.objects.filter(tenant=tenant).values_list("agent_key", flat=True)),
                           list(ActivityEvent.objects.filter(tenant=tenant).values("actor_ref", "extra"))],
                          default=str, ensure_ascii=False)
        assert "taro" not in dump.lower() and "山田" not in dump
        assert "hanako@acme.example" in dump
        assert XapiStatement.objects.filter(tenant=tenant, actor_key=f"urn:shien:erased|{opaque}").count() == 1

        # KPIs unchanged, also after recomputing them from the rewritten log
        assert _kpis(tenant) == before
        rollup_tenant(tenant, full=True)
        compute_kpis(tenant, today=TODAY, periods_back=9)
        assert _kpis(tenant) == before

    digest = hashlib.sha256(EMAIL.encode()).hexdigest()
    with scopes_disabled():
        audits = list(AuditEvent.objects.filter(action="person.erased"))
        assert sorted(a.tenant_id or 0 for a in audits) == sorted([0, world_a.tenant.pk, world_b.tenant.pk])
        for audit in audits:
            assert audit.after["operator"] == "ops: Suzuki" and audit.after["reason"] == "APPI request #42"
            assert audit.after["email_sha256"] == digest and audit.target_label == opaque
            assert "taro" not in json.dumps([audit.after, audit.before, audit.target_label, audit.actor_label]).lower()

    with pytest.raises(CommandError, match="already erased"):
        call_command("erase_person", email=user.email, reason="again", operator="ops")
    with pytest.raises(CommandError, match="No person"):
        call_command("erase_person", email=EMAIL, reason="again", operator="ops")


def test_the_log_update_path_changes_identity_columns_only(person, world_a):
    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            ActivityEvent.objects.filter(tenant=tenant).update(actor_ref="someone")
        if connection.vendor == "postgresql":
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('shien.log_unlock', 'erase', true)")
                cursor.execute("UPDATE enablement_activityevent SET verb = 'faq.viewed', actor_ref = 'x'")
        else:
            from enablement.logstore import log_unlocked

            with log_unlocked("erase"), pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                ActivityEvent.objects.filter(tenant=tenant).update(verb="faq.viewed", actor_ref="x")
        assert not ActivityEvent.objects.filter(tenant=tenant, actor_ref__in=["x", "someone"]).exists()


def test_erasure_rewrites_the_audit_trail_and_archived_months(person, world_a, django_capture_on_commit_callbacks):
    """Identity is gone from the audit log (labels, before/after) and from the retention files too:
    the archived month is written again with the same rows, verified, and the old file deleted."""
    import gzip

    from django.core.files.storage import default_storage

    from enablement.models import ActivityArchive
    from enablement.services.retention import archive_read, log_archive_tenant
    from partners.audit import audit_record

    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        by_him = audit_record(tenant=tenant, actor=person, action="asset.updated", target=world_a.doc,
                              before={"title": "a"}, after={"title": "b"})
        about_him = audit_record(tenant=tenant, actor=None, action="membership.updated", target_type="partners.membership",
                                 target_id=1, target_label=f"{EMAIL.upper()} @ Acme",
                                 before={"name": "山田 太郎", "role": "partner", "note": "山田 太郎さんの件"},
                                 after={"role": "manager"})
        someone_else = audit_record(tenant=tenant, actor=None, action="membership.updated",
                                    target_type="partners.membership", target_id=2, target_label="hanako@acme.example @ Acme")
        tenant.log_retention_months = 1
        tenant.save()
        assert log_archive_tenant(tenant=tenant, today=dt.date(2027, 1, 15)).rows == 4  # + an xAPI-mapped event
        before = {a.pk: ([a.path, a.manifest_path], archive_read(a.path)) for a in ActivityArchive.objects.filter(tenant=tenant)}
        holding = [pk for pk, (_files, rows) in before.items() if "taro" in json.dumps(rows).lower()]
        assert len(before) == 2 and len(holding) == 1

    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_person", email=EMAIL, reason="APPI request #43", operator="ops: Sato")
    opaque = User.objects.get(pk=person.pk).email.split("@")[0]

    with scopes_disabled():
        audits = {a.pk: a for a in AuditEvent.objects.all()}
        assert audits[by_him.pk].actor_label == opaque and audits[by_him.pk].actor_id == person.pk
        assert audits[by_him.pk].action == "asset.updated" and audits[by_him.pk].after == {"title": "b"}
        assert audits[about_him.pk].target_label == f"{opaque} @ Acme"
        # a name equal to the value is replaced; inside a longer string it is left (not unique enough)
        assert audits[about_him.pk].before == {"name": opaque, "role": "partner", "note": "山田 太郎さんの件"}
        assert audits[someone_else.pk].target_label == "hanako@acme.example @ Acme"
        trail = json.dumps([[a.actor_label, a.target_label, a.before, a.after] for a in audits.values()], ensure_ascii=False)
        assert "taro@" not in trail.lower()
        erased = AuditEvent.objects.get(tenant=tenant, action="person.erased")
        assert erased.after["audit_events_rewritten"] == 2 and erased.after["archives_rewritten"] == 1

    with scope(tenant=tenant.pk):
        for archive in ActivityArchive.objects.filter(tenant=tenant):
            old_files, old_rows = before[archive.pk]
            rows = archive_read(archive.path)
            assert [r["id"] for r in rows] == [r["id"] for r in old_rows] and archive.rows == len(rows)
            assert [{k: v for k, v in r.items() if k not in ("actor_ref", "extra")} for r in rows] == [
                {k: v for k, v in r.items() if k not in ("actor_ref", "extra")} for r in old_rows]
            if archive.pk not in holding:  # untouched
                assert [archive.path, archive.manifest_path] == old_files and rows == old_rows
                continue
            assert archive.path not in old_files
            assert not any(default_storage.exists(name) for name in old_files)
            text = json.dumps(rows, ensure_ascii=False)
            assert "taro" not in text.lower() and "山田" not in text and "hanako@acme.example" in text
            with default_storage.open(archive.path, "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == archive.sha256
            with default_storage.open(archive.manifest_path, "rb") as fh:
                manifest = json.load(fh)
            assert manifest["sha256"] == archive.sha256 and manifest["file"] == archive.path.rsplit("/", 1)[-1]
            assert manifest["rewritten"][0]["opaque_id"] == opaque and manifest["rewritten"][0]["rows"] == 2
            assert gzip.decompress(default_storage.open(archive.path).read()).count(b"\n") == len(rows)


def test_the_audit_update_path_changes_identity_columns_only(person, world_a):
    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        from partners.audit import audit_record

        event = audit_record(tenant=tenant, actor=person, action="asset.updated", target=world_a.doc)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone")
        if connection.vendor == "postgresql":
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('shien.audit_unlock', 'erase', true)")
                cursor.execute("UPDATE partners_auditevent SET action = 'x', actor_label = 'x' WHERE id = %s", [event.pk])
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('shien.audit_unlock', 'erase', true)")
                cursor.execute("DELETE FROM partners_auditevent WHERE id = %s", [event.pk])
        else:
            from enablement.logstore import log_unlocked

            with log_unlocked("erase"), pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                AuditEvent.objects.filter(pk=event.pk).update(action="x", actor_label="x")
            with log_unlocked("erase"), pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                AuditEvent.objects.filter(pk=event.pk).delete()
        assert AuditEvent.objects.get(pk=event.pk).actor_label == person.email
