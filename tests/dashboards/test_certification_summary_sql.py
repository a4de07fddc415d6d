"""The partners page's certification totals computed in SQL equal the sum of every filtered
partner's coverage (the Python computation they replace), on varied data and filters."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.certifications import services
from enablement.certifications.models import Certificate, TierCertificationRequirement
from kpis.dashboards import selectors
from kpis.dashboards.filters import parse_filters
from partners.models import User
from tests import factories as f


@pytest.mark.parametrize("seed", [1, 2])
def test_certification_totals_equal_the_partners_coverage(tenant_a, admin_a, seed):
    rng = random.Random(seed)
    now = timezone.now()
    with scope(tenant=tenant_a.pk):
        gold, silver, bronze = (f.PartnerTierFactory(tenant=tenant_a, name=n, rank=i) for i, n in enumerate(["G", "S", "B"]))
        asset = f.AssetFactory(tenant=tenant_a)
        certs = [services.certification_create(tenant=tenant_a, actor=admin_a.user, name=f"C{i}", required_assets=[asset])
                 for i in range(3)]
        for tier, cert, people in ((gold, certs[0], 2), (gold, certs[1], 1), (silver, certs[0], 1), (silver, certs[2], 3)):
            TierCertificationRequirement.objects.create(tenant=tenant_a, tier=tier, certification=cert, required_people=people)
        partners = [
            f.PartnerFactory(tenant=tenant_a, name=f"P{i}", tier=rng.choice([gold, silver, bronze, None]),
                             segment=rng.choice(["SMB", "Enterprise"]), status=rng.choice(["active", "nurturing"]))
            for i in range(16)
        ]
        people = User.objects.bulk_create([User(email=f"c{seed}-{i}@example.com") for i in range(8)])
        sequence: dict[tuple[int, int], int] = {}
        for p in partners:
            for _ in range(rng.randint(0, 6)):
                cert, holder = rng.choice(certs), rng.choice(people)
                sequence[(cert.pk, holder.pk)] = sequence.get((cert.pk, holder.pk), 0) + 1
                issued = now - dt.timedelta(days=rng.randint(1, 400))
                expires = now + dt.timedelta(days=rng.choice([-5, 10, 45, 80, 200]))
                Certificate.objects.create(
                    tenant=tenant_a, certification=cert, holder=holder, partner=p, sequence=sequence[(cert.pk, holder.pk)],
                    issued_at=issued, expires_at=expires, renewable_from=issued,
                    revoked_at=now - dt.timedelta(days=1) if rng.random() < 0.15 else None,
                )
        tier_ids, segments = {gold.pk, silver.pk, bronze.pk}, {"SMB", "Enterprise"}
        queries = [{}, {"tier": str(gold.pk)}, {"tier": str(silver.pk)}, {"tier": str(bronze.pk)}, {"segment": "SMB"},
                   {"status": "nurturing"}, {"q": "P1"}, {"q": "nobody"}]
        seen = set()
        for query in queries:
            filters = parse_filters(query, tier_ids=tier_ids, segments=segments)
            want = selectors.certification_summary(selectors.filtered_coverage(tenant=tenant_a, filters=filters))
            got = selectors.filtered_certification_summary(tenant=tenant_a, filters=filters)
            assert got == want, query
            seen.add((want.certified > 0, want.with_gaps > 0, want.partners == 0))
        # the data reaches every case: partners certified, with gaps, and a filter matching nobody
        assert {s[0] for s in seen} == {True, False} and any(s[1] for s in seen) and any(s[2] for s in seen)


def test_certification_totals_read_two_statements(tenant_a, django_assert_num_queries):
    with scope(tenant=tenant_a.pk):
        f.PartnerFactory(tenant=tenant_a)
        with django_assert_num_queries(2):
            summary = selectors.filtered_certification_summary(tenant=tenant_a, filters=parse_filters({}))
    assert summary.partners == 1 and summary.expiring == {30: 0, 60: 0, 90: 0}
