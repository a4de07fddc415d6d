"""Tier requirements on the scorecard and the partners dashboard, the two KPIs against a brute-force
recomputation, and constant query counts whatever the number of partners."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from enablement.certifications import services
from enablement.certifications.models import Certificate, TierCertificationRequirement
from enablement.certifications.selectors import partner_coverage
from kpis.metrics import metric_values
from kpis.models import Metric
from partners.models import Partner
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def build_world(tenant, admin, *, partners: int, seed: int):
    """Tiers (one with requirements, one without), partners with people, certificates in every state."""
    rng = random.Random(seed)
    with scope(tenant=tenant.pk):
        gold = f.PartnerTierFactory(tenant=tenant, name=f"Gold {seed}")
        silver = f.PartnerTierFactory(tenant=tenant, name=f"Silver {seed}")
        a1, a2 = f.AssetFactory(tenant=tenant), f.AssetFactory(tenant=tenant)
        sales = services.certification_create(tenant=tenant, actor=admin, name=f"Sales {seed}", required_assets=[a1])
        tech = services.certification_create(tenant=tenant, actor=admin, name=f"Tech {seed}", required_assets=[a2])
        services.tier_requirement_set(tenant=tenant, actor=admin, tier=gold, certification=sales, required_people=2)
        services.tier_requirement_set(tenant=tenant, actor=admin, tier=gold, certification=tech, required_people=1)
        rows = []
        for i in range(partners):
            partner = f.PartnerFactory(tenant=tenant, tier=rng.choice([gold, silver, None]), name=f"P{seed}-{i}")
            for _j in range(rng.randint(0, 3)):
                m = f.PartnerUserMembershipFactory(tenant=tenant, partner=partner)
                for certification in (sales, tech):
                    if rng.random() < 0.5:
                        continue
                    issued = NOW - dt.timedelta(days=rng.randint(1, 500))
                    expires = issued + dt.timedelta(days=365)
                    revoked = NOW - dt.timedelta(days=1) if rng.random() < 0.1 else None
                    rows.append(Certificate(
                        tenant=tenant, certification=certification, holder=m.user, partner=partner,
                        issued_at=issued, expires_at=expires, renewable_from=expires - dt.timedelta(days=60),
                        revoked_at=revoked,
                    ))
        Certificate.objects.bulk_create(rows)
    return gold, silver


def brute(tenant, at):
    """Straight from the rows, in Python: meets per partner and certificates expiring within 30 days."""
    with scope(tenant=tenant.pk):
        certs = list(Certificate.objects.filter(tenant=tenant))
        reqs = list(TierCertificationRequirement.objects.filter(tenant=tenant))
        partners = list(tenant_partners(tenant))
    def valid(c):
        return c.issued_at <= at < c.expires_at and (c.revoked_at is None or c.revoked_at > at)
    meets, expiring = {}, {}
    for p in partners:
        mine = [c for c in certs if c.partner_id == p.pk and valid(c)]
        tier_reqs = [r for r in reqs if p.tier_id is not None and r.tier_id == p.tier_id]
        if tier_reqs:
            meets[p.pk] = all(
                len({c.holder_id for c in mine if c.certification_id == r.certification_id}) >= r.required_people
                for r in tier_reqs
            )
        else:
            meets[p.pk] = bool(mine)
        expiring[p.pk] = sum(1 for c in mine if c.expires_at <= at + dt.timedelta(days=30))
    return meets, expiring


def tenant_partners(tenant):
    from partners.models import Partner

    return Partner.objects.filter(tenant=tenant).order_by("pk")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kpis_match_brute_force(tenant_a, admin_a, seed):
    build_world(tenant_a, admin_a.user, partners=25, seed=seed)
    today = timezone.localdate()
    meets, expiring = brute(tenant_a, timezone.now())
    with scope(tenant=tenant_a.pk):
        rate_def = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.CERTIFIED_PARTNER_RATE)
        exp_def = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.EXPIRING_CERTIFICATES)
        start = today.replace(day=1)
        overall, per = metric_values(tenant_a, rate_def, start, today + dt.timedelta(days=40))
        e_overall, e_per = metric_values(tenant_a, exp_def, start, today + dt.timedelta(days=40))
    assert overall.numerator == sum(meets.values()) and overall.denominator == len(meets)
    expected = (Decimal(sum(meets.values())) / len(meets) * 100).quantize(Decimal("0.0001"))
    assert overall.value == expected
    assert {pid: c.value == 100 for pid, c in per.items()} == meets
    assert e_overall.numerator == sum(expiring.values())
    assert {pid: int(c.numerator) for pid, c in e_per.items()} == expiring


def test_closed_period_reads_the_certificates_as_they_were(tenant_a, partner_user_a, admin_a):
    with scope(tenant=tenant_a.pk):
        # the partner had joined before the periods read (a partner counts only from its joined_on)
        Partner.objects.filter(pk=partner_user_a.partner_id).update(joined_on=dt.date(2025, 12, 1))
        a = f.AssetFactory(tenant=tenant_a)
        cert = services.certification_create(tenant=tenant_a, actor=admin_a.user, name="C", required_assets=[a])
        Certificate.objects.create(
            tenant=tenant_a, certification=cert, holder=partner_user_a.user, partner=partner_user_a.partner,
            issued_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC), expires_at=dt.datetime(2026, 2, 10, tzinfo=dt.UTC),
            renewable_from=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
        )
        rate_def = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.CERTIFIED_PARTNER_RATE)
        january, _ = metric_values(tenant_a, rate_def, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
        march, _ = metric_values(tenant_a, rate_def, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert january.value == Decimal("100.0000") and march.value == Decimal("0.0000")


def test_tier_requirement_on_the_scorecard(client, tenant_a, admin_a, manager_a, make_member):
    with scope(tenant=tenant_a.pk):
        gold = f.PartnerTierFactory(tenant=tenant_a, name="Gold")
        partner = f.PartnerFactory(tenant=tenant_a, tier=gold, name="Shortfall KK")
        a = f.AssetFactory(tenant=tenant_a)
        cert = services.certification_create(tenant=tenant_a, actor=admin_a.user, name="Cloud Pro", required_assets=[a])
        services.tier_requirement_set(tenant=tenant_a, actor=admin_a.user, tier=gold, certification=cert,
                                      required_people=2)
        m = make_member(tenant_a, "partner_user", partner=partner)
        Certificate.objects.create(
            tenant=tenant_a, certification=cert, holder=m.user, partner=partner, issued_at=NOW - dt.timedelta(days=10),
            expires_at=NOW + dt.timedelta(days=20), renewable_from=NOW,
        )
    client.force_login(manager_a.user)
    url = reverse("manage-partner", kwargs={"tenant_slug": tenant_a.slug, "partner_id": partner.pk})
    response = client.get(url)
    assert response.status_code == 200
    coverage = response.context["data"]["certification"]
    assert coverage.certified_people == 1 and not coverage.meets
    assert [(g.certification, g.required, g.have, g.missing) for g in coverage.gaps] == [("Cloud Pro", 2, 1, 1)]
    assert coverage.expiring == {30: 1, 60: 1, 90: 1}
    html = response.content.decode()
    assert "certification-requirements" in html and "Cloud Pro" in html
    # the next best action points at the missing certification
    nba = client.get(reverse("manage-partner-nba", kwargs={"tenant_slug": tenant_a.slug, "partner_id": partner.pk}))
    assert "nba-certifications" in nba.content.decode() and "Cloud Pro" in nba.content.decode()
    # a second certified person closes the gap
    with scope(tenant=tenant_a.pk):
        m2 = make_member(tenant_a, "partner_user", partner=partner)
        Certificate.objects.create(
            tenant=tenant_a, certification=cert, holder=m2.user, partner=partner, issued_at=NOW - dt.timedelta(days=1),
            expires_at=NOW + dt.timedelta(days=300), renewable_from=NOW + dt.timedelta(days=200),
        )
    coverage = client.get(url).context["data"]["certification"]
    assert coverage.meets and coverage.gaps == []


def test_partners_dashboard_shows_coverage(client, tenant_a, admin_a, manager_a):
    build_world(tenant_a, admin_a.user, partners=6, seed=7)
    meets, expiring = brute(tenant_a, timezone.now())
    client.force_login(manager_a.user)
    response = client.get(reverse("manage-partners", kwargs={"tenant_slug": tenant_a.slug}))
    summary = response.context["certification"]
    assert summary.certified == sum(meets.values()) and summary.partners == len(meets)
    assert summary.expiring[30] == sum(expiring.values())
    assert "certification-coverage" in response.content.decode()
    csv = client.get(reverse("manage-partners", kwargs={"tenant_slug": tenant_a.slug}) + "?format=csv")
    assert csv.status_code == 200


def _count_coverage_queries(tenant, django_assert_num_queries):
    with scope(tenant=tenant.pk):
        partners = [(p.pk, p.tier_id) for p in tenant_partners(tenant)]
        with django_assert_num_queries(4):
            partner_coverage(tenant=tenant, partners=partners)


@pytest.mark.parametrize("size", [3, 30])
def test_coverage_query_count_is_constant(tenant_a, admin_a, django_assert_num_queries, size):
    build_world(tenant_a, admin_a.user, partners=size, seed=size)
    _count_coverage_queries(tenant_a, django_assert_num_queries)


def test_partners_page_query_count_does_not_grow(client, tenant_a, admin_a, manager_a, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager_a.user)
    url = reverse("manage-partners", kwargs={"tenant_slug": tenant_a.slug})
    build_world(tenant_a, admin_a.user, partners=3, seed=11)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    build_world(tenant_a, admin_a.user, partners=30, seed=12)
    with CaptureQueriesContext(connection) as large:
        client.get(url)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_requirement_added_or_a_tier_changed_today_does_not_rewrite_a_closed_period(tenant_a, admin_a, make_member):
    """The certified-partner rate of a closed period judges each partner by the tier it had then and
    that tier's requirements then (``RequirementSnapshot``, written before every KPI computation), so
    requiring a certification today, or moving a partner to a tier that requires one, changes the
    current period only — in the results, in a recomputation and in the trend."""
    from kpis.metrics import compute_kpis, metric_series
    from kpis.models import KpiResult, RequirementSnapshot
    from kpis.periods import recent_periods

    today = timezone.localdate()
    (last_start, last_end), (this_start, this_end) = recent_periods("month", today, 1)
    with scope(tenant=tenant_a.pk):
        gold = f.PartnerTierFactory(tenant=tenant_a, name="Gold")
        silver = f.PartnerTierFactory(tenant=tenant_a, name="Silver")
        asset = f.AssetFactory(tenant=tenant_a)
        sales = services.certification_create(tenant=tenant_a, actor=admin_a.user, name="Sales", required_assets=[asset])
        tech = services.certification_create(tenant=tenant_a, actor=admin_a.user, name="Tech", required_assets=[asset])
        services.tier_requirement_set(tenant=tenant_a, actor=admin_a.user, tier=silver, certification=sales,
                                      required_people=1)
        gold_p = f.PartnerFactory(tenant=tenant_a, tier=gold, name="Gold KK", joined_on=last_start - dt.timedelta(days=90))
        silver_p = f.PartnerFactory(tenant=tenant_a, tier=silver, name="Silver KK",
                                    joined_on=last_start - dt.timedelta(days=90))
        for partner in (gold_p, silver_p):  # each holds one valid Sales certificate, nothing else
            m = make_member(tenant_a, "partner_user", partner=partner)
            Certificate.objects.create(
                tenant=tenant_a, certification=sales, holder=m.user, partner=partner,
                issued_at=NOW - dt.timedelta(days=200), expires_at=NOW + dt.timedelta(days=300),
                renewable_from=NOW + dt.timedelta(days=200),
            )
        definition = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.CERTIFIED_PARTNER_RATE, period="month")
        compute_kpis(tenant_a, today=today)  # yesterday and before frozen; today's requirements recorded

        def results():
            rows = KpiResult.objects.filter(tenant=tenant_a, definition=definition, partner=None)
            return {r.period_start: r.value for r in rows}

        assert results() == {last_start: Decimal("100.0000"), this_start: Decimal("100.0000")}
        # Today: Gold requires a Tech certificate, and Silver KK moves to Gold. Neither holds one.
        services.tier_requirement_set(tenant=tenant_a, actor=admin_a.user, tier=gold, certification=tech,
                                      required_people=1)
        Partner.objects.filter(pk=silver_p.pk).update(tier=gold)
        compute_kpis(tenant_a, today=today)
        assert results() == {last_start: Decimal("100.0000"), this_start: Decimal("0.0000")}
        assert RequirementSnapshot.objects.filter(tenant=tenant_a, tier=gold, certification=tech, since=today).exists()
        fresh, _per = metric_values(tenant_a, definition, last_start, last_end)  # a recomputation
        assert fresh.value == Decimal("100.0000")
        trend = metric_series(tenant_a, definition, [(last_start, last_end), (this_start, this_end)])
        assert [p.cell.value for p in trend] == [Decimal("100.0000"), Decimal("0.0000")]
        # Removing the requirement today: the current period is judged by it again, the closed one unchanged.
        services.tier_requirement_set(tenant=tenant_a, actor=admin_a.user, tier=gold, certification=tech,
                                      required_people=0)
        compute_kpis(tenant_a, today=today)
        assert results() == {last_start: Decimal("100.0000"), this_start: Decimal("100.0000")}
