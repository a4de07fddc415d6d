"""Django admin for operators and tenant admins: every registered model's add and change page opens
(never a 500), integrity errors are form errors, API keys are shown once and revoked for good, and
every relation choice is limited to the object's tenant — for superusers too."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enablement.models import FaqQuestion, FaqSynonym
from kpis.models import KpiDefinition, RollupState
from partners import services
from partners.models import ApiKey, AuditEvent, Invitation, Partner, PartnerTier, User
from tests import factories as f

pytestmark = pytest.mark.django_db


def _build_all(tenant, admin_membership):
    """One row of every model registered in the admin, in ``tenant``."""
    with scope(tenant=tenant.pk):
        partner = f.PartnerFactory(tenant=tenant)
        asset = f.AssetFactory(tenant=tenant)
        definition = f.KpiDefinitionFactory(tenant=tenant)
        key, _raw = services.api_key_create(tenant=tenant, name="K", scopes=["read"], actor=admin_membership.user)
        invitation = services.invitation_create(
            tenant=tenant, actor=admin_membership.user, email="someone@example.test", role="channel_manager"
        )
        rows = {
            "partners.partnertier": partner.tier,
            "partners.partner": partner,
            "partners.membership": admin_membership,
            "partners.supportactivity": f.SupportActivityFactory(tenant=tenant, partner=partner),
            "deals.deal": f.DealFactory(tenant=tenant, partner=partner),
            "partners.apikey": key,
            "partners.invitation": invitation,
            "partners.auditevent": AuditEvent.objects.filter(tenant=tenant).first(),
            "enablement.team": f.TeamFactory(tenant=tenant),
            "enablement.asset": asset,
            "enablement.learningpath": f.LearningPathItemFactory(path__tenant=tenant, asset=asset).path,
            "enablement.assignment": f.AssignmentFactory(tenant=tenant, asset=asset, partner=partner),
            "enablement.activityevent": f.ActivityEventFactory(tenant=tenant, partner=partner),
            "kpis.kpidefinition": definition,
            "kpis.kpiresult": f.KpiResultFactory(definition=definition),
            "kpis.rollupstate": RollupState.objects.create(tenant=tenant),
            "enablement.faqsynonym": FaqSynonym.objects.create(tenant=tenant, terms="値引き, discount"),
            "enablement.faqquestion": FaqQuestion.objects.create(
                tenant=tenant, partner=partner, query="refund", message="How do I refund?"
            ),
        }
        from partners.notifications.models import Webhook, WebhookDelivery

        hook = Webhook.objects.create(tenant=tenant, name="Slack", url="https://hooks.example.test/x", secret="s3cret")
        rows["notifications.webhook"] = hook
        rows["notifications.webhookdelivery"] = WebhookDelivery.objects.create(
            tenant=tenant, webhook=hook, dedupe_key="assignment:1", kind="assignment.new", payload={"text": "x"}
        )
    return rows


@pytest.fixture
def rows_a(tenant_a, admin_a):
    return _build_all(tenant_a, admin_a)


def _registered():
    return [(model, ma) for model, ma in admin.site._registry.items()]


def _url(model, kind, *args, **query):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{kind}", args=args)
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_every_admin_model_has_a_row_here(rows_a, superuser):
    tenant_owned = {m._meta.label_lower for m, _ in _registered() if any(fl.name == "tenant" for fl in m._meta.fields)}
    assert tenant_owned <= set(rows_a), f"build a row for {tenant_owned - set(rows_a)}"


@pytest.mark.parametrize("who", ["superuser", "tenant admin"])
def test_every_add_and_change_page_opens(client, rows_a, superuser, admin_a, tenant_a, who):
    client.force_login(superuser if who == "superuser" else admin_a.user)
    client.raise_request_exception = True  # any exception fails the test (no 500 behind a status code)
    users = {"partners.user": admin_a.user, "partners.tenant": tenant_a}
    for model, _model_admin in _registered():
        label = model._meta.label_lower
        obj = rows_a.get(label) or users.get(label)
        add = client.get(_url(model, "add", tenant=tenant_a.pk) if who == "superuser" else _url(model, "add"))
        assert add.status_code in (200, 403), (label, add.status_code)
        if obj is None:
            obj = model._default_manager.first() if label.startswith(("auth.", "axes.")) else None
        if obj is not None:
            change = client.get(_url(model, "change", obj.pk))
            assert change.status_code in (200, 302, 403), (label, change.status_code)
            if who == "tenant admin" and label in rows_a:
                assert change.status_code == 200, label


def test_superuser_add_page_asks_for_the_tenant_first(client, superuser, tenant_a, tenant_b):
    client.force_login(superuser)
    response = client.get(_url(Partner, "add"))
    assert response.status_code == 200
    assert f"?tenant={tenant_a.pk}" in response.text and f"?tenant={tenant_b.pk}" in response.text


def test_superuser_relations_are_limited_to_the_objects_tenant(client, superuser, tenant_a, tenant_b):
    with scopes_disabled():
        tier_a = f.PartnerTierFactory(tenant=tenant_a, name="Gold A")
        tier_b = f.PartnerTierFactory(tenant=tenant_b, name="Gold B")
        partner_a = f.PartnerFactory(tenant=tenant_a, tier=tier_a, name="Alpha")
    client.force_login(superuser)
    page = client.get(_url(Partner, "add", tenant=tenant_a.pk)).text
    assert "Gold A" in page and "Gold B" not in page
    data = {"name": "Mixed KK", "status": "active", "joined_on": "2026-01-01", "segment": "", "region": "",
            "external_id": "", "cohort_override": "", "tier": tier_b.pk}
    response = client.post(_url(Partner, "add", tenant=tenant_a.pk), data)
    assert response.status_code == 200 and "tier" in response.context["adminform"].form.errors
    # and on change: the partner of A cannot get B's tier
    response = client.post(_url(Partner, "change", partner_a.pk), {**data, "name": "Alpha"})
    assert response.status_code == 200 and "tier" in response.context["adminform"].form.errors
    with scopes_disabled():
        assert not Partner.objects.filter(name="Mixed KK").exists()
        partner_a.refresh_from_db()
    assert partner_a.tier_id == tier_a.pk
    # a valid one lands in the chosen tenant
    response = client.post(_url(Partner, "add", tenant=tenant_a.pk), {**data, "tier": tier_a.pk})
    assert response.status_code == 302
    with scopes_disabled():
        assert Partner.objects.get(name="Mixed KK").tenant_id == tenant_a.pk


@pytest.mark.parametrize("who", ["superuser", "tenant admin"])
def test_duplicate_names_are_form_errors(client, superuser, admin_a, tenant_a, who):
    with scope(tenant=tenant_a.pk):
        f.PartnerTierFactory(tenant=tenant_a, name="Gold")
        services.api_key_create(tenant=tenant_a, name="CRM", scopes=["read"], actor=None)
    client.force_login(superuser if who == "superuser" else admin_a.user)
    q = {"tenant": tenant_a.pk} if who == "superuser" else {}
    response = client.post(_url(PartnerTier, "add", **q), {"name": "Gold", "rank": 3})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    response = client.post(_url(ApiKey, "add", **q), {"name": "CRM", "scopes": ["read"]})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    with scopes_disabled():
        assert PartnerTier.objects.filter(tenant=tenant_a, name="Gold").count() == 1
        assert ApiKey.objects.filter(tenant=tenant_a, name="CRM").count() == 1


def test_admin_created_key_is_shown_once_and_never_in_a_cookie(client, admin_a, tenant_a):
    client.force_login(admin_a.user)
    response = client.post(_url(ApiKey, "add"), {"name": "LMS", "scopes": ["read", "events:write"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    with scopes_disabled():
        key = ApiKey.objects.get(tenant=tenant_a, name="LMS")
    assert key.scopes == ["events:write", "read"]
    raw = response.text.split('id="new-api-key"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert raw.startswith(f"shien_{key.prefix}_")
    for morsel in response.cookies.values():
        assert raw not in morsel.value and key.prefix not in morsel.value
    assert "messages" not in response.cookies
    # the next page does not show it again
    assert raw not in client.get(_url(ApiKey, "changelist")).text


@pytest.mark.parametrize("who", ["superuser", "tenant admin"])
def test_revoked_key_stays_revoked(client, superuser, admin_a, tenant_a, who):
    with scope(tenant=tenant_a.pk):
        key, _raw = services.api_key_create(tenant=tenant_a, name="Old", scopes=["read"], actor=None)
    client.force_login(superuser if who == "superuser" else admin_a.user)
    page = client.get(_url(ApiKey, "change", key.pk)).text
    assert 'name="revoked_at"' not in page
    assert client.post(_url(ApiKey, "change", key.pk), {"name": "Old", "revoke": "on"}).status_code == 302
    with scopes_disabled():
        key.refresh_from_db()
    revoked_at = key.revoked_at
    assert revoked_at is not None
    # no way back: the change form is read-only now, a POST clearing revoked_at is refused
    page = client.get(_url(ApiKey, "change", key.pk))
    assert page.status_code == 200 and 'name="revoke"' not in page.text and 'name="revoked_at"' not in page.text
    response = client.post(_url(ApiKey, "change", key.pk), {"name": "Old", "revoked_at_0": "", "revoked_at_1": ""})
    assert response.status_code == 403
    with scopes_disabled():
        key.refresh_from_db()
    assert key.revoked_at == revoked_at
    assert client.post(_url(ApiKey, "delete", key.pk), {"post": "yes"}).status_code == 403


def test_product_invited_tenant_admin_opens_the_admin_of_their_tenant(client, product_admin_a, tenant_b):
    assert not product_admin_a.user.is_staff
    with scopes_disabled():
        f.PartnerFactory(tenant=product_admin_a.tenant, name="Own KK")
        f.PartnerFactory(tenant=tenant_b, name="Foreign KK")
    client.force_login(product_admin_a.user)
    assert client.get(reverse("admin:index")).status_code == 200
    page = client.get(_url(Partner, "changelist")).text
    assert "Own KK" in page and "Foreign KK" not in page
    assert client.get(_url(KpiDefinition, "add")).status_code == 200  # targets are set here


def test_admin_access_follows_the_membership(client, product_admin_a):
    client.force_login(product_admin_a.user)
    assert client.get(reverse("admin:index")).status_code == 200
    with scopes_disabled():
        product_admin_a.role = "channel_manager"
        product_admin_a.save()
    assert client.get(reverse("admin:index")).status_code == 403
    with scopes_disabled():
        product_admin_a.role = "tenant_admin"
        product_admin_a.is_active = False
        product_admin_a.save()
    assert client.get(reverse("admin:index")).status_code == 403


def test_staff_bit_alone_opens_nothing(client, tenant_a):
    user = f.UserFactory(is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 403


def test_anonymous_admin_goes_to_the_product_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/accounts/login/" in response.url or "login" in response.url
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


def test_membership_cannot_be_added_in_admin(client, admin_a, superuser):
    from partners.models import Membership

    for user in (admin_a.user, superuser):
        client.force_login(user)
        assert client.get(_url(Membership, "add")).status_code == 403


def test_audit_admin_is_read_only_and_scoped(client, admin_a, admin_b, superuser, tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        services.api_key_create(tenant=tenant_a, name="A key", scopes=["read"], actor=admin_a.user)
    with scope(tenant=tenant_b.pk):
        services.api_key_create(tenant=tenant_b, name="B key", scopes=["read"], actor=admin_b.user)
    client.force_login(admin_a.user)
    page = client.get(_url(AuditEvent, "changelist")).text
    assert "A key" in page and "B key" not in page
    client.force_login(superuser)
    page = client.get(_url(AuditEvent, "changelist")).text
    assert "A key" in page and "B key" in page
    with scopes_disabled():
        event = AuditEvent.objects.filter(tenant=tenant_a).first()
    assert client.post(_url(AuditEvent, "change", event.pk), {"action": "x"}).status_code == 403
    assert client.post(_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403


def test_invitation_admin_lists_but_never_edits(client, admin_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        inv = services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="p@example.test", role="channel_manager")
    client.force_login(admin_a.user)
    assert "p@example.test" in client.get(_url(Invitation, "changelist")).text
    assert client.post(_url(Invitation, "change", inv.pk), {"email": "q@example.test"}).status_code == 403


def test_operator_user_changes_are_audited(client, superuser, shared_person):
    user = shared_person[0]
    client.force_login(superuser)
    url = _url(User, "change", user.pk)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "last_login", "date_joined")}
    data.update({"is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    with scopes_disabled():
        event = AuditEvent.objects.get(action="user.changed")
    assert event.tenant_id is None and event.actor_id == superuser.pk
    assert event.before == {"is_active": True} and event.after == {"is_active": False}


def test_operator_password_change_is_audited(client, superuser, shared_person):
    user = shared_person[0]
    client.force_login(superuser)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = client.post(url, {"password1": "Operator-Set-2026!x", "password2": "Operator-Set-2026!x",
                                 "usable_password": "true"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Operator-Set-2026!x")
    with scopes_disabled():
        event = AuditEvent.objects.get(action="user.password_set")
    assert event.tenant_id is None and event.actor_id == superuser.pk and event.target_label == user.email
