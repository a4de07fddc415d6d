"""The enablement completion rate (支援消化率, on time) follows each document's completion rule —
view (or anything stronger), download, reading time — and agrees with the portal's done state."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from enablement.models import AssetKind, Verb
from enablement.selectors.catalog import portal_assignment_rows
from enablement.services.log import activity_record
from kpis.metrics import compute_kpis
from kpis.models import KpiDefinition, KpiResult, PartnerAssetState
from kpis.rollup import rollup_tenant
from tests import factories as f

pytestmark = pytest.mark.django_db


def _rate(tenant, definition, partner):
    rollup_tenant(tenant)
    compute_kpis(tenant, periods_back=0)
    row = KpiResult.objects.get(tenant=tenant, definition=definition, partner=partner)
    return row.numerator, row.denominator


def test_completion_rate_and_portal_done_follow_each_documents_rule(scope_a):
    tenant = scope_a
    today = timezone.localdate(timezone=tenant.zoneinfo)
    member = f.PartnerUserMembershipFactory(tenant=tenant)
    partner, user = member.partner, member.user
    docs = {
        "view": f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="view"),
        "download": f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="download", completion_requires="download"),
        "time": f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="time", completion_requires="time",
                               completion_min_seconds=60),
    }
    for doc in docs.values():
        f.AssignmentFactory(tenant=tenant, partner=partner, asset=doc, due_on=today)
    definition = KpiDefinition.objects.create(tenant=tenant, name_ja="支援消化率", name_en="Completion",
                                              metric="enablement_completion_rate", period="month", target=Decimal("80"))

    def log(doc, verb):
        activity_record(tenant=tenant, partner=partner, user=user, asset=docs[doc], verb=verb)

    def portal_done():
        rows = portal_assignment_rows(tenant=tenant, partner=partner, user=user)
        return {r.asset.title for r in rows if r.done}

    def kpi_done():
        return set(
            PartnerAssetState.objects.filter(tenant=tenant, partner=partner, first_completed_at__isnull=False)
            .values_list("asset__title", flat=True)
        )

    for doc in docs:  # everyone opened every document
        log(doc, Verb.DOCUMENT_VIEWED)
    assert _rate(tenant, definition, partner) == (1, 3)
    assert portal_done() == kpi_done() == {"view"}
    log("time", Verb.DOCUMENT_DOWNLOADED)  # a download does not replace reading time
    assert _rate(tenant, definition, partner) == (1, 3)
    log("download", Verb.DOCUMENT_DOWNLOADED)
    assert _rate(tenant, definition, partner) == (2, 3)
    assert portal_done() == kpi_done() == {"view", "download"}
    log("time", Verb.DOCUMENT_READ)
    assert _rate(tenant, definition, partner) == (3, 3)
    assert portal_done() == kpi_done() == {"view", "download", "time"}
    # a full recompute gives the same numbers as the incremental runs
    rollup_tenant(tenant, full=True)
    compute_kpis(tenant, periods_back=0)
    row = KpiResult.objects.get(tenant=tenant, definition=definition, partner=partner)
    assert (row.numerator, row.denominator, row.value) == (3, 3, Decimal("100"))
