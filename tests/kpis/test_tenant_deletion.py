"""An operator deletes a tenant that has no history yet (one set up by mistake): the cascade's
deletions ask the KPI job for nothing, so no change is left pointing at a tenant that is gone and
the deletion commits; a deletion of the same kinds of rows on their own still asks for a run."""

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from kpis.models import KpiInputChange
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)  # the foreign keys are checked at COMMIT


def _set_up(tenant):
    assignment = f.AssignmentFactory(tenant=tenant)
    f.KpiDefinitionFactory(tenant=tenant)
    f.PartnerFactory(tenant=tenant, tier=assignment.partner.tier)
    return assignment


def test_deleting_a_tenant_leaves_no_kpi_change_behind_and_commits():
    with scopes_disabled():
        tenant, other = f.TenantFactory(), f.TenantFactory()
        _set_up(tenant)
        _set_up(other)
        pending_other = KpiInputChange.objects.filter(tenant=other).count()
        with transaction.atomic():
            tenant_id = tenant.pk
            tenant.delete()
        assert not KpiInputChange.objects.filter(tenant_id=tenant_id).exists()
        assert KpiInputChange.objects.filter(tenant=other).count() == pending_other


def test_the_same_rows_deleted_on_their_own_still_ask_for_a_run():
    with scopes_disabled():
        tenant = f.TenantFactory()
        assignment = _set_up(tenant)
        KpiInputChange.objects.filter(tenant=tenant).delete()
        assignment.delete()
        assignment.partner.delete()
        assert sorted(KpiInputChange.objects.filter(tenant=tenant).values_list("source", flat=True)) == [
            "enablement.assignment", "partners.partner"
        ]
