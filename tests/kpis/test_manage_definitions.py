"""KPI definitions and dated targets in the manage area: who may do what, tenant isolation,
validation as form errors, the new-series confirmation, audit rows, and a dated target read back
from the KPI numbers after a rollup."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enablement.models import ActivityEvent
from enablement.services.log import activity_record_many
from kpis.metrics import compute_kpis
from kpis.models import KpiDefinition, KpiResult, KpiTarget
from kpis.rollup import rollup_tenant
from partners.models import AuditEvent, User
from tests import factories as f

pytestmark = pytest.mark.django_db


def u(name, tenant="acme", **kw):
    return reverse(name, kwargs={"tenant_slug": tenant, **kw})


def _events(tenant, **kw):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(tenant=tenant, **kw).order_by("id"))


@pytest.fixture(autouse=True)
def _english(admin_a):
    admin_a.user.language = "en"
    admin_a.user.save(update_fields=["language"])


@pytest.fixture
def acme(tenant_a):
    with scope(tenant=tenant_a.pk):
        gold = f.PartnerTierFactory(tenant=tenant_a, name="Gold", rank=1)
        partner = f.PartnerFactory(tenant=tenant_a, name="Sakura", tier=gold, segment="SMB")
        definition = f.KpiDefinitionFactory(tenant=tenant_a, target=Decimal(80))
    return {"gold": gold, "partner": partner, "definition": definition}


@pytest.fixture
def globex(tenant_b):
    with scope(tenant=tenant_b.pk):
        tier = f.PartnerTierFactory(tenant=tenant_b, name="Platinum", rank=1)
        partner = f.PartnerFactory(tenant=tenant_b, name="Other", tier=tier, segment="Enterprise")
        definition = f.KpiDefinitionFactory(tenant=tenant_b)
        target = KpiTarget.objects.create(tenant=tenant_b, definition=definition, effective_from=dt.date(2026, 1, 1),
                                          target=Decimal(50))
    return {"tier": tier, "partner": partner, "definition": definition, "target": target}


DEFINITION = {
    "name_ja": "ダウンロード数", "name_en": "Downloads", "metric": "document_downloads", "period": "month",
    "tier": "", "segment": "", "target": "150", "direction": "higher", "warning_band": "10",
}


def _form(definition, **changes):
    data = {
        "name_ja": definition.name_ja, "name_en": definition.name_en, "metric": definition.metric,
        "period": definition.period, "tier": definition.tier_id or "", "segment": definition.segment,
        "target": str(definition.target), "direction": definition.direction, "warning_band": str(definition.warning_band),
    }
    return {**data, **changes}


# --- permissions ---------------------------------------------------------------------------------


def test_permissions_matrix(client, login, acme, admin_a, manager_a, partner_user_a, tenant_a):
    d = acme["definition"]
    with scope(tenant=tenant_a.pk):
        t = KpiTarget.objects.create(tenant=tenant_a, definition=d, effective_from=dt.date(2026, 1, 1), target=Decimal(70))
    reads = [u("manage-kpi-definitions"), u("manage-kpi-definition", definition_id=d.pk)]
    writes = [
        ("get", u("manage-kpi-definition-new"), None),
        ("get", u("manage-kpi-definition-edit", definition_id=d.pk), None),
        ("post", u("manage-kpi-definition-new"), DEFINITION),
        ("post", u("manage-kpi-definition-edit", definition_id=d.pk), _form(d, target="60")),
        ("post", u("manage-kpi-definition-status", definition_id=d.pk), {"action": "deactivate"}),
        ("post", u("manage-kpi-target-add", definition_id=d.pk), {"effective_from": "2026-02-01", "target": "90"}),
        ("post", u("manage-kpi-target-delete", definition_id=d.pk, target_id=t.pk), {}),
    ]
    login(partner_user_a)
    assert [client.get(url).status_code for url in reads] == [403, 403]
    login(manager_a)
    assert [client.get(url).status_code for url in reads] == [200, 200]
    for method, url, data in writes:
        assert getattr(client, method)(url, data or {}).status_code == 403, url
    with scope(tenant=tenant_a.pk):
        d.refresh_from_db()
        assert (d.target, d.is_active, KpiTarget.objects.filter(tenant=tenant_a).count()) == (Decimal(80), True, 1)
        assert KpiDefinition.objects.filter(tenant=tenant_a).count() == 1
    login(admin_a)
    assert [client.get(url).status_code for url in reads] == [200, 200]
    codes = [getattr(client, method)(url, data or {}).status_code for method, url, data in writes]
    assert codes == [200, 200, 302, 302, 302, 302, 302]


def test_a_manager_sees_no_edit_controls(client, login, acme, manager_a, admin_a):
    d = acme["definition"]
    login(manager_a)
    page = client.get(u("manage-kpi-definition", definition_id=d.pk)).content.decode()
    assert u("manage-kpi-target-add", definition_id=d.pk) not in page
    assert u("manage-kpi-definition-edit", definition_id=d.pk) not in page
    login(admin_a)
    page = client.get(u("manage-kpi-definition", definition_id=d.pk)).content.decode()
    assert u("manage-kpi-target-add", definition_id=d.pk) in page
    assert u("manage-kpi-definition-edit", definition_id=d.pk) in page


# --- tenant isolation ----------------------------------------------------------------------------


def test_another_tenants_ids_are_404_and_its_rows_never_listed(client, login, acme, globex, admin_a, tenant_b):
    login(admin_a)
    other = globex["definition"]
    for method, url, data in [
        ("get", u("manage-kpi-definition", definition_id=other.pk), None),
        ("get", u("manage-kpi-definition-edit", definition_id=other.pk), None),
        ("post", u("manage-kpi-definition-status", definition_id=other.pk), {"action": "delete"}),
        ("post", u("manage-kpi-target-add", definition_id=other.pk), {"effective_from": "2026-02-01", "target": "1"}),
        ("post", u("manage-kpi-target-delete", definition_id=other.pk, target_id=globex["target"].pk), {}),
        # a target of the other tenant under one's own definition: also 404
        ("post", u("manage-kpi-target-delete", definition_id=acme["definition"].pk, target_id=globex["target"].pk), {}),
    ]:
        assert getattr(client, method)(url, data or {}).status_code == 404, url
    # the other tenant's URL prefix: not a member
    assert client.get(u("manage-kpi-definitions", tenant="globex")).status_code == 404
    listing = client.get(u("manage-kpi-definitions")).content.decode()
    assert "Platinum" not in listing
    form = client.get(u("manage-kpi-definition", definition_id=acme["definition"].pk)).content.decode()
    assert "Platinum" not in form and "Enterprise" not in form and ">Other<" not in form
    assert "Gold" in form and "Sakura" in form and "SMB" in form
    with scope(tenant=tenant_b.pk):
        assert KpiTarget.objects.filter(pk=globex["target"].pk).exists()


def test_another_tenants_tier_partner_or_segment_is_a_form_error(client, login, acme, globex, admin_a, tenant_a):
    login(admin_a)
    d = acme["definition"]
    add = u("manage-kpi-target-add", definition_id=d.pk)
    for data in ({"tier": globex["tier"].pk}, {"partner": globex["partner"].pk}, {"segment": "Enterprise"}):
        response = client.post(add, {"effective_from": "2026-02-01", "target": "50", **data})
        assert response.status_code == 200
        assert response.context["target_form"].errors
    response = client.post(u("manage-kpi-definition-new"), {**DEFINITION, "tier": globex["tier"].pk})
    assert response.status_code == 200 and "tier" in response.context["form"].errors
    with scope(tenant=tenant_a.pk):
        assert not KpiTarget.objects.filter(tenant=tenant_a).exists()
        assert KpiDefinition.objects.filter(tenant=tenant_a).count() == 1


# --- validation ----------------------------------------------------------------------------------


def test_duplicates_and_bad_values_are_form_errors_not_500s(client, login, acme, admin_a, tenant_a):
    login(admin_a)
    d, gold, partner = acme["definition"], acme["gold"], acme["partner"]
    add = u("manage-kpi-target-add", definition_id=d.pk)
    assert client.post(add, {"effective_from": "2026-04-01", "target": "85", "tier": gold.pk}).status_code == 302
    again = client.post(add, {"effective_from": "2026-04-01", "target": "90", "tier": gold.pk})
    assert again.status_code == 200 and "effective_from" in again.context["target_form"].errors
    # the same date for another scope is fine
    assert client.post(add, {"effective_from": "2026-04-01", "target": "90", "partner": partner.pk}).status_code == 302
    for bad in (
        {"effective_from": "2026-04-01", "target": "101"},  # a rate above 100 %
        {"effective_from": "2026-04-01", "target": "-1"},
        {"effective_from": "", "target": "50"},
        {"effective_from": "2026-04-01", "target": "50", "tier": gold.pk, "partner": partner.pk},  # two scopes
    ):
        response = client.post(add, bad)
        assert response.status_code == 200 and response.context["target_form"].errors, bad
    response = client.post(u("manage-kpi-definition-new"), {**DEFINITION, "metric": "active_partner_rate", "target": "120"})
    assert response.status_code == 200 and "target" in response.context["form"].errors
    # an htmx add answers the fragment, errors included
    response = client.post(add, {"effective_from": "2026-04-01", "target": "95", "tier": gold.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="targets"' in response.content.decode()
    assert "<html" not in response.content.decode() and "errorlist" in response.content.decode()
    with scope(tenant=tenant_a.pk):
        assert KpiTarget.objects.filter(tenant=tenant_a, definition=d).count() == 2


# --- new series, deactivate instead of delete ----------------------------------------------------


def test_a_period_change_with_results_asks_first_then_starts_a_new_series(client, login, acme, admin_a, tenant_a):
    d = acme["definition"]
    with scope(tenant=tenant_a.pk):
        KpiTarget.objects.create(tenant=tenant_a, definition=d, tier=acme["gold"], effective_from=dt.date(2026, 1, 1),
                                 target=Decimal(90))
        KpiResult.objects.create(tenant=tenant_a, definition=d, period_start=dt.date(2026, 6, 1),
                                 period_end=dt.date(2026, 6, 30), target=Decimal(80), value=Decimal(50))
    login(admin_a)
    edit = u("manage-kpi-definition-edit", definition_id=d.pk)
    assert "starts a new series" in client.get(edit).content.decode()
    response = client.post(edit, _form(d, period="quarter"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Start a new series?" in page and 'name="confirmed"' in page and "Quarter" in page
    with scope(tenant=tenant_a.pk):
        d.refresh_from_db()
        assert d.period == "month" and KpiDefinition.objects.filter(tenant=tenant_a).count() == 1  # nothing saved yet
    response = client.post(edit, {**_form(d, period="quarter"), "confirmed": "1"})
    with scope(tenant=tenant_a.pk):
        new = KpiDefinition.objects.get(tenant=tenant_a, replaces=d)
        d.refresh_from_db()
        assert (d.period, d.is_active) == ("month", False)
        assert (new.period, new.is_active) == ("quarter", True)
        assert KpiResult.objects.filter(tenant=tenant_a, definition=d).count() == 1  # old series readable
        assert list(KpiTarget.objects.filter(tenant=tenant_a, definition=new).values_list("tier_id", "target")) == [
            (acme["gold"].pk, Decimal(90))]  # the dated targets carry over
    assert response.status_code == 302 and response.url == u("manage-kpi-definition", definition_id=new.pk)
    old_page = client.get(u("manage-kpi-definition", definition_id=d.pk)).content.decode()
    assert u("manage-kpi-definition", definition_id=new.pk) in old_page
    replaced = _events(tenant_a, action="kpi_definition.replaced")
    assert len(replaced) == 1 and replaced[0].before["period"] == "month" and replaced[0].after["period"] == "quarter"


def test_a_target_change_is_saved_in_place_without_confirmation(client, login, acme, admin_a, tenant_a):
    d = acme["definition"]
    with scope(tenant=tenant_a.pk):
        KpiResult.objects.create(tenant=tenant_a, definition=d, period_start=dt.date(2026, 6, 1),
                                 period_end=dt.date(2026, 6, 30), target=Decimal(80))
    login(admin_a)
    response = client.post(u("manage-kpi-definition-edit", definition_id=d.pk), _form(d, target="70"))
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        d.refresh_from_db()
        assert d.target == Decimal(70) and KpiDefinition.objects.filter(tenant=tenant_a).count() == 1
    # no results yet: a period change is in place too
    with scope(tenant=tenant_a.pk):
        fresh = f.KpiDefinitionFactory(tenant=tenant_a)
    response = client.post(u("manage-kpi-definition-edit", definition_id=fresh.pk), _form(fresh, period="week"))
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        fresh.refresh_from_db()
        assert fresh.period == "week" and not KpiDefinition.objects.filter(tenant=tenant_a, replaces=fresh).exists()


def test_delete_only_without_results_else_deactivate(client, login, acme, admin_a, tenant_a):
    d = acme["definition"]
    with scope(tenant=tenant_a.pk):
        KpiResult.objects.create(tenant=tenant_a, definition=d, period_start=dt.date(2026, 6, 1),
                                 period_end=dt.date(2026, 6, 30), target=Decimal(80))
        empty = f.KpiDefinitionFactory(tenant=tenant_a, name_en="Unused")
    login(admin_a)
    status = u("manage-kpi-definition-status", definition_id=d.pk)
    assert 'value="delete"' not in client.get(u("manage-kpi-definition", definition_id=d.pk)).content.decode()
    client.post(status, {"action": "delete"})
    with scope(tenant=tenant_a.pk):
        assert KpiDefinition.objects.filter(pk=d.pk).exists()
    client.post(status, {"action": "deactivate"})
    with scope(tenant=tenant_a.pk):
        d.refresh_from_db()
        assert not d.is_active and KpiResult.objects.filter(definition=d).exists()
    client.post(status, {"action": "activate"})
    client.post(u("manage-kpi-definition-status", definition_id=empty.pk), {"action": "delete"})
    with scope(tenant=tenant_a.pk):
        d.refresh_from_db()
        assert d.is_active and not KpiDefinition.objects.filter(pk=empty.pk).exists()
    assert [e.action for e in _events(tenant_a)] == [
        "kpi_definition.deactivated", "kpi_definition.activated", "kpi_definition.deleted"]


# --- audit ---------------------------------------------------------------------------------------


def test_every_change_is_audited_with_before_and_after(client, login, acme, admin_a, tenant_a):
    login(admin_a)
    client.post(u("manage-kpi-definition-new"), DEFINITION, REMOTE_ADDR="203.0.113.9")
    with scope(tenant=tenant_a.pk):
        created = KpiDefinition.objects.get(tenant=tenant_a, name_en="Downloads")
    client.post(u("manage-kpi-definition-edit", definition_id=created.pk), _form(created, target="200"),
                REMOTE_ADDR="203.0.113.9")
    add = u("manage-kpi-target-add", definition_id=created.pk)
    client.post(add, {"effective_from": "2026-04-01", "target": "12", "partner": acme["partner"].pk},
                REMOTE_ADDR="203.0.113.9")
    with scope(tenant=tenant_a.pk):
        target = KpiTarget.objects.get(tenant=tenant_a, definition=created)
    client.post(u("manage-kpi-target-delete", definition_id=created.pk, target_id=target.pk), REMOTE_ADDR="203.0.113.9")
    events = _events(tenant_a)
    assert [e.action for e in events] == [
        "kpi_definition.created", "kpi_definition.changed", "kpi_target.created", "kpi_target.deleted"]
    assert all(e.actor_id == admin_a.user.pk and e.ip == "203.0.113.9" for e in events)
    assert events[0].after["metric"] == "document_downloads"
    assert (events[1].before, events[1].after) == ({"target": "150.00"}, {"target": "200"})
    assert events[2].after["partner"] == "Sakura" and events[2].after["target"] == "12"
    assert events[2].after["effective_from"] == "2026-04-01"
    assert events[3].before["partner"] == "Sakura" and events[3].after == {}
    assert all(e.target_id == str(created.pk) for e in events)


# --- the timeline and the numbers ----------------------------------------------------------------


def test_the_timeline_and_the_kpi_numbers_use_the_target_in_force(client, login, admin_a, tenant_a):
    """Targets added through the page: a period is judged by the target in force on its first day,
    read back from KpiResult after a rollup and from the page's 'which target applies when'."""
    with scope(tenant=tenant_a.pk):
        t = tenant_a
        gold = f.PartnerTierFactory(tenant=t, name="Gold", rank=1)
        silver = f.PartnerTierFactory(tenant=t, name="Silver", rank=2)
        p_gold = f.PartnerFactory(tenant=t, tier=gold, name="Gold One", joined_on=dt.date(2026, 1, 1))
        p_silver = f.PartnerFactory(tenant=t, tier=silver, name="Silver One", joined_on=dt.date(2026, 1, 1))
        doc = f.AssetFactory(tenant=t, kind="document")
        downloads = f.KpiDefinitionFactory(tenant=t, metric="document_downloads", period="month", target=Decimal(100),
                                           name_en="Downloads")
    login(admin_a)
    add = u("manage-kpi-target-add", definition_id=downloads.pk)
    for data in (
        {"effective_from": "2026-06-01", "target": "4", "tier": gold.pk},
        {"effective_from": "2026-07-01", "target": "6", "tier": gold.pk},  # raised from July
        {"effective_from": "2026-06-15", "target": "9", "partner": p_silver.pk},  # mid-June: applies from July
    ):
        assert client.post(add, data).status_code == 302
    with scope(tenant=t.pk):
        user = User.objects.create(email=f"{uuid.uuid4().hex}@kpis.test")
        stamp = [dt.datetime(2026, 6, 10, 3, tzinfo=dt.UTC), dt.datetime(2026, 7, 10, 3, tzinfo=dt.UTC)]
        activity_record_many(tenant=t, events=[
            ActivityEvent(tenant=t, partner=p, user=user, asset=doc, verb="document.downloaded", occurred_at=when,
                          received_at=when, source="portal", event_id=uuid.uuid4().hex)
            for p, when, n in ((p_gold, stamp[0], 5), (p_gold, stamp[1], 5), (p_silver, stamp[1], 5)) for _ in range(n)
        ])
        rollup_tenant(t)
        compute_kpis(t, today=dt.date(2026, 8, 1), periods_back=2)

        def row(start, partner):
            r = KpiResult.objects.get(tenant=t, definition=downloads, period_start=start, partner=partner)
            return r.numerator, r.target, r.status

        june, july = dt.date(2026, 6, 1), dt.date(2026, 7, 1)
        assert row(june, p_gold) == (Decimal(5), Decimal(4), "on_track")
        assert row(july, p_gold) == (Decimal(5), Decimal(6), "at_risk")  # July's target is 6
        assert row(june, p_silver)[1:] == (Decimal(100), "no_target")  # its own starts mid-June: not in force on 1 June
        assert row(july, p_silver) == (Decimal(5), Decimal(9), "at_risk")
    from django.utils import translation

    from kpis.selectors import kpi_target_timeline

    with scope(tenant=t.pk), translation.override("en"):
        timeline = kpi_target_timeline(tenant=t, definition=downloads, today=dt.date(2026, 7, 20), back=1, ahead=1)
    labels = [s.label for s in timeline.scopes]
    assert labels == ["Everyone", "Tier: Gold", "Partner: Silver One"]
    assert [(p.start, p.targets) for p in timeline.periods] == [
        (june, [Decimal(100), Decimal(4), Decimal(100)]),
        (july, [Decimal(100), Decimal(6), Decimal(9)]),
        (dt.date(2026, 8, 1), [Decimal(100), Decimal(6), Decimal(9)]),
    ]
    gold_spans = [(s.starts, s.until, s.target) for s in timeline.scopes[1].spans]
    assert gold_spans == [(june, dt.date(2026, 6, 30), Decimal(4)), (july, None, Decimal(6))]
    page = client.get(u("manage-kpi-definition", definition_id=downloads.pk)).content.decode()
    assert "Which target applies when" in page and "Partner: Silver One" in page
