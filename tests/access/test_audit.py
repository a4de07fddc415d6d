"""The audit log: append-only, written in the service's transaction with actor and IP; tenant
admins see, filter and export their tenant's log; operator actions are recorded too."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from partners import services
from partners.models import ApiKey, AuditEvent, PartnerTier
from tests import factories as f

pytestmark = pytest.mark.django_db


def _events(tenant, **kw):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(tenant=tenant, **kw).order_by("id"))


def test_audit_rows_refuse_update_and_delete(admin_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        services.tier_create(tenant=tenant_a, actor=admin_a.user, name="Gold", rank=1)
    event = _events(tenant_a)[0]
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), scopes_disabled():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), scopes_disabled():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with scopes_disabled():
        assert AuditEvent.objects.get(pk=event.pk).action == "tier.created"


def test_audit_is_written_in_the_services_transaction(admin_a, tenant_a):
    with pytest.raises(RuntimeError), transaction.atomic(), scope(tenant=tenant_a.pk):
        services.tier_create(tenant=tenant_a, actor=admin_a.user, name="Gold", rank=1)
        raise RuntimeError("roll back")
    assert _events(tenant_a) == []
    with scopes_disabled():
        assert not PartnerTier.objects.filter(tenant=tenant_a).exists()


def test_membership_changes_record_actor_ip_and_before_after(client, admin_a, manager_a, tenant_a):
    client.force_login(admin_a.user)
    edit = reverse("manage-member-edit", kwargs={"tenant_slug": "acme", "membership_id": manager_a.pk})
    client.post(edit, {"role": "tenant_admin", "partner": ""}, REMOTE_ADDR="203.0.113.7")
    action = reverse("manage-member-action", kwargs={"tenant_slug": "acme", "membership_id": manager_a.pk})
    client.post(action, {"action": "suspend"}, REMOTE_ADDR="203.0.113.7")
    client.post(reverse("manage-member-invite", kwargs={"tenant_slug": "acme"}),
                {"email": "new@example.test", "role": "channel_manager", "name": "", "partner": ""},
                REMOTE_ADDR="203.0.113.7")
    events = _events(tenant_a)
    assert [e.action for e in events] == ["membership.role_changed", "membership.suspended", "invitation.created"]
    assert all(e.actor_id == admin_a.user.pk and e.actor_label == admin_a.user.email for e in events)
    assert all(e.ip == "203.0.113.7" for e in events)
    assert events[0].before == {"role": "channel_manager"} and events[0].after == {"role": "tenant_admin"}
    assert events[0].target_label == manager_a.user.email


def test_api_key_and_deal_stage_changes_are_audited(client, admin_a, tenant_a):
    from partners.deals.services import deal_transition

    client.force_login(admin_a.user)
    url = reverse("manage-api-keys", kwargs={"tenant_slug": "acme"})
    client.post(url, {"key-name": "CRM", "key-scopes": ["read"]})
    with scopes_disabled():
        key = ApiKey.objects.get(tenant=tenant_a)
    client.post(url, {"action": "revoke", "key_id": key.pk})
    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a, partner=f.PartnerFactory(tenant=tenant_a))
        deal_transition(tenant=tenant_a, deal=deal, stage="approved", actor=admin_a.user)
    actions = [(e.action, e.before, e.after) for e in _events(tenant_a)]
    assert ("api_key.created", {}, {"scopes": ["read"]}) in actions
    assert any(a == "api_key.revoked" for a, _b, _c in actions)
    assert ("deal.stage_changed", {"stage": "registered"}, {"stage": "approved"}) in actions


def test_kpi_target_changes_in_admin_are_audited(client, admin_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        definition = f.KpiDefinitionFactory(tenant=tenant_a)
    client.force_login(admin_a.user)
    url = reverse("admin:kpis_kpidefinition_change", args=[definition.pk])
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update({"target": "65", "is_active": "on"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = _events(tenant_a, action="kpi_definition.changed")[0]
    assert event.before == {"target": "80.00"} and event.after == {"target": "65"} or event.after["target"].startswith("65")
    assert event.actor_id == admin_a.user.pk


def test_operator_actions_across_tenants_are_recorded(client, tenant_b):
    su = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(su)
    url = reverse("admin:partners_partnertier_add") + f"?tenant={tenant_b.pk}"
    assert client.post(url, {"name": "Platinum", "rank": 1}).status_code == 302
    event = _events(tenant_b, action="partnertier.created")[0]
    assert event.actor_id == su.pk and event.target_label == "Platinum"


def test_every_service_with_an_actor_uses_it():
    """No service takes ``actor`` and ignores it (grep-level guard over the services modules)."""
    import ast
    import pathlib

    offenders = []
    for path in ["partners/services.py", "partners/deals/services.py", "enablement/services/catalog.py",
                 "kpis/patterns/services.py", "kpis/services.py", "kpis/definitions.py",
                 "partners/accounts/sso.py"]:
        tree = ast.parse(pathlib.Path(path).read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(a.arg == "actor" for a in node.args.kwonlyargs):
                used = any(isinstance(n, ast.Name) and n.id == "actor" for n in ast.walk(node)
                           if not isinstance(n, ast.arg))
                if not used:
                    offenders.append(f"{path}:{node.name}")
    assert not offenders, offenders


def test_manage_audit_page_lists_filters_and_exports_only_own_tenant(client, admin_a, admin_b, tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        services.tier_create(tenant=tenant_a, actor=admin_a.user, name="Gold A", rank=1)
        services.api_key_create(tenant=tenant_a, name="=cmd|calc", scopes=["read"], actor=admin_a.user)
    with scope(tenant=tenant_b.pk):
        services.tier_create(tenant=tenant_b, actor=admin_b.user, name="Gold B", rank=1)
    client.force_login(admin_a.user)
    url = reverse("manage-audit-log", kwargs={"tenant_slug": "acme"})
    page = client.get(url).text
    assert "Gold A" in page and "Gold B" not in page
    filtered = client.get(url, {"action": "tier."}).text
    assert "Gold A" in filtered and "cmd|calc" not in filtered
    partial = client.get(url, {"action": "api_key."}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.text and "cmd|calc" in partial.text
    export = client.get(url, {"format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:3] == ["time", "actor", "action"]
    assert {r[2] for r in rows[1:]} == {"tier.created", "api_key.created"}
    assert all("Gold B" not in ",".join(r) for r in rows)
    assert any(r[5] == "'=cmd|calc (" + r[5].split("(")[1] for r in rows[1:] if r[2] == "api_key.created")


def test_audit_page_is_for_tenant_admins_only(client, manager_a, admin_b):
    url = reverse("manage-audit-log", kwargs={"tenant_slug": "acme"})
    client.force_login(manager_a.user)
    assert client.get(url).status_code == 403
    client.force_login(admin_b.user)
    assert client.get(url).status_code == 404


def test_members_and_audit_pages_in_japanese(client, admin_a, tenant_a):
    tenant_a.default_language = "ja"
    tenant_a.save()
    client.force_login(admin_a.user)
    members = client.get(reverse("manage-members", kwargs={"tenant_slug": "acme"})).text
    assert "承諾待ちの招待" in members and "利用停止" in members
    audit = client.get(reverse("manage-audit-log", kwargs={"tenant_slug": "acme"})).text
    assert "監査ログ" in audit and "CSV" in audit
