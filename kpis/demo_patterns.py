"""Demo step (after kpis.demo's rollup): mine the success patterns and create the suggested playbook."""

from __future__ import annotations

import logging

from django.utils import timezone, translation

from kpis.models import PartnerAssetState
from kpis.models_patterns import PatternRun
from kpis.patterns import mine_patterns
from kpis.services_patterns import playbook_create_from_run

logger = logging.getLogger(__name__)


def seed(tenant, *, log=print) -> bool:
    if PatternRun.objects.filter(tenant=tenant).exists():
        return False
    if not PartnerAssetState.objects.filter(tenant=tenant).exists():
        # The rollup has not run (kpis.demo skipped or failed): roll up now so the mining has states.
        from kpis.rollup import rollup_tenant

        rollup_tenant(tenant, full=True)
    with timezone.override(tenant.zoneinfo), translation.override(tenant.default_language):
        run = mine_patterns(tenant=tenant)
        path = playbook_create_from_run(tenant=tenant, run=run, actor=None) if run.status == run.Status.OK else None
    first = run.items.select_related("asset", "path").order_by("rank").first()
    log(f"  {tenant.slug}: patterns {run.get_status_display()} — {run.top_n} top vs {run.other_n} others; "
        f"first: {first.label if first else '—'}; playbook: {path.title if path else '—'}")
    return True
