"""The demo contains the planted pattern and the success-patterns page shows it first; its
timestamps agree (no event before its asset, partner, user or tenant existed)."""

import pytest
from django.db.models import F, Q
from django.urls import reverse
from django_scopes import scope

from enablement.completion import completion_q
from enablement.models import ActivityEvent
from kpis.patterns import demo as patterns_demo
from kpis.patterns.management.commands.seed_demo import STEPS
from kpis.patterns.models import PatternItem, PatternRun
from partners import demo as partners_demo
from partners.models import Membership

pytestmark = pytest.mark.django_db


def test_demo_plants_the_masterclass_pattern(client):
    results = partners_demo.seed(log=lambda *a: None)
    for step, _what in STEPS:
        for tenant, _created in results:
            with scope(tenant=tenant.pk):
                step(tenant, log=lambda *a: None)
    for tenant, _created in results:
        with scope(tenant=tenant.pk):
            assert_timestamps_consistent(tenant)
            run = PatternRun.objects.get(tenant=tenant)
            assert run.status == "ok" and run.playbook_id
            first = PatternItem.objects.filter(run=run).select_related("asset").order_by("rank").first()
            assert first.asset.external_id == "deal-registration-masterclass"
            assert first.ci_low > 1
            # idempotent: a second seed adds nothing
            for step in (patterns_demo.plant, patterns_demo.mine):
                assert step(tenant, log=lambda *a: None) is False
            manager = Membership.objects.filter(tenant=tenant, role="channel_manager").select_related("user").first()
            partner_login = Membership.objects.select_related("user").get(tenant=tenant, user__email__startswith="partner@")
        client.force_login(manager.user)
        page = client.get(reverse("manage-patterns", kwargs={"tenant_slug": tenant.slug}))
        assert page.status_code == 200
        assert page.context["items"][0].asset.external_id == "deal-registration-masterclass"
        assert first.asset.title in page.content.decode()
        client.force_login(partner_login.user)
        nba = client.get(reverse("portal-next-best-action", kwargs={"tenant_slug": tenant.slug}), HTTP_HX_REQUEST="true")
        assert first.asset.title in nba.content.decode()


def assert_timestamps_consistent(tenant) -> None:
    events = ActivityEvent.objects.filter(tenant=tenant)
    assert events.count() > 1000
    assert not events.filter(occurred_at__lt=tenant.created_at).exists()
    before_asset = events.filter(asset__isnull=False).filter(
        Q(occurred_at__lt=F("asset__created_at")) | Q(occurred_at__lt=F("asset__published_at"))
    )
    assert list(before_asset.values_list("asset__external_id", "verb", "occurred_at")[:5]) == []
    completions = events.filter(completion_q())
    assert completions.count() > 100
    assert not completions.filter(occurred_at__lt=F("partner__created_at")).exists()
    assert not completions.filter(user__isnull=False, occurred_at__lt=F("user__date_joined")).exists()
    assert not events.filter(occurred_at__lt=F("partner__created_at")).exists()
    assert not events.filter(user__isnull=False, occurred_at__lt=F("user__date_joined")).exists()
